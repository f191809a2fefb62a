//! The matmul seam, exposed for the kernel tests and the page's benchmark.

use super::*;

/// `a·b` through the engine's matmul seam (m×k times k×n, row-major), for tests and benchmarks.
#[wasm_bindgen]
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Result<Vec<f32>, JsValue> {
    if a.len() != m * k || b.len() != k * n {
        return Err(bad_input(format!("matmul: {} and {} values do not make {m}×{k} and {k}×{n}", a.len(), b.len())));
    }
    let av = ArrayView2::from_shape((m, k), a).expect("checked");
    let bv = ArrayView2::from_shape((k, n), b).expect("checked");
    Ok(crate::linalg::matmul(av, bv).into_raw_vec_and_offset().0)
}

/// Best-of-`reps` GFLOP/s of an m×k·k×n product on random data.
#[wasm_bindgen(js_name = benchMatmul)]
pub fn bench_matmul(m: usize, k: usize, n: usize, reps: usize) -> f64 {
    let a = crate::rng::normal::<f32>(m, k, 1.0, 1);
    let b = crate::rng::normal::<f32>(k, n, 1.0, 2);
    let mut c = Array2::<f32>::zeros((m, n));
    crate::linalg::gemm(1.0, a.view(), b.view(), 0.0, c.view_mut());
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = now_ms();
        crate::linalg::gemm(1.0, a.view(), b.view(), 0.0, c.view_mut());
        best = best.min(now_ms() - t);
    }
    2.0 * (m * k * n) as f64 / (best.max(1e-3) / 1e3) / 1e9
}
