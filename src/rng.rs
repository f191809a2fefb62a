//! Seeded, splittable randomness.
//!
//! Every random draw in training is addressed by a path of integers (seed, epoch, batch, step,
//! purpose) mixed into one 64-bit seed, so training is reproducible, resumable at any epoch
//! without saving generator state, and independent of the number of threads: noise is drawn
//! in fixed blocks of rows, each block from its own generator.

use crate::real::Real;
use ndarray::parallel::prelude::*;
use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// The generator used everywhere.
pub type Rng = Pcg64Mcg;

/// Rows per independently seeded noise block.
const NOISE_BLOCK_ROWS: usize = 32;

/// SplitMix64's finaliser: a strong 64-bit mixer.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// One seed from a path of integers.
pub fn derive(seed: u64, path: &[u64]) -> u64 {
    path.iter().fold(mix(seed ^ 0x9e3779b97f4a7c15), |acc, &p| mix(acc ^ mix(p.wrapping_add(0x632be59bd9b4e019))))
}

/// A generator for the given path.
pub fn rng(seed: u64, path: &[u64]) -> Rng {
    Rng::seed_from_u64(derive(seed, path))
}

/// An array of N(0, std²) draws, block-seeded from `seed`.
pub fn normal<T: Real>(rows: usize, cols: usize, std: T, seed: u64) -> Array2<T> {
    let mut out = Array2::zeros((rows, cols));
    let fill = |(b, mut blk): (usize, ndarray::ArrayViewMut2<'_, T>)| {
        let mut r = Rng::seed_from_u64(derive(seed, &[b as u64]));
        blk.mapv_inplace(|_| T::std_normal(&mut r) * std);
    };
    let blocks = out.axis_chunks_iter_mut(Axis(0), NOISE_BLOCK_ROWS);
    if crate::ops::parallel(rows * cols) {
        blocks.into_par_iter().enumerate().for_each(fill)
    } else {
        blocks.enumerate().for_each(fill)
    }
    out
}
