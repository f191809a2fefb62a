//! Counter-based noise: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
//! 1, 2, 3", SC 2011), the same function in Rust here and in WGSL in
//! `gpu/kernels/philox.wgsl`.
//!
//! Why: the CPU and the GPU must be able to run the same run. A sequential generator (the PCG
//! blocks of [`crate::rng`]) cannot be reproduced by thousands of GPU threads that each need one
//! value; a counter-based one can, since every value is a pure function of its address. Here the
//! address of one noise value is ([`StreamKey`], element index):
//!
//! * Philox key (2 words): the run's seed;
//! * Philox counter (4 words): `[element / 4, step << 8 | purpose, batch_lo, batch_hi]`, where the
//!   batch is the training batch's 64-bit key (epoch and batch, `Trainer::batch_key`);
//! * one call gives 4 words, which serve elements `4b .. 4b+3`.
//!
//! The uniform bits are integers, so CPU and GPU agree on every bit. Uniforms are exact too
//! (an integer below 2²⁴ times a power of two). Normals use no platform `ln`, `cos` or `sin`,
//! only IEEE `+ − × ÷ √` in a fixed order ([`ln_open`], [`sin_cos_turn`]), so every CPU target
//! (native, wasm) draws the same bits; a GPU, whose `÷` and `√` may be off by an ulp or two and
//! which may fuse a multiply and an add, draws the same values to within a few ulps.
//!
//! The CPU trains on these streams by default ([`crate::noise::NoiseStream::Philox`]); the older
//! PCG blocks of [`crate::rng`] remain for runs that started on them.

/// Philox4x32's round multipliers.
pub const M0: u32 = 0xD251_1F53;
pub const M1: u32 = 0xCD9E_8D57;
/// Philox4x32's key increments (the golden ratio and √3 − 1, as 32-bit fractions).
pub const W0: u32 = 0x9E37_79B9;
pub const W1: u32 = 0xBB67_AE85;
/// The number of rounds (Philox4x32-10, the variant Random123 recommends).
pub const ROUNDS: usize = 10;

/// The high and low words of the 64-bit product `a·b`.
#[inline]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32-10 of `ctr` under `key`.
pub fn philox4x32_10(mut ctr: [u32; 4], mut key: [u32; 2]) -> [u32; 4] {
    for round in 0..ROUNDS {
        if round > 0 {
            key = [key[0].wrapping_add(W0), key[1].wrapping_add(W1)];
        }
        let (hi0, lo0) = mulhilo(M0, ctr[0]);
        let (hi1, lo1) = mulhilo(M1, ctr[2]);
        ctr = [hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0];
    }
    ctr
}

/// The address of one noise stream; the element index completes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamKey {
    /// The run's seed.
    pub seed: u64,
    /// The training batch's key (epoch in the high word, batch in the low one).
    pub batch: u64,
    /// The settling step (below 2²⁴).
    pub step: u32,
    /// What the noise is for (layer 1, layer 2, …; below 256).
    pub purpose: u32,
}

impl StreamKey {
    /// Philox's key words.
    pub fn key(&self) -> [u32; 2] {
        [self.seed as u32, (self.seed >> 32) as u32]
    }

    /// The counter of the block holding elements `4·block .. 4·block+3`.
    pub fn counter(&self, block: u32) -> [u32; 4] {
        debug_assert!(self.step < 1 << 24 && self.purpose < 256, "step or purpose out of range: {self:?}");
        [block, self.step << 8 | self.purpose, self.batch as u32, (self.batch >> 32) as u32]
    }

    /// The eight words a GPU kernel receives for this stream (see `philox.wgsl`'s `Stream`):
    /// key, the counter's three fixed words, then `n` elements and `scale` (as f32 bits).
    pub fn words(&self, n: u32, scale: f32) -> [u32; 8] {
        let [k0, k1] = self.key();
        let [_, c1, c2, c3] = self.counter(0);
        [k0, k1, c1, c2, c3, n, scale.to_bits(), 0]
    }

    /// The 4 words of block `block`.
    pub fn block(&self, block: u32) -> [u32; 4] {
        philox4x32_10(self.counter(block), self.key())
    }

    /// The uniform bits of elements `0..n`.
    pub fn bits(&self, n: usize) -> Vec<u32> {
        let blocks = n.div_ceil(4) as u32;
        let mut out: Vec<u32> = (0..blocks).flat_map(|b| self.block(b)).collect();
        out.truncate(n);
        out
    }

    /// N(0, std²) draws for elements `0..n`, by Box–Muller on each block's two pairs of uniforms.
    pub fn normals(&self, n: usize, std: f32) -> Vec<f32> {
        let blocks = n.div_ceil(4) as u32;
        let mut out: Vec<f32> = (0..blocks).flat_map(|b| box_muller(self.block(b)).map(|z| z * std)).collect();
        out.truncate(n);
        out
    }
}

/// A uniform in (0, 1) from the top 23 bits of `x`: `(2·(x >> 9) + 1)·2⁻²⁴`, exact in f32 (the
/// integer is odd and below 2²⁴), never 0 (so `ln` is finite) and never 1.
#[inline]
pub fn uniform_open(x: u32) -> f32 {
    ((x >> 9) * 2 + 1) as f32 * (1.0 / 16_777_216.0)
}

/// `ln u` for u in (0, 1), to a few ulps of the result everywhere, from `+ − × ÷` alone, so that
/// every target computes the same bits: the platforms' `ln` differ in the last bit (glibc natively,
/// a libm port in wasm), and GPUs promise only an absolute error for `log` on [0.5, 2] (2⁻²¹ in
/// WGSL), which near u = 1, where `ln u` is tiny, is no relative accuracy at all; Box–Muller's
/// small radii come from there.
///
/// `u = m·2ᵉ` with `m` in [√½, √2) (read from the bits: `u` is a normal f32), then
/// `ln u = e·ln 2 + 2·atanh(s)` with `s = (m − 1)/(m + 1)`, `|s| ≤ 0.172` (`m − 1` is exact),
/// the series summed to s¹³ by Horner's rule (the rest is below 10⁻¹¹ relative) and ln 2 split in
/// two so that `e·ln2_hi` is exact. Branch-free, so that a batch of them vectorises. The WGSL
/// twin is `ln_open` in philox.wgsl.
#[inline(always)]
pub fn ln_open(u: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75; // 11 significant bits: e·LN2_HI is exact for |e| < 2¹²
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ATANH: [f32; 6] = [1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0];
    let bits = u.to_bits();
    let high = (bits & 0x007f_ffff) > 0x0035_04f3; // the mantissa of m exceeds √2's
    let e = ((bits >> 23) & 0xff) as i32 - 127 + i32::from(high);
    let m = f32::from_bits((bits & 0x007f_ffff) | if high { 0x3f00_0000 } else { 0x3f80_0000 });
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 13.0;
    for c in ATANH {
        p = c + s2 * p;
    }
    let e = e as f32;
    e * LN2_HI + (2.0 * s * p + e * LN2_LO)
}

/// `(cos θ, sin θ)` of `θ = π·(2v − 1)` for a uniform `v` of [`uniform_open`], from `+ − ×` alone
/// (the twin of `sin_cos_turn` in philox.wgsl). `t = 4v − 2` is exact (v is a multiple of 2⁻²⁴),
/// so is its nearest quarter turn `q = ⌊t + ½⌋` (computed as `trunc(t + 2.5) − 2`: no rounding
/// of `t + 2.5` crosses an integer) and the rest `r = t − q` in [−½, ½]. Then `θ = (q + r)·π/2`,
/// and the Taylor polynomials of sin and cos at `a = r·π/2`, |a| ≤ π/4, are cut where the next
/// term is below 10⁻⁸ (a¹¹/11! and a¹²/12!). Branch-free, so that a batch of them vectorises.
#[inline(always)]
pub fn sin_cos_turn(v: f32) -> (f32, f32) {
    const SIN: [f32; 4] = [1.0 / 362_880.0, -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0];
    const COS: [f32; 5] = [-1.0 / 3_628_800.0, 1.0 / 40320.0, -1.0 / 720.0, 1.0 / 24.0, -0.5];
    let t = 4.0 * v - 2.0;
    // SAFETY: t + 2.5 is in (0.5, 4.5), well inside i32 (`as` would add saturation checks that
    // keep a batch of these from vectorising).
    let q = unsafe { (t + 2.5).to_int_unchecked::<i32>() } - 2;
    let a = (t - q as f32) * std::f32::consts::FRAC_PI_2;
    let a2 = a * a;
    let (mut ps, mut pc) = (0.0f32, 0.0f32);
    for c in SIN {
        ps = c + a2 * ps;
    }
    for c in COS {
        pc = c + a2 * pc;
    }
    let (sin_a, cos_a) = (a + a * (a2 * ps), 1.0 + a2 * pc);
    // θ = a + q·π/2: a quarter turn swaps the two, a half turn negates both
    let quarter = q & 3; // 0..3 for q in −2..2
    let (x, y) = if quarter & 1 == 1 { (sin_a, cos_a) } else { (cos_a, sin_a) };
    let cos = if quarter == 1 || quarter == 2 { -x } else { x };
    let sin = if quarter >= 2 { -y } else { y };
    (cos, sin)
}

/// Four standard normals from four words: Box–Muller on (w0, w1) and on (w2, w3), giving
/// `r·cos θ, r·sin θ` for each pair, with `r = √(−2 ln u)` and `θ = π·(2v − 1)`. Every step is an
/// IEEE operation (`sqrt` included) that the WGSL version performs in the same order, so every
/// CPU target draws the same bits and a GPU the same to within its rounding of `÷` and `√`.
#[inline]
pub fn box_muller(w: [u32; 4]) -> [f32; 4] {
    let pair = |a: u32, b: u32| {
        let r = (-2.0 * ln_open(uniform_open(a))).sqrt();
        let (cos, sin) = sin_cos_turn(uniform_open(b));
        (r * cos, r * sin)
    };
    let (z0, z1) = pair(w[0], w[1]);
    let (z2, z3) = pair(w[2], w[3]);
    [z0, z1, z2, z3]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's `tests/kat_vectors`, the three `philox4x32 10` lines: counter (4 words),
    /// key (2 words), expected output (4 words).
    #[test]
    fn philox_matches_the_random123_known_answers() {
        let kat: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            ([0; 4], [0; 2], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
            ([u32::MAX; 4], [u32::MAX; 2], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
            ([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]),
        ];
        for (ctr, key, want) in kat {
            assert_eq!(philox4x32_10(ctr, key), want, "ctr {ctr:08x?} key {key:08x?}");
        }
    }

    /// Every 997th uniform `uniform_open` can give, and both ends.
    fn sampled_uniforms() -> impl Iterator<Item = f32> {
        (0..1u32 << 23).step_by(997).chain([(1 << 23) - 1]).map(|k| uniform_open(k << 9))
    }

    #[test]
    fn ln_open_is_accurate_to_a_few_ulps_everywhere() {
        let mut worst = 0.0f64;
        for u in sampled_uniforms() {
            let want = f64::from(u).ln();
            let ulp = f64::from(f32::EPSILON) * want.abs();
            worst = worst.max((f64::from(ln_open(u)) - want).abs() / ulp);
        }
        assert!(worst < 2.0, "ln_open is {worst} ulps off");
    }

    #[test]
    fn sin_cos_turn_is_accurate_to_a_few_ulps_of_one() {
        let mut worst = 0.0f64;
        for v in sampled_uniforms() {
            let theta = std::f64::consts::PI * (2.0 * f64::from(v) - 1.0);
            let (cos, sin) = sin_cos_turn(v);
            let err = (f64::from(cos) - theta.cos()).abs().max((f64::from(sin) - theta.sin()).abs());
            worst = worst.max(err / f64::from(f32::EPSILON));
        }
        // the values are the circle's coordinates: their error is measured in ulps of its radius
        assert!(worst < 2.0, "sin_cos_turn is {worst} ulps of 1 off");
    }

    #[test]
    fn uniforms_stay_inside_the_open_interval() {
        assert_eq!(uniform_open(0), 1.0 / 16_777_216.0);
        assert_eq!(uniform_open(u32::MAX), 1.0 - 1.0 / 16_777_216.0);
        assert!(box_muller([0, 0, u32::MAX, u32::MAX]).iter().all(|z| z.is_finite()));
    }

    #[test]
    fn every_address_part_changes_the_stream() {
        let base = StreamKey { seed: 7, batch: 3 << 32 | 5, step: 2, purpose: 1 };
        let variants = [
            StreamKey { seed: 8, ..base },
            StreamKey { batch: 4 << 32 | 5, ..base },
            StreamKey { batch: 3 << 32 | 6, ..base },
            StreamKey { step: 3, ..base },
            StreamKey { purpose: 2, ..base },
        ];
        let first = base.bits(8);
        for v in variants {
            assert_ne!(v.bits(8), first, "{v:?}");
        }
        assert_eq!(base.bits(6), first[..6]);
    }

    #[test]
    fn normals_have_the_moments_of_a_standard_normal() {
        let key = StreamKey { seed: 11, batch: 0, step: 0, purpose: 0 };
        let z = key.normals(200_000, 1.0);
        let n = z.len() as f64;
        let mean = z.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = z.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        let kurt = z.iter().map(|&v| (f64::from(v) - mean).powi(4)).sum::<f64>() / n / (var * var);
        // Standard errors at n = 2e5: mean 0.0022, variance 0.0032, kurtosis 0.011.
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.015 && (kurt - 3.0).abs() < 0.06, "mean {mean}, var {var}, kurtosis {kurt}");
    }
}
