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
//! (an integer below 2²⁴ times a power of two). Normals go through `ln`, `sqrt`, `cos` and `sin`,
//! which a GPU computes to within a few ulps (WGSL's stated accuracy), so GPU normals may differ
//! from these in the last bits.
//!
//! Not used by CPU training yet: switching the CPU's noise to this stream changes the seeded
//! results and the blessed same-run fixture, a later, coordinated step (issue 24).

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

/// `ln u` for u in (0, 1), to a few ulps of the result everywhere. GPUs promise only an
/// absolute error for `log` on [0.5, 2] (2⁻²¹ in WGSL), which near u = 1, where `ln u` is tiny,
/// is no relative accuracy at all; Box–Muller's small radii come from there. So above 0.5 the
/// logarithm is `−2·atanh(s)` with `s = (1 − u)/(1 + u) ≤ 1/3` (`1 − u` is exact there), summed
/// as its series to s¹⁷ (the rest is below 10⁻¹⁰ relative). Below 0.5 it is the platform's
/// `ln`. The WGSL twin is `ln_open` in philox.wgsl.
#[inline]
pub fn ln_open(u: f32) -> f32 {
    if u < 0.5 {
        return u.ln();
    }
    let s = (1.0 - u) / (1.0 + u);
    let s2 = s * s;
    let mut p = 1.0 / 17.0;
    for odd in [15.0f32, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
        p = 1.0 / odd + s2 * p;
    }
    -2.0 * s * p
}

/// Four standard normals from four words: Box–Muller on (w0, w1) and on (w2, w3), giving
/// `r·cos θ, r·sin θ` for each pair, with `r = √(−2 ln u)` and `θ = π·(2v − 1)` in (−π, π), the
/// range where GPUs compute `cos` and `sin` most accurately. Every step is an f32 operation
/// the WGSL version performs in the same order.
#[inline]
pub fn box_muller(w: [u32; 4]) -> [f32; 4] {
    let pair = |a: u32, b: u32| {
        let r = (-2.0 * ln_open(uniform_open(a))).sqrt();
        let theta = std::f32::consts::PI * (2.0 * uniform_open(b) - 1.0);
        (r * theta.cos(), r * theta.sin())
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

    #[test]
    fn ln_open_is_accurate_to_a_few_ulps_near_one_and_below_a_half() {
        let mut worst = 0.0f64;
        for x in [1u32, 2, 3, 1000, 1 << 20, 1 << 22, (1 << 23) - 1, 1 << 23, (1 << 24) - 1, 7_654_321, 12_345_678] {
            let u = (x * 2 - 1) as f32 / 16_777_216.0; // the uniforms uniform_open gives
            let want = f64::from(u).ln();
            let ulp = f64::from(f32::EPSILON) * want.abs();
            worst = worst.max((f64::from(ln_open(u)) - want).abs() / ulp);
        }
        assert!(worst < 4.0, "ln_open is {worst} ulps off");
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
