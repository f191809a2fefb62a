//! The f32 matrix-multiply kernel of the relaxed-SIMD WebAssembly build: 128-bit fused
//! multiply-add (`f32x4.relaxed_madd`), which the `gemm` crate's simd128 kernels do not use.
//!
//! A GotoBLAS loop nest: `k` in blocks of [`KC`] (the same blocks whatever the shape or the
//! thread's share of it, so every element sums in one fixed order and [`super::gemm`]'s grid
//! keeps the bits), `a` packed in [`MR`]-row panels, `b` packed in [`NR`]-column panels, and a
//! 4×8 micro-kernel whose 8 independent accumulators cover the FMA latency (fewer made tract's
//! FMA kernels slower than separate multiply and add: sonos/tract#2225). A product with at most
//! [`MIN_ROWS`] rows stays on the `gemm` crate's kernel: packing `b` would cost more than the
//! product (and reading `b` in place, strided, measured at a quarter of the gemm crate's rate).
//!
//! Only in a module built with `+relaxed-simd`: such a module fails validation in an engine
//! without relaxed SIMD, which is why it is a build of its own that the page picks at run time.

use core::arch::wasm32::*;

/// Rows of the micro-kernel.
const MR: usize = 4;
/// Columns of the micro-kernel (two f32x4 vectors).
const NR: usize = 8;
/// Depth of one block of the k sum (a packed `b` panel of KC×NR floats is 8 KiB: L1).
const KC: usize = 256;
/// Rows of `a` packed at once (64×256 floats: 64 KiB, L2).
const MC: usize = 64;
/// Columns of `b` packed at once (256×512 floats: 512 KiB, L2).
const NC: usize = 512;
/// Products with more rows than this use this kernel (see the module docs).
pub const MIN_ROWS: usize = 16;

/// A strided read-only matrix.
#[derive(Clone, Copy)]
pub struct Mat {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

impl Mat {
    #[inline(always)]
    unsafe fn at(self, i: usize, j: usize) -> *const f32 {
        unsafe { self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }
}

/// `c ← alpha·a·b + beta·c` for an m×k `a` and a k×n `b`; `beta = 0` never reads `c`.
///
/// # Safety
/// The pointers and strides must describe valid, non-aliasing (for `c`) matrices of these shapes.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm(m: usize, n: usize, k: usize, alpha: f32, a: Mat, b: Mat, beta: f32, c: *mut f32, c_rs: isize, c_cs: isize) {
    let mut packed_a = vec![0f32; MC.div_ceil(MR) * MR * KC];
    let mut packed_b = vec![0f32; NC.div_ceil(NR) * NR * KC];
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let beta = if pc == 0 { beta } else { 1.0 };
            unsafe { pack_b(&mut packed_b, b, pc, kc, jc, nc) };
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                unsafe { pack_a(&mut packed_a, a, ic, mc, pc, kc) };
                for jr in (0..nc).step_by(NR) {
                    let nr = NR.min(nc - jr);
                    let bp = packed_b[jr * kc..].as_ptr();
                    for ir in (0..mc).step_by(MR) {
                        let mr = MR.min(mc - ir);
                        let acc = unsafe { micro(kc, packed_a.as_ptr().add(ir * kc), bp) };
                        let dst = unsafe { c.offset((ic + ir) as isize * c_rs + (jc + jr) as isize * c_cs) };
                        unsafe { store(acc, mr, nr, alpha, beta, dst, c_rs, c_cs) };
                    }
                }
            }
        }
    }
}

/// Packs rows `ic..ic+mc`, columns `pc..pc+kc` of `a` as MR-row panels: panel r holds
/// `a[ic + r·MR + i, pc + p]` at `r·MR·kc + p·MR + i`, zero past the last row.
unsafe fn pack_a(dst: &mut [f32], a: Mat, ic: usize, mc: usize, pc: usize, kc: usize) {
    for (r, panel) in dst.chunks_exact_mut(MR * kc).take(mc.div_ceil(MR)).enumerate() {
        let rows = MR.min(mc - r * MR);
        for i in 0..MR {
            if i < rows {
                let row = unsafe { a.at(ic + r * MR + i, pc) };
                for p in 0..kc {
                    panel[p * MR + i] = unsafe { *row.offset(p as isize * a.cs) };
                }
            } else {
                (0..kc).for_each(|p| panel[p * MR + i] = 0.0);
            }
        }
    }
}

/// Packs rows `pc..pc+kc`, columns `jc..jc+nc` of `b` as NR-column panels: panel q holds
/// `b[pc + p, jc + q·NR + j]` at `q·NR·kc + p·NR + j`, zero past the last column.
unsafe fn pack_b(dst: &mut [f32], b: Mat, pc: usize, kc: usize, jc: usize, nc: usize) {
    for (q, panel) in dst.chunks_exact_mut(NR * kc).take(nc.div_ceil(NR)).enumerate() {
        let cols = NR.min(nc - q * NR);
        for p in 0..kc {
            let src = unsafe { b.at(pc + p, jc + q * NR) };
            let out = &mut panel[p * NR..(p + 1) * NR];
            for (j, o) in out.iter_mut().enumerate() {
                *o = if j < cols { unsafe { *src.offset(j as isize * b.cs) } } else { 0.0 };
            }
        }
    }
}

/// The 4×8 block `Σ_p a[i, p]·b[p, j]` over one k block, in order of p, with one rounding per
/// step where the engine fuses. `a` and `b` are packed panels.
#[inline(always)]
unsafe fn micro(kc: usize, a: *const f32, b: *const f32) -> [v128; 2 * MR] {
    let z = f32x4_splat(0.0);
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21, mut c30, mut c31) = (z, z, z, z, z, z, z, z);
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        unsafe {
            let b0 = v128_load(b as *const v128);
            let b1 = v128_load(b.add(4) as *const v128);
            let a0 = v128_load32_splat(a as *const u32);
            let a1 = v128_load32_splat(a.add(1) as *const u32);
            let a2 = v128_load32_splat(a.add(2) as *const u32);
            let a3 = v128_load32_splat(a.add(3) as *const u32);
            c00 = f32x4_relaxed_madd(a0, b0, c00);
            c01 = f32x4_relaxed_madd(a0, b1, c01);
            c10 = f32x4_relaxed_madd(a1, b0, c10);
            c11 = f32x4_relaxed_madd(a1, b1, c11);
            c20 = f32x4_relaxed_madd(a2, b0, c20);
            c21 = f32x4_relaxed_madd(a2, b1, c21);
            c30 = f32x4_relaxed_madd(a3, b0, c30);
            c31 = f32x4_relaxed_madd(a3, b1, c31);
            a = a.add(MR);
            b = b.add(NR);
        }
    }
    [c00, c01, c10, c11, c20, c21, c30, c31]
}

/// `c ← alpha·acc + beta·c` for the top-left mr×nr of a 4×8 block.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn store(acc: [v128; 2 * MR], mr: usize, nr: usize, alpha: f32, beta: f32, c: *mut f32, c_rs: isize, c_cs: isize) {
    let mut tile = [0f32; MR * NR];
    for (i, v) in acc.iter().enumerate() {
        unsafe { v128_store(tile.as_mut_ptr().add(i * 4) as *mut v128, *v) };
    }
    for i in 0..mr {
        for j in 0..nr {
            let dst = unsafe { &mut *c.offset(i as isize * c_rs + j as isize * c_cs) };
            let v = alpha * tile[i * NR + j];
            *dst = if beta == 0.0 { v } else { v + beta * *dst };
        }
    }
}
