//! Adam on the GPU (algorithm.md §9): the moments live next to the parameters, and one step is
//! one element-wise dispatch per tensor. The step size with its bias correction is computed on
//! the host in f64, as [`crate::train::Adam::step`] does, so both engines use the same f32 lr_t.

use super::device::{Gpu, GpuError};
use super::kernel::{Kernel, uniform};
use super::matrix::GpuMatrix;
use super::settle::GpuRepresentation;
use crate::model::ParamSet;
use crate::train::{Adam, GRAD_CLIP};
use ndarray::ArrayView2;

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

/// Adam's state for one parameter set on the GPU (the GPU form of `train::Adam<P>`): the
/// moments of each tensor, in the set's `ParamSet::NAMES` order.
pub struct GpuAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub t: u64,
    pub m: Vec<GpuMatrix>,
    pub v: Vec<GpuMatrix>,
    kernel: Kernel,
}

impl GpuAdam {
    /// The optimiser `adam` (moments, step count, rates) on the GPU, to continue from where it is.
    pub fn upload<P: ParamSet<f32>>(gpu: &Gpu, adam: &Adam<P>) -> Result<GpuAdam, GpuError> {
        let kernel = Kernel::new(gpu, "adam", include_str!("kernels/adam.wgsl"), "main")?;
        let up = |p: &P| p.slices().into_iter().map(|s| GpuMatrix::upload(gpu, ArrayView2::from_shape((1, s.len()), s).expect("a flat view"))).collect();
        Ok(GpuAdam { lr: adam.lr, beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, t: adam.t, m: up(&adam.m), v: up(&adam.v), kernel })
    }

    /// Records one step on every tensor; returns the number of dispatches (one per tensor).
    /// `params` and `grads` list the tensors in the order the moments were made in. `flag` is the
    /// non-finite guard's word (guard.wgsl): while it is not 0 the step changes nothing. The
    /// step count t advances on the host either way; a batch whose flag ends set is an error
    /// for its caller, who does not go on from this state.
    pub fn encode_step(&mut self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, params: &[&GpuMatrix], grads: &[&GpuMatrix], flag: &wgpu::Buffer) -> usize {
        assert!(
            params.len() == self.m.len() && grads.len() == self.m.len(),
            "GpuAdam: {} tensors, {} gradients, {} moments",
            params.len(),
            grads.len(),
            self.m.len()
        );
        self.t += 1;
        let t = self.t as i32;
        let lr_t = (self.lr * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t))) as f32;
        let consts = [lr_t, (1.0 - self.beta1) as f32, (1.0 - self.beta2) as f32, self.eps as f32, GRAD_CLIP as f32];
        for (((p, g), m), v) in params.iter().zip(grads).zip(&self.m).zip(&self.v) {
            assert_eq!(p.len(), m.len(), "GpuAdam: a tensor of {} values with moments of {}", p.len(), m.len());
            let mut words = vec![p.len() as u32];
            words.extend(consts.iter().map(|c| c.to_bits()));
            let uniforms = uniform(gpu, &words);
            let groups = p.len().div_ceil(WORKGROUP);
            let grid = [groups.min(MAX_GROUPS_X) as u32, groups.div_ceil(MAX_GROUPS_X) as u32, 1];
            self.kernel.encode(gpu, encoder, &[&uniforms, &p.buffer, &g.buffer, &m.buffer, &v.buffer, flag], grid);
        }
        params.len()
    }
}

/// A zeroed guard flag (one u32 in a storage buffer) for [`GpuAdam::encode_step`].
pub fn guard_flag(gpu: &Gpu) -> wgpu::Buffer {
    GpuMatrix::zeros(gpu, 1, 1).buffer
}

/// A GPU matrix's values as a flat vector (for comparing moments with the CPU's).
#[cfg(not(target_arch = "wasm32"))]
pub fn flat(gpu: &Gpu, m: &GpuMatrix) -> Result<Vec<f32>, GpuError> {
    Ok(m.download(gpu)?.into_raw_vec_and_offset().0)
}
