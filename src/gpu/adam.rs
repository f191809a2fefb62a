//! Adam on the GPU (algorithm.md §9): the moments live next to the parameters, and one step is
//! one element-wise dispatch per tensor. The step size with its bias correction is computed on
//! the host in f64, as [`crate::train::Adam::step`] does, so both engines use the same f32 lr_t.

use super::device::{Gpu, GpuError};
use super::kernel::{Kernel, uniform};
use super::matrix::GpuMatrix;
use super::settle::GpuRepresentation;
use crate::config::Config;
use crate::train::GRAD_CLIP;

/// Threads per workgroup of the Adam kernel.
const WORKGROUP: usize = 256;
/// Workgroups per row of the dispatch grid (WebGPU allows 65535 per dimension).
const MAX_GROUPS_X: usize = 65_535;

impl GpuRepresentation {
    /// The tensors in `ParamSet::NAMES` order (L1, L2, b1, b2, W1, W2, V2, V, W, b).
    pub fn tensors(&self) -> [&GpuMatrix; 10] {
        [&self.l1, &self.l2, &self.b1, &self.b2, &self.w1, &self.w2, &self.v2, &self.v, &self.w, &self.b]
    }
}

/// Adam's state for the representation circuit on the GPU (the GPU form of
/// `train::Adam<Representation<f32>>`).
pub struct GpuAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub t: u64,
    pub m: GpuRepresentation,
    pub v: GpuRepresentation,
    kernel: Kernel,
}

impl GpuAdam {
    /// Keras's defaults (β1 0.9, β2 0.999, ε 1e-7), as `train::Adam::new`.
    pub fn new(gpu: &Gpu, cfg: &Config, lr: f64) -> Result<GpuAdam, GpuError> {
        let kernel = Kernel::new(gpu, "adam", include_str!("kernels/adam.wgsl"), "main")?;
        Ok(GpuAdam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-7, t: 0, m: GpuRepresentation::zeros(gpu, cfg), v: GpuRepresentation::zeros(gpu, cfg), kernel })
    }

    /// Records one step on every tensor; returns the number of dispatches (one per tensor).
    pub fn encode_step(&mut self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, params: &GpuRepresentation, grads: &GpuRepresentation) -> usize {
        self.t += 1;
        let t = self.t as i32;
        let lr_t = (self.lr * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t))) as f32;
        let words = |len: usize| {
            let consts = [lr_t, (1.0 - self.beta1) as f32, (1.0 - self.beta2) as f32, self.eps as f32, GRAD_CLIP as f32];
            let mut w = vec![len as u32];
            w.extend(consts.iter().map(|c| c.to_bits()));
            w
        };
        let sets = params.tensors().into_iter().zip(grads.tensors()).zip(self.m.tensors()).zip(self.v.tensors());
        let mut dispatches = 0;
        for (((p, g), m), v) in sets {
            let params = uniform(gpu, &words(p.len()));
            let groups = p.len().div_ceil(WORKGROUP);
            let grid = [groups.min(MAX_GROUPS_X) as u32, groups.div_ceil(MAX_GROUPS_X) as u32, 1];
            self.kernel.encode(gpu, encoder, &[&params, &p.buffer, &g.buffer, &m.buffer, &v.buffer], grid);
            dispatches += 1;
        }
        dispatches
    }
}
