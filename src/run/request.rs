//! What a run is ([`RunSpec`], stored with it) and what a front end asks for ([`RunRequest`]:
//! `pff train`'s flags, the page's form), with the checks that keep a resumed run the same run.

use super::TrainingRun;
use crate::catalog::{Bounds, RunBounds};
use crate::config::{Config, Setting};
use crate::data::{self, Manifest};
use crate::error::{PffError, Result};
use crate::noise::NoiseStream;
use serde::{Deserialize, Serialize};

/// What a run is: everything that decides its result besides the code. Stored with the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The dataset's name (`mnist`, `fashion`, or one made with `pff data --idx-dir`).
    pub dataset: String,
    /// Seeds the initialisation, the batch order, the negative labels and the noise.
    pub seed: u64,
    /// The generator of the settling noise; runs stored before it was recorded drew from the
    /// PCG blocks.
    #[serde(default = "NoiseStream::before_version_2")]
    pub noise: NoiseStream,
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
pub(super) fn names_for(mut names: Vec<String>, classes: usize) -> Vec<String> {
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
            noise: NoiseStream::default(),
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

    /// The identity a training state written before states held one implies: its trainer's
    /// seed and configuration, its recorded dataset, no data limits.
    pub(super) fn implied_by(trainer: &crate::train::Trainer, meta: &crate::checkpoint::ModelMeta) -> RunSpec {
        RunSpec {
            dataset: meta.dataset_or_default().to_string(),
            seed: trainer.seed,
            noise: trainer.noise_stream,
            train_limit: None,
            dev_limit: None,
            test_at_end: true,
            test_limit: None,
            fit_prior: true,
            config: trainer.model.cfg.clone(),
            class_names: meta.class_names.clone(),
        }
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
    /// The noise stream (default: [`NoiseStream::Philox`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseStream>,
    pub epochs: Option<usize>,
    pub train_limit: Option<usize>,
    pub dev_limit: Option<usize>,
    pub test_limit: Option<usize>,
    /// Hyper-parameters to override, by name ([`Config::set`]): numbers, lists or text.
    pub set: std::collections::BTreeMap<String, serde_json::Value>,
    pub no_test: bool,
    pub no_prior: bool,
}

impl RunRequest {
    pub const DEFAULT_PRESET: &'static str = "web";
    pub const DEFAULT_DATASET: &'static str = "mnist";
    pub const DEFAULT_SEED: u64 = 1234;
    /// The preset the page's form starts from: the quickest, because the page trains on the
    /// visitor's CPU (its other fields take the defaults above).
    pub const IN_PAGE_PRESET: &'static str = "tiny";

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
        if let Some(noise) = self.noise {
            spec.noise = noise;
        }
        for (name, value) in &self.set {
            spec.config.set(name, Setting::Json(value))?;
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

    /// What a run of this request reads: for each split, the first N images (`None`: all of
    /// it). A front end loads these, and no more, before the run starts.
    pub fn reads(&self) -> Vec<(&'static str, Option<usize>)> {
        let mut out = vec![("train", self.train_limit), ("dev", self.dev_limit)];
        if !self.no_test {
            out.push(("test", self.test_limit));
        }
        out
    }

    /// Applies this request to a resumed run: anything it says about the run's identity must
    /// agree with the stored one; only the schedule and the finishing steps may change.
    pub fn apply_to(&self, run: &mut TrainingRun) -> Result<()> {
        let spec = run.spec().clone();
        RunSpec::check_same("dataset", spec.dataset.as_str(), self.dataset.as_deref())?;
        RunSpec::check_same("preset", spec.config.preset.as_str(), self.preset.as_deref())?;
        RunSpec::check_same("seed", spec.seed, self.seed)?;
        RunSpec::check_same("noise stream", spec.noise.name(), self.noise.map(NoiseStream::name))?;
        RunSpec::check_same("training limit", spec.train_limit, self.train_limit.map(Some))?;
        RunSpec::check_same("dev limit", spec.dev_limit, self.dev_limit.map(Some))?;
        let mut cfg = spec.config.clone();
        if let Some(e) = self.epochs {
            cfg.epochs = e;
        }
        for (name, value) in &self.set {
            cfg.set_schedule(name, Setting::Json(value))?;
        }
        run.reschedule(cfg.schedule())?;
        run.spec.test_at_end = !self.no_test;
        run.spec.fit_prior = !self.no_prior;
        if self.test_limit.is_some() {
            run.spec.test_limit = self.test_limit;
        }
        Ok(())
    }
}
