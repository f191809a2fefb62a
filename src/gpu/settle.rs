//! One settling step of the representation circuit on the GPU (algorithm.md §4), as six
//! dispatches:
//!
//! 1. `A1 ← x̂·W1`, 2. `A1 += ẑ2p·V2`, 3. `A2 ← ẑ1p·W2`, 4. `A2 += ŷ·V` (the tiled gemm);
//! 5. and 6. one fused element-wise kernel per layer (`kernels/layer.wgsl`): bias, lateral
//!    competition, noise, ReLU, leak, and the new state's normalised copy and goodness.
//!
//! Because the layer kernel also writes `ẑ` and `Σz²`, the next step starts from ready inputs
//! and the losses need no further pass over the state. Nothing is read back.

use super::device::{Gpu, GpuError, GpuErrorKind};
use super::gemm::{Gemm, Op};
use super::kernel::{Kernel, uniform, with_rowsum};
use super::matrix::GpuMatrix;
use super::noise::with_philox;
use crate::config::{Config, GROUP};
use crate::counter_rng::StreamKey;
use crate::model::{Representation, State};
use ndarray::{Array2, ArrayView1};

const LAYER: &str = include_str!("kernels/layer.wgsl");
const NRM: &str = include_str!("kernels/nrm.wgsl");

/// Dispatches recorded by [`Settle::encode_step`].
pub const DISPATCHES_PER_STEP: usize = 6;

/// The representation circuit's parameters on the GPU (biases as 1×H rows, laterals compact).
pub struct GpuRepresentation {
    pub w1: GpuMatrix,
    pub v2: GpuMatrix,
    pub b1: GpuMatrix,
    pub l1: GpuMatrix,
    pub w2: GpuMatrix,
    pub v: GpuMatrix,
    pub b2: GpuMatrix,
    pub l2: GpuMatrix,
    pub w: GpuMatrix,
    pub b: GpuMatrix,
}

fn row(gpu: &Gpu, v: ArrayView1<'_, f32>) -> GpuMatrix {
    GpuMatrix::upload(gpu, v.insert_axis(ndarray::Axis(0)))
}

impl GpuRepresentation {
    pub fn upload(gpu: &Gpu, rep: &Representation<f32>) -> GpuRepresentation {
        let up = |a: &Array2<f32>| GpuMatrix::upload(gpu, a.view());
        GpuRepresentation {
            w1: up(&rep.w1),
            v2: up(&rep.v2),
            b1: row(gpu, rep.b1.view()),
            l1: up(&rep.l1),
            w2: up(&rep.w2),
            v: up(&rep.v),
            b2: row(gpu, rep.b2.view()),
            l2: up(&rep.l2),
            w: up(&rep.w),
            b: row(gpu, rep.b.view()),
        }
    }
}

/// One layer's state on the GPU: `z` (N×H), its normalised copy `ẑ` and each row's `Σz²` (N×1).
pub struct GpuLayer {
    pub z: GpuMatrix,
    pub z_hat: GpuMatrix,
    pub sq: GpuMatrix,
}

impl GpuLayer {
    pub fn zeros(gpu: &Gpu, n: usize, h: usize) -> GpuLayer {
        GpuLayer { z: GpuMatrix::zeros(gpu, n, h), z_hat: GpuMatrix::zeros(gpu, n, h), sq: GpuMatrix::zeros(gpu, n, 1) }
    }
}

/// The representation circuit's state on the GPU.
pub struct GpuState {
    pub z1: GpuLayer,
    pub z2: GpuLayer,
}

impl GpuState {
    pub fn zeros(gpu: &Gpu, n: usize, h: usize) -> GpuState {
        GpuState { z1: GpuLayer::zeros(gpu, n, h), z2: GpuLayer::zeros(gpu, n, h) }
    }

    /// The raw states back on the CPU.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn download(&self, gpu: &Gpu) -> Result<State<f32>, GpuError> {
        Ok(State { z1: self.z1.z.download(gpu)?, z2: self.z2.z.download(gpu)? })
    }
}

/// The noise of one settling step: one Philox stream per layer, and the std ε_r.
#[derive(Clone, Copy, Debug)]
pub struct StepNoise {
    pub layer1: StreamKey,
    pub layer2: StreamKey,
    pub std: f32,
}

/// What one step writes besides the new state: the layers' pre-activation products.
pub struct StepScratch {
    pub a1: GpuMatrix,
    pub a2: GpuMatrix,
}

impl StepScratch {
    pub fn new(gpu: &Gpu, n: usize, h: usize) -> StepScratch {
        StepScratch { a1: GpuMatrix::zeros(gpu, n, h), a2: GpuMatrix::zeros(gpu, n, h) }
    }
}

/// The compiled kernels of the settling step.
pub struct Settle {
    gemm: Gemm,
    layer: Kernel,
    nrm: Kernel,
}

impl Settle {
    pub fn new(gpu: &Gpu) -> Result<Settle, GpuError> {
        Ok(Settle {
            gemm: Gemm::new(gpu)?,
            layer: Kernel::new(gpu, "layer", &with_philox(&with_rowsum(LAYER)), "main")?,
            nrm: Kernel::new(gpu, "nrm", &with_rowsum(NRM), "main")?,
        })
    }

    /// Records `dst ← nrm(src)` row by row, with each row's `Σ src²` in `sq` (one dispatch).
    pub fn encode_nrm(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, src: &GpuMatrix, dst: &GpuMatrix, sq: &GpuMatrix) -> Result<(), GpuError> {
        check_rows(src.rows)?;
        let params = uniform(gpu, &[src.rows as u32, src.cols as u32]);
        self.nrm.encode(gpu, encoder, &[&params, &src.buffer, &dst.buffer, &sq.buffer], [src.rows as u32, 1, 1]);
        Ok(())
    }

    /// Records the forward pass's two layers (algorithm.md §3): `z1 = relu(x̂·W1 + b1)`,
    /// `z2 = relu(ẑ1·W2 + b2)`, into `out` with their normalised copies (four dispatches). It is
    /// the layer kernel with α = 0 from a zero state (`zeros`), whose lateral and leak terms
    /// then add exact zeros.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_forward(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        rep: &GpuRepresentation,
        x_hat: &GpuMatrix,
        zeros: &GpuState,
        scratch: &StepScratch,
        out: &GpuState,
    ) -> Result<usize, GpuError> {
        let n = x_hat.rows;
        check_rows(n)?;
        self.gemm.encode(gpu, encoder, 1.0, (x_hat, Op::N), (&rep.w1, Op::N), 0.0, &scratch.a1)?;
        self.encode_layer(gpu, encoder, (&scratch.a1, &rep.b1, &rep.l1), &zeros.z1, &out.z1, 0.0, None);
        self.gemm.encode(gpu, encoder, 1.0, (&out.z1.z_hat, Op::N), (&rep.w2, Op::N), 0.0, &scratch.a2)?;
        self.encode_layer(gpu, encoder, (&scratch.a2, &rep.b2, &rep.l2), &zeros.z2, &out.z2, 0.0, None);
        Ok(4)
    }

    /// Records the layer kernel: `z ← (1−α)·relu(a + b − zp·Leff + noise) + α·zp`, with ẑ and Σz².
    #[allow(clippy::too_many_arguments)]
    fn encode_layer(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        (a, b, l): (&GpuMatrix, &GpuMatrix, &GpuMatrix),
        zp: &GpuLayer,
        z: &GpuLayer,
        alpha: f32,
        stream: Option<(StreamKey, f32)>,
    ) {
        let params = layer_params(gpu, a.rows, a.cols, alpha, stream);
        let buffers = [&params, &a.buffer, &b.buffer, &l.buffer, &zp.z.buffer, &z.z.buffer, &z.z_hat.buffer, &z.sq.buffer];
        self.layer.encode(gpu, encoder, &buffers, [a.rows as u32, 1, 1]);
    }

    /// A state uploaded from the CPU, with its normalised copies and goodness (two dispatches).
    pub fn upload_state(&self, gpu: &Gpu, state: &State<f32>) -> Result<GpuState, GpuError> {
        let (n, h) = state.z1.dim();
        let out = GpuState::zeros(gpu, n, h);
        out.z1.z.write(gpu, state.z1.view());
        out.z2.z.write(gpu, state.z2.view());
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("upload state") });
        for layer in [&out.z1, &out.z2] {
            self.encode_nrm(gpu, &mut encoder, &layer.z, &layer.z_hat, &layer.sq)?;
        }
        gpu.queue.submit([encoder.finish()]);
        Ok(out)
    }

    /// Records one synchronous settling step (algorithm.md §4): `next ← step(prev)`, with
    /// `x_hat` the normalised images (N×D) and `y_hat` the scaled labels (N×C). Returns the
    /// number of dispatches recorded ([`DISPATCHES_PER_STEP`]).
    #[allow(clippy::too_many_arguments)]
    pub fn encode_step(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        cfg: &Config,
        rep: &GpuRepresentation,
        (x_hat, y_hat): (&GpuMatrix, &GpuMatrix),
        prev: &GpuState,
        scratch: &StepScratch,
        next: &GpuState,
        noise: Option<StepNoise>,
    ) -> Result<usize, GpuError> {
        let g = &self.gemm;
        let n = x_hat.rows;
        check_rows(n)?;
        g.encode(gpu, encoder, 1.0, (x_hat, Op::N), (&rep.w1, Op::N), 0.0, &scratch.a1)?;
        g.encode(gpu, encoder, 1.0, (&prev.z2.z_hat, Op::N), (&rep.v2, Op::N), 1.0, &scratch.a1)?;
        g.encode(gpu, encoder, 1.0, (&prev.z1.z_hat, Op::N), (&rep.w2, Op::N), 0.0, &scratch.a2)?;
        g.encode(gpu, encoder, 1.0, (y_hat, Op::N), (&rep.v, Op::N), 1.0, &scratch.a2)?;
        let alpha = cfg.alpha as f32;
        let layers = [
            (&scratch.a1, &rep.b1, &rep.l1, &prev.z1, &next.z1, noise.map(|e| (e.layer1, e.std))),
            (&scratch.a2, &rep.b2, &rep.l2, &prev.z2, &next.z2, noise.map(|e| (e.layer2, e.std))),
        ];
        for (a, b, l, zp, z, stream) in layers {
            if l.rows != a.cols || l.cols != GROUP || b.cols != a.cols {
                return Err(GpuError::new(
                    GpuErrorKind::Shape,
                    format!("layer: {}×{} state with bias 1×{} and laterals {}×{}", a.rows, a.cols, b.cols, l.rows, l.cols),
                ));
            }
            self.encode_layer(gpu, encoder, (a, b, l), zp, z, alpha, stream);
        }
        Ok(DISPATCHES_PER_STEP)
    }
}

/// The layer kernel's uniform block (`LayerParams`): rows, columns, α, whether there is noise,
/// and the stream's eight words.
fn layer_params(gpu: &Gpu, rows: usize, cols: usize, alpha: f32, stream: Option<(StreamKey, f32)>) -> wgpu::Buffer {
    let (noisy, words) = match stream {
        Some((key, std)) => (1, key.words((rows * cols) as u32, std)),
        None => (0, [0; 8]),
    };
    let mut all = vec![rows as u32, cols as u32, alpha.to_bits(), noisy];
    all.extend_from_slice(&words);
    uniform(gpu, &all)
}

/// One workgroup per row: at most 65535 rows per dispatch (WebGPU's minimum limit).
fn check_rows(n: usize) -> Result<(), GpuError> {
    if n > 65_535 {
        return Err(GpuError::new(GpuErrorKind::Shape, format!("{n} rows in one batch; the row kernels take at most 65535")));
    }
    Ok(())
}
