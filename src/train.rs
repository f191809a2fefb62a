//! Training: Adam in TensorFlow's form, the K-step update schedule of one mini-batch, and the
//! epoch loop with the reference's batching and negatives (algorithm.md §9, §10).

use crate::config::Config;
use crate::data::Dataset;
use crate::error::{PffError, Result};
use crate::model::{Clamped, GenLoss, Generative, LayerNoise, ParamSet, Pff, RepLoss, Representation, State};
use crate::noise::NoiseStream;
use crate::ops::{nrm, one_hot};
use crate::real::Real;
use crate::rng;
use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate};
use rand::RngExt as _;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Adam with Keras's defaults and TF's update form: ε is added to √v, and the bias correction
/// is folded into the step size (algorithm.md §9). Gradients are clipped to [−1, 1] first.
#[derive(Clone, Debug)]
pub struct Adam<P> {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Number of steps taken.
    pub t: u64,
    pub m: P,
    pub v: P,
}

/// Elementwise bound applied to every gradient before Adam.
pub const GRAD_CLIP: f64 = 1.0;

impl<P> Adam<P> {
    pub fn new<T: Real>(lr: f64, like: &P) -> Self
    where
        P: ParamSet<T>,
    {
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-7, t: 0, m: like.zeros_like(), v: like.zeros_like() }
    }

    /// One step: `t += 1; m += (g−m)(1−β1); v += (g²−v)(1−β2); θ −= η√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v+ε)`,
    /// with g clipped to [−1, 1].
    pub fn step<T: Real>(&mut self, params: &mut P, grads: &P)
    where
        P: ParamSet<T>,
    {
        self.t += 1;
        let t = self.t as i32;
        let lr_t = T::c(self.lr * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t)));
        let (b1c, b2c, eps, clip) = (T::c(1.0 - self.beta1), T::c(1.0 - self.beta2), T::c(self.eps), T::c(GRAD_CLIP));
        let ps = params.slices_mut();
        let gs = grads.slices();
        let ms = self.m.slices_mut();
        let vs = self.v.slices_mut();
        for (((p, g), m), v) in ps.into_iter().zip(gs).zip(ms).zip(vs) {
            const CHUNK: usize = 1 << 14;
            p.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).zip(m.par_chunks_mut(CHUNK)).zip(v.par_chunks_mut(CHUNK)).for_each(|(((p, g), m), v)| {
                for i in 0..p.len() {
                    let gi = g[i].max(-clip).min(clip);
                    m[i] += (gi - m[i]) * b1c;
                    v[i] += (gi * gi - v[i]) * b2c;
                    p[i] -= lr_t * m[i] / (v[i].sqrt() + eps);
                }
            });
        }
    }
}

/// What one mini-batch reports (the reference's logging, algorithm.md §10.3, plus the other losses).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct BatchStats {
    /// Goodness loss L1 + L2 of the last settling step.
    pub goodness_loss: f64,
    /// Head loss of the last step (5 × CE on the positives).
    pub head_loss: f64,
    /// Generative loss (sum of the three prediction errors) of the last step.
    pub gen_loss: f64,
    /// Prediction error of the input alone, last step (per-image SSE).
    pub recon_loss: f64,
    /// Cross-entropy of the forward softmax head on the positives (before the batch's updates).
    pub forward_ce: f64,
    /// Positive samples in the batch.
    pub samples: usize,
}

/// Where training is: which epoch, which batch of it. With the seed it determines everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Completed epochs.
    pub epoch: usize,
    /// Next batch index within the current epoch.
    pub batch: usize,
}

/// A model with its two optimisers and the position in the training schedule.
#[derive(Clone, Debug)]
pub struct Trainer {
    pub model: Pff<f32>,
    pub opt_r: Adam<Representation<f32>>,
    pub opt_g: Adam<Generative<f32>>,
    pub seed: u64,
    /// The generator of the settling noise (part of the run, like the seed).
    pub noise_stream: NoiseStream,
    pub cursor: Cursor,
    /// Gradient buffers reused from step to step (not part of the training state).
    pub scratch: Scratch,
}

/// Buffers [`Trainer::train_batch`] reuses across steps.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    rep: Option<Representation<f32>>,
    generative: Option<Generative<f32>>,
    /// The sample order of the epoch in progress, keyed by (epoch, set size): callers that
    /// train a batch at a time would otherwise shuffle the whole set for every batch.
    order: Option<((usize, usize), Vec<usize>)>,
}

// Purposes mixed into random seeds.
const RNG_PERM: u64 = 1;
const RNG_NEG: u64 = 2;

impl Trainer {
    pub fn new(model: Pff<f32>, seed: u64) -> Self {
        let lr = model.cfg.lr;
        Trainer {
            opt_r: Adam::new(lr, &model.rep),
            opt_g: Adam::new(lr, &model.generative),
            model,
            seed,
            noise_stream: NoiseStream::default(),
            cursor: Cursor::default(),
            scratch: Scratch::default(),
        }
    }

    pub fn cfg(&self) -> &Config {
        &self.model.cfg
    }

    /// Batches per epoch for a training set of `n` samples (a short last batch is topped up).
    pub fn batches_per_epoch(&self, n: usize) -> usize {
        n.div_ceil(self.model.cfg.batch_size)
    }

    /// The sample order of an epoch: a seeded permutation.
    pub fn permutation(&self, n: usize, epoch: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        p.shuffle(&mut rng::rng(self.seed, &[RNG_PERM, epoch as u64]));
        p
    }

    /// The key that seeds the randomness of the batch at `cursor`.
    pub fn batch_key(cursor: Cursor) -> u64 {
        (cursor.epoch as u64) << 32 | cursor.batch as u64
    }

    /// The negatives' labels of the batch `key`: for each label, a uniformly drawn other one.
    pub fn negative_labels(&self, labels: &[usize], key: u64) -> Vec<usize> {
        let c = self.model.cfg.classes;
        let mut neg_rng = rng::rng(self.seed, &[RNG_NEG, key]);
        labels.iter().map(|&l| (l + 1 + neg_rng.random_range(0..c - 1)) % c).collect()
    }

    /// The noise (rows × H, standard deviation `std`) of settling step `step` of batch `key`:
    /// `which` is 0 and 1 for the representation layers, 2 and 3 for the generative ones.
    pub fn noise(&self, key: u64, step: u64, which: u64, rows: usize, std: f64) -> Array2<f32> {
        self.noise_stream.draw(self.seed, key, step, which, (rows, self.model.cfg.hidden), std)
    }

    /// The same trainer drawing its noise from `stream`.
    pub fn with_noise_stream(self, stream: NoiseStream) -> Self {
        Trainer { noise_stream: stream, ..self }
    }

    /// Trains on one mini-batch of positives `x` (B×D, pixels in [0, 1]) with labels `labels`:
    /// negatives are the same images with a uniformly drawn wrong label, stacked after the
    /// positives; then K settling steps, each followed by Adam on θ_r, the generator step,
    /// Adam on θ_g and the z_g update (algorithm.md §9). `key` seeds this batch's randomness.
    ///
    /// Before each update the losses it comes from are checked: on a NaN or infinity the batch
    /// stops with an error before that update, so no non-finite value reaches the parameters
    /// (the updates of earlier steps, made from finite losses, stay applied).
    pub fn train_batch(&mut self, x: ArrayView2<'_, f32>, labels: &[usize], key: u64) -> Result<BatchStats> {
        let cfg = self.model.cfg.clone();
        check_batch(&cfg, x, labels)?;
        let b = x.nrows();
        // The optimisers' rate follows the configuration's schedule at the current epoch.
        let lr = cfg.lr_at(self.cursor.epoch);
        self.opt_r.lr = lr;
        self.opt_g.lr = lr;
        let c = cfg.classes;
        let neg = self.negative_labels(labels, key);
        let xx = concatenate(Axis(0), &[x, x]).expect("same widths");
        let y = concatenate(Axis(0), &[one_hot::<f32>(labels, c).view(), one_hot::<f32>(&neg, c).view()]).expect("same widths");
        let positive = Array1::from_shape_fn(2 * b, |i| if i < b { 1.0f32 } else { 0.0 });
        let n = 2 * b;

        let x_hat = nrm(xx.view());
        let fwd = self.model.rep.forward(x_hat.view());
        let forward_ce = {
            let p = fwd.z3.slice(ndarray::s![..b, ..]);
            labels.iter().enumerate().map(|(i, &l)| -(p[[i, l]].max(1e-30) as f64).ln()).sum::<f64>() / b as f64
        };
        let shown = Clamped { x_hat: x_hat.view(), y: y.view(), positive: positive.view() };
        let mut state = State { z1: fwd.z1, z2: fwd.z2 };
        let mut z_g = Array2::<f32>::zeros((n, cfg.latent));
        let (h, beta) = (cfg.hidden, cfg.beta as f32);
        let mut last = (RepLoss::default(), GenLoss::default());
        for k in 0..cfg.steps as u64 {
            let (seed, stream) = (self.seed, self.noise_stream);
            let noise = |which: u64, std: f64| stream.draw(seed, key, k, which, (n, h), std);
            let (e1, e2) = (noise(0, cfg.eps_r), noise(1, cfg.eps_r));
            let buf = self.scratch.rep.take();
            let rs = self.model.rep.train_step(&cfg, &shown, &state, Some(LayerNoise { layer1: e1.view(), layer2: e2.view() }), buf);
            check_finite(&[rs.loss.layer1, rs.loss.layer2, rs.loss.head, rs.loss.reg], "representation losses", k)?;
            self.opt_r.step(&mut self.model.rep, &rs.grads);
            self.scratch.rep = Some(rs.grads);

            let (n1, n2) = (noise(2, cfg.eps_g), noise(3, cfg.eps_g));
            let buf = self.scratch.generative.take();
            let gs = self.model.generative.train_step(xx.view(), &rs.state, z_g.view(), Some(LayerNoise { layer1: n1.view(), layer2: n2.view() }), buf);
            check_finite(&[gs.loss.input, gs.loss.layer1, gs.loss.layer2], "generative losses", k)?;
            self.opt_g.step(&mut self.model.generative, &gs.grads);
            self.scratch.generative = Some(gs.grads);
            z_g.scaled_add(-beta, &gs.d_z);

            state = rs.state;
            last = (rs.loss, gs.loss);
        }
        Ok(BatchStats {
            goodness_loss: last.0.layer1 + last.0.layer2,
            head_loss: last.0.head,
            gen_loss: last.1.total(),
            recon_loss: last.1.input,
            forward_ce,
            samples: b,
        })
    }

    /// Trains on the next `count` batches of the schedule (crossing epoch boundaries), calling
    /// `on_batch` after each. Returns when `count` batches are done or an epoch ends, whichever
    /// comes first, so that a caller can evaluate between epochs.
    pub fn train_batches(&mut self, data: &Dataset, count: usize, on_batch: impl FnMut(&Cursor, &BatchStats)) -> Result<Vec<BatchStats>> {
        self.train_batches_of(data, data.len(), count, on_batch)
    }

    /// [`Trainer::train_batches`] on the first `n` images of `data` only.
    pub fn train_batches_of(&mut self, data: &Dataset, n: usize, count: usize, on_batch: impl FnMut(&Cursor, &BatchStats)) -> Result<Vec<BatchStats>> {
        self.batches_with(data, n, count, |tr, x, labels, key| tr.train_batch(x, labels, key), on_batch)
    }

    /// The schedule's batch loop of [`Trainer::train_batches_of`] (the epoch's order, the
    /// batch's images, the cursor), with `train` doing each batch: this trainer's
    /// [`Trainer::train_batch`], or another engine that trains the same model.
    pub fn batches_with(
        &mut self,
        data: &Dataset,
        n: usize,
        count: usize,
        mut train: impl FnMut(&mut Trainer, ArrayView2<'_, f32>, &[usize], u64) -> Result<BatchStats>,
        mut on_batch: impl FnMut(&Cursor, &BatchStats),
    ) -> Result<Vec<BatchStats>> {
        if n == 0 || n > data.len() {
            return Err(PffError::Input(format!("cannot train on {n} images of a set of {}", data.len())));
        }
        let bs = self.model.cfg.batch_size;
        let per_epoch = self.batches_per_epoch(n);
        let order_key = (self.cursor.epoch, n);
        let perm = match self.scratch.order.take() {
            Some((k, p)) if k == order_key => p,
            _ => self.permutation(n, self.cursor.epoch),
        };
        let mut out = Vec::new();
        while out.len() < count && self.cursor.batch < per_epoch {
            let start = self.cursor.batch * bs;
            let idx: Vec<usize> = (start..start + bs).map(|i| perm[i % n]).collect();
            let (x, labels) = data.batch(&idx);
            let key = Self::batch_key(self.cursor);
            let stats = train(self, x.view(), &labels, key)?;
            self.cursor.batch += 1;
            on_batch(&self.cursor, &stats);
            out.push(stats);
        }
        if self.cursor.batch >= per_epoch {
            self.cursor = Cursor { epoch: self.cursor.epoch + 1, batch: 0 };
        } else {
            self.scratch.order = Some((order_key, perm));
        }
        Ok(out)
    }
}

/// Refuses a batch that is not B ≥ 1 images of `cfg.input_dim` pixels with one label each, every
/// label a class of `cfg`.
fn check_batch(cfg: &Config, x: ArrayView2<'_, f32>, labels: &[usize]) -> Result<()> {
    let b = x.nrows();
    if b == 0 || labels.len() != b || x.ncols() != cfg.input_dim {
        return Err(PffError::Input(format!("a batch of {b}×{} images with {} labels (need D = {})", x.ncols(), labels.len(), cfg.input_dim)));
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= cfg.classes) {
        return Err(PffError::Input(format!("label {bad} is out of range 0..{}", cfg.classes)));
    }
    Ok(())
}

fn check_finite(values: &[f64], what: &str, step: u64) -> Result<()> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(PffError::NonFinite(format!(
            "{what} became {values:?} at settling step {step}; training stopped before applying the update (try a smaller learning rate)"
        )))
    }
}
