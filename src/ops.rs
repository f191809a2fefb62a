//! Row-wise and elementwise building blocks of the circuits (spec §2), parallel over rows where
//! the arrays are large. None of them changes the order of a sum with the thread count.

use crate::real::Real;
use ndarray::parallel::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

/// The 1e-8 added to a row's norm in `nrm` (spec §2.1).
pub const NORM_EPS: f64 = 1e-8;

/// `nrm(z)_i = z_i / (‖z_i‖₂ + 1e-8)`, row by row; a zero row stays zero.
pub fn nrm<T: Real>(z: ArrayView2<'_, T>) -> Array2<T> {
    let mut out = z.to_owned();
    let eps = T::c(NORM_EPS);
    out.axis_iter_mut(Axis(0)).into_par_iter().for_each(|mut row| {
        let d = row.dot(&row).sqrt() + eps;
        row.mapv_inplace(|v| v / d);
    });
    out
}

/// `Σ_j z_ij²` for every row.
pub fn row_sq_sums<T: Real>(z: ArrayView2<'_, T>) -> Array1<T> {
    let mut out = Array1::zeros(z.nrows());
    Zip::from(&mut out).and(z.rows()).par_for_each(|o, r| *o = r.dot(&r));
    out
}

/// `a += bias` on every row.
pub fn add_row<T: Real>(a: &mut Array2<T>, bias: ArrayView1<'_, T>) {
    a.axis_iter_mut(Axis(0)).into_par_iter().for_each(|mut r| r += &bias);
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

/// Largest |entry| that is not finite, or `None` if all are finite.
pub fn all_finite<T: Real>(a: &[T]) -> bool {
    a.iter().all(|v| v.is_finite())
}
