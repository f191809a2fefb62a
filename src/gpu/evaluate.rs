//! A labelled set evaluated with the goodness classifier on the GPU (algorithm.md §11.1): the
//! C hypotheses × (⌊K/2⌋ + 1) settling steps of every image, nearly all of an evaluation's
//! arithmetic, run as [`Classifier`] dispatches with the parameters uploaded once. The forward
//! head and the reconstruction error (one forward pass and two products per image, about 1/70
//! of the work at K = 12) come from the CPU, as in [`Pff::evaluate`], which this fills in
//! through [`Pff::evaluate_scored`].

use super::{Classifier, Gpu, GpuError, GpuRepresentation};
use crate::data::Dataset;
use crate::infer::Evaluation;
use crate::model::Pff;
use std::ops::Range;

/// The classifier's kernels with one model's parameters on the GPU.
pub struct GpuEvaluator {
    classifier: Classifier,
    rep: GpuRepresentation,
    /// Dispatches recorded so far (for `pff bench`).
    pub dispatches: usize,
}

impl GpuEvaluator {
    /// Compiles the kernels and uploads `model`'s representation circuit.
    pub fn new(gpu: &Gpu, model: &Pff<f32>) -> Result<GpuEvaluator, GpuError> {
        Ok(GpuEvaluator { classifier: Classifier::new(gpu)?, rep: GpuRepresentation::upload(gpu, &model.rep), dispatches: 0 })
    }

    /// [`Pff::evaluate_dataset`] with the goodness scores from the GPU. `model` must be the one
    /// this evaluator was made for.
    pub async fn evaluate_dataset(&mut self, gpu: &Gpu, model: &Pff<f32>, data: &Dataset, rows: Range<usize>) -> Result<Evaluation, GpuError> {
        let (evaluation, dispatches) = evaluate_rows(gpu, &self.classifier, &self.rep, model, data, rows).await?;
        self.dispatches += dispatches;
        Ok(evaluation)
    }
}

/// Images `rows` of `data` evaluated with `model`, whose representation circuit `rep` holds on
/// the GPU, and the dispatches it took. The scores of all images come first (awaited chunk by
/// chunk), then the CPU's part.
pub async fn evaluate_rows(
    gpu: &Gpu,
    classifier: &Classifier,
    rep: &GpuRepresentation,
    model: &Pff<f32>,
    data: &Dataset,
    rows: Range<usize>,
) -> Result<(Evaluation, usize), GpuError> {
    let (x, labels) = data.rows(rows);
    let (scores, dispatches) = classifier.scores(gpu, &model.cfg, rep, x.view()).await?;
    let mut at = 0;
    let evaluation = model.evaluate_scored(x.view(), &labels, |chunk| {
        let mine = scores.slice(ndarray::s![at..at + chunk.nrows(), ..]).to_owned();
        at += chunk.nrows();
        Ok::<_, GpuError>((mine, None))
    })?;
    Ok((evaluation, dispatches))
}
