//! The PFF dual-circuit system: parameters, the settling step, and the local losses and
//! hand-derived gradients of both circuits (algorithm.md §1–§8).
//!
//! Rows are samples; `x · W` is a row vector times a matrix, as in the reference. No gradient
//! flows through any previous state (they are stop-gradient constants), and the activation φ is
//! ReLU in the forward direction with a derivative defined as 1 everywhere (algorithm.md §2.3, §6). So
//! every gradient here is a product of a local error signal and a (normalised) input.

use crate::config::{Config, GROUP};
use crate::error::Result;
use crate::init;
use crate::lateral;
use crate::linalg::{gemm, matmul};
use crate::ops::{self, nrm, relu, row_sq_sums, sigmoid, softplus};
use crate::real::Real;
use crate::rng::Rng;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

/// A named collection of parameter tensors, all in standard (row-major) layout. Gradients and
/// Adam's moments use the same type as the parameters they belong to.
pub trait ParamSet<T: Real>: Clone + Send + Sync {
    /// Tensor names, in the reference code's list order.
    const NAMES: &'static [&'static str];
    fn shapes(&self) -> Vec<Vec<usize>>;
    fn slices(&self) -> Vec<&[T]>;
    fn slices_mut(&mut self) -> Vec<&mut [T]>;
    fn zeros_like(&self) -> Self;
}

macro_rules! param_set {
    ($ty:ident { $($field:ident : $name:literal),* $(,)? }) => {
        impl<T: Real> ParamSet<T> for $ty<T> {
            const NAMES: &'static [&'static str] = &[$($name),*];
            fn shapes(&self) -> Vec<Vec<usize>> { vec![$(self.$field.shape().to_vec()),*] }
            fn slices(&self) -> Vec<&[T]> {
                vec![$(self.$field.as_slice().expect("parameters are contiguous")),*]
            }
            fn slices_mut(&mut self) -> Vec<&mut [T]> {
                vec![$(self.$field.as_slice_mut().expect("parameters are contiguous")),*]
            }
            fn zeros_like(&self) -> Self {
                $ty { $($field: ndarray::Array::zeros(self.$field.raw_dim())),* }
            }
        }
    };
}

/// The representation circuit θ_r (algorithm.md §1.1). Lateral matrices are compact (H×10, see
/// [`crate::lateral`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Representation<T> {
    /// Input → layer 1 (D×H).
    pub w1: Array2<T>,
    /// Layer 2 → layer 1, top-down (H×H).
    pub v2: Array2<T>,
    pub b1: Array1<T>,
    /// Lateral weights of layer 1 (compact, H×10).
    pub l1: Array2<T>,
    /// Layer 1 → layer 2 (H×H).
    pub w2: Array2<T>,
    /// Label → layer 2 (C×H).
    pub v: Array2<T>,
    pub b2: Array1<T>,
    /// Lateral weights of layer 2 (compact, H×10).
    pub l2: Array2<T>,
    /// Layer 2 → softmax head (H×C).
    pub w: Array2<T>,
    pub b: Array1<T>,
}
param_set!(Representation { l1: "L1", l2: "L2", b1: "b1", b2: "b2", w1: "W1", w2: "W2", v2: "V2", v: "V", w: "W", b: "b" });

/// The generative circuit θ_g (algorithm.md §1.2): no biases.
#[derive(Clone, Debug, PartialEq)]
pub struct Generative<T> {
    /// Top latent z_g → prediction of layer 2 (G×H).
    pub gy: Array2<T>,
    /// Layer 1 → prediction of x (H×D).
    pub g1: Array2<T>,
    /// Layer 2 → prediction of layer 1 (H×H).
    pub g2: Array2<T>,
}
param_set!(Generative { gy: "Gy", g1: "G1", g2: "G2" });

/// Both circuits and their configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Pff<T> {
    pub cfg: Config,
    pub rep: Representation<T>,
    pub generative: Generative<T>,
}

/// The three local losses of one representation step (algorithm.md §5).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RepLoss {
    /// Goodness loss of layer 1.
    pub layer1: f64,
    /// Goodness loss of layer 2.
    pub layer2: f64,
    /// Head loss (5 × cross-entropy over the positives).
    pub head: f64,
    /// The optional weight regulariser λ·Σ‖P‖_F (0 unless `reg_lambda` is set).
    pub reg: f64,
}

impl RepLoss {
    pub fn total(&self) -> f64 {
        self.layer1 + self.layer2 + self.head + self.reg
    }
}

/// The generative circuit's prediction errors (algorithm.md §8): per-image squared errors, averaged.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GenLoss {
    /// ‖x̂ − x‖² (input).
    pub input: f64,
    /// ‖ẑ1 − z1‖² (layer 1).
    pub layer1: f64,
    /// ‖ẑ2 − z2‖² (layer 2, the one that drives z_g).
    pub layer2: f64,
}

impl GenLoss {
    pub fn total(&self) -> f64 {
        self.input + self.layer1 + self.layer2
    }
}

/// Result of one representation step with its gradients.
pub struct RepStep<T> {
    pub z1: Array2<T>,
    pub z2: Array2<T>,
    pub grads: Representation<T>,
    pub loss: RepLoss,
}

/// Result of one generator step with its gradients and the z_g descent direction.
pub struct GenStep<T> {
    pub grads: Generative<T>,
    /// dLg2/dz_g (N×G), computed with the pre-update Gy (algorithm.md §8.2).
    pub d_z: Array2<T>,
    pub loss: GenLoss,
}

/// The forward-pass states (algorithm.md §3).
pub struct Forward<T> {
    pub z1: Array2<T>,
    pub z2: Array2<T>,
    /// Head probabilities (N×C).
    pub z3: Array2<T>,
}

impl<T: Real> Representation<T> {
    /// Initialises θ_r as the reference does (algorithm.md §1.1).
    pub fn init(cfg: &Config, rng: &mut Rng) -> Self {
        let (d, h, c) = (cfg.input_dim, cfg.hidden, cfg.classes);
        Representation {
            w1: init::orthogonal(d, h, rng),
            v2: init::orthogonal(h, h, rng),
            b1: init::orthogonal(1, h, rng).remove_axis(Axis(0)),
            l1: init::uniform(h, GROUP, 0.05, rng),
            w2: init::orthogonal(h, h, rng),
            v: init::orthogonal(c, h, rng),
            b2: init::orthogonal(1, h, rng).remove_axis(Axis(0)),
            l2: init::uniform(h, GROUP, 0.05, rng),
            w: init::orthogonal(h, c, rng),
            b: Array1::zeros(c),
        }
    }

    /// The forward pass from normalised inputs: no label, lateral term, leak or noise.
    pub fn forward(&self, x_hat: ArrayView2<'_, T>) -> Forward<T> {
        self.forward_from_input_product(matmul(x_hat, self.w1.view()))
    }

    /// [`Representation::forward`] given `x̂·W1`.
    pub fn forward_from_input_product(&self, x_hat_w1: Array2<T>) -> Forward<T> {
        let mut z1 = x_hat_w1;
        ops::add_row(&mut z1, self.b1.view());
        ops::map_inplace(&mut z1, relu);
        let mut z2 = matmul(nrm(z1.view()).view(), self.w2.view());
        ops::add_row(&mut z2, self.b2.view());
        ops::map_inplace(&mut z2, relu);
        let z3 = ops::softmax(self.head_logits(nrm(z2.view()).view()).view());
        Forward { z1, z2, z3 }
    }

    /// `nrm(z2) · W + b`: the softmax head's logits.
    pub fn head_logits(&self, z2_hat: ArrayView2<'_, T>) -> Array2<T> {
        let mut l = matmul(z2_hat, self.w.view());
        ops::add_row(&mut l, self.b.view());
        l
    }

    /// One synchronous settling step (algorithm.md §4): every recurrent input is the previous state.
    /// `y_hat` is the scaled label (y_scale·y), `noise` the already-scaled (e1, e2), if any.
    /// Returns the new (z1, z2).
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &self,
        cfg: &Config,
        x_hat: ArrayView2<'_, T>,
        y_hat: ArrayView2<'_, T>,
        z1p: ArrayView2<'_, T>,
        z2p: ArrayView2<'_, T>,
        z1p_hat: ArrayView2<'_, T>,
        z2p_hat: ArrayView2<'_, T>,
        noise: Option<(ArrayView2<'_, T>, ArrayView2<'_, T>)>,
    ) -> (Array2<T>, Array2<T>) {
        let (e1, e2) = match noise {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        let z1 = leaky_layer(cfg, matmul(x_hat, self.w1.view()), (z2p_hat, &self.v2), &self.b1, (z1p, &self.l1), e1);
        let z2 = leaky_layer(cfg, matmul(z1p_hat, self.w2.view()), (y_hat, &self.v), &self.b2, (z2p, &self.l2), e2);
        (z1, z2)
    }

    /// Layer 1 of a noise-free settling step, given `x̂·W1` (fixed while the weights are):
    /// the same bits as [`Representation::step`].
    pub fn settle_layer1(&self, cfg: &Config, x_hat_w1: Array2<T>, z2p_hat: ArrayView2<'_, T>, z1p: ArrayView2<'_, T>) -> Array2<T> {
        leaky_layer(cfg, x_hat_w1, (z2p_hat, &self.v2), &self.b1, (z1p, &self.l1), None)
    }

    /// Layer 2 of a noise-free settling step, given `nrm(z1p)·W2`: the same bits as
    /// [`Representation::step`].
    pub fn settle_layer2(&self, cfg: &Config, z1p_hat_w2: Array2<T>, y_hat: ArrayView2<'_, T>, z2p: ArrayView2<'_, T>) -> Array2<T> {
        leaky_layer(cfg, z1p_hat_w2, (y_hat, &self.v), &self.b2, (z2p, &self.l2), None)
    }

    /// One training step of the representation circuit: the settling step, its three local
    /// losses and their hand-derived gradients (algorithm.md §5, §7). `y` is the unscaled label
    /// (one-hot, or soft), `lab` is 1 for positives and 0 for negatives.
    /// `buffer` may hold a previous step's gradients to overwrite, which saves allocating and
    /// faulting in fresh pages for the large matrices at every step; `None` allocates.
    #[allow(clippy::too_many_arguments)]
    pub fn train_step(
        &self,
        cfg: &Config,
        x_hat: ArrayView2<'_, T>,
        y: ArrayView2<'_, T>,
        lab: ArrayView1<'_, T>,
        z1p: ArrayView2<'_, T>,
        z2p: ArrayView2<'_, T>,
        noise: Option<(ArrayView2<'_, T>, ArrayView2<'_, T>)>,
        buffer: Option<Representation<T>>,
    ) -> RepStep<T> {
        let n = x_hat.nrows();
        let nf = T::c(n as f64);
        let y_hat = y.mapv(|v| v * T::c(cfg.y_scale));
        let z1p_hat = nrm(z1p);
        let z2p_hat = nrm(z2p);
        let (z1, z2) = self.step(cfg, x_hat, y_hat.view(), z1p, z2p, z1p_hat.view(), z2p_hat.view(), noise);

        // Goodness losses and error signals (§5, §7.1).
        let thr = T::c(cfg.threshold);
        let scale = -T::c(2.0 * (1.0 - cfg.alpha)) / nf;
        let goodness = |z: &Array2<T>| -> (Array2<T>, f64) {
            let s = row_sq_sums(z.view());
            let mut loss = 0.0;
            let mut coef = Array1::zeros(n);
            for i in 0..n {
                let l = thr - s[i];
                loss += (softplus(l) - lab[i] * l).f64();
                coef[i] = scale * (sigmoid(l) - lab[i]);
            }
            let mut delta = z.clone();
            crate::zip_each!(delta.len(), Zip::from(delta.rows_mut()).and(&coef), |mut r, &c| r.mapv_inplace(|v| v * c));
            (delta, loss / n as f64)
        };
        let (d1, loss1) = goodness(&z1);
        let (d2, loss2) = goodness(&z2);

        // Head (§5): softmax on nrm(z2p), cross-entropy with weight y_scale on positives only.
        let npos: T = lab.sum();
        let logp = ops::log_softmax(self.head_logits(z2p_hat.view()).view());
        let mut d3 = Array2::zeros(logp.raw_dim());
        let mut loss3 = 0.0;
        if npos > T::zero() {
            let ys = T::c(cfg.y_scale);
            for i in 0..n {
                if lab[i] == T::zero() {
                    continue;
                }
                let ysum: T = y.row(i).sum();
                for c in 0..y.ncols() {
                    loss3 -= (lab[i] * ys * y[[i, c]] * logp[[i, c]]).f64();
                    d3[[i, c]] = ys * lab[i] / npos * (ysum * logp[[i, c]].exp() - y[[i, c]]);
                }
            }
            loss3 /= npos.f64();
        }

        let mut grads = buffer.unwrap_or_else(|| self.zeros_like());
        let (one, zero) = (T::one(), T::zero());
        gemm(one, x_hat.t(), d1.view(), zero, grads.w1.view_mut());
        gemm(one, z2p_hat.t(), d1.view(), zero, grads.v2.view_mut());
        grads.b1.assign(&d1.sum_axis(Axis(0)));
        grads.l1.assign(&lateral::grad(z1p, d1.view(), self.l1.view()));
        gemm(one, z1p_hat.t(), d2.view(), zero, grads.w2.view_mut());
        gemm(one, y_hat.t(), d2.view(), zero, grads.v.view_mut());
        grads.b2.assign(&d2.sum_axis(Axis(0)));
        grads.l2.assign(&lateral::grad(z2p, d2.view(), self.l2.view()));
        gemm(one, z2p_hat.t(), d3.view(), zero, grads.w.view_mut());
        grads.b.assign(&d3.sum_axis(Axis(0)));
        let reg = if cfg.reg_lambda > 0.0 { self.add_regulariser(cfg.reg_lambda, &mut grads) } else { 0.0 };
        RepStep { z1, z2, grads, loss: RepLoss { layer1: loss1, layer2: loss2, head: loss3, reg } }
    }

    /// The optional regulariser (algorithm.md §5): λ·‖P‖_F for P in W1, V2, W2, V, W (no laterals,
    /// no biases), whose gradient λ·P/‖P‖_F is added to `grads`. Returns its value.
    fn add_regulariser(&self, lambda: f64, grads: &mut Representation<T>) -> f64 {
        let pairs = [(&self.w1, &mut grads.w1), (&self.v2, &mut grads.v2), (&self.w2, &mut grads.w2), (&self.v, &mut grads.v), (&self.w, &mut grads.w)];
        let mut value = 0.0;
        for (p, g) in pairs {
            let norm = p.iter().map(|&v| v.f64() * v.f64()).sum::<f64>().sqrt();
            value += lambda * norm;
            if norm > 0.0 {
                g.scaled_add(T::c(lambda / norm), p);
            }
        }
        value
    }
}

/// One layer's new state: `(1−α)·relu(bottom·W + top·V + b + noise − z_prev·Leff) + α·z_prev`.
/// `bottom_product` is the layer's input from below, already multiplied by its weights.
fn leaky_layer<T: Real>(
    cfg: &Config,
    bottom_product: Array2<T>,
    (top, v): (ArrayView2<'_, T>, &Array2<T>),
    bias: &Array1<T>,
    (zp, lat): (ArrayView2<'_, T>, &Array2<T>),
    noise: Option<ArrayView2<'_, T>>,
) -> Array2<T> {
    let alpha = T::c(cfg.alpha);
    let keep = T::one() - alpha;
    let mut a = bottom_product;
    gemm(T::one(), top, v.view(), T::one(), a.view_mut());
    ops::add_row(&mut a, bias.view());
    lateral::apply(zp, lateral::effective(lat.view()).view(), -T::one(), a.view_mut());
    if let Some(e) = noise {
        a += &e;
    }
    crate::zip_each!(a.len(), Zip::from(&mut a).and(zp), |a, &p| *a = keep * relu(*a) + alpha * p);
    a
}

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

    /// One generator step (algorithm.md §8): predictions of (z2, z1, x) from the layer above, their
    /// squared errors, the gradients of G_y, G_2, G_1 and the z_g direction (pre-update Gy).
    /// `noise` is the already-scaled (n1, n2), if any.
    /// `buffer` may hold a previous step's gradients to overwrite (`None` allocates).
    pub fn train_step(
        &self,
        x: ArrayView2<'_, T>,
        z1: ArrayView2<'_, T>,
        z2: ArrayView2<'_, T>,
        z_g: ArrayView2<'_, T>,
        noise: Option<(ArrayView2<'_, T>, ArrayView2<'_, T>)>,
        buffer: Option<Generative<T>>,
    ) -> GenStep<T> {
        let n = x.nrows();
        let two_n = T::c(2.0 / n as f64);
        let (n1, n2) = match noise {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
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

impl<T: Real> Pff<T> {
    /// A freshly initialised model.
    pub fn new(cfg: Config, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let mut rng = crate::rng::rng(seed, &[0x1417]);
        let rep = Representation::init(&cfg, &mut rng);
        let generative = Generative::init(&cfg, &mut rng);
        Ok(Pff { cfg, rep, generative })
    }

    /// Number of stored parameters (compact laterals).
    pub fn num_params(&self) -> usize {
        self.rep.slices().iter().chain(self.generative.slices().iter()).map(|s| s.len()).sum()
    }
}
