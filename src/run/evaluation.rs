//! The run's evaluations (algorithm.md §10.4): the dev split before training and after every
//! epoch, which decides the kept model, and the test split of the kept model at the end, in
//! chunks of [`TEST_CHUNK`] images so that a front end stays responsive while it runs.

use super::{Best, EpochRecord, EpochSums, Phase, RunData, TestResult, TrainingRun};
use crate::error::{PffError, Result};
use crate::infer::Evaluation;
#[cfg(not(feature = "gpu"))]
use {crate::data::Dataset, crate::model::Pff, std::ops::Range};

/// Test images evaluated per [`TrainingRun::advance`] step once training is over.
const TEST_CHUNK: usize = 1000;

/// A partial test evaluation.
#[derive(Clone, Debug, Default)]
pub(super) struct TestSums {
    pub(super) n: usize,
    correct: usize,
    forward_correct: usize,
    sse: f64,
}

impl TrainingRun {
    /// The current model on the run's first `dev_limit` dev images.
    pub(super) async fn evaluate_dev(&self, data: &RunData<'_>) -> Result<Evaluation> {
        let n = self.limited(self.spec.dev_limit, data.dev.len(), "dev")?;
        self.evaluate_on_device(&self.trainer.model, data.dev, 0..n).await
    }

    /// Images `rows` of `data` evaluated with `model` (a build without the GPU engine).
    #[cfg(not(feature = "gpu"))]
    pub(super) async fn evaluate_on_device(&self, model: &Pff<f32>, data: &Dataset, rows: Range<usize>) -> Result<Evaluation> {
        Ok(model.evaluate_dataset(data, rows))
    }

    /// Evaluates the model after `epoch` and keeps it when it beats the best.
    pub(super) async fn end_epoch(&mut self, data: &RunData<'_>, epoch: usize) -> Result<EpochRecord> {
        #[cfg(feature = "gpu")]
        self.sync_from_gpu().await?;
        let ev = self.evaluate_dev(data).await?;
        let mut rec = self.record(epoch, &ev, Some(&self.sums));
        rec.improved = self.best.as_ref().is_none_or(|b| ev.accuracy > b.dev_accuracy);
        if rec.improved {
            self.best = Some(Best { model: self.trainer.model.clone(), epoch, dev_accuracy: ev.accuracy });
        }
        self.sums = EpochSums::default();
        self.history.push(rec.clone());
        Ok(rec)
    }

    /// Evaluates the best model on the next chunk of the test split; after the last chunk,
    /// records the result and moves on to the prior, or to the end.
    pub(super) async fn test_step(&mut self, data: &RunData<'_>) -> Result<()> {
        let test = data.test.ok_or_else(|| PffError::Input("this run evaluates the test split at the end, but no test data was given".into()))?;
        test.check_fits(self.spec.config.input_dim, self.spec.config.classes, &format!("{}/test", self.spec.dataset))?;
        let best = self.best.as_ref().expect("a run past its baseline has a best model");
        let total = self.spec.test_limit.map_or(test.len(), |l| l.min(test.len()));
        let start = self.test_sums.n;
        let end = (start + TEST_CHUNK).min(total);
        if start < end {
            let ev = self.evaluate_on_device(&best.model, test, start..end).await?;
            let s = &mut self.test_sums;
            s.n += ev.n;
            s.correct += ev.predictions.iter().zip(&test.labels[start..end]).filter(|&(&p, &l)| p == usize::from(l)).count();
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
}
