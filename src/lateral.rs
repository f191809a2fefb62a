//! Lateral competition, stored compactly.
//!
//! The reference keeps each lateral matrix L as a dense H×H array and multiplies by the
//! block-diagonal mask M (10×10 all-ones blocks), so only the within-group entries ever act
//! (algorithm.md §1.3, §2.2). Here L is stored as those entries only: an H×10 array whose row i holds
//! `L[i, 10·⌊i/10⌋ .. 10·⌊i/10⌋+10]`. Products and gradients then cost N·H·10 instead of N·H².
//!
//! `Leff = relu(L) ⊙ M ⊙ (1−I) − relu(L) ⊙ I`: inhibition within a group, self-excitation on the
//! diagonal. It enters a pre-activation as `− z_prev · Leff`.

use crate::config::GROUP;
use crate::linalg::kernel::gemm_serial;
use crate::real::Real;
use ndarray::parallel::prelude::*;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};

/// The compact `Leff` (H×10) of a compact L (H×10).
pub fn effective<T: Real>(l: ArrayView2<'_, T>) -> Array2<T> {
    let mut e = l.mapv(crate::ops::relu);
    for (i, mut row) in e.rows_mut().into_iter().enumerate() {
        row[i % GROUP] = -row[i % GROUP];
    }
    e
}

/// `out += scale · (z · Leff)` where `leff` is the compact effective matrix (H×10) and z is N×H:
/// one small (N×10)·(10×10) product per competition group.
pub fn apply<T: Real>(z: ArrayView2<'_, T>, leff: ArrayView2<'_, T>, scale: T, mut out: ArrayViewMut2<'_, T>) {
    let h = z.ncols();
    debug_assert_eq!(leff.dim(), (h, GROUP));
    let work = |(g, o): (usize, ArrayViewMut2<'_, T>)| {
        let cols = g * GROUP..(g + 1) * GROUP;
        gemm_serial(scale, z.slice(s![.., cols.clone()]), leff.slice(s![cols, ..]), T::one(), o);
    };
    let blocks = out.axis_chunks_iter_mut(Axis(1), GROUP);
    if crate::ops::parallel(z.len()) { blocks.into_par_iter().enumerate().for_each(work) } else { blocks.enumerate().for_each(work) }
}

/// Gradient of the compact L (algorithm.md §7.2): `dL = −(z_prevᵀ δ) ⊙ (M⊙(1−I) − I) ⊙ 1[L>0]`, restricted
/// to the live entries: one (10×N)·(N×10) product per group. `zp` is the raw previous state
/// (N×H), `delta` the pre-activation error (N×H).
pub fn grad<T: Real>(zp: ArrayView2<'_, T>, delta: ArrayView2<'_, T>, l: ArrayView2<'_, T>) -> Array2<T> {
    let h = zp.ncols();
    let mut out = Array2::zeros((h, GROUP));
    let work = |(g, mut blk): (usize, ArrayViewMut2<'_, T>)| {
        let base = g * GROUP;
        let cols = base..base + GROUP;
        gemm_serial(T::one(), zp.slice(s![.., cols.clone()]).t(), delta.slice(s![.., cols]), T::zero(), blk.view_mut());
        for ii in 0..GROUP {
            for jj in 0..GROUP {
                let live = l[[base + ii, jj]] > T::zero();
                let sign = if ii == jj { T::one() } else { -T::one() };
                blk[[ii, jj]] = if live { sign * blk[[ii, jj]] } else { T::zero() };
            }
        }
    };
    let blocks = out.axis_chunks_iter_mut(Axis(0), GROUP);
    if crate::ops::parallel(zp.len()) {
        blocks.into_par_iter().enumerate().for_each(work)
    } else {
        blocks.enumerate().for_each(work)
    }
    out
}

/// The dense H×H matrix whose live entries are the compact ones (off-group entries zero).
pub fn to_dense<T: Real>(l: ArrayView2<'_, T>) -> Array2<T> {
    let h = l.nrows();
    let mut d = Array2::zeros((h, h));
    for i in 0..h {
        let base = (i / GROUP) * GROUP;
        for jj in 0..GROUP {
            d[[i, base + jj]] = l[[i, jj]];
        }
    }
    d
}

/// The compact form of a dense H×H matrix (its within-group entries).
pub fn from_dense<T: Real>(d: ArrayView2<'_, T>) -> Array2<T> {
    let h = d.nrows();
    Array2::from_shape_fn((h, GROUP), |(i, jj)| d[[i, (i / GROUP) * GROUP + jj]])
}
