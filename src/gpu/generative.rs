//! One step of the generative circuit on the GPU (algorithm.md §8, `Generative::train_step`),
//! with the top latent's update folded in (§9 step 7), as fourteen dispatches:
//!
//! * the generator's inputs `u = nrm(relu(z_g))`, `a2 = nrm(relu(z2 + n2))`,
//!   `a1 = nrm(relu(z1 + n1))` (`gen_input`, Philox noise): 3;
//! * the predictions `u·Gy`, `a2·G2`, `a1·G1` (gemm): 3;
//! * the three errors, scaled by 2/N, with per-row squared errors (`gen_error`): 3;
//! * the gradients `uᵀe2, a1ᵀe0, a2ᵀe1` (gemm, Aᵀ): 3; `gu = e2·Gyᵀ` (gemm, Bᵀ): 1;
//! * `d_z` and `z_g ← z_g − β·d_z` (`latent`): 1.

use super::device::{Gpu, GpuError, GpuErrorKind};
use super::gemm::{Gemm, Op};
use super::kernel::{Kernel, uniform, with_rowsum};
use super::matrix::GpuMatrix;
use super::noise::with_philox;
use super::settle::GpuState;
use crate::config::Config;
use crate::counter_rng::StreamKey;
use crate::model::Generative;

/// Dispatches recorded by [`GenStep::encode`].
pub const DISPATCHES: usize = 14;

/// The generative circuit's parameters on the GPU.
pub struct GpuGenerative {
    /// Top latent → prediction of layer 2 (G×H).
    pub gy: GpuMatrix,
    /// Layer 1 → prediction of x (H×D).
    pub g1: GpuMatrix,
    /// Layer 2 → prediction of layer 1 (H×H).
    pub g2: GpuMatrix,
}

impl GpuGenerative {
    pub fn upload(gpu: &Gpu, g: &Generative<f32>) -> GpuGenerative {
        GpuGenerative { gy: GpuMatrix::upload(gpu, g.gy.view()), g1: GpuMatrix::upload(gpu, g.g1.view()), g2: GpuMatrix::upload(gpu, g.g2.view()) }
    }

    pub fn zeros(gpu: &Gpu, cfg: &Config) -> GpuGenerative {
        let (d, h, g) = (cfg.input_dim, cfg.hidden, cfg.latent);
        GpuGenerative { gy: GpuMatrix::zeros(gpu, g, h), g1: GpuMatrix::zeros(gpu, h, d), g2: GpuMatrix::zeros(gpu, h, h) }
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn download(&self, gpu: &Gpu) -> Result<Generative<f32>, GpuError> {
        Ok(Generative { gy: self.gy.download(gpu)?, g1: self.g1.download(gpu)?, g2: self.g2.download(gpu)? })
    }

    /// The tensors in `ParamSet::NAMES` order (Gy, G1, G2).
    pub fn tensors(&self) -> [&GpuMatrix; 3] {
        [&self.gy, &self.g1, &self.g2]
    }
}

/// The noise of one generator step: one Philox stream per layer (n1, n2), and the std ε_g.
#[derive(Clone, Copy, Debug)]
pub struct GenNoise {
    pub layer1: StreamKey,
    pub layer2: StreamKey,
    pub std: f32,
}

/// The intermediate values of one generator step, and its outputs besides the gradients.
pub struct GenScratch {
    /// nrm(relu(z_g)) (N×G), nrm(relu(z2 + n2)) and nrm(relu(z1 + n1)) (N×H).
    pub u: GpuMatrix,
    pub a2: GpuMatrix,
    pub a1: GpuMatrix,
    /// Predictions of z2, z1 (N×H) and x (N×D), before their activations.
    pub p2: GpuMatrix,
    pub p1: GpuMatrix,
    pub p0: GpuMatrix,
    /// Errors scaled by 2/N.
    pub e2: GpuMatrix,
    pub e1: GpuMatrix,
    pub e0: GpuMatrix,
    /// e2·Gyᵀ (N×G) and the latent's descent direction d_z (N×G).
    pub gu: GpuMatrix,
    pub d_z: GpuMatrix,
    /// Per-row squared errors (N×1): input, layer 1, layer 2.
    pub loss0: GpuMatrix,
    pub loss1: GpuMatrix,
    pub loss2: GpuMatrix,
}

impl GenScratch {
    pub fn new(gpu: &Gpu, cfg: &Config, n: usize) -> GenScratch {
        let (d, h, g) = (cfg.input_dim, cfg.hidden, cfg.latent);
        let m = |r, c| GpuMatrix::zeros(gpu, r, c);
        GenScratch {
            u: m(n, g),
            a2: m(n, h),
            a1: m(n, h),
            p2: m(n, h),
            p1: m(n, h),
            p0: m(n, d),
            e2: m(n, h),
            e1: m(n, h),
            e0: m(n, d),
            gu: m(n, g),
            d_z: m(n, g),
            loss0: m(n, 1),
            loss1: m(n, 1),
            loss2: m(n, 1),
        }
    }

    /// The step's losses as `model::GenLoss` reports them (input, layer 1, layer 2; means of
    /// per-image squared errors): reads back 3·N floats.
    pub async fn losses(&self, gpu: &Gpu) -> Result<[f64; 3], GpuError> {
        let rows = super::matrix::read_all(gpu, &self.loss_rows()).await?;
        Ok(GenScratch::losses_of([&rows[0], &rows[1], &rows[2]]))
    }

    /// The per-row loss buffers: input, layer 1, layer 2.
    pub fn loss_rows(&self) -> [&GpuMatrix; 3] {
        [&self.loss0, &self.loss1, &self.loss2]
    }

    /// The losses from the rows of [`GenScratch::loss_rows`].
    pub fn losses_of(rows: [&[f32]; 3]) -> [f64; 3] {
        rows.map(|r| r.iter().map(|&v| f64::from(v)).sum::<f64>() / r.len() as f64)
    }
}

/// The compiled kernels of the generator step.
pub struct GenStep {
    gemm: Gemm,
    input: Kernel,
    error: Kernel,
    latent: Kernel,
}

impl GenStep {
    pub fn new(gpu: &Gpu) -> Result<GenStep, GpuError> {
        Ok(GenStep {
            gemm: Gemm::new(gpu)?,
            input: Kernel::new(gpu, "gen_input", &with_philox(&with_rowsum(include_str!("kernels/gen_input.wgsl"))), "main")?,
            error: Kernel::new(gpu, "gen_error", &with_rowsum(include_str!("kernels/gen_error.wgsl")), "main")?,
            latent: Kernel::new(gpu, "latent", include_str!("kernels/latent.wgsl"), "main")?,
        })
    }

    /// Records one generator step on the representation state `target` (the new z1, z2 of the
    /// same step), the images `x` (N×D, unnormalised) and the top latent `z_g` (N×G), which it
    /// updates in place by `−β·d_z`. Gradients go to `grads`. Returns the dispatch count.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        cfg: &Config,
        params: &GpuGenerative,
        (x, target, z_g): (&GpuMatrix, &GpuState, &GpuMatrix),
        noise: Option<GenNoise>,
        s: &GenScratch,
        grads: &GpuGenerative,
    ) -> Result<usize, GpuError> {
        let n = x.rows;
        if n > 65_535 || z_g.rows != n || target.z1.z.rows != n {
            return Err(GpuError::new(GpuErrorKind::Shape, format!("generator step: x has {n} rows, z_g {}, the state {}", z_g.rows, target.z1.z.rows)));
        }
        let inputs = [(z_g, &s.u, None), (&target.z2.z, &s.a2, noise.map(|e| (e.layer2, e.std))), (&target.z1.z, &s.a1, noise.map(|e| (e.layer1, e.std)))];
        for (src, out, stream) in inputs {
            let (noisy, words) = match stream {
                Some((key, std)) => (1, key.words(src.len() as u32, std)),
                None => (0, [0; 8]),
            };
            let mut all = vec![n as u32, src.cols as u32, noisy, 0];
            all.extend_from_slice(&words);
            let params = uniform(gpu, &all);
            self.input.encode(gpu, encoder, &[&params, &src.buffer, &out.buffer], [n as u32, 1, 1]);
        }
        let g = &self.gemm;
        g.encode(gpu, encoder, 1.0, (&s.u, Op::N), (&params.gy, Op::N), 0.0, &s.p2)?;
        g.encode(gpu, encoder, 1.0, (&s.a2, Op::N), (&params.g2, Op::N), 0.0, &s.p1)?;
        g.encode(gpu, encoder, 1.0, (&s.a1, Op::N), (&params.g1, Op::N), 0.0, &s.p0)?;
        let two_n = (2.0 / n as f64) as f32;
        let errors = [(&s.p2, &target.z2.z, &s.e2, &s.loss2, 0), (&s.p1, &target.z1.z, &s.e1, &s.loss1, 0), (&s.p0, x, &s.e0, &s.loss0, 1)];
        for (pred, truth, err, loss, mode) in errors {
            let params = uniform(gpu, &[n as u32, pred.cols as u32, mode, two_n.to_bits()]);
            self.error.encode(gpu, encoder, &[&params, &pred.buffer, &truth.buffer, &err.buffer, &loss.buffer], [n as u32, 1, 1]);
        }
        g.encode(gpu, encoder, 1.0, (&s.u, Op::T), (&s.e2, Op::N), 0.0, &grads.gy)?;
        g.encode(gpu, encoder, 1.0, (&s.a1, Op::T), (&s.e0, Op::N), 0.0, &grads.g1)?;
        g.encode(gpu, encoder, 1.0, (&s.a2, Op::T), (&s.e1, Op::N), 0.0, &grads.g2)?;
        g.encode(gpu, encoder, 1.0, (&s.e2, Op::N), (&params.gy, Op::T), 0.0, &s.gu)?;
        let latent = uniform(gpu, &[n as u32, z_g.cols as u32, (cfg.beta as f32).to_bits()]);
        self.latent.encode(gpu, encoder, &[&latent, &z_g.buffer, &s.gu.buffer, &s.d_z.buffer], [n as u32, 1, 1]);
        Ok(DISPATCHES)
    }
}

/// Dispatches recorded by [`GenStep::encode_latent_step`].
pub const LATENT_STEP_DISPATCHES: usize = 5;

impl GenStep {
    /// Records `out ← nrm(relu(src))` (one dispatch, no noise): the generator's view of a state.
    pub fn encode_input(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, src: &GpuMatrix, out: &GpuMatrix) {
        let mut words = vec![src.rows as u32, src.cols as u32, 0, 0];
        words.extend_from_slice(&[0; 8]);
        let params = uniform(gpu, &words);
        self.input.encode(gpu, encoder, &[&params, &src.buffer, &out.buffer], [src.rows as u32, 1, 1]);
    }

    /// Records one descent step of the top latent toward `target` (z2, N×H) alone, as
    /// `Generative::latent_direction` and `z_g −= β·d` (algorithm.md §12.1): the top-down
    /// prediction, its error, `e2·Gyᵀ` and the latent step, [`LATENT_STEP_DISPATCHES`] of them.
    pub fn encode_latent_step(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        cfg: &Config,
        params: &GpuGenerative,
        (target, z_g): (&GpuMatrix, &GpuMatrix),
        s: &GenScratch,
    ) -> Result<usize, GpuError> {
        let n = z_g.rows;
        self.encode_input(gpu, encoder, z_g, &s.u);
        self.gemm.encode(gpu, encoder, 1.0, (&s.u, Op::N), (&params.gy, Op::N), 0.0, &s.p2)?;
        let two_n = (2.0 / n as f64) as f32;
        let error = uniform(gpu, &[n as u32, target.cols as u32, 0, two_n.to_bits()]);
        self.error.encode(gpu, encoder, &[&error, &s.p2.buffer, &target.buffer, &s.e2.buffer, &s.loss2.buffer], [n as u32, 1, 1]);
        self.gemm.encode(gpu, encoder, 1.0, (&s.e2, Op::N), (&params.gy, Op::T), 0.0, &s.gu)?;
        let latent = uniform(gpu, &[n as u32, z_g.cols as u32, (cfg.beta as f32).to_bits()]);
        self.latent.encode(gpu, encoder, &[&latent, &z_g.buffer, &s.gu.buffer, &s.d_z.buffer], [n as u32, 1, 1]);
        Ok(LATENT_STEP_DISPATCHES)
    }
}
