//! The goodness classifier on the GPU (algorithm.md §11.1, `Pff::goodness_scores`): every image
//! under every class hypothesis (rows hypothesis-major, row c·n + i is image i under class c),
//! settled without noise from the forward states for ⌊K/2⌋ + 1 steps, scoring −½(‖z1‖² + ‖z2‖²)
//! over the window. Per chunk: x̂ (1 dispatch), the forward pass (4), 6 per step and 1 per
//! windowed step; the scores (n·C floats) are the only readback.
//!
//! Unlike the CPU, which computes the hypothesis-independent work once per image, this settles
//! the tiled rows throughout (C times the products of the first step): simpler, and on a GPU
//! the products are not where the time goes at these sizes.

use super::device::{Gpu, GpuError};
use super::kernel::{Kernel, uniform};
use super::matrix::GpuMatrix;
use super::settle::{GpuRepresentation, GpuState, Settle, StepScratch};
use crate::config::Config;
use ndarray::{Array2, ArrayView2, Axis, concatenate, s};

/// Images per classifier chunk, as on the CPU: n·C rows must stay below the 65535 workgroups a
/// row kernel may launch.
pub const CHUNK: usize = 500;

/// The compiled kernels of the classifier.
pub struct Classifier {
    settle: Settle,
    score: Kernel,
}

impl Classifier {
    pub fn new(gpu: &Gpu) -> Result<Classifier, GpuError> {
        Ok(Classifier { settle: Settle::new(gpu)?, score: Kernel::new(gpu, "score", include_str!("kernels/score.wgsl"), "main")? })
    }

    /// The scores (n×C) of the images `x` (n×D, pixels), as `Pff::goodness_scores` gives them
    /// (the window sum, /3), in chunks of [`CHUNK`] images, and the number of dispatches.
    pub async fn scores(&self, gpu: &Gpu, cfg: &Config, rep: &GpuRepresentation, x: ArrayView2<'_, f32>) -> Result<(Array2<f32>, usize), GpuError> {
        let mut out = Array2::zeros((x.nrows(), cfg.classes));
        let mut dispatches = 0;
        for (i, chunk) in x.axis_chunks_iter(Axis(0), CHUNK).enumerate() {
            let (scores, d) = self.chunk_scores(gpu, cfg, rep, chunk).await?;
            out.slice_mut(s![i * CHUNK..i * CHUNK + chunk.nrows(), ..]).assign(&scores);
            dispatches += d;
        }
        Ok((out, dispatches))
    }

    /// [`Classifier::scores`] of at most [`CHUNK`] images.
    async fn chunk_scores(&self, gpu: &Gpu, cfg: &Config, rep: &GpuRepresentation, x: ArrayView2<'_, f32>) -> Result<(Array2<f32>, usize), GpuError> {
        let (n, c, h) = (x.nrows(), cfg.classes, cfg.hidden);
        let rows = n * c;
        let tiled = concatenate(Axis(0), &vec![x; c]).expect("same widths");
        let mut y_hat = Array2::<f32>::zeros((rows, c));
        for class in 0..c {
            y_hat.slice_mut(s![class * n..(class + 1) * n, class]).fill(cfg.y_scale as f32);
        }
        let (xs, ys) = (GpuMatrix::upload(gpu, tiled.view()), GpuMatrix::upload(gpu, y_hat.view()));
        let x_hat = GpuMatrix::zeros(gpu, rows, cfg.input_dim);
        let (zeros, scratch) = (GpuState::zeros(gpu, rows, h), StepScratch::new(gpu, rows, h));
        let mut states = [GpuState::zeros(gpu, rows, h), GpuState::zeros(gpu, rows, h)];
        let score = GpuMatrix::zeros(gpu, rows, 1);
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("classify") });
        self.settle.encode_nrm(gpu, &mut encoder, &xs, &x_hat, &GpuMatrix::zeros(gpu, rows, 1))?;
        let mut dispatches = 1 + self.settle.encode_forward(gpu, &mut encoder, rep, &x_hat, &zeros, &scratch, &states[0])?;
        let (low, high) = cfg.classifier_window();
        for k in 0..high {
            let [prev, next] = &states;
            dispatches += self.settle.encode_step(gpu, &mut encoder, cfg, rep, (&x_hat, &ys), prev, &scratch, next, None)?;
            if k >= low {
                let params = uniform(gpu, &[rows as u32]);
                self.score.encode(gpu, &mut encoder, &[&params, &next.z1.sq.buffer, &next.z2.sq.buffer, &score.buffer], [rows.div_ceil(64) as u32, 1, 1]);
                dispatches += 1;
            }
            states.swap(0, 1);
        }
        gpu.queue.submit([encoder.finish()]);
        let flat = score.read(gpu).await?;
        let out = Array2::from_shape_fn((n, c), |(i, class)| flat[[class * n + i, 0]] / 3.0);
        Ok((out, dispatches))
    }
}
