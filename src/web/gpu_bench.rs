//! The benchmark page's WebGPU column (`Model.benchGpu`, the GPU build only): the GEMM kernel on
//! the benchmark's product shapes, one image through the goodness classifier, and the cost of one
//! readback, on the browser's adapter. Training throughput on the GPU is measured by the same run
//! the CPU columns time (`Run.useGpu`, then `advance`).
//!
//! Timing is wall clock in the page: a product is submitted and followed by a 4-byte readback,
//! whose completion is the only way a page learns that the GPU has finished; the best empty
//! readback is reported beside it and subtracted from the products' times.

use super::*;
use crate::gpu::{Classifier, Gemm, Gpu, GpuError, GpuMatrix, GpuRepresentation, Op, matrix};

/// One product shape's result, or why it was not timed.
#[derive(Serialize)]
struct GpuProduct {
    m: usize,
    k: usize,
    n: usize,
    /// Best wall-clock milliseconds, submission to readback, less the best empty readback.
    ms: Option<f64>,
    gflops: Option<f64>,
    skipped: Option<String>,
}

/// The WebGPU column.
#[derive(Serialize)]
struct GpuBench {
    /// What the adapter says of itself (WebGPU reports its description only).
    adapter: String,
    timing: &'static str,
    /// Best milliseconds of a 4-byte readback after an empty submission.
    readback_ms: f64,
    matmul: Vec<GpuProduct>,
    /// One image under every class hypothesis, scores read back: milliseconds.
    classify_one_ms: f64,
}

#[wasm_bindgen]
impl Model {
    /// The WebGPU column of the benchmark page: `shapes` is a flat list of (m, k, n) triples, each
    /// timed best of `reps`, a shape skipped when the slowest rate so far says it would take more
    /// than `budget_ms`; the classifier runs this model. Rejects with kind `device` when the
    /// browser has no adapter.
    #[wasm_bindgen(js_name = benchGpu)]
    pub async fn bench_gpu(&self, shapes: Vec<usize>, reps: usize, budget_ms: f64) -> Result<JsValue, JsValue> {
        if !shapes.len().is_multiple_of(3) || shapes.contains(&0) {
            return Err(bad_input(format!("benchGpu: {} values are not (m, k, n) triples of positive sizes", shapes.len())));
        }
        let gpu = Gpu::request().await.map_err(gpu_error)?;
        let reps = reps.max(1);
        let flag = GpuMatrix::zeros(&gpu, 1, 1);
        let readback_ms = best_ms(reps, || async { matrix::read_words(&gpu, &[&flag]).await.map(drop) }).await.map_err(gpu_error)?;
        let gemm = Gemm::new(&gpu).map_err(gpu_error)?;
        let mut products = Vec::new();
        let mut rate = f64::INFINITY; // the slowest GFLOP/s so far
        for s in shapes.chunks_exact(3) {
            let (m, k, n) = (s[0], s[1], s[2]);
            let flop = 2.0 * (m * k * n) as f64;
            let estimate_ms = flop / (rate * 1e9) * 1e3 * (reps + 1) as f64;
            if estimate_ms > budget_ms {
                products.push(GpuProduct { m, k, n, ms: None, gflops: None, skipped: Some(format!("would take about {:.0} s", estimate_ms / 1e3)) });
                continue;
            }
            let a = GpuMatrix::upload(&gpu, crate::rng::normal::<f32>(m, k, 1.0, 1).view());
            let b = GpuMatrix::upload(&gpu, crate::rng::normal::<f32>(k, n, 1.0, 2).view());
            let c = GpuMatrix::zeros(&gpu, m, n);
            let product = || async {
                gemm.run(&gpu, 1.0, (&a, Op::N), (&b, Op::N), 0.0, &c)?;
                matrix::read_words(&gpu, &[&flag]).await.map(drop)
            };
            let ms = (best_ms(reps, product).await.map_err(gpu_error)? - readback_ms).max(1e-3);
            let gflops = flop / (ms / 1e3) / 1e9;
            rate = rate.min(gflops);
            products.push(GpuProduct { m, k, n, ms: Some(ms), gflops: Some(gflops), skipped: None });
        }
        let classifier = Classifier::new(&gpu).map_err(gpu_error)?;
        let rep = GpuRepresentation::upload(&gpu, &self.ck.model.rep);
        let image = Array2::<f32>::from_elem((1, self.ck.model.cfg.input_dim), 0.5);
        let cfg = &self.ck.model.cfg;
        let classify_one_ms = best_ms(reps, || async { classifier.scores(&gpu, cfg, &rep, image.view()).await.map(drop) }).await.map_err(gpu_error)?;
        let timing = "wall clock in the page, best of N: submission to a 4-byte readback, less the best empty readback";
        to_js(&GpuBench { adapter: gpu.describe(), timing, readback_ms, matmul: products, classify_one_ms })
    }
}

/// Best milliseconds of `reps` awaited runs of `f`, after one untimed run (compilation, caches).
async fn best_ms<F, Fut>(reps: usize, f: F) -> Result<f64, GpuError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), GpuError>>,
{
    f().await?;
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = now_ms();
        f().await?;
        best = best.min(now_ms() - t);
    }
    Ok(best)
}

fn gpu_error(e: GpuError) -> JsValue {
    js_error(e.into())
}
