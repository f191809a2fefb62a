//! The one seam every matrix product in the engine goes through.
//!
//! `gemm(alpha, a, b, beta, c)` computes `c ← alpha·a·b + beta·c` for any strided views, so a
//! transposed operand (`x.t()`) costs nothing. Above [`PARALLEL_MIN_MACS`] multiply-adds `c` is
//! cut into a grid of blocks, by rows and by columns ([`Grid`]), that rayon runs on its pool;
//! each block runs the single-threaded kernel of [`kernel`]. The grid never splits the k sum,
//! and the kernel's sum order for one element does not depend on the block it is in, so the
//! result is bit-identical for every thread count.
//!
//! Natively rayon's pool is the machine's cores; in the threaded WebAssembly build it is the
//! wasm-bindgen-rayon pool; in the single-threaded WebAssembly build rayon runs everything on
//! the calling thread.

pub mod kernel;
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
pub mod wasm_relaxed;

use crate::real::Real;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Products smaller than this many multiply-adds run on the calling thread: below it, the cost
/// of waking the pool is larger than the work (measured with `pff bench` natively; in the
/// browser, where waking a Web Worker costs far more, with the benchmark page: the 10-row
/// products of classifying one digit ran slower on two threads than on one).
#[cfg(not(target_arch = "wasm32"))]
pub const PARALLEL_MIN_MACS: usize = 1 << 21;
#[cfg(target_arch = "wasm32")]
pub const PARALLEL_MIN_MACS: usize = 1 << 23;

/// Smallest row block handed to one task; keeps the kernel's packing cost amortised.
const MIN_BLOCK_ROWS: usize = 16;

/// Smallest column block. Above 64 columns the `gemm` crate always takes its general path, whose
/// k blocking depends on k alone, so a column split cannot change a single bit.
const MIN_BLOCK_COLS: usize = 128;

/// Results at most this narrow split into row blocks taller than it: the `gemm` crate blocks k
/// differently for a block of at most 64×64, which would change the bits.
const SMALL_PATH: usize = 64;

/// How [`gemm`] cuts `c` into blocks: `rows`×`cols` blocks, at most one per pool thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
}

impl Grid {
    /// The grid for an m×n result on `threads` threads: as many blocks as threads allow (each at
    /// least [`MIN_BLOCK_ROWS`] rows and [`MIN_BLOCK_COLS`] columns), and among those the one
    /// that repacks least. Every row block packs its columns of `b` and every column block reads
    /// its rows of `a`, so the work that grows with the grid is `rows·n + cols·m`.
    pub fn plan(m: usize, n: usize, threads: usize) -> Grid {
        let min_rows = if n <= SMALL_PATH { SMALL_PATH + 1 } else { MIN_BLOCK_ROWS };
        let max_rows = (m / min_rows).max(1);
        let max_cols = (n / MIN_BLOCK_COLS).max(1);
        let mut best = Grid { rows: 1, cols: 1 };
        for rows in 1..=threads.min(max_rows) {
            let cols = (threads / rows).min(max_cols);
            let cand = Grid { rows, cols };
            let key = |g: Grid| (g.rows * g.cols, usize::MAX - (g.rows * n + g.cols * m));
            if key(cand) > key(best) {
                best = cand;
            }
        }
        best
    }

    pub fn blocks(self) -> usize {
        self.rows * self.cols
    }
}

/// `c ← alpha·a·b + beta·c`. Panics if the shapes do not agree (a programming error).
pub fn gemm<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "gemm: inner dimensions differ ({m}×{k} · {k2}×{n})");
    assert_eq!(c.dim(), (m, n), "gemm: output is {:?}, expected {m}×{n}", c.dim());
    let threads = rayon::current_num_threads();
    let grid = if threads <= 1 || m * n * k < PARALLEL_MIN_MACS { Grid { rows: 1, cols: 1 } } else { Grid::plan(m, n, threads) };
    let kernel = kernel::Kernel::for_product::<T>(m);
    if grid.blocks() == 1 {
        kernel::gemm_with(kernel, alpha, a, b, beta, c);
        return;
    }
    let mut blocks = Vec::with_capacity(grid.blocks());
    let c_rows = split(c, Axis(0), grid.rows, |v, i| v.split_at(Axis(0), i));
    let a_rows = split(a, Axis(0), grid.rows, |v, i| v.split_at(Axis(0), i));
    for (c_row, a_row) in c_rows.into_iter().zip(a_rows) {
        let c_blocks = split(c_row, Axis(1), grid.cols, |v, i| v.split_at(Axis(1), i));
        let b_cols = split(b, Axis(1), grid.cols, |v, i| v.split_at(Axis(1), i));
        for (c_block, b_col) in c_blocks.into_iter().zip(b_cols) {
            blocks.push((c_block, a_row, b_col));
        }
    }
    blocks.into_par_iter().for_each(|(c_block, a_row, b_col)| kernel::gemm_with(kernel, alpha, a_row, b_col, beta, c_block));
}

/// Cuts a view into `parts` consecutive pieces along `axis` whose lengths differ by at most one
/// (so none is shorter than `len / parts`).
fn split<V>(mut v: V, axis: Axis, parts: usize, split_at: impl Fn(V, usize) -> (V, V)) -> Vec<V>
where
    V: HasLen,
{
    let len = v.len_along(axis);
    let mut out = Vec::with_capacity(parts);
    for p in 0..parts - 1 {
        let size = len / parts + usize::from(p < len % parts);
        let (head, tail) = split_at(v, size);
        out.push(head);
        v = tail;
    }
    out.push(v);
    out
}

/// The length of a 2-D view along an axis, for [`split`].
trait HasLen {
    fn len_along(&self, axis: Axis) -> usize;
}

impl<S: ndarray::RawData> HasLen for ndarray::ArrayBase<S, ndarray::Ix2> {
    fn len_along(&self, axis: Axis) -> usize {
        self.len_of(axis)
    }
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
        // Row splits, column splits and both, on pools of 2 to 16 threads, with k above the
        // kernel's 512 blocking so a block boundary that changed the k sum would show.
        for &(m, k, n) in &[(1000, 300, 200), (10, 784, 500), (40, 1100, 700), (600, 600, 2000), (1100, 1000, 10)] {
            let a = arr(m, k, 6);
            let b = arr(k, n, 7);
            let c0 = arr(m, n, 8);
            let mut ser = c0.clone();
            kernel::gemm_serial(0.5, a.view(), b.view(), 1.0, ser.view_mut());
            for threads in [2, 3, 4, 8, 16] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                assert!(Grid::plan(m, n, threads).blocks() > 1, "{m}×{n} on {threads} threads is not split");
                let mut par = c0.clone();
                pool.install(|| gemm(0.5, a.view(), b.view(), 1.0, par.view_mut()));
                assert_eq!(par, ser, "{m}×{k}×{n} on {threads} threads");
            }
        }
    }

    #[test]
    fn the_grid_keeps_every_thread_busy_and_blocks_large_enough() {
        assert_eq!(Grid::plan(1000, 2000, 1), Grid { rows: 1, cols: 1 });
        assert_eq!(Grid::plan(10, 500, 2), Grid { rows: 1, cols: 2 }, "a handful of rows splits by columns");
        assert_eq!(Grid::plan(1000, 2000, 16).blocks(), 16);
        assert_eq!(Grid::plan(1000, 1000, 16), Grid { rows: 4, cols: 4 }, "square results split both ways");
        for (m, n, t) in [(1000, 2000, 16), (500, 784, 8), (20, 100, 4), (1, 1, 16), (1041, 10, 16)] {
            let g = Grid::plan(m, n, t);
            assert!(g.blocks() <= t && g.blocks() >= 1);
            assert!(g.rows == 1 || m / g.rows >= MIN_BLOCK_ROWS, "{m}×{n}/{t}: {g:?}");
            assert!(n > SMALL_PATH || g.rows == 1 || m / g.rows > SMALL_PATH, "{m}×{n}/{t}: {g:?}");
            assert!(g.cols == 1 || n / g.cols >= MIN_BLOCK_COLS, "{m}×{n}/{t}: {g:?}");
        }
    }
}
