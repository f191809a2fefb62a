//! The one seam every matrix product in the engine goes through.
//!
//! `gemm(alpha, a, b, beta, c)` computes `c ← alpha·a·b + beta·c` for any strided views, so a
//! transposed operand (`x.t()`) costs nothing. Above [`PARALLEL_MIN_MACS`] multiply-adds the
//! rows of `c` are split into blocks that rayon runs on its pool; each block runs the
//! single-threaded kernel of [`kernel`]. Row blocking never changes the order of any sum, so the
//! result is bit-identical for every thread count.
//!
//! Natively rayon's pool is the machine's cores; in the threaded WebAssembly build it is the
//! wasm-bindgen-rayon pool; in the single-threaded WebAssembly build rayon runs everything on
//! the calling thread.

pub mod kernel;

use crate::real::Real;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Products smaller than this many multiply-adds run on the calling thread: below it, the cost
/// of waking the pool is larger than the work (measured with `pff bench`).
pub const PARALLEL_MIN_MACS: usize = 1 << 21;

/// Row blocks per pool thread. Each block packs the right-hand operand again, so more blocks cost
/// packing time; one per thread measured best (natively and in the browser) on this 2-core machine.
const BLOCKS_PER_THREAD: usize = 1;

/// Smallest row block handed to one task; keeps the kernel's packing cost amortised.
const MIN_BLOCK_ROWS: usize = 16;

/// `c ← alpha·a·b + beta·c`. Panics if the shapes do not agree (a programming error).
pub fn gemm<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, mut c: ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "gemm: inner dimensions differ ({m}×{k} · {k2}×{n})");
    assert_eq!(c.dim(), (m, n), "gemm: output is {:?}, expected {m}×{n}", c.dim());
    let threads = rayon::current_num_threads();
    if threads <= 1 || m * n * k < PARALLEL_MIN_MACS || m < 2 * MIN_BLOCK_ROWS {
        kernel::gemm_serial(alpha, a, b, beta, c);
        return;
    }
    let blocks = (threads * BLOCKS_PER_THREAD).min(m / MIN_BLOCK_ROWS).max(1);
    let rows = m.div_ceil(blocks);
    let mut parts: Vec<_> = c.axis_chunks_iter_mut(Axis(0), rows).zip(a.axis_chunks_iter(Axis(0), rows)).collect();
    parts.par_iter_mut().for_each(|(cb, ab)| {
        kernel::gemm_serial(alpha, ab.view(), b, beta, cb.view_mut());
    });
}

/// `a·b` into a new array.
pub fn matmul<T: Real>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(T::one(), a, b, T::zero(), c.view_mut());
    c
}

/// Textbook triple loop in f64 accumulation, for tests of the fast paths.
pub fn matmul_reference<T: Real>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    let (m, k) = a.dim();
    let n = b.ncols();
    Array2::from_shape_fn((m, n), |(i, j)| {
        let mut s = 0.0f64;
        for p in 0..k {
            s += a[[i, p]].f64() * b[[p, j]].f64();
        }
        T::c(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn arr(m: usize, n: usize, seed: u64) -> Array2<f32> {
        let mut s = seed;
        Array2::from_shape_fn((m, n), |_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
    }

    #[test]
    fn gemm_matches_reference_for_all_layouts() {
        for &(m, k, n) in &[(1, 1, 1), (7, 3, 5), (70, 33, 129), (300, 200, 150)] {
            let a = arr(m, k, 1);
            let b = arr(k, n, 2);
            let at = a.t().to_owned(); // k×m, so at.t() is a strided view
            let bt = b.t().to_owned();
            let want = matmul_reference(a.view(), b.view());
            for (av, bv) in [(a.view(), b.view()), (at.t(), b.view()), (a.view(), bt.t()), (at.t(), bt.t())] {
                let got = matmul(av, bv);
                let err = (&got - &want).mapv(f32::abs).fold(0.0f32, |x, &y| x.max(y));
                assert!(err < 1e-4 * k as f32, "{m}×{k}×{n}: max error {err}");
            }
        }
    }

    #[test]
    fn gemm_accumulates_with_alpha_and_beta() {
        let a = arr(40, 30, 3);
        let b = arr(30, 20, 4);
        let c0 = arr(40, 20, 5);
        let mut c = c0.clone();
        gemm(2.0, a.view(), b.view(), 0.5, c.view_mut());
        let want = matmul_reference(a.view(), b.view()) * 2.0 + &c0 * 0.5;
        let err = (&c - &want).mapv(f32::abs).fold(0.0f32, |x, &y| x.max(y));
        assert!(err < 1e-4, "max error {err}");
    }

    #[test]
    fn parallel_blocks_are_bit_identical_to_serial() {
        let a = arr(1000, 300, 6);
        let b = arr(300, 200, 7);
        let par = matmul(a.view(), b.view());
        let mut ser = Array2::zeros((1000, 200));
        kernel::gemm_serial(1.0, a.view(), b.view(), 0.0, ser.view_mut());
        assert_eq!(par, ser);
    }
}
