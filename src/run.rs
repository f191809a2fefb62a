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

use crate::catalog::{Bounds, RunBounds};
use crate::checkpoint::{self, Checkpoint, ModelMeta};
use crate::config::Config;
use crate::data::{self, Dataset, Manifest};
use crate::error::{PffError, Result};
use crate::generate;
use crate::gmm::Gmm;
use crate::infer::Evaluation;
use crate::model::Pff;
use crate::train::{BatchStats, Trainer};
use serde::{Deserialize, Serialize};

/// Test images evaluated per [`TrainingRun::advance`] step once training is over.
const TEST_CHUNK: usize = 1000;

/// What a run is: everything that decides its result besides the code. Stored with the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The dataset's name (`mnist`, `fashion`, or one made with `pff data --idx-dir`).
    pub dataset: String,
    /// Seeds the initialisation, the batch order, the negative labels and the noise.
    pub seed: u64,
    /// Training images: the first N of the train split. `None` until the run first sees its
    /// data, when it becomes the split's size.
    pub train_limit: Option<usize>,
    /// Dev images evaluated after every epoch (the first N of the dev split), resolved like
    /// `train_limit`.
    pub dev_limit: Option<usize>,
    /// Evaluate the best model on the test split at the end.
    #[serde(default = "yes")]
    pub test_at_end: bool,
    /// Test images evaluated at the end (the first N of the split; `None`: all).
    #[serde(default)]
    pub test_limit: Option<usize>,
    /// Fit the generative prior of the best model at the end.
    #[serde(default = "yes")]
    pub fit_prior: bool,
    /// The model and its training schedule.
    pub config: Config,
    /// The class names, label by label, from the dataset's manifest (`config.classes` of them).
    /// Empty in a run stored before they were recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
}

/// `names` fitted to `classes` outputs: outputs past the names are named by their numbers.
fn names_for(mut names: Vec<String>, classes: usize) -> Vec<String> {
    names.truncate(classes);
    names.extend((names.len()..classes).map(|c| c.to_string()));
    names
}

fn yes() -> bool {
    true
}

impl RunSpec {
    /// A run of a preset on a dataset, with every other setting at its default.
    pub fn new(preset: &str, dataset: &str, seed: u64) -> Result<Self> {
        let spec = RunSpec {
            dataset: dataset.to_string(),
            seed,
            train_limit: None,
            dev_limit: None,
            test_at_end: true,
            test_limit: None,
            fit_prior: true,
            config: Config::preset(preset)?,
            class_names: Vec::new(),
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks that the run can be made.
    pub fn validate(&self) -> Result<()> {
        data::validate_dataset_name(&self.dataset).map_err(|e| PffError::Config(e.to_string()))?;
        if self.train_limit == Some(0) {
            return Err(PffError::Config("the training limit must be at least 1 image".into()));
        }
        if self.test_limit == Some(0) {
            return Err(PffError::Config("the test limit must be at least 1 image (or leave the test out)".into()));
        }
        if self.dev_limit == Some(0) {
            return Err(PffError::Config("the dev limit must be at least 1 image: the run keeps the model with the best dev accuracy".into()));
        }
        self.config.validate()
    }

    /// Refuses a request (`what` = `value`) that differs from this run's stored identity.
    pub fn check_same<T: PartialEq + std::fmt::Debug>(what: &str, stored: T, requested: Option<T>) -> Result<()> {
        match requested {
            Some(r) if r != stored => Err(PffError::Config(format!(
                "this run was started with {what} {stored:?}, not {r:?}: a resumed run keeps its {what} (start a new run to change it)"
            ))),
            _ => Ok(()),
        }
    }
}

/// A run as a front end asks for it: unset fields take the defaults ([`RunRequest::DEFAULT_PRESET`]
/// and so on). `pff train` builds one from its flags and the page from its form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunRequest {
    pub preset: Option<String>,
    pub dataset: Option<String>,
    pub seed: Option<u64>,
    pub epochs: Option<usize>,
    pub train_limit: Option<usize>,
    pub dev_limit: Option<usize>,
    pub test_limit: Option<usize>,
    /// Hyper-parameters to override, by name (`Config::set`); strings or JSON values.
    pub set: std::collections::BTreeMap<String, serde_json::Value>,
    pub no_test: bool,
    pub no_prior: bool,
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        // JavaScript has only doubles: 20 arrives as 20.0, which an integer setting must accept.
        serde_json::Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9e15) => format!("{}", n.as_f64().unwrap_or(0.0) as i64),
        other => other.to_string(),
    }
}

impl RunRequest {
    pub const DEFAULT_PRESET: &'static str = "web";
    pub const DEFAULT_DATASET: &'static str = "mnist";
    pub const DEFAULT_SEED: u64 = 1234;

    /// The identity of a new run.
    pub fn spec(&self) -> Result<RunSpec> {
        let mut spec = RunSpec::new(
            self.preset.as_deref().unwrap_or(Self::DEFAULT_PRESET),
            self.dataset.as_deref().unwrap_or(Self::DEFAULT_DATASET),
            self.seed.unwrap_or(Self::DEFAULT_SEED),
        )?;
        if let Some(e) = self.epochs {
            spec.config.epochs = e;
        }
        for (name, value) in &self.set {
            spec.config.set(name, &value_text(value))?;
        }
        spec.train_limit = self.train_limit;
        spec.dev_limit = self.dev_limit;
        spec.test_limit = self.test_limit;
        spec.test_at_end = !self.no_test;
        spec.fit_prior = !self.no_prior;
        spec.validate()?;
        Ok(spec)
    }

    /// The identity of a new run on the dataset of `manifest`: the model gets one output per
    /// class the manifest names (unless the request sets `classes`, which must then be at least
    /// that many), and the run records the class names.
    pub fn spec_for(&self, manifest: &Manifest) -> Result<RunSpec> {
        let mut spec = self.spec()?;
        if spec.dataset != manifest.name {
            return Err(PffError::Config(format!("the run is on dataset {:?}, but the data given is {:?}", spec.dataset, manifest.name)));
        }
        let names = manifest.class_names();
        if !self.set.contains_key("classes") {
            spec.config.classes = names.len();
        } else if spec.config.classes < names.len() {
            return Err(PffError::Config(format!(
                "classes = {}, but dataset {} has {} classes ({})",
                spec.config.classes,
                manifest.name,
                names.len(),
                names.join(", ")
            )));
        }
        spec.class_names = names_for(names, spec.config.classes);
        spec.validate()?;
        Ok(spec)
    }

    /// This request with its data limits brought within `bounds` (the catalog's, clamped to
    /// the dataset's splits: [`RunBounds::for_dataset`]); unset limits take the bounds'
    /// defaults, and the test limit is left out of a run that does not test. The page's runs
    /// go through here, so a form default or a stale value never asks for more images than
    /// the dataset has. A dataset without training or dev images cannot be trained on.
    pub fn within(&self, bounds: &RunBounds, dataset: &str) -> Result<RunRequest> {
        for (b, split) in [(bounds.train_images, "train"), (bounds.dev_images, "dev")] {
            if b.max == 0 {
                return Err(PffError::Input(format!("dataset {dataset} has no {split} images: it cannot be trained on here")));
            }
        }
        let fit = |limit: Option<usize>, b: Bounds| usize::try_from(b.clamp(limit.map_or(b.default, |l| l as u64))).unwrap_or(usize::MAX);
        Ok(RunRequest {
            train_limit: Some(fit(self.train_limit, bounds.train_images)),
            dev_limit: Some(fit(self.dev_limit, bounds.dev_images)),
            test_limit: if self.no_test || bounds.test_images.max == 0 { self.test_limit } else { Some(fit(self.test_limit, bounds.test_images)) },
            ..self.clone()
        })
    }

    /// Applies this request to a resumed run: anything it says about the run's identity must
    /// agree with the stored one; only the schedule and the finishing steps may change.
    pub fn apply_to(&self, run: &mut TrainingRun) -> Result<()> {
        let spec = run.spec().clone();
        RunSpec::check_same("dataset", spec.dataset.as_str(), self.dataset.as_deref())?;
        RunSpec::check_same("preset", spec.config.preset.as_str(), self.preset.as_deref())?;
        RunSpec::check_same("seed", spec.seed, self.seed)?;
        RunSpec::check_same("training limit", spec.train_limit, self.train_limit.map(Some))?;
        RunSpec::check_same("dev limit", spec.dev_limit, self.dev_limit.map(Some))?;
        if let Some(e) = self.epochs {
            run.set_schedule("epochs", &e.to_string())?;
        }
        for (name, value) in &self.set {
            run.set_schedule(name, &value_text(value))?;
        }
        run.spec.test_at_end = !self.no_test;
        run.spec.fit_prior = !self.no_prior;
        if self.test_limit.is_some() {
            run.spec.test_limit = self.test_limit;
        }
        Ok(())
    }
}

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The dev evaluation of the initial model (epoch 0) is next.
    Baseline,
    /// Training epochs.
    Training,
    /// Evaluating the best model on the test split.
    Testing,
    /// Fitting the best model's prior.
    Prior,
    /// Finished.
    Done,
}

/// One line of a run's history: the dev evaluation after an epoch and the epoch's mean losses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub dev_accuracy: f64,
    pub dev_forward_accuracy: f64,
    pub dev_recon_sse: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodness_loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gen_loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_ce: Option<f64>,
    /// Batches trained in this epoch (fewer than an epoch's when the run was stopped in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batches: Option<usize>,
    /// Seconds spent training this epoch (inside `advance`), when the run has a clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// The learning rate the epoch trained with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Whether this epoch's model became the best.
    #[serde(default)]
    pub improved: bool,
}

/// The test evaluation of the best model, without the per-image predictions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub n: usize,
    pub accuracy: f64,
    pub error: f64,
    pub forward_accuracy: f64,
    pub recon_sse: f64,
}

/// What one [`TrainingRun::advance`] did, and where the run now is.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub phase: Phase,
    /// Completed epochs.
    pub epoch: usize,
    /// Epochs the run trains in all.
    pub epochs: usize,
    /// Next batch of the current epoch.
    pub batch: usize,
    pub batches_per_epoch: usize,
    /// The batches trained by this step.
    pub batches: Vec<BatchStats>,
    /// The epoch record made by this step (epoch 0 for the baseline).
    pub epoch_end: Option<EpochRecord>,
    pub best_epoch: Option<usize>,
    pub best_dev_accuracy: Option<f64>,
    /// Test images evaluated so far and in all (while testing).
    pub tested: usize,
    pub test_total: usize,
    /// Set once the test evaluation is complete.
    pub test: Option<TestResult>,
    /// Fraction of the run done, in [0, 1] (by batches; testing and the prior count as one).
    pub fraction: f64,
}

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

/// A partial test evaluation.
#[derive(Clone, Debug, Default)]
struct TestSums {
    n: usize,
    correct: usize,
    forward_correct: usize,
    sse: f64,
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
}

/// The run identity and progress stored beside the trainer in a training state.
#[derive(Serialize, Deserialize)]
struct RunState {
    spec: RunSpec,
    phase: Phase,
    best_epoch: Option<usize>,
    history: Vec<EpochRecord>,
    test: Option<TestResult>,
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
        let mut cfg = model.cfg.clone();
        for name in crate::config::SCHEDULE_FIELDS {
            let value = serde_json::to_value(&spec.config).expect("config serialises")[name].to_string();
            cfg.set_schedule(name, &value)?;
        }
        spec.config = cfg.clone();
        spec.validate()?;
        Ok(Self::from_model(spec, Pff { cfg, ..model }))
    }

    fn from_model(mut spec: RunSpec, model: Pff<f32>) -> Self {
        if !spec.class_names.is_empty() {
            spec.class_names = names_for(std::mem::take(&mut spec.class_names), model.cfg.classes);
        }
        let meta = ModelMeta { dataset: spec.dataset.clone(), seed: spec.seed, class_names: spec.class_names.clone(), ..Default::default() };
        TrainingRun {
            trainer: Trainer::new(model, spec.seed),
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

    /// The epoch the best model came from and its dev accuracy.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best.as_ref().map(|b| (b.epoch, b.dev_accuracy))
    }

    /// Changes one schedule setting (`epochs`, `lr`, `lr_milestones`, `lr_gamma`). More epochs
    /// than a finished run trained reopen it: the test evaluation and the prior are redone.
    pub fn set_schedule(&mut self, name: &str, value: &str) -> Result<()> {
        let mut cfg = self.spec.config.clone();
        cfg.set_schedule(name, value)?;
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
        self.stopped = true;
        if self.phase == Phase::Training && self.sums.batches > 0 {
            self.end_epoch(data, self.trainer.cursor.epoch + 1)?;
        }
        if matches!(self.phase, Phase::Baseline | Phase::Training) && self.best.is_some() {
            self.phase = self.after_training();
        }
        Ok(())
    }

    /// Does at most `max_batches` training batches (or one evaluation step) and reports.
    pub fn advance(&mut self, data: &RunData<'_>, max_batches: usize) -> Result<Progress> {
        let mut progress = Vec::new();
        let mut record = None;
        match self.phase {
            Phase::Baseline => {
                self.resolve_limits(data)?;
                let ev = self.evaluate_dev(data)?;
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
                let sums = &mut self.sums;
                let stats = self.trainer.train_batches_of(data.train, train, max_batches.max(1), |_, s| {
                    sums.batches += 1;
                    sums.samples += s.samples;
                    for (acc, v) in sums.losses.iter_mut().zip([s.goodness_loss, s.head_loss, s.gen_loss, s.forward_ce]) {
                        *acc += v;
                    }
                })?;
                if let (Some(a), Some(b)) = (t0, self.now()) {
                    self.sums.seconds += b - a;
                }
                progress = stats;
                if self.trainer.cursor.epoch > epoch {
                    record = Some(self.end_epoch(data, self.trainer.cursor.epoch)?);
                    if self.trainer.cursor.epoch >= self.spec.config.epochs {
                        self.phase = self.after_training();
                    }
                }
            }
            Phase::Testing => self.test_step(data)?,
            Phase::Prior => {
                let best = self.best.as_ref().expect("a run past its baseline has a best model");
                let train = self.train_images(data)?;
                self.prior = Some(generate::fit_prior(&best.model, data.train, Some(train), self.spec.config.prior_components, self.spec.seed)?);
                self.phase = Phase::Done;
            }
            Phase::Done => {}
        }
        Ok(self.progress(data, progress, record))
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

    fn evaluate_dev(&self, data: &RunData<'_>) -> Result<Evaluation> {
        let n = self.limited(self.spec.dev_limit, data.dev.len(), "dev")?;
        let idx: Vec<usize> = (0..n).collect();
        let (x, labels) = data.dev.batch(&idx);
        Ok(self.trainer.model.evaluate(x.view(), &labels))
    }

    fn record(&self, epoch: usize, ev: &Evaluation, sums: Option<&EpochSums>) -> EpochRecord {
        let mean = |i: usize| sums.filter(|s| s.batches > 0).map(|s| s.losses[i] / s.batches as f64);
        let timed = sums.filter(|s| s.seconds > 0.0);
        EpochRecord {
            epoch,
            dev_accuracy: ev.accuracy,
            dev_forward_accuracy: ev.forward_accuracy,
            dev_recon_sse: ev.recon_sse,
            goodness_loss: mean(0),
            head_loss: mean(1),
            gen_loss: mean(2),
            forward_ce: mean(3),
            batches: sums.map(|s| s.batches),
            seconds: timed.map(|s| s.seconds),
            samples_per_s: timed.map(|s| s.samples as f64 / s.seconds),
            threads: sums.and(self.threads),
            lr: sums.map(|_| self.spec.config.lr_at(epoch - 1)),
            improved: false,
        }
    }

    /// Evaluates the model after `epoch` and keeps it when it beats the best.
    fn end_epoch(&mut self, data: &RunData<'_>, epoch: usize) -> Result<EpochRecord> {
        let ev = self.evaluate_dev(data)?;
        let mut rec = self.record(epoch, &ev, Some(&self.sums));
        rec.improved = self.best.as_ref().is_none_or(|b| ev.accuracy > b.dev_accuracy);
        if rec.improved {
            self.best = Some(Best { model: self.trainer.model.clone(), epoch, dev_accuracy: ev.accuracy });
        }
        self.sums = EpochSums::default();
        self.history.push(rec.clone());
        Ok(rec)
    }

    fn test_step(&mut self, data: &RunData<'_>) -> Result<()> {
        let test = data.test.ok_or_else(|| PffError::Input("this run evaluates the test split at the end, but no test data was given".into()))?;
        test.check_fits(self.spec.config.input_dim, self.spec.config.classes, &format!("{}/test", self.spec.dataset))?;
        let best = self.best.as_ref().expect("a run past its baseline has a best model");
        let total = self.spec.test_limit.map_or(test.len(), |l| l.min(test.len()));
        let start = self.test_sums.n;
        let end = (start + TEST_CHUNK).min(total);
        if start < end {
            let idx: Vec<usize> = (start..end).collect();
            let (x, labels) = test.batch(&idx);
            let ev = best.model.evaluate(x.view(), &labels);
            let s = &mut self.test_sums;
            s.n += ev.n;
            s.correct += ev.predictions.iter().zip(&labels).filter(|(p, l)| p == l).count();
            s.forward_correct += (ev.forward_accuracy * ev.n as f64).round() as usize;
            s.sse += ev.recon_sse * ev.n as f64;
        }
        if self.test_sums.n >= total {
            let s = &self.test_sums;
            let n = s.n.max(1) as f64;
            let accuracy = s.correct as f64 / n;
            self.test = Some(TestResult { n: s.n, accuracy, error: 1.0 - accuracy, forward_accuracy: s.forward_correct as f64 / n, recon_sse: s.sse / n });
            self.test_sums = TestSums::default();
            self.phase = if self.spec.fit_prior { Phase::Prior } else { Phase::Done };
        }
        Ok(())
    }

    fn progress(&self, data: &RunData<'_>, batches: Vec<BatchStats>, epoch_end: Option<EpochRecord>) -> Progress {
        let per_epoch = self.trainer.batches_per_epoch(self.spec.train_limit.unwrap_or(data.train.len()).max(1));
        let cursor = self.trainer.cursor;
        let epochs = self.spec.config.epochs;
        let total = (epochs * per_epoch).max(1) as f64;
        let trained = ((cursor.epoch * per_epoch + cursor.batch) as f64 / total).min(1.0);
        let fraction = match self.phase {
            Phase::Done => 1.0,
            Phase::Baseline | Phase::Training => 0.98 * trained,
            Phase::Testing | Phase::Prior => 0.98 + 0.01 * f64::from(u8::from(self.phase == Phase::Prior)),
        };
        Progress {
            phase: self.phase,
            epoch: cursor.epoch,
            epochs,
            batch: cursor.batch,
            batches_per_epoch: per_epoch,
            batches,
            epoch_end,
            best_epoch: self.best.as_ref().map(|b| b.epoch),
            best_dev_accuracy: self.best.as_ref().map(|b| b.dev_accuracy),
            tested: self.test_sums.n,
            test_total: data.test.map_or(0, |t| self.spec.test_limit.map_or(t.len(), |l| l.min(t.len()))),
            test: self.test.clone(),
            fraction,
        }
    }

    /// The whole training state (weights, optimisers, cursor, identity, history) as a
    /// safetensors file's contents. Written after every epoch; [`TrainingRun::resume`] reads it.
    pub fn state_bytes(&self) -> Result<Vec<u8>> {
        let state = RunState {
            spec: self.spec.clone(),
            phase: self.phase,
            best_epoch: self.best.as_ref().map(|b| b.epoch),
            history: self.history.clone(),
            test: self.test.clone(),
        };
        let best_dev = self.best.as_ref().map(|b| b.dev_accuracy);
        let run = serde_json::to_string(&state).expect("run state serialises");
        let meta = ModelMeta { epochs: self.trainer.cursor.epoch, ..self.meta.clone() };
        // the best model goes into the state unless it is the current one
        let best = self.best.as_ref().map(|b| &b.model).filter(|m| m.rep != self.trainer.model.rep || m.generative != self.trainer.model.generative);
        checkpoint::trainer_to_bytes(&self.trainer, &meta, best_dev, Some(&run), best)
    }

    /// Continues a run from its training state. The state holds the best model (as tensors
    /// `best.…`, or as its current model when they are the same), so it is enough on its own;
    /// `weights` (the run's weights file) supplies the prior of a finished run, and the best
    /// model of a state written before states held it. Such an older state is accepted with the
    /// identity it implies (no data limits).
    pub fn resume(state: &[u8], weights: Option<&Checkpoint>) -> Result<Self> {
        let (trainer, meta, best_dev, run) = checkpoint::trainer_from_bytes(state)?;
        let self_contained = run.is_some();
        let run: RunState = match run {
            Some(s) => serde_json::from_str(&s).map_err(|e| PffError::Weights(format!("metadata 'run' is not valid: {e}")))?,
            None => RunState {
                spec: RunSpec {
                    dataset: if meta.dataset.is_empty() { "mnist".into() } else { meta.dataset.clone() },
                    seed: trainer.seed,
                    train_limit: None,
                    dev_limit: None,
                    test_at_end: true,
                    test_limit: None,
                    fit_prior: true,
                    config: trainer.model.cfg.clone(),
                    class_names: meta.class_names.clone(),
                },
                phase: Phase::Training,
                best_epoch: best_dev.map(|_| meta.epochs),
                history: Vec::new(),
                test: None,
            },
        };
        // States hold the best model unless it is the current one; states written before they
        // held it (no `best.` tensors, an older best) take it from the weights file.
        let in_state = checkpoint::best_from_state(state)?;
        let best_model = match (best_dev, run.best_epoch) {
            (Some(acc), Some(epoch)) if self_contained && (in_state.is_some() || epoch == trainer.cursor.epoch) => {
                let model = in_state.unwrap_or_else(|| trainer.model.clone());
                Some(Best { model, epoch, dev_accuracy: acc })
            }
            (Some(acc), Some(epoch)) => {
                let w =
                    weights.ok_or_else(|| PffError::Weights("this older training state needs the run's weights file, which holds its best model".into()))?;
                if w.meta.dev_accuracy != Some(acc) || w.model.cfg.hidden != trainer.model.cfg.hidden {
                    return Err(PffError::Weights(format!(
                        "the best model given (dev accuracy {:?}) is not this run's (dev accuracy {acc})",
                        w.meta.dev_accuracy
                    )));
                }
                Some(Best { model: w.model.clone(), epoch, dev_accuracy: acc })
            }
            _ => None,
        };
        // A finished run's prior is in its weights file (when that file holds this best model).
        let prior = weights
            .filter(|w| best_model.as_ref().is_some_and(|b| b.model.rep == w.model.rep && b.model.generative == w.model.generative))
            .and_then(|w| w.prior.clone());
        let mut phase = if best_model.is_none() { Phase::Baseline } else { run.phase };
        if phase == Phase::Done && run.spec.fit_prior && prior.is_none() {
            phase = Phase::Prior; // the weights file with the prior is missing or not this model's
        }
        Ok(TrainingRun {
            spec: run.spec,
            trainer,
            meta,
            phase,
            best: best_model,
            history: run.history,
            sums: EpochSums::default(),
            test_sums: TestSums::default(),
            test: run.test,
            prior: if phase == Phase::Done { prior } else { None },
            clock: None,
            threads: None,
            stopped: false,
        })
    }
}
