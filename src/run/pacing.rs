//! Pacing a run for an interactive front end (the page's worker). A front end that must stay
//! responsive advances a run in slices: each slice trains as many batches as fit in about
//! [`SLICE_SECONDS`] (measured, not guessed: the chunk adapts to the machine and the model),
//! and a slice's progress is worth drawing ([`Progress::report`]) at most every
//! [`REPORT_SECONDS`], or when an epoch ends or the phase changes. The batches of unreported
//! slices are carried into the next reported one, so no loss point is lost.

use super::{Clock, Phase, Progress, RunData, TrainingRun};
use crate::error::Result;
use crate::train::BatchStats;

/// Time one slice aims at: the longest a request queued behind training waits.
pub const SLICE_SECONDS: f64 = 0.15;
/// Shortest time between two reported slices.
pub const REPORT_SECONDS: f64 = 0.25;
/// Most batches in one slice.
const MAX_CHUNK: usize = 64;

/// The state of a paced run: the chunk size, the throughput so far and the batches not yet
/// reported.
#[derive(Debug)]
pub struct Pacer {
    clock: Clock,
    chunk: usize,
    busy_seconds: f64,
    samples: usize,
    pending: Vec<BatchStats>,
    last_report: Option<f64>,
}

impl Pacer {
    pub fn new(clock: Clock) -> Self {
        Pacer { clock, chunk: 1, busy_seconds: 0.0, samples: 0, pending: Vec::new(), last_report: None }
    }

    /// Positive samples per second of training so far (time inside slices only).
    pub fn samples_per_s(&self) -> Option<f64> {
        (self.busy_seconds > 0.0).then(|| self.samples as f64 / self.busy_seconds)
    }

    /// Advances `run` by one slice. The progress carries the throughput so far, and, when it is
    /// reported, every batch trained since the last report.
    pub fn step(&mut self, run: &mut TrainingRun, data: &RunData<'_>) -> Result<Progress> {
        crate::blocking::block_on(self.step_async(run, data))
    }

    /// [`Pacer::step`], awaiting the run's device (the page's GPU build).
    pub async fn step_async(&mut self, run: &mut TrainingRun, data: &RunData<'_>) -> Result<Progress> {
        let t0 = (self.clock)();
        let mut p = run.advance_async(data, self.chunk).await?;
        let now = (self.clock)();
        let seconds = (now - t0).max(0.0);
        if !p.batches.is_empty() {
            self.busy_seconds += seconds;
            self.samples += p.batches.iter().map(|b| b.samples).sum::<usize>();
            let scaled = self.chunk as f64 * SLICE_SECONDS / seconds.max(1e-3);
            self.chunk = (scaled.round() as usize).clamp(1, MAX_CHUNK);
        }
        self.pending.append(&mut p.batches);
        p.report = p.epoch_end.is_some() || p.phase != Phase::Training || self.last_report.is_none_or(|t| now - t >= REPORT_SECONDS);
        if p.report {
            p.batches = std::mem::take(&mut self.pending);
            self.last_report = Some(now);
        }
        p.samples_per_s = self.samples_per_s();
        Ok(p)
    }
}
