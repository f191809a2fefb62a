//! The tiled matrix product on the GPU: `c ← alpha·op(a)·op(b) + beta·c`.
//!
//! One kernel (`kernels/gemm.wgsl`, 64×64 blocks, 4×4 outputs per thread, k staged in workgroup
//! memory) serves the three products the model needs, A·B for the forward and settling
//! products, Aᵀ·B for the weight gradients and A·Bᵀ for the error signals sent down, through two
//! flags in its uniform block: the flags are uniform across a dispatch, so the branches they
//! take cost next to nothing, and one pipeline is compiled instead of four.

use super::device::{Gpu, GpuError, GpuErrorKind};
use super::kernel::{Kernel, uniform};
use super::matrix::GpuMatrix;
use super::timing::PassTimer;

const SOURCE: &str = include_str!("kernels/gemm.wgsl");

/// Rows and columns of c that one workgroup computes (`BLOCK` in the kernel).
pub const BLOCK: usize = 64;

/// How an operand enters the product: as stored, or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    N,
    T,
}

impl Op {
    /// The operand's shape after the op.
    fn shape(self, m: &GpuMatrix) -> (usize, usize) {
        match self {
            Op::N => (m.rows, m.cols),
            Op::T => (m.cols, m.rows),
        }
    }
}

/// The compiled product kernel.
pub struct Gemm {
    kernel: Kernel,
    /// Times every dispatch (benchmarks only).
    timer: Option<PassTimer>,
}

impl Gemm {
    /// Compiles the kernel (once per device).
    pub fn new(gpu: &Gpu) -> Result<Gemm, GpuError> {
        Ok(Gemm { kernel: Kernel::new(gpu, "gemm", SOURCE, "main")?, timer: None })
    }

    /// Records `c ← alpha·op_a(a)·op_b(b) + beta·c` as one dispatch in `encoder`.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        alpha: f32,
        (a, op_a): (&GpuMatrix, Op),
        (b, op_b): (&GpuMatrix, Op),
        beta: f32,
        c: &GpuMatrix,
    ) -> Result<(), GpuError> {
        let ((m, k), (k2, n)) = (op_a.shape(a), op_b.shape(b));
        if k != k2 || (c.rows, c.cols) != (m, n) {
            let msg = format!("gemm: {m}×{k} · {k2}×{n} into {}×{}", c.rows, c.cols);
            return Err(GpuError::new(GpuErrorKind::Shape, msg));
        }
        if m == 0 || n == 0 {
            return Ok(());
        }
        let params = uniform(gpu, &[m as u32, n as u32, k as u32, u32::from(op_a == Op::T), u32::from(op_b == Op::T), alpha.to_bits(), beta.to_bits(), 0]);
        let groups = [n.div_ceil(BLOCK) as u32, m.div_ceil(BLOCK) as u32, 1];
        self.kernel.encode_timed(gpu, encoder, &[&params, &a.buffer, &b.buffer, &c.buffer], groups, self.timer.as_ref().map(PassTimer::writes));
        if let Some(t) = &self.timer {
            t.encode_resolve(encoder);
        }
        Ok(())
    }

    /// This product kernel with each dispatch timed by `timer` (for `pff bench`: one product
    /// per submission, its time read with [`PassTimer::seconds`]).
    pub fn timed(self, timer: PassTimer) -> Gemm {
        Gemm { timer: Some(timer), ..self }
    }

    /// The duration of the last dispatch, when this kernel is [`Gemm::timed`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn last_seconds(&self, gpu: &Gpu) -> Result<Option<f64>, GpuError> {
        self.timer.as_ref().map(|t| t.seconds(gpu)).transpose()
    }

    /// [`Gemm::encode`] in its own submission (tests, one-off products).
    pub fn run(&self, gpu: &Gpu, alpha: f32, a: (&GpuMatrix, Op), b: (&GpuMatrix, Op), beta: f32, c: &GpuMatrix) -> Result<(), GpuError> {
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("gemm") });
        self.encode(gpu, &mut encoder, alpha, a, b, beta, c)?;
        gpu.queue.submit([encoder.finish()]);
        Ok(())
    }
}
