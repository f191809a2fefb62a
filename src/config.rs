//! Hyper-parameters and the named presets.

use crate::error::{PffError, Result};
use serde::{Deserialize, Serialize};

/// How the GMM prior picks a mixture component for each sample (algorithm.md §12.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentDraw {
    /// By the mixture weights π (the intended behaviour; the default).
    #[default]
    Weights,
    /// By softmax(π), as the reference code does by passing probabilities as logits.
    ReferenceSoftmax,
}

/// Every hyper-parameter of the model and its training protocol. Field names follow the notation
/// of algorithm.md §0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Preset this configuration started from (informational).
    pub preset: String,
    /// Input dimension D (784 for 28×28 images).
    pub input_dim: usize,
    /// Number of classes C.
    pub classes: usize,
    /// Units per hidden layer H (a multiple of the competition group size, 10).
    pub hidden: usize,
    /// Size G of the generative circuit's top latent z_g.
    pub latent: usize,
    /// Settling steps K per mini-batch.
    pub steps: usize,
    /// Goodness threshold `thr`.
    pub threshold: f64,
    /// Leak α: weight on the previous state.
    pub alpha: f64,
    /// Noise std ε_r in the representation circuit.
    pub eps_r: f64,
    /// Noise std ε_g in the generative circuit.
    pub eps_g: f64,
    /// Step size β of the top-latent descent.
    pub beta: f64,
    /// Multiplier on the one-hot label (5 in the reference).
    pub y_scale: f64,
    /// Adam learning rate η for both circuits.
    pub lr: f64,
    /// Step schedule (an option; the algorithm and the presets keep η constant): after each epoch
    /// count listed here, the learning rate is multiplied by `lr_gamma`. Empty by default.
    #[serde(default)]
    pub lr_milestones: Vec<usize>,
    /// Factor applied to η at each of `lr_milestones`.
    #[serde(default = "default_lr_gamma")]
    pub lr_gamma: f64,
    /// Weight regulariser λ of the representation circuit (an option; 0 = off, as in the
    /// published runs): adds λ·(‖W1‖_F + ‖V2‖_F + ‖W2‖_F + ‖V‖_F + ‖W‖_F) to the loss, Frobenius
    /// norms not squared, no laterals and no biases (algorithm.md §5). Not written when 0, so
    /// files of runs without it are unchanged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reg_lambda: f64,
    /// Real samples per mini-batch B (each batch also has B negatives).
    pub batch_size: usize,
    /// Training epochs.
    pub epochs: usize,
    /// Mixture components of the GMM prior.
    pub prior_components: usize,
    /// Batch size of latent extraction (sets the scale of z_g, algorithm.md §12.1).
    pub latent_batch: usize,
    /// How samples pick a mixture component.
    #[serde(default)]
    pub component_draw: ComponentDraw,
}

/// Size of a lateral competition group.
pub const GROUP: usize = 10;

/// Hyper-parameters of the training schedule only: the ones a resumed run may change.
pub const SCHEDULE_FIELDS: [&str; 4] = ["epochs", "lr", "lr_milestones", "lr_gamma"];

fn default_lr_gamma() -> f64 {
    0.1
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Config {
    /// The published configuration: 2×2000 units, K=12 (algorithm.md §0).
    pub fn paper() -> Self {
        Config {
            preset: "paper".into(),
            input_dim: 784,
            classes: 10,
            hidden: 2000,
            latent: 20,
            steps: 12,
            threshold: 10.0,
            alpha: 0.3,
            eps_r: 0.01,
            eps_g: 0.025,
            beta: 0.025,
            y_scale: 5.0,
            lr: 2.5e-4,
            lr_milestones: Vec::new(),
            lr_gamma: default_lr_gamma(),
            reg_lambda: 0.0,
            batch_size: 500,
            epochs: 60,
            prior_components: 10,
            latent_batch: 400,
            component_draw: ComponentDraw::Weights,
        }
    }

    /// The browser model: 2×500 units and a 4× larger learning rate (1e-3), otherwise the
    /// paper's protocol. Measured on MNIST with the reference protocol (seed 1234, one epoch):
    /// lr 2.5e-4 gives 87.2 % dev accuracy, lr 1e-3 gives 91.3 % (docs/results.md).
    pub fn web() -> Self {
        Config { preset: "web".into(), hidden: 500, lr: 1e-3, ..Self::paper() }
    }

    /// A small model for tests and quick in-browser runs: 2×100 units, K=8, smaller batches and a
    /// larger learning rate so that one short epoch already classifies well.
    pub fn tiny() -> Self {
        Config { preset: "tiny".into(), hidden: 100, latent: 10, steps: 8, lr: 2e-3, batch_size: 50, epochs: 1, ..Self::paper() }
    }

    /// A preset by name.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "paper" => Ok(Self::paper()),
            "web" => Ok(Self::web()),
            "tiny" => Ok(Self::tiny()),
            other => Err(PffError::Config(format!("unknown preset {other:?} (expected tiny, web or paper)"))),
        }
    }

    /// Checks that the values make a model that can be built and trained.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(PffError::Config(m));
        if self.input_dim == 0 || self.classes < 2 || self.latent == 0 {
            return bad("input_dim, latent must be positive and classes at least 2".into());
        }
        if self.hidden == 0 || !self.hidden.is_multiple_of(GROUP) {
            return bad(format!("hidden = {} must be a positive multiple of the group size {GROUP}", self.hidden));
        }
        if self.hidden > 8000 || self.latent > 1000 || self.input_dim > 100_000 || self.classes > 1000 {
            return bad(format!("hidden = {}, latent = {} are beyond what this engine is meant for (at most 8000 and 1000)", self.hidden, self.latent));
        }
        if self.steps > 200 || self.batch_size > 20_000 || self.latent_batch > 20_000 || self.prior_components > 1000 {
            return bad("steps (≤ 200), batch_size and latent_batch (≤ 20000) or prior_components (≤ 1000) are out of range".into());
        }
        if self.steps < 2 {
            return bad(format!("steps = {} must be at least 2", self.steps));
        }
        if !(0.0..1.0).contains(&self.alpha) {
            return bad(format!("alpha = {} must be in [0, 1)", self.alpha));
        }
        for (name, v) in [
            ("eps_r", self.eps_r),
            ("eps_g", self.eps_g),
            ("beta", self.beta),
            ("threshold", self.threshold),
            ("y_scale", self.y_scale),
            ("reg_lambda", self.reg_lambda),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(format!("{name} = {v} must be finite and non-negative"));
            }
        }
        if !self.lr.is_finite() || self.lr <= 0.0 {
            return bad(format!("lr = {} must be positive", self.lr));
        }
        if !self.lr_gamma.is_finite() || self.lr_gamma <= 0.0 {
            return bad(format!("lr_gamma = {} must be positive", self.lr_gamma));
        }
        if self.batch_size == 0 || self.latent_batch == 0 || self.prior_components == 0 {
            return bad("batch_size, latent_batch and prior_components must be positive".into());
        }
        Ok(())
    }

    /// The classifier's summation window (algorithm.md §11.1): it runs `high` steps and sums the
    /// goodness of steps `low..high` (0-based), i.e. steps K/2−1 and K/2 for even K.
    pub fn classifier_window(&self) -> (usize, usize) {
        let k = self.steps as isize;
        let low = (k / 2 - 1).max(0) as usize;
        let high = (k / 2 + 1) as usize;
        (low, high)
    }

    /// The learning rate for the epoch after `completed` finished epochs: η times `lr_gamma`
    /// once for every milestone already reached.
    pub fn lr_at(&self, completed: usize) -> f64 {
        let reached = self.lr_milestones.iter().filter(|&&m| m <= completed).count();
        self.lr * self.lr_gamma.powi(reached as i32)
    }

    /// The training schedule: the settings a resumed run may change.
    pub fn schedule(&self) -> Schedule {
        Schedule { epochs: self.epochs, lr: self.lr, lr_milestones: self.lr_milestones.clone(), lr_gamma: self.lr_gamma }
    }

    /// This configuration with `schedule` in place of its own.
    pub fn with_schedule(self, schedule: Schedule) -> Self {
        let Schedule { epochs, lr, lr_milestones, lr_gamma } = schedule;
        Config { epochs, lr, lr_milestones, lr_gamma, ..self }
    }

    /// Like [`Config::set`], for a run being resumed: only the schedule ([`SCHEDULE_FIELDS`]) may
    /// change, because everything else shapes the parameters or the optimiser state already saved.
    pub fn set_schedule(&mut self, name: &str, value: Setting<'_>) -> Result<()> {
        if !SCHEDULE_FIELDS.contains(&name) {
            return Err(PffError::Config(format!(
                "{name} cannot change when resuming a run (only {} can); start a new run instead",
                SCHEDULE_FIELDS.join(", ")
            )));
        }
        self.set(name, value)
    }

    /// Sets one hyper-parameter by name (`--set name=value`, or a page form's field), then
    /// checks the whole configuration; on any error the configuration is unchanged.
    pub fn set(&mut self, name: &str, value: Setting<'_>) -> Result<()> {
        if !SETTINGS.contains(&name) {
            return Err(PffError::Config(format!("unknown hyper-parameter {name:?} (known: {})", SETTINGS.join(", "))));
        }
        let mut cfg = self.clone();
        cfg.assign(name, value).map_err(|why| PffError::Config(format!("{name} = {value}: {why}")))?;
        cfg.validate()?;
        *self = cfg;
        Ok(())
    }

    fn assign(&mut self, name: &str, v: Setting<'_>) -> std::result::Result<(), String> {
        match name {
            "preset" => self.preset = v.text()?,
            "input_dim" => self.input_dim = v.count()?,
            "classes" => self.classes = v.count()?,
            "hidden" => self.hidden = v.count()?,
            "latent" => self.latent = v.count()?,
            "steps" => self.steps = v.count()?,
            "threshold" => self.threshold = v.real()?,
            "alpha" => self.alpha = v.real()?,
            "eps_r" => self.eps_r = v.real()?,
            "eps_g" => self.eps_g = v.real()?,
            "beta" => self.beta = v.real()?,
            "y_scale" => self.y_scale = v.real()?,
            "lr" => self.lr = v.real()?,
            "lr_milestones" => self.lr_milestones = v.counts()?,
            "lr_gamma" => self.lr_gamma = v.real()?,
            "reg_lambda" => self.reg_lambda = v.real()?,
            "batch_size" => self.batch_size = v.count()?,
            "epochs" => self.epochs = v.count()?,
            "prior_components" => self.prior_components = v.count()?,
            "latent_batch" => self.latent_batch = v.count()?,
            "component_draw" => {
                self.component_draw = match v.text()?.as_str() {
                    "weights" => ComponentDraw::Weights,
                    "reference-softmax" => ComponentDraw::ReferenceSoftmax,
                    other => return Err(format!("unknown component draw {other:?} (expected weights or reference-softmax)")),
                }
            }
            _ => unreachable!("every name in SETTINGS is assigned above"),
        }
        Ok(())
    }
}

/// Every hyper-parameter [`Config::set`] knows, by the name it has in the stored configuration.
pub const SETTINGS: [&str; 21] = [
    "preset",
    "input_dim",
    "classes",
    "hidden",
    "latent",
    "steps",
    "threshold",
    "alpha",
    "eps_r",
    "eps_g",
    "beta",
    "y_scale",
    "lr",
    "lr_milestones",
    "lr_gamma",
    "reg_lambda",
    "batch_size",
    "epochs",
    "prior_components",
    "latent_batch",
    "component_draw",
];

/// The training schedule: what a resumed or continued run may change ([`SCHEDULE_FIELDS`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub epochs: usize,
    pub lr: f64,
    pub lr_milestones: Vec<usize>,
    pub lr_gamma: f64,
}

/// A hyper-parameter's value as a front end gives it: the text of a command-line flag, or a
/// JSON value from the page (where every number is a double, so 20 may arrive as 20.0).
#[derive(Clone, Copy, Debug)]
pub enum Setting<'a> {
    Text(&'a str),
    Json(&'a serde_json::Value),
}

impl std::fmt::Display for Setting<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Text(t) => write!(f, "{t:?}"),
            Setting::Json(v) => write!(f, "{v}"),
        }
    }
}

impl Setting<'_> {
    fn text(self) -> std::result::Result<String, String> {
        match self {
            Setting::Text(t) => Ok(t.to_string()),
            Setting::Json(serde_json::Value::String(s)) => Ok(s.clone()),
            Setting::Json(_) => Err("expected text".into()),
        }
    }

    fn real(self) -> std::result::Result<f64, String> {
        let v = match self {
            Setting::Text(t) => t.trim().parse::<f64>().ok(),
            Setting::Json(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
            Setting::Json(j) => j.as_f64(),
        };
        v.filter(|v| v.is_finite()).ok_or_else(|| "expected a finite number".into())
    }

    fn count(self) -> std::result::Result<usize, String> {
        let v = self.real().map_err(|_| "expected a whole number".to_string())?;
        if v.fract() != 0.0 || !(0.0..9e15).contains(&v) {
            return Err("expected a whole number".into());
        }
        Ok(v as usize)
    }

    /// A list of whole numbers: a JSON array, or its text (`[2, 3]`), or `2,3`.
    fn counts(self) -> std::result::Result<Vec<usize>, String> {
        let items: Vec<serde_json::Value> = match self {
            Setting::Json(serde_json::Value::Array(a)) => a.clone(),
            _ => {
                let t = self.text()?;
                let inner = t.trim().trim_start_matches('[').trim_end_matches(']');
                inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| serde_json::Value::String(s.into())).collect()
            }
        };
        items.iter().map(|v| Setting::Json(v).count()).collect()
    }
}

#[cfg(test)]
mod tests;
