//! The PFF dual-circuit system: parameters, the settling step, and the local losses and
//! hand-derived gradients of both circuits (algorithm.md §1–§8).
//!
//! Rows are samples; `x · W` is a row vector times a matrix, as in the reference. No gradient
//! flows through any previous state (they are stop-gradient constants), and the activation φ is
//! ReLU in the forward direction with a derivative defined as 1 everywhere (algorithm.md §2.3, §6). So
//! every gradient here is a product of a local error signal and a (normalised) input.
//!
//! This module holds the parameters and the values that pass between the circuits;
//! [`representation`] the settling step, the goodness losses and their gradients (§4–§7), and
//! [`generative`] the generative circuit's predictions, errors and latent step (§8).

mod generative;
mod representation;

pub use generative::latent_step;

use crate::config::Config;
use crate::error::Result;
use crate::ops::nrm;
use crate::real::Real;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

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

/// The representation circuit's state while it settles (algorithm.md §4): both layers, N×H.
#[derive(Clone, Debug, PartialEq)]
pub struct State<T> {
    pub z1: Array2<T>,
    pub z2: Array2<T>,
}

impl<T: Real> State<T> {
    /// Both layers normalised, as the layer above and below see them (ẑ1, ẑ2; §2.1).
    pub fn normalised(&self) -> State<T> {
        State { z1: nrm(self.z1.view()), z2: nrm(self.z2.view()) }
    }
}

/// The noise of one step, already scaled, one matrix per layer: (e1, e2) for the representation
/// circuit (§4), (n1, n2) for the generative circuit (§8).
#[derive(Clone, Copy)]
pub struct LayerNoise<'a, T> {
    pub layer1: ArrayView2<'a, T>,
    pub layer2: ArrayView2<'a, T>,
}

/// What the representation circuit is shown in training (algorithm.md §4, §5).
#[derive(Clone, Copy)]
pub struct Clamped<'a, T> {
    /// The normalised images x̂ (N×D).
    pub x_hat: ArrayView2<'a, T>,
    /// The label rows y (N×C), one-hot or soft, unscaled.
    pub y: ArrayView2<'a, T>,
    /// 1 for a positive row (its true label), 0 for a negative (a wrong one): the spec's `lab`.
    pub positive: ArrayView1<'a, T>,
}

/// Result of one representation step with its gradients.
pub struct RepStep<T> {
    /// The new state.
    pub state: State<T>,
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

impl<T: Real> Pff<T> {
    /// A freshly initialised model.
    pub fn new(cfg: Config, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let mut rng = crate::rng::rng(seed, &[0x1417]);
        let rep = Representation::init(&cfg, &mut rng);
        let generative = Generative::init(&cfg, &mut rng);
        Ok(Pff { cfg, rep, generative })
    }

    /// Whether `other` has the same parameters (the configuration aside).
    pub fn same_parameters(&self, other: &Pff<T>) -> bool {
        self.rep == other.rep && self.generative == other.generative
    }

    /// Number of stored parameters (compact laterals).
    pub fn num_params(&self) -> usize {
        self.rep.slices().iter().chain(self.generative.slices().iter()).map(|s| s.len()).sum()
    }
}
