//! t-SNE (van der Maaten & Hinton 2008) with the Barnes–Hut approximation (van der Maaten 2014):
//! the 2-D map of the model's top latents that the reference's analysis draws
//! (`plot_tsne.py`). A PCA map keeps the two directions of largest variance and lets the ten
//! classes overlap; t-SNE keeps neighbourhoods, which is what a reader looks for in the picture.
//!
//! The map is a state that advances a few iterations at a time ([`Tsne::step`]), so that the
//! page can draw it as it forms and drop it when the visitor leaves; [`Tsne::run`] runs it to the
//! end. It starts from the PCA map (scaled down, as openTSNE and scikit-learn do), with a seeded
//! jitter far below the scale of the map, so a seed gives one result on any thread count.
//!
//! Affinities: for each point its `3·perplexity` nearest neighbours (exact search), Gaussian
//! bandwidths found by bisection so that each conditional distribution has the perplexity asked
//! for, then symmetrised, `P = (P_j|i + P_i|j) / 2n`. Gradient of KL(P‖Q), with
//! `w_ij = 1/(1 + ‖y_i − y_j‖²)`, `Z = Σ_{k≠l} w_kl`:
//!
//! ```text
//! ∂C/∂y_i = 4 Σ_j (P_ij − w_ij/Z) w_ij (y_i − y_j)
//!         = 4 [ Σ_j P_ij w_ij (y_i − y_j)  −  (1/Z) Σ_j w_ij² (y_i − y_j) ]
//! ```
//!
//! The attraction is a sum over the sparse P; the repulsion and Z are summed over a quadtree,
//! a cell standing for its points where `cell width / distance < θ` (θ = 0: exact). The
//! optimiser is the reference implementation's: early exaggeration ×12 for 250 iterations,
//! momentum 0.5 then 0.8, per-coordinate gains, learning rate `max(n / 12 / 4, 50)`.

use crate::error::{PffError, Result};
use rayon::prelude::*;

/// The options of a map; [`TsneOptions::default`] holds the named defaults the front ends offer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TsneOptions {
    /// The effective number of neighbours each point keeps (5–50 is usual).
    pub perplexity: f64,
    /// Optimisation iterations in all (the first [`EXAGGERATION_ITERATIONS`] exaggerated).
    pub iterations: usize,
    /// Barnes–Hut accuracy: a quadtree cell stands for its points where width/distance < θ.
    pub theta: f64,
    /// Seed of the jitter added to the starting positions.
    pub seed: u64,
}

/// Perplexity of the maps pff draws.
pub const DEFAULT_PERPLEXITY: f64 = 30.0;
/// Iterations of the maps pff draws.
pub const DEFAULT_ITERATIONS: usize = 1000;
/// Barnes–Hut θ of the maps pff draws (van der Maaten's default).
pub const DEFAULT_THETA: f64 = 0.5;
/// Iterations with the attraction exaggerated.
pub const EXAGGERATION_ITERATIONS: usize = 250;
const EXAGGERATION: f64 = 12.0;

impl Default for TsneOptions {
    fn default() -> Self {
        TsneOptions { perplexity: DEFAULT_PERPLEXITY, iterations: DEFAULT_ITERATIONS, theta: DEFAULT_THETA, seed: 1 }
    }
}

/// A t-SNE map in progress.
pub struct Tsne {
    /// The symmetric joint probabilities, row by row: (column, P_ij).
    affinities: Vec<Vec<(u32, f64)>>,
    positions: Vec<[f64; 2]>,
    update: Vec<[f64; 2]>,
    gains: Vec<[f64; 2]>,
    iteration: usize,
    learning_rate: f64,
    opts: TsneOptions,
}

impl Tsne {
    /// A map of the rows of `points` (n×d, row-major), starting from `start` (n×2, row-major,
    /// for example the PCA map).
    pub fn new(points: &[f64], dim: usize, start: &[f64], opts: TsneOptions) -> Result<Self> {
        let n = points.len().checked_div(dim).unwrap_or(0);
        if n < 3 || dim == 0 || points.len() != n * dim || start.len() != 2 * n {
            return Err(PffError::Input(format!(
                "a t-SNE map needs at least 3 points of equal size and 2 starting coordinates each ({} values of dimension {dim}, {} starting values)",
                points.len(),
                start.len()
            )));
        }
        if points.iter().chain(start).any(|v| !v.is_finite()) {
            return Err(PffError::NonFinite("the points of a t-SNE map must be finite".into()));
        }
        if !(opts.perplexity >= 1.0 && opts.perplexity.is_finite() && (0.0..=1.0).contains(&opts.theta)) {
            return Err(PffError::Config(format!("t-SNE needs a perplexity of at least 1 and 0 ≤ θ ≤ 1 (got {} and {})", opts.perplexity, opts.theta)));
        }
        let affinities = joint_probabilities(points, dim, opts.perplexity);
        Ok(Tsne {
            affinities,
            positions: starting_positions(start, opts.seed),
            update: vec![[0.0; 2]; n],
            gains: vec![[1.0; 2]; n],
            iteration: 0,
            learning_rate: (n as f64 / EXAGGERATION / 4.0).max(50.0),
            opts,
        })
    }

    /// Iterations in all.
    pub fn iterations(&self) -> usize {
        self.opts.iterations
    }

    /// Iterations done so far.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    pub fn is_done(&self) -> bool {
        self.iteration >= self.opts.iterations
    }

    /// The positions, x and y per point (n×2, row-major).
    pub fn positions(&self) -> Vec<f64> {
        self.positions.iter().flatten().copied().collect()
    }

    /// Runs up to `iterations` more iterations (fewer where the map ends first).
    pub fn step(&mut self, iterations: usize) {
        for _ in 0..iterations {
            if self.is_done() {
                return;
            }
            let exaggeration = if self.iteration < EXAGGERATION_ITERATIONS { EXAGGERATION } else { 1.0 };
            let momentum = if self.iteration < EXAGGERATION_ITERATIONS { 0.5 } else { 0.8 };
            let grad = gradient(&self.affinities, &self.positions, exaggeration, self.opts.theta);
            let state = self.positions.iter_mut().zip(&mut self.update).zip(&mut self.gains);
            for (((position, update), gains), g) in state.zip(&grad) {
                for d in 0..2 {
                    let gain = &mut gains[d];
                    *gain = if (g[d] > 0.0) != (update[d] > 0.0) { *gain + 0.2 } else { *gain * 0.8 }.max(0.01);
                    update[d] = momentum * update[d] - self.learning_rate * *gain * g[d];
                    position[d] += update[d];
                }
            }
            centre(&mut self.positions);
            self.iteration += 1;
        }
    }

    /// Runs the map to its end and returns the positions.
    pub fn run(mut self) -> Vec<f64> {
        self.step(self.opts.iterations);
        self.positions()
    }
}

/// `start` scaled so that its first coordinate has standard deviation 1e-4, plus a seeded
/// jitter of 1e-6: far below the map's scale, enough to part points that start in one place.
fn starting_positions(start: &[f64], seed: u64) -> Vec<[f64; 2]> {
    let n = start.len() / 2;
    let mean = start.iter().step_by(2).sum::<f64>() / n as f64;
    let sd = (start.iter().step_by(2).map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    let scale = if sd > 0.0 { 1e-4 / sd } else { 1.0 };
    let jitter = crate::rng::normal::<f64>(n, 2, 1e-6, seed ^ 0x7453_4e45);
    let mut y: Vec<[f64; 2]> = (0..n).map(|i| [start[2 * i] * scale + jitter[[i, 0]], start[2 * i + 1] * scale + jitter[[i, 1]]]).collect();
    centre(&mut y);
    y
}

fn centre(y: &mut [[f64; 2]]) {
    let n = y.len() as f64;
    let mean = y.iter().fold([0.0; 2], |m, p| [m[0] + p[0], m[1] + p[1]]).map(|s| s / n);
    for p in y.iter_mut() {
        p[0] -= mean[0];
        p[1] -= mean[1];
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The conditional distribution P_·|i over `dists` (squared distances to the neighbours)
/// whose perplexity is `perplexity`, found by bisection on the precision β = 1/2σ².
pub fn conditional_probabilities(dists: &[f64], perplexity: f64) -> Vec<f64> {
    let target = perplexity.ln();
    let d0 = dists.iter().copied().fold(f64::INFINITY, f64::min);
    let (mut beta, mut lo, mut hi) = (1.0, 0.0, f64::INFINITY);
    let mut p = vec![0.0; dists.len()];
    for _ in 0..200 {
        let mut sum = 0.0;
        let mut weighted = 0.0;
        for (pj, &d) in p.iter_mut().zip(dists) {
            *pj = (-beta * (d - d0)).exp();
            sum += *pj;
            weighted += *pj * (d - d0);
        }
        let entropy = sum.ln() + beta * weighted / sum;
        p.iter_mut().for_each(|v| *v /= sum);
        if (entropy - target).abs() < 1e-5 {
            break;
        }
        if entropy > target {
            lo = beta;
            beta = if hi.is_finite() { (beta + hi) / 2.0 } else { beta * 2.0 };
        } else {
            hi = beta;
            beta = (beta + lo) / 2.0;
        }
    }
    p
}

/// Symmetric joint probabilities over each point's `3·perplexity` nearest neighbours.
fn joint_probabilities(points: &[f64], dim: usize, perplexity: f64) -> Vec<Vec<(u32, f64)>> {
    let n = points.len() / dim;
    let k = ((3.0 * perplexity) as usize).clamp(1, n - 1);
    let perplexity = perplexity.min(k as f64);
    let conditional: Vec<Vec<(u32, f64)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let row = &points[i * dim..(i + 1) * dim];
            let mut near: Vec<(f64, u32)> = (0..n).filter(|&j| j != i).map(|j| (sq_dist(row, &points[j * dim..(j + 1) * dim]), j as u32)).collect();
            near.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            near.truncate(k);
            near.sort_unstable_by_key(|&(_, j)| j);
            let dists: Vec<f64> = near.iter().map(|&(d, _)| d).collect();
            near.iter().zip(conditional_probabilities(&dists, perplexity)).map(|(&(_, j), p)| (j, p)).collect()
        })
        .collect();
    let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for (i, row) in conditional.iter().enumerate() {
        for &(j, p) in row {
            rows[i].push((j, p));
            rows[j as usize].push((i as u32, p));
        }
    }
    let scale = 1.0 / (2.0 * n as f64);
    for row in &mut rows {
        row.sort_unstable_by_key(|&(j, _)| j);
        row.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 += b.1;
                true
            } else {
                false
            }
        });
        row.iter_mut().for_each(|e| e.1 *= scale);
    }
    rows
}

/// ∂C/∂y with the attraction multiplied by `exaggeration`; θ = 0 sums the repulsion exactly.
pub(crate) fn gradient(affinities: &[Vec<(u32, f64)>], y: &[[f64; 2]], exaggeration: f64, theta: f64) -> Vec<[f64; 2]> {
    let tree = QuadTree::new(y);
    let repulsion: Vec<([f64; 2], f64)> = (0..y.len()).into_par_iter().map(|i| tree.repulsion(y, i, theta)).collect();
    let z: f64 = repulsion.iter().map(|r| r.1).sum();
    (0..y.len())
        .into_par_iter()
        .map(|i| {
            let mut attraction = [0.0; 2];
            for &(j, p) in &affinities[i] {
                let (dx, dy) = (y[i][0] - y[j as usize][0], y[i][1] - y[j as usize][1]);
                let w = p / (1.0 + dx * dx + dy * dy);
                attraction[0] += w * dx;
                attraction[1] += w * dy;
            }
            let f = repulsion[i].0;
            [4.0 * (exaggeration * attraction[0] - f[0] / z), 4.0 * (exaggeration * attraction[1] - f[1] / z)]
        })
        .collect()
}

/// A cell of the quadtree: the centre of mass and count of its points, its width, and either
/// its children or (a leaf) its points.
struct Cell {
    mass_centre: [f64; 2],
    count: usize,
    width: f64,
    children: Vec<u32>,
    points: std::ops::Range<usize>,
}

/// A quadtree over the positions, built by partitioning the point order in place.
struct QuadTree {
    cells: Vec<Cell>,
    order: Vec<u32>,
}

impl QuadTree {
    fn new(y: &[[f64; 2]]) -> Self {
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in y {
            for d in 0..2 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let width = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-12) * (1.0 + 1e-9);
        let mut tree = QuadTree { cells: Vec::new(), order: (0..y.len() as u32).collect() };
        tree.build(y, 0..y.len(), lo, width, 0);
        tree
    }

    fn build(&mut self, y: &[[f64; 2]], range: std::ops::Range<usize>, corner: [f64; 2], width: f64, depth: usize) -> u32 {
        let count = range.len();
        let sum = self.order[range.clone()].iter().fold([0.0; 2], |s, &i| [s[0] + y[i as usize][0], s[1] + y[i as usize][1]]);
        let id = self.cells.len() as u32;
        self.cells.push(Cell { mass_centre: sum.map(|s| s / count as f64), count, width, children: Vec::new(), points: range.clone() });
        // a cell of one point, or of points that coincide, is a leaf
        if count <= 1 || depth >= 48 {
            return id;
        }
        let half = width / 2.0;
        let quadrant = |p: &[f64; 2]| usize::from(p[0] >= corner[0] + half) + 2 * usize::from(p[1] >= corner[1] + half);
        self.order[range.clone()].sort_by_key(|&i| quadrant(&y[i as usize]));
        let mut start = range.start;
        let mut children = Vec::with_capacity(4);
        for q in 0..4 {
            let end = start + self.order[start..range.end].iter().take_while(|&&i| quadrant(&y[i as usize]) == q).count();
            if end > start {
                let c = [corner[0] + half * (q % 2) as f64, corner[1] + half * (q / 2) as f64];
                children.push(self.build(y, start..end, c, half, depth + 1));
            }
            start = end;
        }
        self.cells[id as usize].children = children;
        id
    }

    /// Σ_j w_ij² (y_i − y_j) and Σ_j w_ij over the other points, cells far enough summed whole.
    fn repulsion(&self, y: &[[f64; 2]], i: usize, theta: f64) -> ([f64; 2], f64) {
        let (mut force, mut z) = ([0.0; 2], 0.0);
        let mut stack = vec![0u32];
        while let Some(id) = stack.pop() {
            let cell = &self.cells[id as usize];
            let (dx, dy) = (y[i][0] - cell.mass_centre[0], y[i][1] - cell.mass_centre[1]);
            let d2 = dx * dx + dy * dy;
            if !cell.children.is_empty() && cell.width * cell.width >= theta * theta * d2 {
                stack.extend_from_slice(&cell.children);
                continue;
            }
            if cell.children.is_empty() && (cell.count > 1 || theta == 0.0 || self.order[cell.points.start] as usize == i) {
                // a leaf's points one by one (all but i itself)
                for &j in &self.order[cell.points.clone()] {
                    if j as usize != i {
                        let (dx, dy) = (y[i][0] - y[j as usize][0], y[i][1] - y[j as usize][1]);
                        let w = 1.0 / (1.0 + dx * dx + dy * dy);
                        z += w;
                        force[0] += w * w * dx;
                        force[1] += w * w * dy;
                    }
                }
                continue;
            }
            let w = 1.0 / (1.0 + d2);
            let m = cell.count as f64;
            z += m * w;
            force[0] += m * w * w * dx;
            force[1] += m * w * w * dy;
        }
        (force, z)
    }
}

/// How often a point's class is the majority class of its `k` nearest neighbours in the map
/// (the point left out; a tie goes to the class whose nearest member is nearest): what a 2-D
/// picture keeps of the classes. `points` is n×2, row-major.
pub fn knn_agreement(points: &[f64], labels: &[u8], k: usize) -> f64 {
    let n = labels.len();
    if n < 2 || points.len() != 2 * n {
        return 0.0;
    }
    let k = k.clamp(1, n - 1);
    let agree: usize = (0..n)
        .into_par_iter()
        .filter(|&i| {
            let p = &points[2 * i..2 * i + 2];
            let mut near: Vec<(f64, usize)> = (0..n).filter(|&j| j != i).map(|j| (sq_dist(p, &points[2 * j..2 * j + 2]), j)).collect();
            near.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            near.truncate(k);
            near.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut votes = [0usize; 256];
            near.iter().for_each(|&(_, j)| votes[usize::from(labels[j])] += 1);
            let most = votes.iter().copied().max().unwrap_or(0);
            // the nearest neighbour among the classes with the most votes
            let winner = near.iter().map(|&(_, j)| labels[j]).find(|&l| votes[usize::from(l)] == most);
            winner == Some(labels[i])
        })
        .count();
    agree as f64 / n as f64
}

#[cfg(test)]
mod tests;
