//! One training run, the same in the CLI and in the page (algorithm.md §10): the model and its
//! optimisers, the schedule and data cursors, the dev evaluation before training and after
//! every epoch, the best-dev model, one history record per epoch, and at the end the test
//! evaluation and the prior fit, both of the best model.
//!
//! A [`TrainingRun`] does no I/O. It advances in bounded steps ([`TrainingRun::advance`]), so
//! a front end can draw progress, answer other requests, pause, stop and save between steps.
//! Its identity ([`RunSpec`]: dataset, seed, data limits, configuration) is stored in its
//! state, so that a resumed run trains on the same data with the same seed, and a request
//! that contradicts it is refused.

mod evaluation;
#[cfg(feature = "gpu")]
mod gpu;
mod pacing;
mod progress;
mod request;
mod state;

pub use pacing::{Pacer, REPORT_SECONDS, SLICE_SECONDS};
pub use progress::{EpochRecord, Phase, Progress, TestResult};
pub use request::{RunRequest, RunSpec};
pub use state::{BestRecord, STATE_VERSION, StoredState, trainer_to_bytes};

use evaluation::TestSums;

use crate::blocking::block_on;
use crate::checkpoint::{Checkpoint, ModelMeta};
use crate::config::{Schedule, Setting};
use crate::data::Dataset;
use crate::error::{PffError, Result};
use crate::gmm::Gmm;
use crate::model::Pff;
use crate::train::{BatchStats, Trainer};

/// The data a run reads; the run uses the first `train_limit` / `dev_limit` images.
#[derive(Clone, Copy, Debug)]
pub struct RunData<'a> {
    pub train: &'a Dataset,
    pub dev: &'a Dataset,
    /// Needed when the run evaluates the test split at the end.
    pub test: Option<&'a Dataset>,
}

/// Seconds since an arbitrary origin (the front end's clock; the core has none).
pub type Clock = fn() -> f64;

#[derive(Clone, Debug)]
struct Best {
    model: Pff<f32>,
    epoch: usize,
    dev_accuracy: f64,
}

/// Sums over the batches of the epoch in progress.
#[derive(Clone, Debug, Default)]
struct EpochSums {
    losses: [f64; 4],
    batches: usize,
    samples: usize,
    seconds: f64,
}

/// One training run. See the module documentation.
pub struct TrainingRun {
    spec: RunSpec,
    trainer: Trainer,
    meta: ModelMeta,
    phase: Phase,
    best: Option<Best>,
    history: Vec<EpochRecord>,
    sums: EpochSums,
    test_sums: TestSums,
    test: Option<TestResult>,
    prior: Option<Gmm>,
    clock: Option<Clock>,
    threads: Option<usize>,
    /// Set by [`TrainingRun::stop`]: no further epochs.
    stopped: bool,
    /// The GPU the run trains on ([`TrainingRun::use_gpu`]); `None`: the CPU.
    #[cfg(feature = "gpu")]
    gpu: Option<gpu::GpuRun>,
}

impl TrainingRun {
    /// A new run: a freshly initialised model of `spec.config`, seeded by `spec.seed`.
    pub fn new(spec: RunSpec) -> Result<Self> {
        spec.validate()?;
        let model = Pff::new(spec.config.clone(), spec.seed)?;
        Ok(Self::from_model(spec, model))
    }

    /// A new run that continues training `model` (fresh optimisers, epoch 0). The model's
    /// configuration replaces `spec.config` except for the schedule fields, which the run may
    /// change.
    pub fn continuing(mut spec: RunSpec, model: Pff<f32>) -> Result<Self> {
        let cfg = model.cfg.clone().with_schedule(spec.config.schedule());
        cfg.validate()?;
        spec.config = cfg.clone();
        spec.validate()?;
        Ok(Self::from_model(spec, Pff { cfg, ..model }))
    }

    fn from_model(mut spec: RunSpec, model: Pff<f32>) -> Self {
        if !spec.class_names.is_empty() {
            spec.class_names = request::names_for(std::mem::take(&mut spec.class_names), model.cfg.classes);
        }
        let meta = ModelMeta { dataset: spec.dataset.clone(), seed: spec.seed, class_names: spec.class_names.clone(), ..Default::default() };
        let trainer = Trainer::new(model, spec.seed).with_noise_stream(spec.noise);
        Self::with_trainer(spec, trainer, meta)
    }

    /// A run at its baseline, with nothing recorded yet.
    fn with_trainer(spec: RunSpec, trainer: Trainer, meta: ModelMeta) -> Self {
        TrainingRun {
            trainer,
            spec,
            meta,
            phase: Phase::Baseline,
            best: None,
            history: Vec::new(),
            sums: EpochSums::default(),
            test_sums: TestSums::default(),
            test: None,
            prior: None,
            clock: None,
            threads: None,
            stopped: false,
            #[cfg(feature = "gpu")]
            gpu: None,
        }
    }

    /// Times each epoch with `clock`, and records `threads` in the history.
    pub fn set_clock(&mut self, clock: Clock, threads: usize) {
        self.clock = Some(clock);
        self.threads = Some(threads);
    }

    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }

    /// The metadata written into the run's weights files (the command line goes here).
    pub fn meta_mut(&mut self) -> &mut ModelMeta {
        &mut self.meta
    }

    /// The model as it is now (the last trained batch).
    pub fn current_model(&self) -> &Pff<f32> {
        &self.trainer.model
    }

    /// Completed epochs.
    pub fn epoch(&self) -> usize {
        self.trainer.cursor.epoch
    }

    /// Whether the run has nothing left to do.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The best model so far as a weights file's contents: its dev accuracy, the epoch it
    /// came from, and (once the run is done) the test accuracy and the prior.
    pub fn best_checkpoint(&self) -> Option<Checkpoint> {
        let best = self.best.as_ref()?;
        let mut meta = self.meta.clone();
        meta.epochs = best.epoch;
        meta.dev_accuracy = Some(best.dev_accuracy);
        meta.test_accuracy = self.test.as_ref().map(|t| t.accuracy);
        meta.test_forward_accuracy = self.test.as_ref().map(|t| t.forward_accuracy);
        meta.threads = meta.threads.or(self.threads);
        let mut model = best.model.clone();
        model.cfg = self.spec.config.clone();
        Some(Checkpoint { model, meta, prior: self.prior.clone() })
    }

    /// The model as it is now (the last trained batch) as a weights file's contents: the run's
    /// metadata with the epochs completed so far, no accuracies (it has not been evaluated as
    /// it is) and no prior.
    pub fn current_checkpoint(&self) -> Checkpoint {
        let meta = ModelMeta { epochs: self.trainer.cursor.epoch, threads: self.meta.threads.or(self.threads), ..self.meta.clone() };
        let mut model = self.trainer.model.clone();
        model.cfg = self.spec.config.clone();
        Checkpoint { model, meta, prior: None }
    }

    /// The epoch the best model came from and its dev accuracy.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best.as_ref().map(|b| (b.epoch, b.dev_accuracy))
    }

    /// Changes one schedule setting (`epochs`, `lr`, `lr_milestones`, `lr_gamma`). More epochs
    /// than a finished run trained reopen it: the test evaluation and the prior are redone.
    pub fn set_schedule(&mut self, name: &str, value: Setting<'_>) -> Result<()> {
        let mut cfg = self.spec.config.clone();
        cfg.set_schedule(name, value)?;
        self.reschedule(cfg.schedule())
    }

    /// Replaces the run's schedule (see [`TrainingRun::set_schedule`]).
    pub fn reschedule(&mut self, schedule: Schedule) -> Result<()> {
        let cfg = self.spec.config.clone().with_schedule(schedule);
        cfg.validate()?;
        if cfg.epochs < self.trainer.cursor.epoch {
            return Err(PffError::Config(format!("epochs = {} is fewer than the {} this run has trained", cfg.epochs, self.trainer.cursor.epoch)));
        }
        self.spec.config = cfg.clone();
        self.trainer.model.cfg = cfg;
        if self.phase != Phase::Baseline && self.trainer.cursor.epoch < self.spec.config.epochs {
            self.phase = Phase::Training;
            self.test = None;
            self.prior = None;
        }
        Ok(())
    }

    /// Ends training now: a partly trained epoch is evaluated like a full one, then the run
    /// goes on to its test evaluation and prior.
    pub fn stop(&mut self, data: &RunData<'_>) -> Result<()> {
        block_on(self.stop_async(data))
    }

    /// [`TrainingRun::stop`], awaiting the run's device (the page's GPU build awaits this).
    pub async fn stop_async(&mut self, data: &RunData<'_>) -> Result<()> {
        self.stopped = true;
        if self.phase == Phase::Training && self.sums.batches > 0 {
            self.end_epoch(data, self.trainer.cursor.epoch + 1).await?;
        }
        if matches!(self.phase, Phase::Baseline | Phase::Training) && self.best.is_some() {
            self.phase = self.after_training();
        }
        Ok(())
    }

    /// Does at most `max_batches` training batches (or one evaluation step) and reports.
    pub fn advance(&mut self, data: &RunData<'_>, max_batches: usize) -> Result<Progress> {
        block_on(self.advance_async(data, max_batches))
    }

    /// [`TrainingRun::advance`], awaiting the run's device: a run on the CPU never waits, and a
    /// run on the GPU waits for its readbacks (in the page they can only be awaited).
    pub async fn advance_async(&mut self, data: &RunData<'_>, max_batches: usize) -> Result<Progress> {
        let mut progress = Vec::new();
        let mut record = None;
        match self.phase {
            Phase::Baseline => {
                self.resolve_limits(data)?;
                let ev = self.evaluate_dev(data).await?;
                let rec = EpochRecord { improved: true, ..self.record(0, &ev, None) };
                self.best = Some(Best { model: self.trainer.model.clone(), epoch: 0, dev_accuracy: ev.accuracy });
                self.history.push(rec.clone());
                record = Some(rec);
                self.phase = if !self.stopped && self.trainer.cursor.epoch < self.spec.config.epochs { Phase::Training } else { self.after_training() };
            }
            Phase::Training => {
                let train = self.train_images(data)?;
                let t0 = self.now();
                let epoch = self.trainer.cursor.epoch;
                let stats = self.train_batches(data.train, train, max_batches.max(1)).await?;
                let sums = &mut self.sums;
                for s in &stats {
                    sums.batches += 1;
                    sums.samples += s.samples;
                    for (acc, v) in sums.losses.iter_mut().zip([s.goodness_loss, s.head_loss, s.gen_loss, s.forward_ce]) {
                        *acc += v;
                    }
                }
                if let (Some(a), Some(b)) = (t0, self.now()) {
                    self.sums.seconds += b - a;
                }
                progress = stats;
                if self.trainer.cursor.epoch > epoch {
                    record = Some(self.end_epoch(data, self.trainer.cursor.epoch).await?);
                    if self.trainer.cursor.epoch >= self.spec.config.epochs {
                        self.phase = self.after_training();
                    }
                }
            }
            Phase::Testing => self.test_step(data).await?,
            Phase::Prior => {
                let best = self.best.as_ref().expect("a run past its baseline has a best model");
                let train = self.train_images(data)?;
                self.prior = Some(self.fit_prior_on_device(&best.model, data.train, train).await?);
                self.phase = Phase::Done;
            }
            Phase::Done => {}
        }
        Ok(self.progress(data, progress, record))
    }

    /// Up to `count` training batches of the first `n` images, on the run's device.
    async fn train_batches(&mut self, data: &Dataset, n: usize, count: usize) -> Result<Vec<BatchStats>> {
        #[cfg(feature = "gpu")]
        if self.gpu.is_some() {
            return self.train_batches_gpu(data, n, count).await;
        }
        self.trainer.train_batches_of(data, n, count, |_, _| {})
    }

    /// The prior of `model` on the first `n` images of `data` (a build without the GPU engine).
    #[cfg(not(feature = "gpu"))]
    async fn fit_prior_on_device(&self, model: &Pff<f32>, data: &Dataset, n: usize) -> Result<Gmm> {
        crate::generate::fit_prior(model, data, Some(n), self.spec.config.prior_components, self.spec.seed)
    }

    /// Where the run trains: `Some("gpu")`, or `None` on the CPU (the default).
    fn device_label(&self) -> Option<String> {
        #[cfg(feature = "gpu")]
        if self.gpu.is_some() {
            return Some("gpu".into());
        }
        None
    }

    /// The host trainer as it is on the run's device now (`None`: the host's is current).
    fn trainer_now(&self) -> Result<Option<Trainer>> {
        #[cfg(feature = "gpu")]
        return block_on(self.gpu_trainer_now());
        #[cfg(not(feature = "gpu"))]
        Ok(None)
    }

    fn after_training(&self) -> Phase {
        if self.spec.test_at_end {
            Phase::Testing
        } else if self.spec.fit_prior {
            Phase::Prior
        } else {
            Phase::Done
        }
    }

    fn now(&self) -> Option<f64> {
        self.clock.map(|c| c())
    }

    fn resolve_limits(&mut self, data: &RunData<'_>) -> Result<()> {
        let cfg = &self.spec.config;
        for (set, split) in [(data.train, "train"), (data.dev, "dev")] {
            set.check_fits(cfg.input_dim, cfg.classes, &format!("{}/{split}", self.spec.dataset))?;
        }
        let resolve = |limit: Option<usize>, have: usize, split: &str| match limit {
            None if have == 0 => Err(PffError::Input(format!("the {split} split is empty"))),
            None => Ok(have),
            Some(n) => Ok(n),
        };
        self.spec.train_limit = Some(resolve(self.spec.train_limit, data.train.len(), "train")?);
        self.spec.dev_limit = Some(resolve(self.spec.dev_limit, data.dev.len(), "dev")?);
        Ok(())
    }

    fn limited(&self, limit: Option<usize>, have: usize, split: &str) -> Result<usize> {
        let n = limit.unwrap_or(have);
        if have < n {
            return Err(PffError::Input(format!("this run uses the first {n} images of {}/{split}, but only {have} are loaded", self.spec.dataset)));
        }
        Ok(n)
    }

    fn train_images(&self, data: &RunData<'_>) -> Result<usize> {
        self.limited(self.spec.train_limit, data.train.len(), "train")
    }
}

#[cfg(test)]
mod tests;
