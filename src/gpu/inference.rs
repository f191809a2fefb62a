//! Inference on the GPU beyond the classifier: the top latents the prior is fitted on
//! (algorithm.md §12.1, `Pff::latents`) and reconstructions (§11.3, `Pff::reconstruct`), each
//! in batches whose only readback is the result.

use super::generative::{GenScratch, GenStep, GpuGenerative};
use super::kernel::{Kernel, uniform};
use super::{Gemm, Gpu, GpuError, GpuMatrix, GpuRepresentation, GpuState, Op, Settle, StepScratch};
#[cfg(not(target_arch = "wasm32"))]
use crate::infer::SettleTrace;
use crate::model::Pff;
use ndarray::{Array2, ArrayView2, Axis, s};

/// The compiled kernels, with one model's parameters on the GPU.
pub struct Inference {
    settle: Settle,
    gemm: Gemm,
    softmax: Kernel,
    generator: GenStep,
    rep: GpuRepresentation,
    generative: GpuGenerative,
}

/// The forward pass of a batch on the GPU: x̂ and the forward state.
struct Forward {
    x_hat: GpuMatrix,
    state: GpuState,
    scratch: StepScratch,
}

impl Inference {
    pub fn new(gpu: &Gpu, model: &Pff<f32>) -> Result<Inference, GpuError> {
        Ok(Inference {
            settle: Settle::new(gpu)?,
            gemm: Gemm::new(gpu)?,
            softmax: Kernel::new(gpu, "softmax", include_str!("kernels/softmax.wgsl"), "main")?,
            generator: GenStep::new(gpu)?,
            rep: GpuRepresentation::upload(gpu, &model.rep),
            generative: GpuGenerative::upload(gpu, &model.generative),
        })
    }

    /// Records x̂ = nrm(x) and the forward pass of `x` (uploaded here).
    fn encode_forward(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, x: ArrayView2<'_, f32>, h: usize) -> Result<Forward, GpuError> {
        let (n, d) = x.dim();
        let (xs, x_hat) = (GpuMatrix::upload(gpu, x), GpuMatrix::zeros(gpu, n, d));
        self.settle.encode_nrm(gpu, encoder, &xs, &x_hat, &GpuMatrix::zeros(gpu, n, 1))?;
        let (zeros, scratch, state) = (GpuState::zeros(gpu, n, h), StepScratch::new(gpu, n, h), GpuState::zeros(gpu, n, h));
        self.settle.encode_forward(gpu, encoder, &self.rep, &x_hat, &zeros, &scratch, &state)?;
        Ok(Forward { x_hat, state, scratch })
    }

    /// The top latents (N×G) of images `x` (pixels in [0, 1]), as `Pff::latents` computes them:
    /// in batches of `latent_batch`, the forward state, the label replaced by the head's
    /// probabilities, one noise-free step, and K descent steps of z_g from zero.
    pub async fn latents(&self, gpu: &Gpu, model: &Pff<f32>, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, GpuError> {
        let cfg = &model.cfg;
        let mut out = Array2::zeros((x.nrows(), cfg.latent));
        for (i, chunk) in x.axis_chunks_iter(Axis(0), cfg.latent_batch).enumerate() {
            let (n, h, c) = (chunk.nrows(), cfg.hidden, cfg.classes);
            let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("latents") });
            let fwd = self.encode_forward(gpu, &mut encoder, chunk, h)?;
            let (logits, y_hat) = (GpuMatrix::zeros(gpu, n, c), GpuMatrix::zeros(gpu, n, c));
            self.gemm.encode(gpu, &mut encoder, 1.0, (&fwd.state.z2.z_hat, Op::N), (&self.rep.w, Op::N), 0.0, &logits)?;
            let params = uniform(gpu, &[n as u32, c as u32, (cfg.y_scale as f32).to_bits(), 0]);
            self.softmax.encode(gpu, &mut encoder, &[&params, &logits.buffer, &self.rep.b.buffer, &y_hat.buffer], [n.div_ceil(64) as u32, 1, 1]);
            let settled = GpuState::zeros(gpu, n, h);
            self.settle.encode_step(gpu, &mut encoder, cfg, &self.rep, (&fwd.x_hat, &y_hat), &fwd.state, &fwd.scratch, &settled, None)?;
            let (z_g, scratch) = (GpuMatrix::zeros(gpu, n, cfg.latent), GenScratch::new(gpu, cfg, n));
            for _ in 0..cfg.steps {
                self.generator.encode_latent_step(gpu, &mut encoder, cfg, &self.generative, (&settled.z2.z, &z_g), &scratch)?;
            }
            gpu.queue.submit([encoder.finish()]);
            let start = i * cfg.latent_batch;
            out.slice_mut(s![start..start + n, ..]).assign(&z_g.read(gpu).await?);
        }
        Ok(out)
    }

    /// Reconstructions of images `x` from their forward state, as `Pff::reconstruct`:
    /// `clip01(nrm(φ(nrm(φ(z2⁰))·G2))·G1)`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn reconstruct(&self, gpu: &Gpu, model: &Pff<f32>, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, GpuError> {
        let (n, h, d) = (x.nrows(), model.cfg.hidden, model.cfg.input_dim);
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("reconstruct") });
        let fwd = self.encode_forward(gpu, &mut encoder, x, h)?;
        let (a2, p1, a1, p0) = (GpuMatrix::zeros(gpu, n, h), GpuMatrix::zeros(gpu, n, h), GpuMatrix::zeros(gpu, n, h), GpuMatrix::zeros(gpu, n, d));
        self.generator.encode_input(gpu, &mut encoder, &fwd.state.z2.z, &a2);
        self.gemm.encode(gpu, &mut encoder, 1.0, (&a2, Op::N), (&self.generative.g2, Op::N), 0.0, &p1)?;
        self.generator.encode_input(gpu, &mut encoder, &p1, &a1); // nrm(relu(relu(p1))) = nrm(relu(p1))
        self.gemm.encode(gpu, &mut encoder, 1.0, (&a1, Op::N), (&self.generative.g1, Op::N), 0.0, &p0)?;
        gpu.queue.submit([encoder.finish()]);
        Ok(p0.download(gpu)?.mapv(|v| v.clamp(0.0, 1.0)))
    }

    /// The settling of one image (1×D) under all C hypotheses for K steps on the GPU, as
    /// `Pff::settle_trace` records it: every step's states are copied aside on the GPU and read
    /// back once. The per-step input predictions of the recorded hypothesis (K rows of one
    /// product) are computed from those states on the CPU.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn settle_trace(&self, gpu: &Gpu, model: &Pff<f32>, x: ArrayView2<'_, f32>, label: Option<usize>) -> Result<SettleTrace, GpuError> {
        let cfg = &model.cfg;
        let (c, h, k_steps) = (cfg.classes, cfg.hidden, cfg.steps);
        let tiled = ndarray::concatenate(Axis(0), &vec![x.slice(s![0..1, ..]); c]).expect("same widths");
        let mut y_hat = Array2::<f32>::zeros((c, c));
        y_hat.diag_mut().fill(cfg.y_scale as f32);
        let ys = GpuMatrix::upload(gpu, y_hat.view());
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("settle trace") });
        let fwd = self.encode_forward(gpu, &mut encoder, tiled.view(), h)?;
        let mut states = [fwd.state, GpuState::zeros(gpu, c, h)];
        let trace = [(k_steps * c, h), (k_steps * c, h), (k_steps * c, 1), (k_steps * c, 1)].map(|(r, w)| GpuMatrix::zeros(gpu, r, w));
        for k in 0..k_steps {
            let [prev, next] = &states;
            self.settle.encode_step(gpu, &mut encoder, cfg, &self.rep, (&fwd.x_hat, &ys), prev, &fwd.scratch, next, None)?;
            for (src, dst) in [&next.z1.z, &next.z2.z, &next.z1.sq, &next.z2.sq].into_iter().zip(&trace) {
                encoder.copy_buffer_to_buffer(&src.buffer, 0, &dst.buffer, (k * src.len() * 4) as u64, (src.len() * 4) as u64);
            }
            states.swap(0, 1);
        }
        gpu.queue.submit([encoder.finish()]);
        let [z1s, z2s, sq1, sq2] = trace.each_ref().map(|m| m.download(gpu));
        let (z1s, z2s, sq1, sq2) = (z1s?, z2s?, sq1?, sq2?);
        Ok(SettleTrace::from_steps(model, (&z1s, &z2s), (sq1.column(0), sq2.column(0)), label))
    }
}
