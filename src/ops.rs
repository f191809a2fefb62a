//! Row-wise and elementwise building blocks of the circuits (algorithm.md §2), parallel over rows where
//! the arrays are large. None of them changes the order of a sum with the thread count.

use crate::real::Real;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Zip};

/// Elementwise work on fewer elements than this runs on the calling thread: waking the pool
/// costs more than the work (it made one-image classification slower with threads in wasm).
pub const PARALLEL_MIN_ELEMS: usize = 1 << 15;

/// Whether work on `elems` elements is worth the thread pool.
#[inline]
pub fn parallel(elems: usize) -> bool {
    elems >= PARALLEL_MIN_ELEMS && rayon::current_num_threads() > 1
}

/// `zip.for_each(f)` or, for at least [`PARALLEL_MIN_ELEMS`] elements, `zip.par_for_each(f)`.
#[macro_export]
macro_rules! zip_each {
    ($elems:expr, $zip:expr, $f:expr) => {
        if $crate::ops::parallel($elems) { $zip.par_for_each($f) } else { $zip.for_each($f) }
    };
}

/// `a.mapv_inplace(f)`, in parallel for large arrays.
pub fn map_inplace<T: Real>(a: &mut Array2<T>, f: impl Fn(T) -> T + Sync + Send) {
    if parallel(a.len()) { a.par_mapv_inplace(f) } else { a.mapv_inplace(f) }
}

/// The 1e-8 added to a row's norm in `nrm` (algorithm.md §2.1).
pub const NORM_EPS: f64 = 1e-8;

/// `nrm(z)_i = z_i / (‖z_i‖₂ + 1e-8)`, row by row; a zero row stays zero.
pub fn nrm<T: Real>(z: ArrayView2<'_, T>) -> Array2<T> {
    let mut out = z.to_owned();
    nrm_inplace(&mut out);
    out
}

/// [`nrm`] in place.
pub fn nrm_inplace<T: Real>(z: &mut Array2<T>) {
    let eps = T::c(NORM_EPS);
    crate::zip_each!(z.len(), Zip::from(z.rows_mut()), |mut row| {
        let d = row.dot(&row).sqrt() + eps;
        row.mapv_inplace(|v| v / d);
    });
}

/// `Σ_j z_ij²` for every row.
pub fn row_sq_sums<T: Real>(z: ArrayView2<'_, T>) -> Array1<T> {
    let mut out = Array1::zeros(z.nrows());
    crate::zip_each!(z.len(), Zip::from(&mut out).and(z.rows()), |o, r| *o = r.dot(&r));
    out
}

/// `a += bias` on every row.
pub fn add_row<T: Real>(a: &mut Array2<T>, bias: ArrayView1<'_, T>) {
    crate::zip_each!(a.len(), Zip::from(a.rows_mut()), |mut r| r += &bias);
}

/// `max(v, 0)`, letting NaN through (as TF's relu does) so that a blow-up is seen, not hidden.
#[inline]
pub fn relu<T: Real>(v: T) -> T {
    if v < T::zero() { T::zero() } else { v }
}

/// Logistic sigmoid, stable for large |v|.
#[inline]
pub fn sigmoid<T: Real>(v: T) -> T {
    if v >= T::zero() {
        T::one() / (T::one() + (-v).exp())
    } else {
        let e = v.exp();
        e / (T::one() + e)
    }
}

/// `log(1 + e^v)` computed as `max(v,0) + log(1 + e^{-|v|})`, as TF's sigmoid cross-entropy does.
#[inline]
pub fn softplus<T: Real>(v: T) -> T {
    relu(v) + (-v.abs()).exp().ln_1p()
}

/// Row-wise log-softmax (the row maximum subtracted).
pub fn log_softmax<T: Real>(logits: ArrayView2<'_, T>) -> Array2<T> {
    let mut out = logits.to_owned();
    for mut r in out.rows_mut() {
        let m = r.fold(T::neg_infinity(), |a, &b| a.max(b));
        let lse = r.iter().map(|&v| (v - m).exp()).sum::<T>().ln() + m;
        r.mapv_inplace(|v| v - lse);
    }
    out
}

/// Row-wise softmax.
pub fn softmax<T: Real>(logits: ArrayView2<'_, T>) -> Array2<T> {
    log_softmax(logits).mapv(|v| v.exp())
}

/// Index of the largest entry of each row (the first one on ties).
pub fn argmax_rows<T: Real>(a: ArrayView2<'_, T>) -> Vec<usize> {
    a.rows()
        .into_iter()
        .map(|r| {
            let mut best = 0;
            for (i, &v) in r.iter().enumerate() {
                if v > r[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

/// One-hot rows (N×classes) for the given labels.
pub fn one_hot<T: Real>(labels: &[usize], classes: usize) -> Array2<T> {
    let mut y = Array2::zeros((labels.len(), classes));
    for (i, &c) in labels.iter().enumerate() {
        y[[i, c]] = T::one();
    }
    y
}
