//! `pff --device gpu bench`: the GPU engine's training and classifier throughput and the
//! GFLOP/s of every product shape, on the adapter wgpu finds, with the structure figures that
//! say how the engine uses it (dispatches and bytes read back per batch).
//!
//! Training and classifier timings are wall clock from submission to `Gpu::wait` (best of N):
//! they include the launch and synchronisation costs a run pays. The products are timed by
//! timestamp queries around their pass where the device has them (`gpu::PassTimer`), else by
//! the wall clock. On a software driver (lavapipe, SwiftShader) they measure the CPU emulating
//! a GPU, not a GPU.

use super::bench::{MatmulResult, batch_gflop, best_of, model_shapes, synthetic_images};
use crate::blocking::block_on;
use crate::config::Config;
use crate::gpu::{Classifier, Gemm, Gpu, GpuError, GpuMatrix, GpuRepresentation, GpuTrainer, Op, PassTimer};
use crate::model::Pff;
use crate::train::{Cursor, Trainer};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Serialize)]
pub struct GpuBenchReport {
    /// What wgpu reports of the adapter (name, backend, type, driver).
    pub adapter: String,
    pub preset: String,
    pub hidden: usize,
    pub steps: usize,
    pub batch_size: usize,
    /// How the times were taken.
    pub timing: &'static str,
    /// How the products' times were taken: `timestamp queries` (the kernel alone) or `wall clock`.
    pub product_timing: &'static str,
    /// Positive samples per second (each batch also trains on as many negatives).
    pub train_samples_per_s: f64,
    pub train_batch_ms: f64,
    /// GFLOP of one batch's matrix products, and the rate the batch time implies.
    pub batch_gflop: f64,
    pub batch_gflops: f64,
    pub dispatches_per_batch: usize,
    /// Bytes a training batch reads back (its losses are read only when asked for).
    pub bytes_read_per_batch: u64,
    /// Goodness-classifier images per second, batches of 500, scores read back.
    pub classify_images_per_s: f64,
    /// One image (its C hypotheses), scores read back: milliseconds.
    pub classify_one_ms: f64,
    pub classify_dispatches_per_500: usize,
    pub matmuls: Vec<MatmulResult>,
}

pub fn run(gpu: &Gpu, cfg: &Config, train_batches: usize, reps: usize) -> Result<GpuBenchReport, GpuError> {
    let matmuls = products(gpu, cfg, reps)?;
    let model = Pff::<f32>::new(cfg.clone(), 7).expect("preset is valid");
    let b = cfg.batch_size;
    let x = synthetic_images(b, cfg.input_dim, 3);
    let labels: Vec<usize> = (0..b).map(|i| i % cfg.classes).collect();
    let host = Trainer::new(model.clone(), 7);
    let mut trainer = GpuTrainer::upload(gpu, &host)?;
    let mut cursor = Cursor::default();
    let mut batch = |cursor: Cursor| -> Result<crate::gpu::GpuBatchReport, GpuError> {
        let negatives = host.negative_labels(&labels, Trainer::batch_key(cursor));
        let report = trainer.train_batch(gpu, x.view(), &labels, &negatives, cursor)?;
        gpu.wait()?;
        Ok(report)
    };
    let first = batch(cursor)?; // compiles nothing more, but warms the driver's caches
    let mut failed = None;
    let secs = best_of(train_batches.max(1), || {
        cursor.batch += 1;
        if let Err(e) = batch(cursor) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    block_on(trainer.finish(gpu))?; // the batches' losses, not timed: a run reads them per chunk
    let (classify_images_per_s, classify_one_ms, classify_dispatches_per_500) = classifier(gpu, &model, reps)?;
    let gflop = batch_gflop(cfg);
    Ok(GpuBenchReport {
        adapter: gpu.describe(),
        preset: cfg.preset.clone(),
        hidden: cfg.hidden,
        steps: cfg.steps,
        batch_size: b,
        timing: "wall clock, submission to completion, best of N",
        product_timing: if gpu.has_timestamps() { "timestamp queries around the kernel's pass, best of N" } else { "wall clock, best of N" },
        train_samples_per_s: b as f64 / secs,
        train_batch_ms: secs * 1e3,
        batch_gflop: gflop,
        batch_gflops: gflop / secs,
        dispatches_per_batch: first.dispatches,
        bytes_read_per_batch: first.bytes_read,
        classify_images_per_s,
        classify_one_ms,
        classify_dispatches_per_500,
        matmuls,
    })
}

/// Every product shape of a training step, each in its own submission, timed by timestamp
/// queries where the device has them (the kernel alone), else by the wall clock.
fn products(gpu: &Gpu, cfg: &Config, reps: usize) -> Result<Vec<MatmulResult>, GpuError> {
    let gemm = match PassTimer::new(gpu) {
        Some(timer) => Gemm::new(gpu)?.timed(timer),
        None => Gemm::new(gpu)?,
    };
    let mut out = Vec::new();
    for (name, m, k, n, transposed) in model_shapes(cfg) {
        let a = if transposed { synthetic_images(k, m, 1) } else { synthetic_images(m, k, 1) };
        let (a, b, c) = (GpuMatrix::upload(gpu, a.view()), GpuMatrix::upload(gpu, synthetic_images(k, n, 2).view()), GpuMatrix::zeros(gpu, m, n));
        let op = if transposed { Op::T } else { Op::N };
        let once = || gemm.run(gpu, 1.0, (&a, op), (&b, Op::N), 0.0, &c).and_then(|()| gpu.wait());
        once()?;
        let mut failed = None;
        let secs = best_of(reps, || failed = once().err());
        if let Some(e) = failed {
            return Err(e);
        }
        out.push(MatmulResult { name, m, k, n, transposed_lhs: transposed, ms: secs * 1e3, gflops: 2.0 * (m * k * n) as f64 / secs / 1e9 });
    }
    Ok(out)
}

/// (images/s in batches of 500, ms for one image, dispatches per 500 images).
fn classifier(gpu: &Gpu, model: &Pff<f32>, reps: usize) -> Result<(f64, f64, usize), GpuError> {
    let classifier = Classifier::new(gpu)?;
    let rep = GpuRepresentation::upload(gpu, &model.rep);
    let images = synthetic_images(500, model.cfg.input_dim, 4);
    let one = images.slice(ndarray::s![0..1, ..]).to_owned();
    let (_, dispatches) = block_on(classifier.scores(gpu, &model.cfg, &rep, images.view()))?;
    let mut failed = None;
    let mut timed = |x: &ndarray::Array2<f32>, reps: usize| best_of(reps, || failed = block_on(classifier.scores(gpu, &model.cfg, &rep, x.view())).err());
    let (batch_secs, one_secs) = (timed(&images, reps.clamp(1, 3)), timed(&one, reps * 3));
    match failed {
        Some(e) => Err(e),
        None => Ok((500.0 / batch_secs, one_secs * 1e3, dispatches)),
    }
}

impl fmt::Display for GpuBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "adapter: {}", self.adapter)?;
        writeln!(
            f,
            "preset {} (H={}, K={}, batch {} + {} negatives); times: {}",
            self.preset, self.hidden, self.steps, self.batch_size, self.batch_size, self.timing
        )?;
        writeln!(f, "training:        {:8.1} positive samples/s  ({:.0} ms per batch)", self.train_samples_per_s, self.train_batch_ms)?;
        writeln!(
            f,
            "  {} dispatches and {} bytes read back per batch; {:.1} GFLOP of products per batch ({:.1} GFLOP/s)",
            self.dispatches_per_batch, self.bytes_read_per_batch, self.batch_gflop, self.batch_gflops
        )?;
        writeln!(
            f,
            "goodness classifier: {:8.1} images/s; one image {:.2} ms ({} dispatches per 500 images)",
            self.classify_images_per_s, self.classify_one_ms, self.classify_dispatches_per_500
        )?;
        writeln!(f, "matrix products (f32, one submission each; {}):", self.product_timing)?;
        for m in &self.matmuls {
            writeln!(f, "  {:>5}×{:<5}·{:>5}×{:<5} {:7.2} ms {:7.1} GFLOP/s  {}", m.m, m.k, m.k, m.n, m.ms, m.gflops, m.name)?;
        }
        Ok(())
    }
}
