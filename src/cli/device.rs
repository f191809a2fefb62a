//! `--device`: where a command computes. `train`, `eval`, `report` and `bench` take the GPU
//! (for `report`: the evaluation, the reconstructions and the latents of the maps; the mixture,
//! the maps themselves and the figures are CPU work); the rest run on the CPU. A missing adapter, or a build without the GPU engine, is an error
//! that says so: pff never falls back to the CPU on its own.

use ndarray::{Array2, ArrayView2};
#[cfg(feature = "gpu")]
use pff::blocking::block_on;
use pff::checkpoint::Checkpoint;
use pff::data::Dataset;
use pff::infer::Evaluation;
use pff::{PffError, Result};
use std::ops::Range;

/// The device a command was given.
pub enum Device {
    Cpu,
    #[cfg(feature = "gpu")]
    Gpu(Box<pff::gpu::Gpu>),
}

impl Device {
    /// The device `--device` names (`gpu` opens the adapter now, before anything is read).
    pub fn open(on_gpu: bool) -> Result<Device> {
        if !on_gpu {
            return Ok(Device::Cpu);
        }
        #[cfg(feature = "gpu")]
        {
            Ok(Device::Gpu(Box::new(pff::gpu::Gpu::new()?)))
        }
        #[cfg(not(feature = "gpu"))]
        Err(PffError::Device("this pff was built without the GPU engine: build it with `cargo build --release --features gpu`".into()))
    }

    /// The GPU, for `train`; `None` on the CPU.
    #[cfg(feature = "gpu")]
    pub fn into_gpu(self) -> Option<pff::gpu::Gpu> {
        match self {
            Device::Cpu => None,
            Device::Gpu(gpu) => Some(*gpu),
        }
    }

    /// What the device is, for the output: `cpu`, or the adapter.
    pub fn describe(&self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            #[cfg(feature = "gpu")]
            Device::Gpu(gpu) => format!("gpu: {}", gpu.describe()),
        }
    }

    /// Images `rows` of `data` evaluated with `ck`'s model: on the GPU, the goodness
    /// classifier runs there (`pff::gpu::GpuEvaluator`).
    pub fn evaluate(&self, ck: &Checkpoint, data: &Dataset, rows: Range<usize>) -> Result<Evaluation> {
        match self {
            Device::Cpu => Ok(ck.model.evaluate_dataset(data, rows)),
            #[cfg(feature = "gpu")]
            Device::Gpu(gpu) => Ok(block_on(pff::gpu::GpuEvaluator::new(gpu, &ck.model)?.evaluate_dataset(gpu, &ck.model, data, rows))?),
        }
    }
}

impl Device {
    /// The top latents of images `x` (the latent maps' input).
    pub fn latents(&self, ck: &Checkpoint, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        match self {
            Device::Cpu => Ok(ck.model.latents(x)),
            #[cfg(feature = "gpu")]
            Device::Gpu(gpu) => Ok(block_on(pff::gpu::Inference::new(gpu, &ck.model)?.latents(gpu, &ck.model, x))?),
        }
    }

    /// The reconstructions of images `x`.
    pub fn reconstruct(&self, ck: &Checkpoint, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        match self {
            Device::Cpu => Ok(ck.model.reconstruct(x)),
            #[cfg(feature = "gpu")]
            Device::Gpu(gpu) => Ok(pff::gpu::Inference::new(gpu, &ck.model)?.reconstruct(gpu, &ck.model, x)?),
        }
    }
}

/// Refuses `--device gpu` for a command that has no GPU path.
pub fn cpu_only(command: &str, on_gpu: bool) -> Result<()> {
    if on_gpu {
        return Err(PffError::Input(format!("--device gpu works with train, eval, report and bench; `pff {command}` runs on the CPU (leave --device out)")));
    }
    Ok(())
}
