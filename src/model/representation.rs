//! The representation circuit: the forward pass (algorithm.md §3), one settling step (§4), the
//! goodness and head losses (§5) and their hand-derived gradients (§7).

use super::{Clamped, Forward, LayerNoise, ParamSet, RepLoss, RepStep, Representation, State};
use crate::config::{Config, GROUP};
use crate::init;
use crate::lateral;
use crate::linalg::{gemm, matmul};
use crate::ops::{self, nrm, relu, row_sq_sums, sigmoid, softplus};
use crate::real::Real;
use crate::rng::Rng;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

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

    /// One synchronous settling step (algorithm.md §4): every recurrent input is the previous
    /// state. `y_hat` is the scaled label (y_scale·y), `noise` the already-scaled (e1, e2), if any.
    pub fn step(&self, cfg: &Config, x_hat: ArrayView2<'_, T>, y_hat: ArrayView2<'_, T>, prev: &State<T>, noise: Option<LayerNoise<'_, T>>) -> State<T> {
        self.step_from(cfg, x_hat, y_hat, prev, &prev.normalised(), noise)
    }

    /// [`Representation::step`] given the previous state normalised too.
    fn step_from(
        &self,
        cfg: &Config,
        x_hat: ArrayView2<'_, T>,
        y_hat: ArrayView2<'_, T>,
        prev: &State<T>,
        prev_hat: &State<T>,
        noise: Option<LayerNoise<'_, T>>,
    ) -> State<T> {
        let (e1, e2) = (noise.map(|e| e.layer1), noise.map(|e| e.layer2));
        let z1 = leaky_layer(cfg, matmul(x_hat, self.w1.view()), (prev_hat.z2.view(), &self.v2), &self.b1, (prev.z1.view(), &self.l1), e1);
        let z2 = leaky_layer(cfg, matmul(prev_hat.z1.view(), self.w2.view()), (y_hat, &self.v), &self.b2, (prev.z2.view(), &self.l2), e2);
        State { z1, z2 }
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

    /// One training step of the representation circuit: the settling step (§4), its three
    /// local losses (§5) and their hand-derived gradients (§7).
    /// `buffer` may hold a previous step's gradients to overwrite, which saves allocating and
    /// faulting in fresh pages for the large matrices at every step; `None` allocates.
    pub fn train_step(
        &self,
        cfg: &Config,
        shown: &Clamped<'_, T>,
        prev: &State<T>,
        noise: Option<LayerNoise<'_, T>>,
        buffer: Option<Representation<T>>,
    ) -> RepStep<T> {
        let y_hat = shown.y.mapv(|v| v * T::c(cfg.y_scale));
        let prev_hat = prev.normalised();
        let state = self.step_from(cfg, shown.x_hat, y_hat.view(), prev, &prev_hat, noise);
        let (d1, layer1) = goodness_error(cfg, &state.z1, shown.positive);
        let (d2, layer2) = goodness_error(cfg, &state.z2, shown.positive);
        let (d3, head) = head_error(cfg, self.head_logits(prev_hat.z2.view()).view(), shown);
        let errors = [d1, d2, d3];
        let mut grads = self.parameter_gradients(shown.x_hat, y_hat.view(), prev, &prev_hat, &errors, buffer);
        let reg = if cfg.reg_lambda > 0.0 { self.add_regulariser(cfg.reg_lambda, &mut grads) } else { 0.0 };
        RepStep { state, grads, loss: RepLoss { layer1, layer2, head, reg } }
    }

    /// The parameter gradients (algorithm.md §7.2) from the error signals δ1, δ2, δ3 of the step
    /// that left `prev`, written into `buffer` when one is given.
    fn parameter_gradients(
        &self,
        x_hat: ArrayView2<'_, T>,
        y_hat: ArrayView2<'_, T>,
        prev: &State<T>,
        prev_hat: &State<T>,
        [d1, d2, d3]: &[Array2<T>; 3],
        buffer: Option<Representation<T>>,
    ) -> Representation<T> {
        let mut grads = buffer.unwrap_or_else(|| self.zeros_like());
        let (one, zero) = (T::one(), T::zero());
        gemm(one, x_hat.t(), d1.view(), zero, grads.w1.view_mut());
        gemm(one, prev_hat.z2.t(), d1.view(), zero, grads.v2.view_mut());
        grads.b1.assign(&d1.sum_axis(Axis(0)));
        grads.l1.assign(&lateral::grad(prev.z1.view(), d1.view(), self.l1.view()));
        gemm(one, prev_hat.z1.t(), d2.view(), zero, grads.w2.view_mut());
        gemm(one, y_hat.t(), d2.view(), zero, grads.v.view_mut());
        grads.b2.assign(&d2.sum_axis(Axis(0)));
        grads.l2.assign(&lateral::grad(prev.z2.view(), d2.view(), self.l2.view()));
        gemm(one, prev_hat.z2.t(), d3.view(), zero, grads.w.view_mut());
        grads.b.assign(&d3.sum_axis(Axis(0)));
        grads
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

/// A layer's goodness loss (algorithm.md §5) and its error signal δ at the pre-activations
/// (§7.1): `δ = diag(c)·z` with `c_i = −(2(1−α)/N)(σ(ℓ_i) − lab_i)`, `ℓ_i = thr − Σ_j z_ij²`.
fn goodness_error<T: Real>(cfg: &Config, z: &Array2<T>, positive: ArrayView1<'_, T>) -> (Array2<T>, f64) {
    let n = z.nrows();
    let thr = T::c(cfg.threshold);
    let scale = -T::c(2.0 * (1.0 - cfg.alpha)) / T::c(n as f64);
    let s = row_sq_sums(z.view());
    let mut loss = 0.0;
    let mut coef = Array1::zeros(n);
    for i in 0..n {
        let l = thr - s[i];
        loss += (softplus(l) - positive[i] * l).f64();
        coef[i] = scale * (sigmoid(l) - positive[i]);
    }
    let mut delta = z.clone();
    crate::zip_each!(delta.len(), Zip::from(delta.rows_mut()).and(&coef), |mut r, &c| r.mapv_inplace(|v| v * c));
    (delta, loss / n as f64)
}

/// The head's loss (algorithm.md §5: y_scale × the cross-entropy of softmax(nrm(z2p)·W + b),
/// positives only) and its error signal δ3 at the logits (§7.1).
fn head_error<T: Real>(cfg: &Config, logits: ArrayView2<'_, T>, shown: &Clamped<'_, T>) -> (Array2<T>, f64) {
    let (y, positive) = (shown.y, shown.positive);
    let npos: T = positive.sum();
    let logp = ops::log_softmax(logits);
    let mut d3 = Array2::zeros(logp.raw_dim());
    let mut loss = 0.0;
    if npos > T::zero() {
        let ys = T::c(cfg.y_scale);
        for i in 0..y.nrows() {
            if positive[i] == T::zero() {
                continue;
            }
            let ysum: T = y.row(i).sum();
            for c in 0..y.ncols() {
                loss -= (positive[i] * ys * y[[i, c]] * logp[[i, c]]).f64();
                d3[[i, c]] = ys * positive[i] / npos * (ysum * logp[[i, c]].exp() - y[[i, c]]);
            }
        }
        loss /= npos.f64();
    }
    (d3, loss)
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
