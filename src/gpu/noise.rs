//! Noise on the GPU from the counter-based streams of [`crate::counter_rng`]: the same Philox
//! bits as the CPU, drawn where they are used.
//!
//! `kernels/philox.wgsl` holds the generator as WGSL functions; [`with_philox`] prepends it to a
//! kernel that draws noise (the fused settling step does). [`Noise`] fills a buffer from one
//! stream, which the tests compare with the CPU.

use super::device::{Gpu, GpuError};
use super::kernel::{Kernel, uniform};
use super::matrix::GpuMatrix;
use crate::counter_rng::StreamKey;

/// The Philox functions, for kernels that draw noise.
pub const PHILOX: &str = include_str!("kernels/philox.wgsl");
const FILL: &str = include_str!("kernels/noise.wgsl");

/// A kernel's source with the Philox functions in front of it.
pub fn with_philox(source: &str) -> String {
    format!("{PHILOX}\n{source}")
}

/// Threads per workgroup of the fill kernels; each thread fills one Philox block of 4.
const WORKGROUP: usize = 256;

/// The compiled fill kernels.
pub struct Noise {
    bits: Kernel,
    normals: Kernel,
}

impl Noise {
    pub fn new(gpu: &Gpu) -> Result<Noise, GpuError> {
        let source = with_philox(FILL);
        Ok(Noise { bits: Kernel::new(gpu, "noise bits", &source, "bits")?, normals: Kernel::new(gpu, "noise normals", &source, "normals")? })
    }

    /// Records: `out` (as u32 words) ← the stream's words for elements `0..out.len()`.
    pub fn encode_bits(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, key: &StreamKey, out: &GpuMatrix) {
        Self::fill(&self.bits, gpu, encoder, key, 1.0, out);
    }

    /// Records: `out` ← N(0, std²) draws for elements `0..out.len()`.
    pub fn encode_normals(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, key: &StreamKey, std: f32, out: &GpuMatrix) {
        Self::fill(&self.normals, gpu, encoder, key, std, out);
    }

    fn fill(kernel: &Kernel, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, key: &StreamKey, scale: f32, out: &GpuMatrix) {
        if out.is_empty() {
            return;
        }
        let params = uniform(gpu, &key.words(out.len() as u32, scale));
        let groups = out.len().div_ceil(4).div_ceil(WORKGROUP) as u32;
        kernel.encode(gpu, encoder, &[&params, &out.buffer], [groups, 1, 1]);
    }
}
