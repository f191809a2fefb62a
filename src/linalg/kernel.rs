//! The single-threaded matrix-multiply kernel behind [`super::gemm`].
//!
//! It is the `gemm` crate's: AVX2 or AVX-512 (feature `x86-v4`, selected at run time by CPU
//! detection) natively, and its SIMD128
//! micro-kernels on wasm32 (enabled through the crate's `wasm-simd128-enable` feature, which the
//! wasm builds turn on; it needs `+simd128`). Parallelism is ours (the blocks of
//! [`super::Grid`]), so the crate always runs with `Parallelism::None`. In a wasm32 build with
//! `+relaxed-simd`, f32 products of more than [`super::wasm_relaxed::MIN_ROWS`] rows go to
//! [`super::wasm_relaxed`] instead (fused multiply-add).

use crate::real::Real;
use ndarray::{ArrayView2, ArrayViewMut2};

/// Which kernel a product runs on. It is chosen once from the whole product's shape, before
/// [`super::Grid`] cuts it into blocks, so that every block of a product (and so every thread
/// count) sums alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The `gemm` crate's.
    GemmCrate,
    /// The fused multiply-add kernel of [`super::wasm_relaxed`] (f32, relaxed-SIMD builds).
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    RelaxedFma,
}

impl Kernel {
    /// The kernel for a product of `m` rows of `T`.
    pub fn for_product<T: Real>(m: usize) -> Kernel {
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        if m > super::wasm_relaxed::MIN_ROWS && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
            return Kernel::RelaxedFma;
        }
        let _ = m;
        Kernel::GemmCrate
    }
}

/// `c ← alpha·a·b + beta·c` on the calling thread, with the kernel for its shape.
pub fn gemm_serial<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: ArrayViewMut2<'_, T>) {
    gemm_with(Kernel::for_product::<T>(a.nrows()), alpha, a, b, beta, c);
}

/// `c ← alpha·a·b + beta·c` on the calling thread, with `kernel`.
pub fn gemm_with<T: Real>(kernel: Kernel, alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, mut c: ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == T::zero() {
        c.mapv_inplace(|v| if beta == T::zero() { T::zero() } else { v * beta });
        return;
    }
    match kernel {
        Kernel::GemmCrate => gemm_crate(alpha, a, b, beta, c),
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        Kernel::RelaxedFma => relaxed_fma(alpha, a, b, beta, c),
    }
}

/// [`gemm_with`] on the `gemm` crate's kernel, for a product with no empty dimension.
fn gemm_crate<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, mut c: ArrayViewMut2<'_, T>) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let [c_rs, c_cs] = [c.strides()[0], c.strides()[1]];
    let read_dst = beta != T::zero();
    // SAFETY: the pointers and strides come from live ndarray views whose shapes were checked
    // by the caller (m×k · k×n into m×n); `c` is borrowed mutably so nothing aliases it.
    // The gemm crate computes dst := alpha_g·dst + beta_g·lhs·rhs (its names are swapped
    // relative to BLAS), hence (beta, alpha) below.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            read_dst,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// [`gemm_with`] on the fused multiply-add kernel of [`super::wasm_relaxed`] (`T` is f32), for
/// a product with no empty dimension.
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
fn relaxed_fma<T: Real>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, mut c: ArrayViewMut2<'_, T>) {
    use super::wasm_relaxed::{Mat, gemm};
    let ((m, k), n) = (a.dim(), b.ncols());
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let [c_rs, c_cs] = [c.strides()[0], c.strides()[1]];
    assert_eq!(std::any::TypeId::of::<T>(), std::any::TypeId::of::<f32>(), "the relaxed kernel is f32");
    let mat = |p: *const T, rs, cs| Mat { ptr: p.cast::<f32>(), rs, cs };
    // SAFETY: T is f32 (asserted above), so the casts are the identity; the views' shapes
    // were checked by the caller and `c` is borrowed mutably, so nothing aliases it.
    unsafe {
        gemm(
            m,
            n,
            k,
            alpha.f64() as f32,
            mat(a.as_ptr(), a_rs, a_cs),
            mat(b.as_ptr(), b_rs, b_cs),
            beta.f64() as f32,
            c.as_mut_ptr().cast::<f32>(),
            c_rs,
            c_cs,
        );
    }
}
