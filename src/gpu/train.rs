//! One training batch on the GPU (algorithm.md §9, the GPU form of `Trainer::train_batch`):
//! the batch goes up once, and everything after it is recorded into one command buffer:
//!
//! * `x̂ = nrm([x; x])` (1 dispatch) and the forward pass's z1, z2 (4);
//! * per settling step k: the representation step (settle 6 + gradients 14), Adam on θ_r (10),
//!   the generator step with the top latent's update (14), Adam on θ_g (3): 47.
//!
//! Nothing is read back: the last step's losses stay on the GPU until [`GpuTrainer::losses`]
//! is asked for them. The noise is the counter-based Philox stream of [`crate::counter_rng`],
//! addressed (seed, batch key, step k, purpose) with purposes 0, 1 (e1, e2) and 2, 3 (n1, n2)
//! as the CPU's `batch_noise` numbers them; the CPU's training still uses its PCG blocks, so a
//! GPU batch equals a CPU batch only when the CPU is fed the same Philox noise (as the tests do).
//!
//! Not here yet: the non-finite guard before each Adam update (the CPU stops a batch whose
//! losses are not finite; on the GPU that needs a flag the host reads at the batch's end), the
//! forward head's cross-entropy of `BatchStats`, and `reg_lambda` (refused).

use super::adam::GpuAdam;
use super::device::Gpu;
use super::device::GpuError;
use super::generative::{GenNoise, GenScratch, GenStep, GpuGenerative};
use super::grads::{GpuBatch, GradScratch, RepGrads};
use super::matrix::GpuMatrix;
use super::settle::{GpuRepresentation, GpuState, Settle, StepNoise, StepScratch};
use crate::config::Config;
use crate::counter_rng::StreamKey;
use crate::model::{Generative, Representation};
use crate::ops::one_hot;
use crate::train::Trainer;
use ndarray::{Array1, ArrayView2, Axis, concatenate};

/// The model, both optimisers and the kernels, on the GPU.
pub struct GpuTrainer {
    pub cfg: Config,
    pub seed: u64,
    pub rep: GpuRepresentation,
    pub generative: GpuGenerative,
    pub opt_r: GpuAdam,
    pub opt_g: GpuAdam,
    settle: Settle,
    rep_grads: RepGrads,
    gen_step: GenStep,
    /// The last batch's loss rows, kept for [`GpuTrainer::losses`].
    last: Option<(GradScratch, GenScratch, f32)>,
}

/// What one GPU batch recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuBatchReport {
    /// Compute dispatches in the batch's command buffer.
    pub dispatches: usize,
    /// Bytes read back from the GPU during the batch (0: losses are read only when asked).
    pub bytes_read: u64,
}

/// Dispatches of one settling step of training: settle, gradients, Adam_r, generator, Adam_g.
pub const DISPATCHES_PER_STEP: usize = super::settle::DISPATCHES_PER_STEP + super::grads::DISPATCHES + 10 + super::generative::DISPATCHES + 3;

impl GpuTrainer {
    /// The trainer's model and optimisers on the GPU, to continue its run there.
    pub fn upload(gpu: &Gpu, trainer: &Trainer) -> Result<GpuTrainer, GpuError> {
        let model = &trainer.model;
        Ok(GpuTrainer {
            cfg: model.cfg.clone(),
            seed: trainer.seed,
            rep: GpuRepresentation::upload(gpu, &model.rep),
            generative: GpuGenerative::upload(gpu, &model.generative),
            opt_r: GpuAdam::upload(gpu, &trainer.opt_r)?,
            opt_g: GpuAdam::upload(gpu, &trainer.opt_g)?,
            settle: Settle::new(gpu)?,
            rep_grads: RepGrads::new(gpu)?,
            gen_step: GenStep::new(gpu)?,
            last: None,
        })
    }

    /// Both circuits' parameters back on the CPU (for checkpoints and tests).
    pub fn download(&self, gpu: &Gpu) -> Result<(Representation<f32>, Generative<f32>), GpuError> {
        Ok((self.rep.download(gpu)?, self.generative.download(gpu)?))
    }

    /// Trains on one batch: `x` (B×D, pixels in [0, 1]), its labels and the negatives' labels
    /// (from `Trainer::negative_labels`), with the noise of batch `key`.
    pub fn train_batch(&mut self, gpu: &Gpu, x: ArrayView2<'_, f32>, labels: &[usize], negatives: &[usize], key: u64) -> Result<GpuBatchReport, GpuError> {
        let cfg = self.cfg.clone();
        let (b, c, h) = (x.nrows(), cfg.classes, cfg.hidden);
        let n = 2 * b;
        let xx = GpuMatrix::upload(gpu, concatenate(Axis(0), &[x, x]).expect("same widths").view());
        let y = concatenate(Axis(0), &[one_hot::<f32>(labels, c).view(), one_hot::<f32>(negatives, c).view()]).expect("same widths");
        let positive = Array1::from_shape_fn(n, |i| if i < b { 1.0f32 } else { 0.0 });
        let batch = GpuBatch {
            x_hat: GpuMatrix::zeros(gpu, n, cfg.input_dim),
            y: GpuMatrix::upload(gpu, y.view()),
            y_hat: GpuMatrix::upload(gpu, y.mapv(|v| v * cfg.y_scale as f32).view()),
            positive: GpuMatrix::upload(gpu, positive.view().insert_axis(Axis(1))),
            npos: b as f32,
        };
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("pff batch") });
        let mut dispatches = 0;
        let sq = GpuMatrix::zeros(gpu, n, 1);
        self.settle.encode_nrm(gpu, &mut encoder, &xx, &batch.x_hat, &sq)?;
        let (zeros, scratch) = (GpuState::zeros(gpu, n, h), StepScratch::new(gpu, n, h));
        let mut states = [GpuState::zeros(gpu, n, h), GpuState::zeros(gpu, n, h)];
        dispatches += 1 + self.settle.encode_forward(gpu, &mut encoder, &self.rep, &batch.x_hat, &zeros, &scratch, &states[0])?;
        let z_g = GpuMatrix::zeros(gpu, n, cfg.latent);
        let (grad_scratch, gen_scratch) = (GradScratch::new(gpu, n, h, c), GenScratch::new(gpu, &cfg, n));
        let (rep_grads, gen_grads) = (GpuRepresentation::zeros(gpu, &cfg), GpuGenerative::zeros(gpu, &cfg));
        for k in 0..cfg.steps as u32 {
            let stream = |purpose| StreamKey { seed: self.seed, batch: key, step: k, purpose };
            let rep_noise = StepNoise { layer1: stream(0), layer2: stream(1), std: cfg.eps_r as f32 };
            let gen_noise = GenNoise { layer1: stream(2), layer2: stream(3), std: cfg.eps_g as f32 };
            let [prev, next] = &states;
            dispatches += self.settle.encode_step(gpu, &mut encoder, &cfg, &self.rep, (&batch.x_hat, &batch.y_hat), prev, &scratch, next, Some(rep_noise))?;
            dispatches += self.rep_grads.encode(gpu, &mut encoder, &cfg, &self.rep, &batch, (prev, next), &grad_scratch, &rep_grads)?;
            dispatches += self.opt_r.encode_step(gpu, &mut encoder, &self.rep.tensors(), &rep_grads.tensors());
            dispatches += self.gen_step.encode(gpu, &mut encoder, &cfg, &self.generative, (&xx, next, &z_g), Some(gen_noise), &gen_scratch, &gen_grads)?;
            dispatches += self.opt_g.encode_step(gpu, &mut encoder, &self.generative.tensors(), &gen_grads.tensors());
            states.swap(0, 1);
        }
        gpu.queue.submit([encoder.finish()]);
        self.last = Some((grad_scratch, gen_scratch, batch.npos));
        Ok(GpuBatchReport { dispatches, bytes_read: 0 })
    }

    /// The last step's losses of the last batch: [goodness L1, L2, head, generative input,
    /// layer 1, layer 2], as `RepLoss` and `GenLoss` report them. Reads back 6·N floats.
    pub fn losses(&self, gpu: &Gpu) -> Result<Option<[f64; 6]>, GpuError> {
        let Some((rep, generative, npos)) = &self.last else { return Ok(None) };
        let [l1, l2, head] = rep.losses(gpu, *npos)?;
        let [input, g1, g2] = generative.losses(gpu)?;
        Ok(Some([l1, l2, head, input, g1, g2]))
    }
}
