//! The floating-point types the engine runs on: `f32` for training and inference (as the
//! reference does), `f64` for the finite-difference gradient checks.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// A float the engine can compute with.
pub trait Real:
    ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + num_traits::Float
    + std::fmt::Debug
    + std::fmt::Display
    + std::iter::Sum
    + Default
    + num_traits::NumAssign
    + Send
    + Sync
    + 'static
{
    /// Converts an `f64` constant (rounding for `f32`).
    fn c(x: f64) -> Self;
    /// Widens to `f64`.
    fn f64(self) -> f64;
    /// One draw from the standard normal distribution.
    fn std_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;
}

impl Real for f32 {
    #[inline]
    fn c(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn std_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
        StandardNormal.sample(rng)
    }
}

impl Real for f64 {
    #[inline]
    fn c(x: f64) -> Self {
        x
    }
    #[inline]
    fn f64(self) -> f64 {
        self
    }
    #[inline]
    fn std_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
        StandardNormal.sample(rng)
    }
}
