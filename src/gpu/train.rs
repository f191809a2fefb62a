//! One training batch on the GPU (algorithm.md §9, the GPU form of `Trainer::train_batch`):
//! the batch goes up once, and everything after it is recorded into one command buffer:
//!
//! * `x̂ = nrm([x; x])` (1 dispatch), the forward pass's z1, z2 (4) and its head's
//!   cross-entropy on the positives (2);
//! * per settling step k: the representation step (settle 6 + gradients 14), the non-finite
//!   guard (1), Adam on θ_r (10), the generator step with the top latent's update (14), the
//!   guard (1), Adam on θ_g (3): 49.
//!
//! Nothing is read back during a batch: the last step's losses of every batch stay on the GPU
//! until [`GpuTrainer::finish`] reads them, with the guard's flag, in one readback. The noise is
//! the counter-based Philox stream of [`crate::counter_rng`], addressed (seed, batch key, step k,
//! purpose) with purposes 0, 1 (e1, e2) and 2, 3 (n1, n2) as the CPU's `crate::noise` numbers
//! them, so a GPU batch is the CPU's batch to within rounding.
//!
//! Not here yet: `reg_lambda` (refused).

use super::adam::GpuAdam;
use super::device::{Gpu, GpuError, GpuErrorKind};
use super::generative::{GenNoise, GenScratch, GenStep, GpuGenerative};
use super::grads::{GpuBatch, GradScratch, RepGrads};
use super::kernel::{Kernel, uniform};
use super::matrix::GpuMatrix;
use super::settle::{GpuRepresentation, GpuState, Settle, StepNoise, StepScratch};
use crate::config::Config;
use crate::counter_rng::StreamKey;
use crate::model::ParamSet;
#[cfg(not(target_arch = "wasm32"))]
use crate::model::{Generative, Representation};
use crate::ops::one_hot;
use crate::train::{BatchStats, Cursor, Trainer};
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
    guard: Kernel,
    /// The non-finite guard's word: 0, or 1 + 2k (representation losses of step k) or 2 + 2k
    /// (generative losses of step k) for the first step whose losses were not finite. Cleared
    /// when the first batch after a [`GpuTrainer::finish`] starts, so a bad step stops every
    /// update until it is read.
    flag: GpuMatrix,
    /// The loss rows of the batches trained since the last [`GpuTrainer::finish`].
    pending: Vec<LastBatch>,
}

/// What one GPU batch recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuBatchReport {
    /// Compute dispatches in the batch's command buffer.
    pub dispatches: usize,
    /// Bytes read back from the GPU during the batch (0: losses are read only when asked).
    pub bytes_read: u64,
}

/// The loss rows a batch leaves on the GPU.
struct LastBatch {
    rep: GradScratch,
    generative: GenScratch,
    /// The forward head's per-row cross-entropy (in `loss_head`; positives only).
    forward: GradScratch,
    samples: usize,
}

/// Dispatches of a batch before its settling steps: x̂, the forward pass, its cross-entropy.
pub const DISPATCHES_BEFORE_STEPS: usize = 7;

/// Dispatches of one settling step of training: settle, gradients, Adam_r, generator, Adam_g.
pub const DISPATCHES_PER_STEP: usize = super::settle::DISPATCHES_PER_STEP + super::grads::DISPATCHES + 1 + 10 + super::generative::DISPATCHES + 1 + 3;

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
            guard: Kernel::new(gpu, "guard", include_str!("kernels/guard.wgsl"), "main")?,
            flag: GpuMatrix::zeros(gpu, 1, 1),
            pending: Vec::new(),
        })
    }

    /// Both circuits' parameters back on the CPU (for tests).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn download(&self, gpu: &Gpu) -> Result<(Representation<f32>, Generative<f32>), GpuError> {
        Ok((self.rep.download(gpu)?, self.generative.download(gpu)?))
    }

    /// Copies the parameters and both optimisers' state into `trainer` (its cursor is the
    /// caller's), in one readback: what a checkpoint, an evaluation or the CPU needs to go on
    /// from here.
    pub async fn read_into(&self, gpu: &Gpu, trainer: &mut Trainer) -> Result<(), GpuError> {
        let (r, g) = (&self.opt_r, &self.opt_g);
        let sources: Vec<&GpuMatrix> =
            self.rep.tensors().into_iter().chain(self.generative.tensors()).chain(&r.m).chain(&r.v).chain(&g.m).chain(&g.v).collect();
        let values = super::matrix::read_all(gpu, &sources).await?;
        let t = trainer;
        let dsts = t.model.rep.slices_mut().into_iter().chain(t.model.generative.slices_mut()).chain(t.opt_r.m.slices_mut()).chain(t.opt_r.v.slices_mut());
        for (dst, src) in dsts.chain(t.opt_g.m.slices_mut()).chain(t.opt_g.v.slices_mut()).zip(&values) {
            dst.copy_from_slice(src);
        }
        (t.opt_r.t, t.opt_g.t) = (r.t, g.t);
        Ok(())
    }

    /// Trains on the batch at `cursor`: `x` (B×D, pixels in [0, 1]), its labels and the
    /// negatives' labels (`Trainer::negative_labels` with the cursor's batch key). As on the CPU,
    /// both optimisers take the configuration's learning rate at the cursor's epoch.
    pub fn train_batch(
        &mut self,
        gpu: &Gpu,
        x: ArrayView2<'_, f32>,
        labels: &[usize],
        negatives: &[usize],
        cursor: Cursor,
    ) -> Result<GpuBatchReport, GpuError> {
        let cfg = self.cfg.clone();
        let key = Trainer::batch_key(cursor);
        let lr = cfg.lr_at(cursor.epoch);
        (self.opt_r.lr, self.opt_g.lr) = (lr, lr);
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
        if self.pending.is_empty() {
            encoder.clear_buffer(&self.flag.buffer, 0, None);
        }
        let mut dispatches = 0;
        let sq = GpuMatrix::zeros(gpu, n, 1);
        self.settle.encode_nrm(gpu, &mut encoder, &xx, &batch.x_hat, &sq)?;
        let (zeros, scratch) = (GpuState::zeros(gpu, n, h), StepScratch::new(gpu, n, h));
        let mut states = [GpuState::zeros(gpu, n, h), GpuState::zeros(gpu, n, h)];
        dispatches += 1 + self.settle.encode_forward(gpu, &mut encoder, &self.rep, &batch.x_hat, &zeros, &scratch, &states[0])?;
        let forward = GradScratch::new(gpu, n, h, c);
        self.rep_grads.encode_head(gpu, &mut encoder, &self.rep, (&states[0].z2.z_hat, &batch, 1.0), (&forward.logits, &forward.d3, &forward.loss_head))?;
        dispatches += 2;
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
            let g = &grad_scratch;
            dispatches += self.encode_guard(gpu, &mut encoder, [&g.loss1, &g.loss2, &g.loss_head], 1 + 2 * k);
            dispatches += self.opt_r.encode_step(gpu, &mut encoder, &self.rep.tensors(), &rep_grads.tensors(), &self.flag.buffer);
            dispatches += self.gen_step.encode(gpu, &mut encoder, &cfg, &self.generative, (&xx, next, &z_g), Some(gen_noise), &gen_scratch, &gen_grads)?;
            let g = &gen_scratch;
            dispatches += self.encode_guard(gpu, &mut encoder, [&g.loss0, &g.loss1, &g.loss2], 2 + 2 * k);
            dispatches += self.opt_g.encode_step(gpu, &mut encoder, &self.generative.tensors(), &gen_grads.tensors(), &self.flag.buffer);
            states.swap(0, 1);
        }
        gpu.queue.submit([encoder.finish()]);
        self.pending.push(LastBatch { rep: grad_scratch, generative: gen_scratch, forward, samples: b });
        Ok(GpuBatchReport { dispatches, bytes_read: 0 })
    }

    /// Records the guard over three loss-row buffers, setting the flag to `code` if one is not
    /// finite (one dispatch).
    fn encode_guard(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, rows: [&GpuMatrix; 3], code: u32) -> usize {
        let params = uniform(gpu, &[rows[0].rows as u32, code]);
        self.guard.encode(gpu, encoder, &[&params, &rows[0].buffer, &rows[1].buffer, &rows[2].buffer, &self.flag.buffer], [1, 1, 1]);
        1
    }

    /// The `BatchStats` of every batch trained since the last call, in order (each batch's last
    /// settling step's losses and the forward head's cross-entropy before its updates, as the
    /// CPU's `train_batch` reports them), read back with the non-finite guard in one readback
    /// (7·N floats per batch and 4 bytes).
    ///
    /// If the guard tripped, the error names the first bad step; its update and all later ones
    /// were not applied, as on the CPU, and the caller should not go on from this state (Adam's
    /// step counts moved on).
    pub async fn finish(&mut self, gpu: &Gpu) -> Result<Vec<BatchStats>, GpuError> {
        let pending = std::mem::take(&mut self.pending);
        let mut sources = vec![&self.flag];
        for p in &pending {
            sources.extend(p.rep.loss_rows().into_iter().chain(p.generative.loss_rows()).chain([&p.forward.loss_head]));
        }
        let words = super::matrix::read_words(gpu, &sources).await?;
        guard_result(words[0][0])?;
        let rows: Vec<Vec<f32>> = words[1..].iter().map(|w| w.iter().map(|&v| f32::from_bits(v)).collect()).collect();
        Ok(pending.iter().zip(rows.chunks_exact(7)).map(|(p, r)| batch_stats(p.samples, r)).collect())
    }
}

/// The guard's word as a result: 0 is fine, else the first bad step.
fn guard_result(code: u32) -> Result<(), GpuError> {
    if code == 0 {
        return Ok(());
    }
    let (step, what) = ((code - 1) / 2, if code % 2 == 1 { "representation losses" } else { "generative losses" });
    let msg = format!("{what} became non-finite at settling step {step}; training stopped before applying the update (try a smaller learning rate)");
    Err(GpuError::new(GpuErrorKind::NonFinite, msg))
}

/// One batch's `BatchStats` from its seven loss rows (representation 1, 2, head; generative
/// input, 1, 2; the forward head's cross-entropy).
fn batch_stats(samples: usize, rows: &[Vec<f32>]) -> BatchStats {
    let b = samples as f32;
    let [l1, l2, head] = GradScratch::losses_of([&rows[0], &rows[1], &rows[2]], b);
    let [input, g1, g2] = GenScratch::losses_of([&rows[3], &rows[4], &rows[5]]);
    let forward_ce = rows[6].iter().map(|&v| f64::from(v)).sum::<f64>() / f64::from(b);
    BatchStats { goodness_loss: l1 + l2, head_loss: head, gen_loss: input + g1 + g2, recon_loss: input, forward_ce, samples }
}
