//! The Gaussian-mixture prior over top latents (algorithm.md §12.2–12.3): full covariances, k-means
//! initialisation, EM with scikit-learn's defaults (100 iterations, tol 1e-3 on the mean
//! log-likelihood, reg_covar 1e-6), and sampling through `chol(Σ_k + 1e-4·I)`.
//! Computed in f64: the latents' scale can be large (algorithm.md §8.2).

use crate::config::ComponentDraw;
use crate::error::{PffError, Result};
use crate::rng::Rng;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

const REG_COVAR: f64 = 1e-6;
const SAMPLE_JITTER: f64 = 1e-4;
const MAX_ITER: usize = 100;
const TOL: f64 = 1e-3;

/// A fitted mixture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gmm {
    /// Mixture weights π (k).
    pub weights: Vec<f64>,
    /// Means (k×d, row-major).
    pub means: Vec<Vec<f64>>,
    /// Full covariances (k×d×d).
    pub covariances: Vec<Vec<Vec<f64>>>,
    /// For each component, the label most of its training latents carry (if labels were given).
    #[serde(default)]
    pub component_labels: Vec<Option<usize>>,
    /// EM iterations run and whether the tolerance was reached.
    pub iterations: usize,
    pub converged: bool,
}

/// Lower Cholesky factor of a symmetric positive-definite matrix.
pub fn cholesky(a: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
    let d = a.nrows();
    let mut l = Array2::<f64>::zeros((d, d));
    for i in 0..d {
        for j in 0..=i {
            let mut sum = a[[i, j]];
            for p in 0..j {
                sum -= l[[i, p]] * l[[j, p]];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return Err(PffError::Input("a covariance matrix is not positive definite".into()));
                }
                l[[i, i]] = sum.sqrt();
            } else {
                l[[i, j]] = sum / l[[j, j]];
            }
        }
    }
    Ok(l)
}

/// log N(x | μ, L Lᵀ) for every row of x.
fn log_gauss(x: ArrayView2<'_, f64>, mean: ArrayView1<'_, f64>, l: &Array2<f64>) -> Array1<f64> {
    let d = x.ncols();
    let log_det: f64 = 2.0 * (0..d).map(|i| l[[i, i]].ln()).sum::<f64>();
    let c = -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + log_det);
    let mut out = Array1::zeros(x.nrows());
    let mut w = vec![0.0; d];
    for (o, row) in out.iter_mut().zip(x.rows()) {
        // Forward substitution L w = x − μ.
        let mut q = 0.0;
        for i in 0..d {
            let mut v = row[i] - mean[i];
            for p in 0..i {
                v -= l[[i, p]] * w[p];
            }
            w[i] = v / l[[i, i]];
            q += w[i] * w[i];
        }
        *o = c - 0.5 * q;
    }
    out
}

/// k-means++ seeding then Lloyd's iterations; returns the cluster of each row.
fn kmeans(x: ArrayView2<'_, f64>, k: usize, rng: &mut Rng) -> Vec<usize> {
    let n = x.nrows();
    let dist2 = |a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>| a.iter().zip(b.iter()).map(|(p, q)| (p - q) * (p - q)).sum::<f64>();
    let mut centers = Array2::zeros((k, x.ncols()));
    centers.row_mut(0).assign(&x.row(rng.random_range(0..n)));
    let mut best: Vec<f64> = x.rows().into_iter().map(|r| dist2(r, centers.row(0))).collect();
    for c in 1..k {
        let total: f64 = best.iter().sum();
        let mut pick = rng.random::<f64>() * total;
        let mut idx = n - 1;
        for (i, &d) in best.iter().enumerate() {
            if pick < d {
                idx = i;
                break;
            }
            pick -= d;
        }
        centers.row_mut(c).assign(&x.row(idx));
        for (b, r) in best.iter_mut().zip(x.rows()) {
            *b = b.min(dist2(r, centers.row(c)));
        }
    }
    let mut assign = vec![usize::MAX; n];
    for _ in 0..300 {
        let mut changed = false;
        for (i, r) in x.rows().into_iter().enumerate() {
            let a = (0..k).min_by(|&p, &q| dist2(r, centers.row(p)).total_cmp(&dist2(r, centers.row(q)))).unwrap_or(0);
            if a != assign[i] {
                assign[i] = a;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let mut sums = Array2::<f64>::zeros(centers.raw_dim());
        let mut counts = vec![0usize; k];
        for (i, r) in x.rows().into_iter().enumerate() {
            sums.row_mut(assign[i]).zip_mut_with(&r, |a, &b| *a += b);
            counts[assign[i]] += 1;
        }
        for (c, &count) in counts.iter().enumerate() {
            if count > 0 {
                centers.row_mut(c).assign(&(&sums.row(c) / count as f64));
            }
        }
    }
    assign
}

impl Gmm {
    /// Fits `k` components to the rows of `x`. `labels`, if given, name each component by the
    /// majority label of the rows it claims.
    pub fn fit(x: ArrayView2<'_, f64>, k: usize, labels: Option<&[usize]>, rng: &mut Rng) -> Result<Self> {
        let n = x.nrows();
        if n < k || k == 0 {
            return Err(PffError::Input(format!("cannot fit {k} mixture components to {n} points")));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(PffError::NonFinite("the latents to fit the prior on contain NaN or infinity".into()));
        }
        let mut resp = Array2::<f64>::zeros((n, k));
        for (i, c) in kmeans(x, k, rng).into_iter().enumerate() {
            resp[[i, c]] = 1.0;
        }
        let mut gmm = Gmm { weights: vec![], means: vec![], covariances: vec![], component_labels: vec![], iterations: 0, converged: false };
        gmm.m_step(x, &resp);
        let mut lower = f64::NEG_INFINITY;
        for it in 1..=MAX_ITER {
            let (new_resp, ll) = gmm.e_step(x)?;
            resp = new_resp;
            gmm.m_step(x, &resp);
            gmm.iterations = it;
            if (ll - lower).abs() < TOL {
                gmm.converged = true;
                break;
            }
            lower = ll;
        }
        if let Some(labels) = labels {
            let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
            let mut counts = vec![vec![0usize; classes]; k];
            for (i, r) in resp.rows().into_iter().enumerate() {
                let c = (0..k).max_by(|&p, &q| r[p].total_cmp(&r[q])).unwrap_or(0);
                counts[c][labels[i]] += 1;
            }
            gmm.component_labels = counts.iter().map(|c| (0..classes).filter(|&l| c[l] > 0).max_by_key(|&l| c[l])).collect();
        }

        Ok(gmm)
    }

    fn m_step(&mut self, x: ArrayView2<'_, f64>, resp: &Array2<f64>) {
        let (n, d) = x.dim();
        let k = resp.ncols();
        let nk: Array1<f64> = resp.sum_axis(Axis(0)) + 10.0 * f64::EPSILON;
        let means = resp.t().dot(&x) / nk.view().insert_axis(Axis(1));
        self.weights = nk.iter().map(|v| v / n as f64).collect();
        self.means = means.rows().into_iter().map(|r| r.to_vec()).collect();
        self.covariances = (0..k)
            .map(|c| {
                let diff = &x - &means.row(c);
                let weighted = &diff * &resp.column(c).insert_axis(Axis(1));
                let mut cov = weighted.t().dot(&diff) / nk[c];
                for i in 0..d {
                    cov[[i, i]] += REG_COVAR;
                }
                cov.rows().into_iter().map(|r| r.to_vec()).collect()
            })
            .collect();
    }

    fn cov(&self, c: usize) -> Array2<f64> {
        let d = self.means[c].len();
        Array2::from_shape_fn((d, d), |(i, j)| self.covariances[c][i][j])
    }

    /// Responsibilities and the mean log-likelihood.
    fn e_step(&self, x: ArrayView2<'_, f64>) -> Result<(Array2<f64>, f64)> {
        let k = self.weights.len();
        let mut logp = Array2::zeros((x.nrows(), k));
        for c in 0..k {
            let l = cholesky(self.cov(c).view())?;
            let lg = log_gauss(x, Array1::from(self.means[c].clone()).view(), &l) + self.weights[c].ln();
            logp.column_mut(c).assign(&lg);
        }
        let mut total = 0.0;
        for mut r in logp.rows_mut() {
            let m = r.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let lse = m + r.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            total += lse;
            r.mapv_inplace(|v| (v - lse).exp());
        }
        Ok((logp, total / x.nrows() as f64))
    }

    pub fn dim(&self) -> usize {
        self.means.first().map_or(0, |m| m.len())
    }

    /// Draws `n` latents: components by `draw`, then `μ_k + chol(Σ_k + 1e-4·I)·ε`. Rows are
    /// grouped by component, as the reference returns them. `only` restricts to one component.
    pub fn sample(&self, n: usize, draw: ComponentDraw, only: Option<usize>, rng: &mut Rng) -> Result<(Array2<f64>, Vec<usize>)> {
        let k = self.weights.len();
        if let Some(c) = only
            && c >= k
        {
            return Err(PffError::Input(format!("component {c} does not exist (the prior has {k})")));
        }
        let probs: Vec<f64> = match draw {
            ComponentDraw::Weights => self.weights.clone(),
            ComponentDraw::ReferenceSoftmax => {
                let m = self.weights.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = self.weights.iter().map(|w| (w - m).exp()).collect();
                let s: f64 = e.iter().sum();
                e.iter().map(|v| v / s).collect()
            }
        };
        let mut comps: Vec<usize> = (0..n)
            .map(|_| {
                if let Some(c) = only {
                    return c;
                }
                let mut u = rng.random::<f64>() * probs.iter().sum::<f64>();
                for (c, &p) in probs.iter().enumerate() {
                    if u < p {
                        return c;
                    }
                    u -= p;
                }
                k - 1
            })
            .collect();
        comps.sort_unstable();
        let d = self.dim();
        let mut out = Array2::zeros((n, d));
        let mut chols = vec![None; k];
        for (i, &c) in comps.iter().enumerate() {
            if chols[c].is_none() {
                let mut cov = self.cov(c);
                for j in 0..d {
                    cov[[j, j]] += SAMPLE_JITTER;
                }
                chols[c] = Some(cholesky(cov.view())?);
            }
            let l = chols[c].as_ref().expect("just set");
            let eps: Vec<f64> = (0..d).map(|_| <f64 as crate::real::Real>::std_normal(rng)).collect();
            for r in 0..d {
                let mut v = self.means[c][r];
                for p in 0..=r {
                    v += l[[r, p]] * eps[p];
                }
                out[[i, r]] = v;
            }
        }
        Ok((out, comps))
    }

    /// Checks internal consistency (after loading from a file).
    pub fn validate(&self, dim: usize) -> Result<()> {
        let k = self.weights.len();
        let ok = k > 0
            && self.means.len() == k
            && self.covariances.len() == k
            && self.means.iter().all(|m| m.len() == dim)
            && self.covariances.iter().all(|c| c.len() == dim && c.iter().all(|r| r.len() == dim))
            && self.weights.iter().chain(self.means.iter().flatten()).chain(self.covariances.iter().flatten().flatten()).all(|v| v.is_finite());
        if !ok {
            return Err(PffError::Weights(format!("the stored prior is inconsistent (expected {dim}-dimensional components, finite values)")));
        }
        Ok(())
    }

    /// Interpolates linearly between two latents in `steps` points (inclusive ends).
    pub fn interpolate(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>, steps: usize) -> Array2<f64> {
        let mut out = Array2::zeros((steps, a.len()));
        for i in 0..steps {
            let t = if steps > 1 { i as f64 / (steps - 1) as f64 } else { 0.0 };
            out.slice_mut(s![i, ..]).assign(&(&a * (1.0 - t) + &b * t));
        }
        out
    }
}
