//! The GPU engine (feature `gpu`, issue 24): pff's arithmetic as WGSL compute kernels run
//! through wgpu.
//!
//! Why a separate engine rather than a GPU path behind [`crate::linalg::gemm`]: a GPU only pays
//! off when the data stays on it. A product that uploads its operands and reads its result back
//! spends more time on the bus than on the arithmetic, and in the browser a readback cannot even
//! block (`mapAsync` is asynchronous). So parameters, states and batches live in GPU buffers
//! ([`GpuMatrix`]), one training step is recorded as a few dispatches, and only the scalars that
//! are asked for are read back.
//!
//! The kernels live in `kernels/*.wgsl`, written once for the native build (Vulkan, Metal, DX12
//! or GL, whichever wgpu finds) and the page's `webgpu` build (the browser's WebGPU). They are
//! compiled into the binary with `include_str!`.
//!
//! Readbacks are async ([`matrix::read_words`]), since in the browser they can only be awaited;
//! native code waits for them with [`crate::blocking::block_on`]. A few native-only helpers
//! (`GpuMatrix::download`, the report's reconstructions and settle traces, `pff bench`'s
//! timers) wait themselves.
//!
//! * [`device`]: finding an adapter and opening a device; a missing adapter is an error that says
//!   how to get one, never a silent fallback to the CPU.
//! * [`matrix`]: [`GpuMatrix`], a row-major f32 matrix in a storage buffer, with upload and
//!   download for tests and checkpoints.
//! * [`kernel`]: one compiled entry point and its dispatch, shared by all kernels.
//! * [`gemm`]: the tiled matrix product with its transposed variants.
//! * [`noise`]: the Philox noise streams of [`crate::counter_rng`], drawn on the GPU.
//! * [`settle`]: one settling step of the representation circuit, as six dispatches.
//! * [`grads`]: that step's losses and local gradients, as fourteen more.
//! * [`generative`]: one step of the generative circuit and the top latent's update.
//! * [`adam`]: Adam's update, one dispatch per tensor.
//! * [`train`]: one training batch, all of the above in one command buffer.
//! * [`classify`]: the goodness classifier, every class hypothesis settled at once.
//! * [`evaluate`]: a labelled set evaluated with that classifier.
//! * [`inference`]: the top latents (for the prior) and reconstructions.
//! * [`timing`]: timestamp queries around one pass, for `pff bench`.

pub mod adam;
pub mod classify;
pub mod device;
pub mod evaluate;
pub mod gemm;
pub mod generative;
pub mod grads;
pub mod inference;
pub mod kernel;
pub mod matrix;
pub mod noise;
pub mod settle;
pub mod timing;
pub mod train;

pub use adam::GpuAdam;
pub use classify::Classifier;
pub use device::{Gpu, GpuError, GpuErrorKind};
pub use evaluate::GpuEvaluator;
pub use gemm::{Gemm, Op};
pub use generative::{GenNoise, GenScratch, GenStep, GpuGenerative};
pub use grads::{GpuBatch, GradScratch, RepGrads};
pub use inference::Inference;
pub use matrix::GpuMatrix;
pub use noise::Noise;
pub use settle::{GpuRepresentation, GpuState, Settle, StepNoise, StepScratch};
pub use timing::PassTimer;
pub use train::{GpuBatchReport, GpuTrainer};
