//! What a run reports: where it is ([`Phase`]), one record per epoch ([`EpochRecord`], its
//! history), the test result, and the [`Progress`] of each step. These cross to the page as
//! they are and are stored in the run's state.

use super::{EpochSums, RunData, TrainingRun};
use crate::infer::Evaluation;
use crate::train::BatchStats;
use serde::{Deserialize, Serialize};

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
    /// Where the epoch trained (`gpu`), when not on the CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
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
    /// Positive samples per second of training so far (from a [`Pacer`]).
    pub samples_per_s: Option<f64>,
    /// Whether a front end should draw this progress now (always, unless a [`Pacer`] holds its
    /// batches back until the next report).
    pub report: bool,
}

impl TrainingRun {
    /// The history record of `epoch` from its dev evaluation and, for a trained epoch, its sums.
    pub(super) fn record(&self, epoch: usize, ev: &Evaluation, sums: Option<&EpochSums>) -> EpochRecord {
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
            device: sums.and(self.device_label()),
            improved: false,
        }
    }

    /// What a step did and where the run now is.
    pub(super) fn progress(&self, data: &RunData<'_>, batches: Vec<BatchStats>, epoch_end: Option<EpochRecord>) -> Progress {
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
            samples_per_s: None,
            report: true,
        }
    }
}
