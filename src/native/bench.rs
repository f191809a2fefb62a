//! `pff bench`: training throughput, classifier throughput and GFLOP/s of every matrix-product
//! shape the model uses, for a preset, on this machine. Numbers are best-of-N wall-clock
//! timings; compare ratios measured in the same run.

use crate::config::Config;
use crate::linalg;
use crate::model::Pff;
use crate::noise::NoiseStream;
use crate::rng;
use crate::train::Trainer;
use ndarray::Array2;
use serde::Serialize;
use std::fmt;
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct MatmulResult {
    /// What the product is in the model.
    pub name: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// Whether the left operand is a transposed view (weight gradients).
    pub transposed_lhs: bool,
    pub ms: f64,
    pub gflops: f64,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub preset: String,
    pub hidden: usize,
    pub steps: usize,
    pub batch_size: usize,
    pub threads: usize,
    /// Positive samples per second (each batch also trains on as many negatives, K steps with updates).
    pub train_samples_per_s: f64,
    pub train_batch_ms: f64,
    /// Goodness-classifier images per second (10 hypotheses, K/2+1 steps each), batches of 500.
    pub classify_images_per_s: f64,
    /// One image (10 hypotheses as one batch of 10 rows): milliseconds.
    pub classify_one_ms: f64,
    pub matmuls: Vec<MatmulResult>,
    /// The settling noise of one training batch (4 draws of 2B × H per step, K steps), per stream.
    pub noise: Vec<NoiseResult>,
}

#[derive(Debug, Serialize)]
pub struct NoiseResult {
    /// The stream's name (`pff train --noise-stream`).
    pub stream: &'static str,
    pub normals_per_s: f64,
    /// The noise of one training batch, in milliseconds.
    pub batch_ms: f64,
}

/// Each noise stream's speed at drawing one training batch's noise.
fn noise_speeds(cfg: &Config, reps: usize) -> Vec<NoiseResult> {
    let shape = (2 * cfg.batch_size, cfg.hidden);
    [NoiseStream::Philox, NoiseStream::PcgBlocks]
        .into_iter()
        .map(|stream| {
            let secs = best_of(reps.max(3), || {
                std::hint::black_box(stream.draw(7, 1, 0, 0, shape, 0.01));
            });
            let per_batch = 4 * cfg.steps;
            NoiseResult { stream: stream.name(), normals_per_s: (shape.0 * shape.1) as f64 / secs, batch_ms: secs * per_batch as f64 * 1e3 }
        })
        .collect()
}

pub(crate) fn best_of<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

pub(crate) fn synthetic_images(n: usize, d: usize, seed: u64) -> Array2<f32> {
    // Sparse, non-negative, image-like rows.
    let noise = rng::normal::<f32>(n, d, 1.0, seed);
    noise.mapv(|v| if v > 0.8 { (v - 0.8).min(1.0) } else { 0.0 })
}

/// The product shapes of one training step (N = 2B rows) and their roles.
pub fn model_shapes(cfg: &Config) -> Vec<(String, usize, usize, usize, bool)> {
    step_products(cfg).into_iter().map(|(name, m, k, n, t, _)| (name, m, k, n, t)).collect()
}

/// [`model_shapes`] with how many products of each shape one settling step takes (17 in all).
fn step_products(cfg: &Config) -> Vec<(String, usize, usize, usize, bool, usize)> {
    let n = 2 * cfg.batch_size;
    let (d, h) = (cfg.input_dim, cfg.hidden);
    vec![
        ("x·W1 (forward, layer 1)".into(), n, d, h, false, 1),
        ("z·W2, z·V2, z·G2 (forward)".into(), n, h, h, false, 3),
        ("z1·G1 (input prediction)".into(), n, h, d, false, 1),
        ("xᵀ·δ (dW1)".into(), d, n, h, true, 1),
        ("zᵀ·δ (dW2, dV2, dG2)".into(), h, n, h, true, 3),
        ("zᵀ·e (dG1)".into(), h, n, d, true, 1),
        ("ŷ·V (label drive)".into(), n, cfg.classes, h, false, 1),
        ("ẑ2·W (head)".into(), n, h, cfg.classes, false, 1),
        ("u·Gy (top-down prediction)".into(), n, cfg.latent, h, false, 1),
        ("e2·Gyᵀ (z_g direction)".into(), n, h, cfg.latent, false, 1),
        ("ŷᵀ·δ (dV)".into(), cfg.classes, n, h, true, 1),
        ("ẑ2ᵀ·δ3 (dW)".into(), h, n, cfg.classes, true, 1),
        ("uᵀ·e2 (dGy)".into(), cfg.latent, n, h, true, 1),
    ]
}

/// GFLOP of the matrix products of one training batch: the forward pass (x·W1, z1·W2, ẑ2·W)
/// and K settling steps of [`step_products`].
pub fn batch_gflop(cfg: &Config) -> f64 {
    let n = 2 * cfg.batch_size;
    let (d, h, c) = (cfg.input_dim, cfg.hidden, cfg.classes);
    let forward = 2 * n * (d * h + h * h + h * c);
    let step: usize = step_products(cfg).iter().map(|(_, m, k, n, _, count)| 2 * m * k * n * count).sum();
    (forward + cfg.steps * step) as f64 / 1e9
}

pub fn run(cfg: &Config, train_batches: usize, reps: usize) -> BenchReport {
    let mut matmuls = Vec::new();
    for (name, m, k, n, transposed) in model_shapes(cfg) {
        let a = if transposed { rng::normal::<f32>(k, m, 1.0, 1) } else { rng::normal::<f32>(m, k, 1.0, 1) };
        let b = rng::normal::<f32>(k, n, 1.0, 2);
        let mut c = Array2::<f32>::zeros((m, n));
        let av = if transposed { a.t() } else { a.view() };
        linalg::gemm(1.0, av, b.view(), 0.0, c.view_mut()); // warm-up
        let secs = best_of(reps, || linalg::gemm(1.0, av, b.view(), 0.0, c.view_mut()));
        matmuls.push(MatmulResult { name, m, k, n, transposed_lhs: transposed, ms: secs * 1e3, gflops: 2.0 * (m * k * n) as f64 / secs / 1e9 });
    }

    let model = Pff::<f32>::new(cfg.clone(), 7).expect("preset is valid");
    let b = cfg.batch_size;
    let x = synthetic_images(b, cfg.input_dim, 3);
    let labels: Vec<usize> = (0..b).map(|i| i % cfg.classes).collect();
    let mut tr = Trainer::new(model, 7);
    tr.train_batch(x.view(), &labels, 0).expect("synthetic batch trains");
    let mut key = 1;
    let secs = best_of(train_batches.max(1), || {
        tr.train_batch(x.view(), &labels, key).expect("synthetic batch trains");
        key += 1;
    });
    let model = tr.model;
    let cx = synthetic_images(500, cfg.input_dim, 4);
    model.goodness_scores(cx.view());
    let csecs = best_of(reps.clamp(1, 3), || {
        model.goodness_scores(cx.view());
    });
    let one = cx.slice(ndarray::s![0..1, ..]).to_owned();
    model.goodness_scores(one.view());
    let one_secs = best_of(reps * 3, || {
        model.goodness_scores(one.view());
    });
    BenchReport {
        preset: cfg.preset.clone(),
        hidden: cfg.hidden,
        steps: cfg.steps,
        batch_size: b,
        threads: rayon::current_num_threads(),
        train_samples_per_s: b as f64 / secs,
        train_batch_ms: secs * 1e3,
        classify_images_per_s: 500.0 / csecs,
        classify_one_ms: one_secs * 1e3,
        matmuls,
        noise: noise_speeds(cfg, reps),
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "preset {} (H={}, K={}, batch {} + {} negatives), {} threads",
            self.preset, self.hidden, self.steps, self.batch_size, self.batch_size, self.threads
        )?;
        writeln!(f, "training:        {:8.1} positive samples/s  ({:.0} ms per batch)", self.train_samples_per_s, self.train_batch_ms)?;
        writeln!(f, "goodness classifier: {:8.1} images/s; one image {:.2} ms", self.classify_images_per_s, self.classify_one_ms)?;
        writeln!(f, "matrix products (f32):")?;
        for m in &self.matmuls {
            writeln!(f, "  {:>5}×{:<5}·{:>5}×{:<5} {:7.2} ms {:7.1} GFLOP/s  {}", m.m, m.k, m.k, m.n, m.ms, m.gflops, m.name)?;
        }
        writeln!(f, "settling noise of one batch:")?;
        for n in &self.noise {
            writeln!(f, "  {:<10} {:7.1} ms  ({:.0} M normals/s)", n.stream, n.batch_ms, n.normals_per_s / 1e6)?;
        }
        Ok(())
    }
}

/// The benchmark at several thread counts, each in its own rayon pool, with each count's
/// speed-up over the first.
#[derive(Debug, Serialize)]
pub struct Sweep {
    pub runs: Vec<BenchReport>,
    /// Training throughput relative to the first thread count of the sweep.
    pub train_speedup: Vec<f64>,
    /// Classifier throughput relative to the first thread count.
    pub classify_speedup: Vec<f64>,
}

/// Runs [`run`] once per entry of `threads`.
pub fn sweep(cfg: &Config, batches: usize, matmul_reps: usize, threads: &[usize]) -> crate::Result<Sweep> {
    let mut runs = Vec::new();
    for &t in threads {
        if t == 0 {
            return Err(crate::PffError::Input("--threads-sweep: thread counts must be at least 1".into()));
        }
        let pool =
            rayon::ThreadPoolBuilder::new().num_threads(t).build().map_err(|e| crate::PffError::Input(format!("cannot start a pool of {t} threads: {e}")))?;
        runs.push(pool.install(|| run(cfg, batches, matmul_reps)));
    }
    let rel = |f: fn(&BenchReport) -> f64| runs.iter().map(|r| f(r) / f(&runs[0])).collect();
    Ok(Sweep { train_speedup: rel(|r| r.train_samples_per_s), classify_speedup: rel(|r| r.classify_images_per_s), runs })
}

impl fmt::Display for Sweep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:>7}  {:>16}  {:>7}  {:>18}  {:>7}  {:>14}", "threads", "train samples/s", "×", "classify images/s", "×", "best GFLOP/s")?;
        for (i, r) in self.runs.iter().enumerate() {
            let best = r.matmuls.iter().map(|m| m.gflops).fold(0.0, f64::max);
            writeln!(
                f,
                "{:>7}  {:>16.0}  {:>7.2}  {:>18.0}  {:>7.2}  {:>14.0}",
                r.threads, r.train_samples_per_s, self.train_speedup[i], r.classify_images_per_s, self.classify_speedup[i], best
            )?;
        }
        Ok(())
    }
}
