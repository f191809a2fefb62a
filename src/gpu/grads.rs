//! The representation circuit's losses and local gradients on the GPU (algorithm.md §5, §7),
//! from the state a settling step ([`super::settle`]) left, as fourteen dispatches:
//!
//! * error signals: δ1, δ2 and the per-row goodness losses (one `goodness` kernel per layer),
//!   the head's logits `ẑ2p·W` (gemm) and δ3 with the per-row head losses (`head`): 4;
//! * weight gradients `x̂ᵀδ1, ẑ2pᵀδ1, ẑ1pᵀδ2, ŷᵀδ2, ẑ2pᵀδ3` (gemm with a transposed A): 5;
//! * bias gradients (column sums, `colsum`): 3; lateral gradients (`lateral_grad`): 2.
//!
//! The losses stay on the GPU as one value per row; a caller that wants the batch's scalars
//! sums them (N floats per loss), and one that does not reads nothing back.
//! The optional weight regulariser (`reg_lambda`, off in the presets) is not done here yet.

use super::device::{Gpu, GpuError, GpuErrorKind};
use super::gemm::{Gemm, Op};
use super::kernel::{Kernel, uniform};
use super::matrix::GpuMatrix;
use super::settle::{GpuRepresentation, GpuState};
use crate::config::{Config, GROUP};
use ndarray::{ArrayView1, ArrayView2, Axis};
#[cfg(not(target_arch = "wasm32"))]
use {
    crate::model::Representation,
    ndarray::{Array1, Array2},
};

/// Dispatches recorded by [`RepGrads::encode`].
pub const DISPATCHES: usize = 14;

/// What the representation circuit is shown, on the GPU (the GPU form of `model::Clamped`).
pub struct GpuBatch {
    /// Normalised images x̂ (N×D).
    pub x_hat: GpuMatrix,
    /// Label rows y (N×C), unscaled.
    pub y: GpuMatrix,
    /// y_scale·y (N×C).
    pub y_hat: GpuMatrix,
    /// 1 for a positive row, 0 for a negative (N×1).
    pub positive: GpuMatrix,
    /// The number of positive rows (Σ positive), known when the batch is made.
    pub npos: f32,
}

impl GpuBatch {
    pub fn upload(gpu: &Gpu, cfg: &Config, x_hat: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>, positive: ArrayView1<'_, f32>) -> GpuBatch {
        let y_hat = y.mapv(|v| v * cfg.y_scale as f32);
        GpuBatch {
            x_hat: GpuMatrix::upload(gpu, x_hat),
            y: GpuMatrix::upload(gpu, y),
            y_hat: GpuMatrix::upload(gpu, y_hat.view()),
            positive: GpuMatrix::upload(gpu, positive.insert_axis(Axis(1))),
            npos: positive.sum(),
        }
    }

    pub fn rows(&self) -> usize {
        self.x_hat.rows
    }
}

/// The error signals and per-row losses of one step.
pub struct GradScratch {
    pub d1: GpuMatrix,
    pub d2: GpuMatrix,
    /// The head's logits ẑ2p·W (without b).
    pub logits: GpuMatrix,
    pub d3: GpuMatrix,
    /// Per-row losses (N×1 each): goodness of layers 1 and 2, head.
    pub loss1: GpuMatrix,
    pub loss2: GpuMatrix,
    pub loss_head: GpuMatrix,
}

impl GradScratch {
    pub fn new(gpu: &Gpu, n: usize, h: usize, c: usize) -> GradScratch {
        let m = |r, k| GpuMatrix::zeros(gpu, r, k);
        GradScratch { d1: m(n, h), d2: m(n, h), logits: m(n, c), d3: m(n, c), loss1: m(n, 1), loss2: m(n, 1), loss_head: m(n, 1) }
    }

    /// The step's three losses as `model::RepLoss` reports them (goodness means over N, head
    /// over the positives): reads back 3·N floats.
    pub async fn losses(&self, gpu: &Gpu, npos: f32) -> Result<[f64; 3], GpuError> {
        let rows = super::matrix::read_all(gpu, &self.loss_rows()).await?;
        Ok(GradScratch::losses_of([&rows[0], &rows[1], &rows[2]], npos))
    }

    /// The per-row loss buffers: goodness of layers 1 and 2, head.
    pub fn loss_rows(&self) -> [&GpuMatrix; 3] {
        [&self.loss1, &self.loss2, &self.loss_head]
    }

    /// The losses from the rows of [`GradScratch::loss_rows`].
    pub fn losses_of(rows: [&[f32]; 3], npos: f32) -> [f64; 3] {
        let sum = |r: &[f32]| r.iter().map(|&v| f64::from(v)).sum::<f64>();
        let n = rows[0].len() as f64;
        let head = if npos > 0.0 { sum(rows[2]) / f64::from(npos) } else { 0.0 };
        [sum(rows[0]) / n, sum(rows[1]) / n, head]
    }
}

impl GpuRepresentation {
    /// Zeros of the same shapes (for gradients and Adam's moments).
    pub fn zeros(gpu: &Gpu, cfg: &Config) -> GpuRepresentation {
        let (d, h, c) = (cfg.input_dim, cfg.hidden, cfg.classes);
        let m = |r, k| GpuMatrix::zeros(gpu, r, k);
        GpuRepresentation {
            w1: m(d, h),
            v2: m(h, h),
            b1: m(1, h),
            l1: m(h, GROUP),
            w2: m(h, h),
            v: m(c, h),
            b2: m(1, h),
            l2: m(h, GROUP),
            w: m(h, c),
            b: m(1, c),
        }
    }

    /// The parameters back on the CPU.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn download(&self, gpu: &Gpu) -> Result<Representation<f32>, GpuError> {
        let vec = |m: &GpuMatrix| -> Result<Array1<f32>, GpuError> { Ok(m.download(gpu)?.remove_axis(Axis(0))) };
        let mat = |m: &GpuMatrix| -> Result<Array2<f32>, GpuError> { m.download(gpu) };
        Ok(Representation {
            w1: mat(&self.w1)?,
            v2: mat(&self.v2)?,
            b1: vec(&self.b1)?,
            l1: mat(&self.l1)?,
            w2: mat(&self.w2)?,
            v: mat(&self.v)?,
            b2: vec(&self.b2)?,
            l2: mat(&self.l2)?,
            w: mat(&self.w)?,
            b: vec(&self.b)?,
        })
    }
}

/// The compiled kernels of the representation circuit's gradients.
pub struct RepGrads {
    gemm: Gemm,
    goodness: Kernel,
    head: Kernel,
    colsum: Kernel,
    lateral: Kernel,
}

impl RepGrads {
    pub fn new(gpu: &Gpu) -> Result<RepGrads, GpuError> {
        let k = |label, src| Kernel::new(gpu, label, src, "main");
        Ok(RepGrads {
            gemm: Gemm::new(gpu)?,
            goodness: k("goodness", include_str!("kernels/goodness.wgsl"))?,
            head: k("head", include_str!("kernels/head.wgsl"))?,
            colsum: k("colsum", include_str!("kernels/colsum.wgsl"))?,
            lateral: k("lateral_grad", include_str!("kernels/lateral_grad.wgsl"))?,
        })
    }

    /// Records the losses and gradients of the step that went from `prev` to `next`
    /// (`Representation::train_step` without the settling, which [`super::Settle`] records).
    /// Returns the number of dispatches ([`DISPATCHES`]).
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        cfg: &Config,
        rep: &GpuRepresentation,
        batch: &GpuBatch,
        (prev, next): (&GpuState, &GpuState),
        s: &GradScratch,
        grads: &GpuRepresentation,
    ) -> Result<usize, GpuError> {
        if cfg.reg_lambda > 0.0 {
            return Err(GpuError::new(GpuErrorKind::Shape, "the weight regulariser (reg_lambda > 0) is not on the GPU yet"));
        }
        let (n, h) = (batch.rows(), next.z1.z.cols);
        let scale = (-2.0 * (1.0 - cfg.alpha) / n as f64) as f32;
        for (layer, delta, loss) in [(&next.z1, &s.d1, &s.loss1), (&next.z2, &s.d2, &s.loss2)] {
            let params = uniform(gpu, &[n as u32, h as u32, (cfg.threshold as f32).to_bits(), scale.to_bits()]);
            let buffers = [&params, &layer.z.buffer, &layer.sq.buffer, &batch.positive.buffer, &delta.buffer, &loss.buffer];
            self.goodness.encode(gpu, encoder, &buffers, [n as u32, 1, 1]);
        }
        self.encode_head(gpu, encoder, rep, (&prev.z2.z_hat, batch, cfg.y_scale as f32), (&s.logits, &s.d3, &s.loss_head))?;
        let g = &self.gemm;

        g.encode(gpu, encoder, 1.0, (&batch.x_hat, Op::T), (&s.d1, Op::N), 0.0, &grads.w1)?;
        g.encode(gpu, encoder, 1.0, (&prev.z2.z_hat, Op::T), (&s.d1, Op::N), 0.0, &grads.v2)?;
        g.encode(gpu, encoder, 1.0, (&prev.z1.z_hat, Op::T), (&s.d2, Op::N), 0.0, &grads.w2)?;
        g.encode(gpu, encoder, 1.0, (&batch.y_hat, Op::T), (&s.d2, Op::N), 0.0, &grads.v)?;
        g.encode(gpu, encoder, 1.0, (&prev.z2.z_hat, Op::T), (&s.d3, Op::N), 0.0, &grads.w)?;
        for (delta, out) in [(&s.d1, &grads.b1), (&s.d2, &grads.b2), (&s.d3, &grads.b)] {
            let params = uniform(gpu, &[n as u32, delta.cols as u32]);
            self.colsum.encode(gpu, encoder, &[&params, &delta.buffer, &out.buffer], [delta.cols.div_ceil(64) as u32, 1, 1]);
        }
        for (zp, delta, lat, out) in [(&prev.z1.z, &s.d1, &rep.l1, &grads.l1), (&prev.z2.z, &s.d2, &rep.l2, &grads.l2)] {
            let params = uniform(gpu, &[n as u32, h as u32]);
            let buffers = [&params, &zp.buffer, &delta.buffer, &lat.buffer, &out.buffer];
            self.lateral.encode(gpu, encoder, &buffers, [(h * GROUP).div_ceil(64) as u32, 1, 1]);
        }
        Ok(DISPATCHES)
    }

    /// Records the head on `z2_hat` (two dispatches): `logits ← z2_hat·W`, then δ3 and the
    /// per-row losses `−y_scale·lab·Σ_c y_c·log softmax(logits + b)_c`. With y_scale = 1 the
    /// loss rows of the positives are the forward head's cross-entropy.
    pub fn encode_head(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        rep: &GpuRepresentation,
        (z2_hat, batch, y_scale): (&GpuMatrix, &GpuBatch, f32),
        (logits, delta, loss): (&GpuMatrix, &GpuMatrix, &GpuMatrix),
    ) -> Result<(), GpuError> {
        self.gemm.encode(gpu, encoder, 1.0, (z2_hat, Op::N), (&rep.w, Op::N), 0.0, logits)?;
        let (n, c) = (logits.rows, logits.cols);
        let params = uniform(gpu, &[n as u32, c as u32, y_scale.to_bits(), batch.npos.to_bits()]);
        let buffers = [&params, &logits.buffer, &rep.b.buffer, &batch.y.buffer, &batch.positive.buffer, &delta.buffer, &loss.buffer];
        self.head.encode(gpu, encoder, &buffers, [n.div_ceil(64) as u32, 1, 1]);
        Ok(())
    }
}
