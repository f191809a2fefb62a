//! Which generator a training run draws its settling noise from (algorithm.md §4, §7).
//!
//! A run's noise is addressed by (seed, batch, step, purpose, element) either way; what differs
//! is the generator behind the address:
//!
//! * [`NoiseStream::Philox`], the default: the counter-based Philox4x32-10 streams of
//!   [`crate::counter_rng`], which the GPU engine draws too, so one run may train on either
//!   device and resume on the other.
//! * [`NoiseStream::PcgBlocks`]: PCG generators seeded per block of 32 rows ([`crate::rng`]),
//!   the stream of every run started before version 2 of the training state. Such a run
//!   resumes on it (the state says so), on the CPU only; a new run may ask for it by name.
//!
//! Both give N(0, std²) draws; neither is the reference code's generator (TensorFlow's), so the
//! choice changes seeded results, not the algorithm.

use crate::counter_rng::{self, StreamKey, ln_open, sin_cos_turn, uniform_open};
use crate::error::{PffError, Result};
use crate::rng;
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The generator of a run's training noise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseStream {
    /// Philox4x32-10, shared with the GPU engine.
    #[default]
    Philox,
    /// PCG blocks, the stream of runs started before training state version 2.
    PcgBlocks,
}

/// Purposes mixed into the PCG blocks' seeds (the Philox streams put the purpose in the counter).
const RNG_NOISE: u64 = 3;

/// Elements per parallel task of a Philox fill (a multiple of 4: one Philox block is 4 elements).
const PHILOX_CHUNK: usize = 1 << 14;

impl NoiseStream {
    pub const NAMES: [&'static str; 2] = ["philox", "pcg-blocks"];

    /// The stream of a run whose stored state names none: one started before states did.
    pub fn before_version_2() -> NoiseStream {
        NoiseStream::PcgBlocks
    }

    pub fn name(self) -> &'static str {
        match self {
            NoiseStream::Philox => "philox",
            NoiseStream::PcgBlocks => "pcg-blocks",
        }
    }

    /// The stream called `name` (as on the command line).
    pub fn named(name: &str) -> Result<NoiseStream> {
        match name {
            "philox" => Ok(NoiseStream::Philox),
            "pcg-blocks" => Ok(NoiseStream::PcgBlocks),
            _ => Err(PffError::Config(format!("unknown noise stream '{name}' (one of: {})", Self::NAMES.join(", ")))),
        }
    }

    /// The noise (rows × cols, standard deviation `std`) of settling step `step` of the batch
    /// `batch` (its key) for `purpose`: 0 and 1 for the representation layers, 2 and 3 for the
    /// generative ones. Element `(i, j)` is element `i·cols + j` of its stream.
    pub fn draw(self, seed: u64, batch: u64, step: u64, purpose: u64, (rows, cols): (usize, usize), std: f64) -> Array2<f32> {
        match self {
            NoiseStream::Philox => {
                let key = StreamKey { seed, batch, step: step as u32, purpose: purpose as u32 };
                let mut values = vec![0f32; rows * cols];
                philox_normals(&key, &mut values, std as f32);
                Array2::from_shape_vec((rows, cols), values).expect("rows × cols values")
            }
            NoiseStream::PcgBlocks => rng::normal::<f32>(rows, cols, std as f32, rng::derive(seed, &[RNG_NOISE, batch, step, purpose])),
        }
    }
}

/// `out` ← N(0, std²) draws for elements `0..out.len()` of the stream: [`StreamKey::normals`],
/// bit for bit, filled in parallel chunks of [`LANES`] Philox blocks at a time (the values do not
/// depend on the chunking).
pub fn philox_normals(key: &StreamKey, out: &mut [f32], std: f32) {
    let fill = |(c, chunk): (usize, &mut [f32])| fill_from(key, (c * PHILOX_CHUNK / 4) as u32, chunk, std);
    if crate::ops::parallel(out.len()) {
        out.par_chunks_mut(PHILOX_CHUNK).enumerate().for_each(fill);
    } else {
        out.chunks_mut(PHILOX_CHUNK).enumerate().for_each(fill);
    }
}

/// Philox blocks computed side by side: the rounds and Box–Muller run lane by lane over arrays,
/// which the compiler vectorises (the scalar [`counter_rng::box_muller`] does not).
const LANES: usize = 16;

/// `out` ← the stream's normals from block `first` on, times `std`.
fn fill_from(key: &StreamKey, first: u32, out: &mut [f32], std: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2. The same IEEE operations as the generic code (AVX2 has no
        // fused multiply-add, and Rust does not contract), so the same bits.
        return unsafe { fill_from_avx2(key, first, out, std) };
    }
    fill_lanes(key, first, out, std)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_from_avx2(key: &StreamKey, first: u32, out: &mut [f32], std: f32) {
    fill_lanes(key, first, out, std)
}

#[inline(always)]
fn fill_lanes(key: &StreamKey, first: u32, out: &mut [f32], std: f32) {
    let mut z = [0f32; 4 * LANES];
    for (g, group) in out.chunks_mut(4 * LANES).enumerate() {
        let words = philox_lanes(key, first + (g * LANES) as u32);
        for pair in 0..2 {
            let (radii, angles) = (&words[2 * pair], &words[2 * pair + 1]);
            for i in 0..LANES {
                let r = (-2.0 * ln_open(uniform_open(radii[i]))).sqrt();
                let (cos, sin) = sin_cos_turn(uniform_open(angles[i]));
                z[4 * i + 2 * pair] = r * cos * std;
                z[4 * i + 2 * pair + 1] = r * sin * std;
            }
        }
        group.copy_from_slice(&z[..group.len()]);
    }
}

/// Philox4x32-10 of `LANES` consecutive blocks from `first`: word `w` of block `first + i` is
/// `out[w][i]` ([`counter_rng::philox4x32_10`], lane by lane).
#[inline(always)]
fn philox_lanes(key: &StreamKey, first: u32) -> [[u32; LANES]; 4] {
    let [_, c1, c2, c3] = key.counter(0);
    let mut x0: [u32; LANES] = std::array::from_fn(|i| first.wrapping_add(i as u32));
    let (mut x1, mut x2, mut x3) = ([c1; LANES], [c2; LANES], [c3; LANES]);
    let [mut k0, mut k1] = key.key();
    for round in 0..counter_rng::ROUNDS {
        if round > 0 {
            (k0, k1) = (k0.wrapping_add(counter_rng::W0), k1.wrapping_add(counter_rng::W1));
        }
        for i in 0..LANES {
            let p0 = u64::from(counter_rng::M0) * u64::from(x0[i]);
            let p1 = u64::from(counter_rng::M1) * u64::from(x2[i]);
            (x0[i], x1[i], x2[i], x3[i]) = ((p1 >> 32) as u32 ^ x1[i] ^ k0, p1 as u32, (p0 >> 32) as u32 ^ x3[i] ^ k1, p0 as u32);
        }
    }
    [x0, x1, x2, x3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parallel_philox_fill_is_the_stream() {
        let key = StreamKey { seed: 9, batch: 1 << 32 | 2, step: 3, purpose: 1 };
        for n in [0, 1, 5, 4 * LANES + 3, PHILOX_CHUNK - 1, PHILOX_CHUNK + 3, 3 * PHILOX_CHUNK + 6] {
            let mut out = vec![0f32; n];
            philox_normals(&key, &mut out, 0.5);
            assert_eq!(out, key.normals(n, 0.5), "n = {n}");
        }
    }

    #[test]
    fn the_generic_lanes_are_the_stream_too() {
        let key = StreamKey { seed: u64::MAX - 3, batch: 77, step: 11, purpose: 2 };
        let mut out = vec![0f32; 4 * LANES * 3 + 2];
        fill_lanes(&key, 5, &mut out, 1.0);
        let want = key.normals(out.len() + 20, 1.0);
        assert_eq!(out, want[20..]);
    }

    #[test]
    fn a_draw_is_row_major_over_its_stream() {
        let z = NoiseStream::Philox.draw(5, 7, 2, 3, (3, 5), 0.1);
        let key = StreamKey { seed: 5, batch: 7, step: 2, purpose: 3 };
        assert_eq!(z.as_slice().unwrap(), &key.normals(15, 0.1)[..]);
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for s in [NoiseStream::Philox, NoiseStream::PcgBlocks] {
            assert_eq!(NoiseStream::named(s.name()).unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.name()));
        }
        let e = NoiseStream::named("mt19937").unwrap_err();
        assert!(e.to_string().contains("philox, pcg-blocks"), "{e}");
    }

    #[test]
    fn the_two_streams_differ() {
        let a = NoiseStream::Philox.draw(1, 0, 0, 0, (4, 8), 1.0);
        let b = NoiseStream::PcgBlocks.draw(1, 0, 0, 0, (4, 8), 1.0);
        assert_ne!(a, b);
    }
}
