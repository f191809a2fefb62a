//! The generative circuit (algorithm.md §8): predictions of each layer from the one above,
//! their squared errors, the gradients of θ_g and the top-latent step.

use super::{GenLoss, GenStep, Generative, LayerNoise, ParamSet, State};
use crate::config::Config;
use crate::init;
use crate::linalg::{gemm, matmul};
use crate::ops::{self, nrm, relu, row_sq_sums};
use crate::real::Real;
use crate::rng::Rng;

use ndarray::{Array1, Array2, ArrayView2, Zip};

/// `nrm(φ(z + noise))`: the generator's view of a representation state.
fn generator_input<T: Real>(z: ArrayView2<'_, T>, noise: Option<ArrayView2<'_, T>>) -> Array2<T> {
    let mut a = z.to_owned();
    match noise {
        Some(n) => crate::zip_each!(a.len(), Zip::from(&mut a).and(n), |a, &e| *a = relu(*a + e)),
        None => ops::map_inplace(&mut a, relu),
    }
    ops::nrm_inplace(&mut a);
    a
}

/// Mean over rows of the squared row norms of `e`.
fn mean_sq<T: Real>(e: &Array2<T>) -> f64 {
    row_sq_sums(e.view()).iter().map(|v| v.f64()).sum::<f64>() / e.nrows().max(1) as f64
}

impl<T: Real> Generative<T> {
    /// Initialises θ_g: U[0, 0.05) everywhere (algorithm.md §1.2).
    pub fn init(cfg: &Config, rng: &mut Rng) -> Self {
        let (d, h, g) = (cfg.input_dim, cfg.hidden, cfg.latent);
        Generative { gy: init::uniform(g, h, 0.05, rng), g1: init::uniform(h, d, 0.05, rng), g2: init::uniform(h, h, 0.05, rng) }
    }

    /// `φ(nrm(φ(z_g)) · Gy)`: the prediction of layer 2 from the top latent.
    pub fn predict_layer2(&self, z_g: ArrayView2<'_, T>) -> Array2<T> {
        let u = nrm(z_g.mapv(relu).view());
        let mut p = matmul(u.view(), self.gy.view());
        ops::map_inplace(&mut p, relu);
        p
    }

    /// `φ(nrm(z2) · G2)`: the prediction of layer 1 from a (non-negative) layer-2 state.
    pub fn predict_layer1(&self, z2: ArrayView2<'_, T>) -> Array2<T> {
        let mut p = matmul(nrm(z2).view(), self.g2.view());
        ops::map_inplace(&mut p, relu);
        p
    }

    /// `clip01(nrm(z1) · G1)`: the prediction of the input from a (non-negative) layer-1 state.
    pub fn predict_input(&self, z1: ArrayView2<'_, T>) -> Array2<T> {
        let mut p = matmul(nrm(z1).view(), self.g1.view());
        ops::map_inplace(&mut p, |v| v.max(T::zero()).min(T::one()));
        p
    }

    /// Decodes top latents into images by chaining the three predictions (algorithm.md §12.4).
    pub fn decode(&self, z: ArrayView2<'_, T>) -> Array2<T> {
        let h2 = self.predict_layer2(z);
        let h1 = self.predict_layer1(h2.view());
        self.predict_input(h1.view())
    }

    /// The z_g descent direction for `Lg2 = (1/N)Σ‖φ(nrm(φ(z_g))·Gy) − target‖²` with the
    /// reference's exact arithmetic, including the 1e-8 and the zero-norm rule (algorithm.md §8.2).
    /// Returns (d_z, Lg2). `n` is the N that divides the loss.
    pub fn latent_direction(&self, z_g: ArrayView2<'_, T>, target: ArrayView2<'_, T>, n: usize) -> (Array2<T>, f64) {
        let pred = self.predict_layer2(z_g);
        let e2 = &pred - &target;
        let loss = mean_sq(&e2);
        let gu = matmul(e2.view(), self.gy.t()) * T::c(2.0 / n as f64);
        (latent_step(z_g, gu.view()), loss)
    }

    /// One generator step (algorithm.md §8): predictions of the representation state `target`
    /// (z2, z1) and of `x` from the layer above, their squared errors, the gradients of G_y,
    /// G_2, G_1 and the z_g direction (pre-update Gy). `noise` is the already-scaled (n1, n2),
    /// if any. `buffer` may hold a previous step's gradients to overwrite (`None` allocates).
    pub fn train_step(
        &self,
        x: ArrayView2<'_, T>,
        target: &State<T>,
        z_g: ArrayView2<'_, T>,
        noise: Option<LayerNoise<'_, T>>,
        buffer: Option<Generative<T>>,
    ) -> GenStep<T> {
        let n = x.nrows();
        let two_n = T::c(2.0 / n as f64);
        let (z1, z2) = (target.z1.view(), target.z2.view());
        let (n1, n2) = (noise.map(|e| e.layer1), noise.map(|e| e.layer2));
        let u = nrm(z_g.mapv(relu).view());
        let mut zh2 = matmul(u.view(), self.gy.view());
        ops::map_inplace(&mut zh2, relu);
        let a2 = generator_input(z2, n2);
        let mut zh1 = matmul(a2.view(), self.g2.view());
        ops::map_inplace(&mut zh1, relu);
        let a1 = generator_input(z1, n1);
        let h0 = matmul(a1.view(), self.g1.view());

        let e2 = zh2 - z2;
        let e1 = zh1 - z1;
        let mut e0 = Array2::zeros(h0.raw_dim());
        let mut sse0 = Array1::<T>::zeros(n);
        crate::zip_each!(h0.len(), Zip::from(e0.rows_mut()).and(h0.rows()).and(x.rows()).and(&mut sse0), |mut er, hr, xr, s| {
            let mut acc = T::zero();
            for ((e, &h), &xv) in er.iter_mut().zip(hr.iter()).zip(xr.iter()) {
                let d = h.max(T::zero()).min(T::one()) - xv;
                acc += d * d;
                // The clip passes gradient where 0 ≤ h ≤ 1, bounds included.
                *e = if h >= T::zero() && h <= T::one() { d * two_n } else { T::zero() };
            }
            *s = acc;
        });
        let loss = GenLoss { input: sse0.iter().map(|v| v.f64()).sum::<f64>() / n as f64, layer1: mean_sq(&e1), layer2: mean_sq(&e2) };
        let e2s = e2 * two_n;
        let e1s = e1 * two_n;
        let gu = matmul(e2s.view(), self.gy.t());
        let mut grads = buffer.unwrap_or_else(|| self.zeros_like());
        gemm(T::one(), u.t(), e2s.view(), T::zero(), grads.gy.view_mut());
        gemm(T::one(), a1.t(), e0.view(), T::zero(), grads.g1.view_mut());
        gemm(T::one(), a2.t(), e1s.view(), T::zero(), grads.g2.view_mut());
        GenStep { grads, d_z: latent_step(z_g, gu.view()), loss }
    }
}

/// `d_z = Gu/Dn − [(Gu·r)/(Dn²·ν)]·r` with r = φ(z_g), ν = ‖r‖, Dn = ν + 1e-8, and the bracket
/// taken as 0 when ν = 0 (TF's guarded sqrt gradient): so at z_g = 0 the step is 1e8·Gu.
pub fn latent_step<T: Real>(z_g: ArrayView2<'_, T>, gu: ArrayView2<'_, T>) -> Array2<T> {
    let eps = T::c(ops::NORM_EPS);
    let mut d = Array2::zeros(z_g.raw_dim());
    Zip::from(d.rows_mut()).and(z_g.rows()).and(gu.rows()).for_each(|mut dr, zr, gr| {
        let r = zr.mapv(relu);
        let nu = r.dot(&r).sqrt();
        let dn = nu + eps;
        let bracket = if nu > T::zero() { gr.dot(&r) / (dn * dn * nu) } else { T::zero() };
        Zip::from(&mut dr).and(&gr).and(&r).for_each(|d, &g, &rv| *d = g / dn - bracket * rv);
    });
    d
}
