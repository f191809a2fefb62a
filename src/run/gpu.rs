//! A run trained on the GPU (feature `gpu`): the same run, with its training batches on the
//! GPU engine (`crate::gpu`). Batch order, negatives and the cursor stay on the host, so a run
//! may move between devices at any epoch end or saved state; the device is not part of a
//! run's identity, and each history record says where its epoch trained.
//!
//! The model and both optimisers live on the GPU while the run trains there. The host trainer
//! is brought up to date at every epoch end (the dev evaluation, the best model and the state
//! read it) and when the run stops; a state saved in mid-epoch reads the GPU's copy. Between
//! those, a batch reads back only its losses (7·N floats) and the non-finite guard (4 bytes).
//! The dev evaluation after each epoch and the test at the end run the goodness classifier on
//! the GPU too (the forward head and reconstruction error on the CPU, `gpu::evaluate`), and so
//! do the latents the prior is fitted on (`gpu::inference`).
//!
//! Both devices draw the noise from the same Philox streams (`crate::noise`), so a run of one
//! seed is the same run on either, to within the GPU's rounding. A run on the older PCG-block
//! stream (started before training state version 2) has no GPU twin and is refused here.

use super::TrainingRun;
use crate::data::Dataset;
use crate::error::{PffError, Result};
use crate::generate;
use crate::gmm::Gmm;
use crate::gpu::{Classifier, Gpu, GpuRepresentation, GpuTrainer, Inference};
use crate::infer::Evaluation;
use crate::model::Pff;
use crate::noise::NoiseStream;
use crate::train::{BatchStats, Trainer};
use std::ops::Range;

/// The GPU a run trains on, with the run's model and optimisers on it.
pub(super) struct GpuRun {
    gpu: Gpu,
    trainer: GpuTrainer,
    /// The goodness classifier, for the dev and test evaluations.
    classifier: Classifier,
    /// Whether the GPU holds batches the host trainer has not seen.
    ahead: bool,
}

impl TrainingRun {
    /// Trains the rest of this run on `gpu`: the model and the optimisers go up now, and the
    /// kernels are compiled and validated (awaited: in the page validation can only be awaited).
    pub async fn use_gpu(&mut self, gpu: Gpu) -> Result<()> {
        if self.spec.config.reg_lambda != 0.0 {
            return Err(PffError::Config("the GPU engine has no weight regulariser yet (reg_lambda): train this run on the CPU".into()));
        }
        if self.trainer.noise_stream != NoiseStream::Philox {
            return Err(PffError::Config(format!(
                "this run draws its noise from the '{}' stream (it started before pff's training states recorded one, or asked for it), which only the CPU engine has: resume it with --device cpu, or start a new run to train on the GPU",
                self.trainer.noise_stream.name()
            )));
        }
        let (trainer, classifier) =
            gpu.validated("starting the GPU engine", async { (GpuTrainer::upload(&gpu, &self.trainer), Classifier::new(&gpu)) }).await?;
        self.gpu = Some(GpuRun { trainer: trainer?, classifier: classifier?, gpu, ahead: false });
        Ok(())
    }

    /// The adapter the run trains on, or `None` on the CPU.
    pub fn gpu_adapter(&self) -> Option<String> {
        self.gpu.as_ref().map(|g| g.gpu.describe())
    }

    /// Up to `count` batches of the first `n` images of `data` on the GPU, in the host
    /// trainer's batch loop (`Trainer::batches_with`: the same order, negatives and cursor).
    /// The batches' losses and the non-finite guard come back in one readback at the end.
    pub(super) async fn train_batches_gpu(&mut self, data: &Dataset, n: usize, count: usize) -> Result<Vec<BatchStats>> {
        let g = self.gpu.as_mut().expect("called on a GPU run");
        g.trainer.cfg = self.trainer.model.cfg.clone(); // the schedule may have changed
        let trained = self.trainer.batches_with(
            data,
            n,
            count,
            |host, x, labels, key| {
                let negatives = host.negative_labels(labels, key);
                g.trainer.train_batch(&g.gpu, x, labels, &negatives, host.cursor)?;
                g.ahead = true;
                Ok(BatchStats { samples: x.nrows(), ..Default::default() }) // the losses come below
            },
            |_, _| {},
        );
        let stats = g.trainer.finish(&g.gpu).await?; // read even after a failure, so none stay pending
        trained?;
        Ok(stats)
    }

    /// Images `rows` of `data` evaluated with `model` ([`Pff::evaluate_dataset`]), the goodness
    /// classifier on the run's GPU when it trains on one. The current model's parameters are
    /// already there (the host trainer is in sync at an epoch end); another model (the best,
    /// for the test) is uploaded.
    pub(super) async fn evaluate_on_device(&self, model: &Pff<f32>, data: &Dataset, rows: Range<usize>) -> Result<Evaluation> {
        let Some(g) = &self.gpu else { return Ok(model.evaluate_dataset(data, rows)) };
        let uploaded;
        let rep = if !g.ahead && model.same_parameters(&self.trainer.model) {
            &g.trainer.rep
        } else {
            uploaded = GpuRepresentation::upload(&g.gpu, &model.rep);
            &uploaded
        };
        Ok(crate::gpu::evaluate::evaluate_rows(&g.gpu, &g.classifier, rep, model, data, rows).await?.0)
    }

    /// The prior of `model` on the first `n` images of `data`, the latents computed on the run's
    /// GPU when it trains on one (`gpu::Inference::latents`), the mixture fitted on the CPU.
    pub(super) async fn fit_prior_on_device(&self, model: &Pff<f32>, data: &Dataset, n: usize) -> Result<Gmm> {
        let (components, seed) = (self.spec.config.prior_components, self.spec.seed);
        let Some(g) = &self.gpu else { return generate::fit_prior(model, data, Some(n), components, seed) };
        let (x, labels) = generate::prior_images(data, Some(n))?;
        let z = Inference::new(&g.gpu, model)?.latents(&g.gpu, model, x.view()).await?;
        generate::prior_from_latents(z.view(), &labels, components, seed)
    }

    /// Brings the host trainer up to date with the GPU (parameters, moments, step counts).
    pub(super) async fn sync_from_gpu(&mut self) -> Result<()> {
        if let Some(g) = self.gpu.as_mut().filter(|g| g.ahead) {
            g.trainer.read_into(&g.gpu, &mut self.trainer).await?;
            g.ahead = false;
        }
        Ok(())
    }

    /// The host trainer as the GPU has it now, when the GPU is ahead of it.
    pub(super) async fn gpu_trainer_now(&self) -> Result<Option<Trainer>> {
        let Some(g) = self.gpu.as_ref().filter(|g| g.ahead) else { return Ok(None) };
        let mut now = self.trainer.clone();
        g.trainer.read_into(&g.gpu, &mut now).await?;
        Ok(Some(now))
    }
}
