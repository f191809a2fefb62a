//! Saving and resuming a run: the training state file.
//!
//! A state is a pff weights file (`checkpoint`) with more in it: Adam's moments
//! (`adam.r.m.W1`, …), the step counters and data cursor (metadata `trainer`), the run's own
//! record (metadata `run`: identity, phase, best epoch and accuracy, history, test result) and,
//! when it is not the current model, the best model (`best.W1`, …), so that the state alone is
//! enough to resume and cannot disagree with a separately written file. The weights format
//! below knows nothing of the optimiser; this module puts the two together.
//!
//! Older states are still read: version 1 (no `noise`: the run continues on the PCG-block
//! stream it started on, [`NoiseStream::PcgBlocks`]), those that kept the best dev accuracy in `trainer` and the best
//! epoch in `run`, and those from before states held a run record or the best model.

use super::{Best, EpochRecord, Phase, RunSpec, TestResult, TrainingRun};
use crate::checkpoint::{self, Checkpoint, ModelMeta, Parsed, Storage};
use crate::error::{PffError, Result};
use crate::model::Pff;
use crate::noise::NoiseStream;
use crate::train::{Adam, Cursor, Trainer};
use serde::{Deserialize, Serialize};

/// The version of the training state this build writes. Version 2 added `noise` (states without
/// it are version 1 and drew their noise from [`NoiseStream::PcgBlocks`]).
pub const STATE_VERSION: u32 = 2;

/// Metadata `trainer`: the optimisers' step counters and the data cursor.
#[derive(Serialize, Deserialize)]
struct TrainerState {
    #[serde(default = "version_1")]
    version: u32,
    seed: u64,
    /// The run's noise stream; absent in version 1.
    #[serde(default = "NoiseStream::before_version_2")]
    noise: NoiseStream,
    cursor: Cursor,
    t_r: u64,
    t_g: u64,
    /// Only in older states (the best accuracy is now in the run record, beside its epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    best_dev: Option<f64>,
}

fn version_1() -> u32 {
    1
}

/// The epoch of the best model so far and its dev accuracy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    pub epoch: usize,
    pub dev_accuracy: f64,
}

/// Metadata `run`: the run's identity and progress.
#[derive(Serialize, Deserialize)]
struct RunState {
    spec: RunSpec,
    phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    best: Option<BestRecord>,
    /// Only in older states (see `TrainerState::best_dev`).
    #[serde(default, skip_serializing)]
    best_epoch: Option<usize>,
    history: Vec<EpochRecord>,
    test: Option<TestResult>,
}

/// A training state file read once.
pub struct StoredState {
    pub trainer: Trainer,
    pub meta: ModelMeta,
    /// The best model, when the state holds it apart from the current one.
    best_model: Option<Pff<f32>>,
    best: Option<BestRecord>,
    /// The run record; `None` in states written before runs had one.
    run: Option<RunState>,
}

impl StoredState {
    /// Parses and checks a training state (a plain weights file is refused with a hint).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let parsed = Parsed::new(bytes)?;
        let model = parsed.model()?;
        let st: TrainerState = match parsed.metadata("trainer") {
            Some(s) => serde_json::from_str(s).map_err(|e| PffError::Weights(format!("metadata 'trainer' is not valid: {e}")))?,
            None => {
                return Err(PffError::Weights(
                    "this is a weights file without training state; resume needs the training checkpoint (FILE.train.safetensors)".into(),
                ));
            }
        };
        if st.version > STATE_VERSION {
            return Err(PffError::Weights(format!(
                "this training state is version {} and this pff reads up to version {STATE_VERSION}: resume it with the pff that wrote it, or a newer one",
                st.version
            )));
        }
        let run: Option<RunState> = match parsed.metadata("run") {
            Some(s) => Some(serde_json::from_str(s).map_err(|e| PffError::Weights(format!("metadata 'run' is not valid: {e}")))?),
            None => None,
        };
        let meta: ModelMeta = parsed.metadata("meta").and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
        let best = run.as_ref().and_then(|r| r.best).or_else(|| {
            let epoch = run.as_ref().map_or(Some(meta.epochs), |r| r.best_epoch)?;
            st.best_dev.map(|dev_accuracy| BestRecord { epoch, dev_accuracy })
        });
        let best_model = if parsed.has_tensors("best.") {
            Some(Pff { cfg: model.cfg.clone(), rep: parsed.set("best.", &model.rep)?, generative: parsed.set("best.", &model.generative)? })
        } else {
            None
        };
        let mut opt_r = Adam::new(model.cfg.lr, &model.rep);
        let mut opt_g = Adam::new(model.cfg.lr, &model.generative);
        (opt_r.m, opt_r.v) = (parsed.set("adam.r.m.", &model.rep)?, parsed.set("adam.r.v.", &model.rep)?);
        (opt_g.m, opt_g.v) = (parsed.set("adam.g.m.", &model.generative)?, parsed.set("adam.g.v.", &model.generative)?);
        (opt_r.t, opt_g.t) = (st.t_r, st.t_g);
        let trainer = Trainer { model, opt_r, opt_g, seed: st.seed, noise_stream: st.noise, cursor: st.cursor, scratch: Default::default() };
        Ok(StoredState { trainer, meta, best_model, best, run })
    }
}

/// A training state of `trainer` alone (no run record, no best model): what a bare trainer
/// needs to resume exactly.
pub fn trainer_to_bytes(trainer: &Trainer, meta: &ModelMeta) -> Result<Vec<u8>> {
    write(trainer, meta, None, None)
}

fn write(trainer: &Trainer, meta: &ModelMeta, run: Option<&RunState>, best: Option<&Pff<f32>>) -> Result<Vec<u8>> {
    let storage = Storage::F32;
    let mut tensors = Vec::new();
    checkpoint::push_set(&mut tensors, "", &trainer.model.rep, storage);
    checkpoint::push_set(&mut tensors, "", &trainer.model.generative, storage);
    if let Some(b) = best {
        checkpoint::push_set(&mut tensors, "best.", &b.rep, storage);
        checkpoint::push_set(&mut tensors, "best.", &b.generative, storage);
    }
    checkpoint::push_set(&mut tensors, "adam.r.m.", &trainer.opt_r.m, storage);
    checkpoint::push_set(&mut tensors, "adam.r.v.", &trainer.opt_r.v, storage);
    checkpoint::push_set(&mut tensors, "adam.g.m.", &trainer.opt_g.m, storage);
    checkpoint::push_set(&mut tensors, "adam.g.v.", &trainer.opt_g.v, storage);
    let mut md = checkpoint::base_metadata(&trainer.model, meta, None);
    let st = TrainerState {
        version: STATE_VERSION,
        seed: trainer.seed,
        noise: trainer.noise_stream,
        cursor: trainer.cursor,
        t_r: trainer.opt_r.t,
        t_g: trainer.opt_g.t,
        best_dev: None,
    };
    md.insert("trainer".into(), serde_json::to_string(&st).expect("state serialises"));
    if let Some(run) = run {
        md.insert("run".into(), serde_json::to_string(run).expect("run state serialises"));
    }
    checkpoint::serialize(&tensors, md)
}

impl TrainingRun {
    /// The whole training state (weights, optimisers, cursor, identity, history) as a
    /// safetensors file's contents. Written after every epoch; [`TrainingRun::resume`] reads it.
    pub fn state_bytes(&self) -> Result<Vec<u8>> {
        let state = RunState {
            spec: self.spec.clone(),
            phase: self.phase,
            best: self.best.as_ref().map(|b| BestRecord { epoch: b.epoch, dev_accuracy: b.dev_accuracy }),
            best_epoch: None,
            history: self.history.clone(),
            test: self.test.clone(),
        };
        let now = self.trainer_now()?;
        let trainer = now.as_ref().unwrap_or(&self.trainer);
        let meta = ModelMeta { epochs: trainer.cursor.epoch, ..self.meta.clone() };
        // the best model goes into the state unless it is the current one
        let best = self.best.as_ref().map(|b| &b.model).filter(|m| !m.same_parameters(&trainer.model));
        write(trainer, &meta, Some(&state), best)
    }

    /// Continues a run from its training state. The state holds the best model (as tensors
    /// `best.…`, or as its current model when they are the same), so it is enough on its own;
    /// `weights` (the run's weights file) supplies the prior of a finished run, and the best
    /// model of a state written before states held it. Such an older state is accepted with the
    /// identity it implies (no data limits).
    pub fn resume(state: &[u8], weights: Option<&Checkpoint>) -> Result<Self> {
        let StoredState { trainer, meta, best_model, best, run } = StoredState::from_bytes(state)?;
        let self_contained = run.is_some();
        let run = run.unwrap_or_else(|| RunState {
            spec: RunSpec::implied_by(&trainer, &meta),
            phase: Phase::Training,
            best,
            best_epoch: None,
            history: Vec::new(),
            test: None,
        });
        let best = match best {
            Some(b) if self_contained && (best_model.is_some() || b.epoch == trainer.cursor.epoch) => {
                Some(Best { model: best_model.unwrap_or_else(|| trainer.model.clone()), epoch: b.epoch, dev_accuracy: b.dev_accuracy })
            }
            Some(b) => Some(best_from_weights(b, weights, &trainer)?),
            None => None,
        };
        // A finished run's prior is in its weights file (when that file holds this best model).
        let prior = weights.filter(|w| best.as_ref().is_some_and(|b| b.model.same_parameters(&w.model))).and_then(|w| w.prior.clone());
        let mut phase = if best.is_none() { Phase::Baseline } else { run.phase };
        if phase == Phase::Done && run.spec.fit_prior && prior.is_none() {
            phase = Phase::Prior; // the weights file with the prior is missing or not this model's
        }
        let mut resumed = TrainingRun::with_trainer(run.spec, trainer, meta);
        resumed.phase = phase;
        resumed.best = best;
        resumed.history = run.history;
        resumed.test = run.test;
        resumed.prior = if phase == Phase::Done { prior } else { None };
        Ok(resumed)
    }
}

/// The best model of a state written before states held it: the run's weights file.
fn best_from_weights(best: BestRecord, weights: Option<&Checkpoint>, trainer: &Trainer) -> Result<Best> {
    let w = weights.ok_or_else(|| PffError::Weights("this older training state needs the run's weights file, which holds its best model".into()))?;
    if w.meta.dev_accuracy != Some(best.dev_accuracy) || w.model.cfg.hidden != trainer.model.cfg.hidden {
        return Err(PffError::Weights(format!(
            "the best model given (dev accuracy {:?}) is not this run's (dev accuracy {})",
            w.meta.dev_accuracy, best.dev_accuracy
        )));
    }
    Ok(Best { model: w.model.clone(), epoch: best.epoch, dev_accuracy: best.dev_accuracy })
}
