//! # pff: the Predictive Forward-Forward algorithm
//!
//! A faithful Rust port of the PFF dual-circuit system (Ororbia & Mali, "The Predictive
//! Forward-Forward Algorithm", 2023), following the project's specification of record and the
//! authors' reference code. `docs/algorithm.md` in this repository describes the algorithm as
//! implemented; every section reference in the code (the section sign and a number) names one
//! of its headings.
//!
//! * [`model`]: the representation circuit (recurrent, lateral competition, noise, leak,
//!   goodness-based local losses) and the generative circuit (local predictive coding), with
//!   their hand-derived local gradients.
//! * [`train`]: Adam in TensorFlow's form and the K-step update schedule.
//! * [`run`]: one training run (epochs, dev evaluation, best model, history, test, prior),
//!   driven by the CLI and by the page alike.
//! * [`generate`]: the prior fit, dreaming, interpolation and the latent map.
//! * [`tsne`]: the Barnes–Hut t-SNE map of the latents, drawn in steps.
//! * [`catalog`]: the presets, defaults and limits the front ends offer.
//! * [`infer`]: the goodness classifier, the forward head, reconstruction, latents, sampling.
//! * [`gmm`]: the Gaussian-mixture prior over top latents used to generate digits.
//! * [`checkpoint`]: the safetensors weights format shared by the CLI and the web page.
//! * [`data`]: MNIST-style IDX parsing and the project's compressed shard format.
//! * [`counter_rng`]: Philox4x32-10 noise addressed by (seed, batch, step, purpose, element),
//!   the same bits on the CPU and the GPU.
//! * [`noise`]: which generator a run's settling noise comes from (Philox by default).
//! * [`linalg`]: the one seam every matrix product goes through.
//! * `gpu` (feature `gpu`): the GPU engine, WGSL kernels run through wgpu on buffers that stay
//!   on the GPU, natively (Vulkan, Metal, DX12, GL) and in the page's `webgpu` build.
//! * [`blocking`]: the GPU's readbacks are async (the browser can only await them); native code
//!   drives them with [`blocking::block_on`].
//!
//! The core is pure computation on byte slices and arrays: no files, no network, no terminal.
//! Those live in [`native`] (feature `cli`, never compiled for wasm32), and the whole
//! JavaScript-facing surface lives in `web` (wasm32 only).

pub mod data;
pub mod error;

// wgpu's handles are not Send/Sync in a shared-memory build (gfx-rs/wgpu#6267), and its
// `fragile-send-sync-non-atomic-wasm` feature silently does nothing there: a GPU page build is a
// build without atomics.
#[cfg(all(feature = "gpu", target_arch = "wasm32", target_feature = "atomics"))]
compile_error!("feature `gpu` cannot go into an atomics (threads) wasm build: build the GPU page build without .cargo/threads.toml");

#[cfg(all(feature = "cli", not(target_arch = "wasm32")))]
pub mod native;

pub use error::{ErrorKind, PffError, Result};

pub mod blocking;
pub mod catalog;
pub mod checkpoint;
pub mod config;
pub mod counter_rng;
pub mod generate;
pub mod gmm;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod infer;
pub mod init;
pub mod lateral;
pub mod linalg;
pub mod model;
pub mod noise;
pub mod ops;
pub mod real;
pub mod rng;
pub mod run;
pub mod train;
pub mod tsne;
pub mod urlpath;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use config::Config;
pub use model::Pff;
