//! Inference: the goodness classifier (algorithm.md §11.1), the forward head (§11.2), reconstruction
//! (§11.3), latent extraction and decoding (§12), and the settling trace the web page draws.

use crate::data::Dataset;
use crate::linalg::kernel::Kernel;
use crate::model::{Forward, Pff, State};
use crate::ops::{self, nrm, relu, row_sq_sums};
use crate::real::Real;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, concatenate, s};
use serde::Serialize;
use std::ops::Range;

/// Images per chunk of the goodness classifier (each becomes C rows).
const CLASSIFY_CHUNK: usize = 500;

/// One evaluation of a labelled set.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub n: usize,
    /// Accuracy of the goodness classifier.
    pub accuracy: f64,
    pub error: f64,
    /// Accuracy of the forward softmax head.
    pub forward_accuracy: f64,
    /// Reconstruction error: per-image sum of squared errors, averaged (the reference's `Lx`).
    pub recon_sse: f64,
    /// confusion[true][predicted] for the goodness classifier.
    pub confusion: Vec<Vec<usize>>,
    /// Goodness-classifier prediction for each image.
    #[serde(skip)]
    pub predictions: Vec<usize>,
}

/// Per-step record of settling one input under every label hypothesis (what the page draws).
/// Matrices are flat and row-major.
#[derive(Clone, Debug, Serialize)]
pub struct SettleTrace {
    /// Steps recorded (K).
    pub steps: usize,
    /// Hypotheses (C).
    pub classes: usize,
    /// Units per layer (H).
    pub hidden: usize,
    /// goodness[k·C + c] = −(‖z1‖² + ‖z2‖²)/2 after step k under hypothesis c (higher is better).
    pub goodness: Vec<f32>,
    /// Sum of squares per layer: energy[(k·C + c)·2 + l] = ‖z_(l+1)‖².
    pub energy: Vec<f32>,
    /// The hypothesis whose states are recorded below.
    pub label: usize,
    /// The goodness classifier's answer (the best window score).
    pub winner: usize,
    /// The hypothesis with the best goodness after the last step.
    pub final_best: usize,
    /// z1 after each step (K×H) for `label`.
    pub z1: Vec<f32>,
    /// z2 after each step (K×H) for `label`.
    pub z2: Vec<f32>,
    /// The generative circuit's prediction of the input from z1, after each step (K×D).
    pub prediction: Vec<f32>,
    /// Goodness classifier scores (the window sum, /3) per hypothesis.
    pub scores: Vec<f32>,
}

impl SettleTrace {
    /// The trace of settling states: row `k·C + c` of `z1s`/`z2s` is the state after step `k`
    /// under hypothesis `c`, and `sq1`/`sq2` hold those rows' `Σz²`. `label`: the hypothesis
    /// whose states are kept (the classifier's answer when `None`).
    pub fn from_steps(
        model: &Pff<f32>,
        (z1s, z2s): (&Array2<f32>, &Array2<f32>),
        (sq1, sq2): (ArrayView1<'_, f32>, ArrayView1<'_, f32>),
        label: Option<usize>,
    ) -> SettleTrace {
        let cfg = &model.cfg;
        let c = cfg.classes;
        let k_steps = z1s.nrows() / c;
        let (low, high) = cfg.classifier_window();
        let (mut goodness, mut energy, mut scores) = (Vec::with_capacity(k_steps * c), Vec::with_capacity(2 * k_steps * c), vec![0f32; c]);
        for k in 0..k_steps {
            for i in 0..c {
                let (s1, s2) = (sq1[k * c + i], sq2[k * c + i]);
                goodness.push(-0.5 * (s1 + s2));
                energy.extend([s1, s2]);
                if k >= low && k < high {
                    scores[i] += -0.5 * (s1 + s2) / 3.0;
                }
            }
        }
        let argmax = |v: &[f32]| (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best });
        let winner = argmax(&scores);
        let final_best = argmax(&goodness[k_steps.saturating_sub(1) * c..]);
        let label = label.unwrap_or(winner);
        let rows = |z: &Array2<f32>| (0..k_steps).flat_map(|k| z.row(k * c + label).to_vec()).collect::<Vec<f32>>();
        let prediction = (0..k_steps)
            .flat_map(|k| model.generative.predict_input(z1s.slice(s![k * c + label..k * c + label + 1, ..]).mapv(relu).view()).into_raw_vec_and_offset().0)
            .collect();
        SettleTrace {
            steps: k_steps,
            classes: c,
            hidden: cfg.hidden,
            goodness,
            energy,
            label,
            winner,
            final_best,
            z1: rows(z1s),
            z2: rows(z2s),
            prediction,
            scores,
        }
    }
}

impl<T: Real> Pff<T> {
    /// Noise-free settling of each input under each hypothesis in `labels` (algorithm.md §11.1): rows
    /// are hypothesis-major (row `c·N + i` is image i under `labels[c]`), all starting from the
    /// forward states. Calls `visit(k, z1, z2)` after each of `steps` steps, and returns the
    /// forward pass of the inputs (`None` when there is nothing to settle).
    ///
    /// Work that is the same under every hypothesis is done once per image, not once per
    /// hypothesis, with the same bits as settling the tiled rows: `x̂·W1` (fixed weights, no
    /// noise: the same at every step, and the forward pass's own first product), and at the
    /// first step layer 1 and `nrm(z1⁰)·W2` (every hypothesis starts from the forward state, and
    /// the label reaches layer 2 only).
    pub fn settle(&self, x: ArrayView2<'_, T>, labels: &[usize], steps: usize, mut visit: impl FnMut(usize, &Array2<T>, &Array2<T>)) -> Option<Forward<T>> {
        let cfg = &self.cfg;
        let rep = &self.rep;
        let (n, h) = (x.nrows(), labels.len());
        if n == 0 || h == 0 || steps == 0 {
            return None;
        }
        let x_hat = nrm(x);
        let tile = |a: &Array2<T>| concatenate(Axis(0), &vec![a.slice(s![0..n, ..]); h]).expect("same widths");
        // One row would take the gemm crate's matrix-vector path, whose sums run in another
        // order than the matrix path of the tiled rows: settle two copies instead. Where the
        // per-image rows and the tiled rows would get different kernels (the relaxed-SIMD
        // build, 2 to 16 images), nothing is shared and every product runs on the tiled rows.
        let rows = n.max(2);
        let share = Kernel::for_product::<T>(rows) == Kernel::for_product::<T>(n * h);
        let once_of = |a: &Array2<T>| match (share, n) {
            (false, _) => tile(a),
            (true, 1) => concatenate(Axis(0), &[a.view(), a.view()]).expect("same widths"),
            (true, _) => a.clone(),
        };
        let spread = |a: &Array2<T>| if share { tile(a) } else { a.clone() };
        let once = once_of(&x_hat);
        let xw1 = crate::linalg::matmul(once.view(), rep.w1.view());
        let fwd = if n == 1 || !share { rep.forward(x_hat.view()) } else { rep.forward_from_input_product(xw1.clone()) };
        let (z1_0, z2_0) = (once_of(&fwd.z1), once_of(&fwd.z2));
        let mut y_hat = Array2::zeros((n * h, cfg.classes));
        for (c, &lab) in labels.iter().enumerate() {
            y_hat.slice_mut(s![c * n..(c + 1) * n, lab]).fill(T::c(cfg.y_scale));
        }
        // Step 0, per image where no hypothesis reaches.
        let z1_1 = rep.settle_layer1(cfg, xw1.clone(), nrm(z2_0.view()).view(), z1_0.view());
        let z1_0_w2 = crate::linalg::matmul(nrm(z1_0.view()).view(), rep.w2.view());
        let mut z2 = rep.settle_layer2(cfg, spread(&z1_0_w2), y_hat.view(), spread(&z2_0).view());
        let mut z1 = spread(&z1_1);
        visit(0, &z1, &z2);
        let xs_w1 = spread(&xw1);
        for k in 1..steps {
            let (z1h, z2h) = (nrm(z1.view()), nrm(z2.view()));
            let n1 = rep.settle_layer1(cfg, xs_w1.clone(), z2h.view(), z1.view());
            let n2 = rep.settle_layer2(cfg, crate::linalg::matmul(z1h.view(), rep.w2.view()), y_hat.view(), z2.view());
            z1 = n1;
            z2 = n2;
            visit(k, &z1, &z2);
        }
        Some(fwd)
    }

    /// The goodness classifier's scores (N×C): for each class hypothesis, K/2+1 noise-free steps
    /// from the forward states with goodness `−Σz²` summed over steps K/2−1 and K/2 of both layers
    /// (0-based; only those two, as the reference's loop bound implies), halved, divided by 3.
    pub fn goodness_scores(&self, x: ArrayView2<'_, T>) -> Array2<T> {
        self.scores_and_forward(x).0
    }

    /// [`Pff::goodness_scores`] and the forward head's probabilities (both N×C) from one
    /// forward pass: the settling starts from the forward states.
    pub fn scores_and_forward(&self, x: ArrayView2<'_, T>) -> (Array2<T>, Array2<T>) {
        let c = self.cfg.classes;
        let (mut scores, mut forward) = (Array2::zeros((x.nrows(), c)), Array2::zeros((x.nrows(), c)));
        for (ci, chunk) in x.axis_chunks_iter(Axis(0), CLASSIFY_CHUNK).enumerate() {
            let rows = s![ci * CLASSIFY_CHUNK..ci * CLASSIFY_CHUNK + chunk.nrows(), ..];
            let (g, fwd) = self.scores_chunk(chunk);
            scores.slice_mut(rows).assign(&g);
            forward.slice_mut(rows).assign(&fwd.z3);
        }
        (scores, forward)
    }

    /// The goodness scores (n×C) of at most [`CLASSIFY_CHUNK`] images, and their forward pass.
    fn scores_chunk(&self, chunk: ArrayView2<'_, T>) -> (Array2<T>, Forward<T>) {
        let c = self.cfg.classes;
        let (low, high) = self.cfg.classifier_window();
        let labels: Vec<usize> = (0..c).collect();
        let n = chunk.nrows();
        let mut g = Array1::<T>::zeros(n * c);
        let fwd = self.settle(chunk, &labels, high, |k, z1, z2| {
            if k >= low {
                let (s1, s2) = (row_sq_sums(z1.view()), row_sq_sums(z2.view()));
                g.zip_mut_with(&(s1 + s2), |a, &b| *a -= T::c(0.5) * b);
            }
        });
        let fwd = fwd.unwrap_or_else(|| self.rep.forward(nrm(chunk).view()));
        let scores = Array2::from_shape_fn((n, c), |(i, cl)| g[cl * n + i] / T::c(3.0));
        (scores, fwd)
    }

    /// Goodness-classifier predictions.
    pub fn classify(&self, x: ArrayView2<'_, T>) -> Vec<usize> {
        ops::argmax_rows(self.goodness_scores(x).view())
    }

    /// Forward-head probabilities (N×C).
    pub fn forward_probs(&self, x: ArrayView2<'_, T>) -> Array2<T> {
        self.rep.forward(nrm(x).view()).z3
    }

    /// Reconstruction `clip01(nrm(φ(nrm(z2⁰)·G2))·G1)` from the forward state (algorithm.md §11.3).
    pub fn reconstruct(&self, x: ArrayView2<'_, T>) -> Array2<T> {
        let fwd = self.rep.forward(nrm(x).view());
        let h1 = self.generative.predict_layer1(fwd.z2.view());
        self.generative.predict_input(h1.view())
    }

    /// Evaluates a labelled set (pixels in [0, 1]) with both classifiers and reconstruction.
    pub fn evaluate(&self, x: ArrayView2<'_, T>, labels: &[usize]) -> Evaluation {
        let cpu = |chunk: ArrayView2<'_, T>| {
            let (scores, fwd) = self.scores_chunk(chunk);
            Ok::<_, std::convert::Infallible>((scores, Some(fwd)))
        };
        match self.evaluate_scored(x, labels, cpu) {
            Ok(ev) => ev,
            Err(never) => match never {},
        }
    }

    /// [`Pff::evaluate`] with the goodness scores of each chunk of images from `scores_of`
    /// (another engine's, such as the GPU's), which may also give the chunk's forward pass; the
    /// forward head and the reconstruction are computed here from it.
    pub fn evaluate_scored<E>(
        &self,
        x: ArrayView2<'_, T>,
        labels: &[usize],
        mut scores_of: impl FnMut(ArrayView2<'_, T>) -> Result<(Array2<T>, Option<Forward<T>>), E>,
    ) -> Result<Evaluation, E> {
        let c = self.cfg.classes;
        let n = x.nrows();
        let mut predictions = Vec::with_capacity(n);
        let (mut fwd_ok, mut sse) = (0usize, 0.0f64);
        for chunk in x.axis_chunks_iter(Axis(0), CLASSIFY_CHUNK) {
            let (scores, fwd) = scores_of(chunk)?;
            let fwd = fwd.unwrap_or_else(|| self.rep.forward(nrm(chunk).view()));
            predictions.extend(ops::argmax_rows(scores.view()));
            let off = predictions.len() - chunk.nrows();
            for (i, p) in ops::argmax_rows(fwd.z3.view()).into_iter().enumerate() {
                fwd_ok += usize::from(p == labels[off + i]);
            }
            let h1 = self.generative.predict_layer1(fwd.z2.view());
            let xr = self.generative.predict_input(h1.view());
            sse += (&xr - &chunk).mapv(|v| (v * v).f64()).sum();
        }
        let mut confusion = vec![vec![0usize; c]; c];
        let mut ok = 0;
        for (&p, &l) in predictions.iter().zip(labels) {
            confusion[l][p] += 1;
            ok += usize::from(p == l);
        }
        let acc = if n == 0 { 0.0 } else { ok as f64 / n as f64 };
        Ok(Evaluation {
            n,
            accuracy: acc,
            error: 1.0 - acc,
            forward_accuracy: if n == 0 { 0.0 } else { fwd_ok as f64 / n as f64 },
            recon_sse: if n == 0 { 0.0 } else { sse / n as f64 },
            confusion,
            predictions,
        })
    }

    /// Top latents (N×G) as the reference's `get_latent` computes them (algorithm.md §12.1): the forward
    /// state, the label replaced by the head's probabilities, one noise-free step (the same at
    /// every repeat) and K z_g descent steps from zero, in batches of `latent_batch`.
    pub fn latents(&self, x: ArrayView2<'_, T>) -> Array2<T> {
        let cfg = &self.cfg;
        let mut out = Array2::zeros((x.nrows(), cfg.latent));
        for (bi, chunk) in x.axis_chunks_iter(Axis(0), cfg.latent_batch).enumerate() {
            let x_hat = nrm(chunk);
            let fwd = self.rep.forward(x_hat.view());
            let y_hat = fwd.z3.mapv(|v| v * T::c(cfg.y_scale));
            let z2 = self.rep.step(cfg, x_hat.view(), y_hat.view(), &State { z1: fwd.z1, z2: fwd.z2 }, None).z2;
            let mut z_g = Array2::zeros((chunk.nrows(), cfg.latent));
            for _ in 0..cfg.steps {
                let (d, _) = self.generative.latent_direction(z_g.view(), z2.view(), chunk.nrows());
                z_g.scaled_add(-T::c(cfg.beta), &d);
            }
            let start = bi * cfg.latent_batch;
            out.slice_mut(s![start..start + chunk.nrows(), ..]).assign(&z_g);
        }
        out
    }
}

impl Pff<f32> {
    /// Evaluates images `rows` of a dataset (see [`Pff::evaluate`]).
    pub fn evaluate_dataset(&self, data: &Dataset, rows: Range<usize>) -> Evaluation {
        let (x, labels) = data.rows(rows);
        self.evaluate(x.view(), &labels)
    }

    /// Settles one image (1×D) under all C hypotheses for K steps, recording what the page
    /// draws: goodness per hypothesis and layer at each step, and for hypothesis `label` (the
    /// classifier's answer when `None`) the layer states and the generative prediction of the
    /// input.
    pub fn settle_trace(&self, x: ArrayView2<'_, f32>, label: Option<usize>) -> SettleTrace {
        let labels: Vec<usize> = (0..self.cfg.classes).collect();
        let (mut z1s, mut z2s) = (Vec::new(), Vec::new());
        self.settle(x.slice(s![0..1, ..]), &labels, self.cfg.steps, |_, z1, z2| {
            z1s.push(z1.clone());
            z2s.push(z2.clone());
        });
        let stack = |steps: &[Array2<f32>]| match steps {
            [] => Array2::zeros((0, self.cfg.hidden)),
            _ => concatenate(Axis(0), &steps.iter().map(|a| a.view()).collect::<Vec<_>>()).expect("same widths"),
        };
        let (z1s, z2s) = (stack(&z1s), stack(&z2s));
        let (sq1, sq2) = (row_sq_sums(z1s.view()), row_sq_sums(z2s.view()));
        SettleTrace::from_steps(self, (&z1s, &z2s), (sq1.view(), sq2.view()), label)
    }
}
