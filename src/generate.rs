//! The generative side as the front ends use it (algorithm.md §12): fitting the GMM prior on a
//! dataset's top latents, dreaming digits from it, walking between two dreamed latents, and
//! the two-dimensional map of latents the page draws. The CLI and the page call these, so the
//! random streams and the rules are the same in both.

use crate::config::ComponentDraw;
use crate::data::Dataset;
use crate::error::{PffError, Result};
use crate::gmm::Gmm;
use crate::model::Pff;
use crate::rng;
use ndarray::{Array2, ArrayView2, Axis};
use serde::Serialize;

/// Purpose numbers mixed into the seed of each generative random stream.
const RNG_PRIOR_FIT: u64 = 0x6a;
const RNG_DREAM: u64 = 0x5a;
const RNG_INTERPOLATION: u64 = 0x5b;

/// Most digits one call may dream.
pub const MAX_DREAM: usize = 10_000;
/// Images drawn from the prior by default (`pff sample`, the page's Dream grid).
pub const DREAM_SAMPLES: usize = 100;
/// Images on a latent map by default (`pff report`, the page's Dream map): the first of the
/// test split.
pub const MAP_POINTS: usize = 2_000;

/// Dreamed digits: images (n×D), the latents they were decoded from (n×G) and the mixture
/// component of each.
#[derive(Clone, Debug, Serialize)]
pub struct Dream {
    pub n: usize,
    pub images: Vec<f32>,
    pub latents: Vec<f32>,
    pub components: Vec<u32>,
}

/// Fits the prior (`components` mixture components) on the latents of the first `limit`
/// images of `data` (all when `None`), labelling each component by the class most of its
/// images carry.
pub fn fit_prior(model: &Pff<f32>, data: &Dataset, limit: Option<usize>, components: usize, seed: u64) -> Result<Gmm> {
    let (x, labels) = prior_images(data, limit)?;
    prior_from_latents(model.latents(x.view()).view(), &labels, components, seed)
}

/// The images a prior is fitted on (the first `limit` of `data`, or all) and their labels; an
/// error when there are none.
pub fn prior_images(data: &Dataset, limit: Option<usize>) -> Result<(Array2<f32>, Vec<usize>)> {
    let n = limit.map_or(data.len(), |l| l.min(data.len()));
    if n == 0 {
        return Err(PffError::Input("no images to fit the prior on".into()));
    }
    Ok(data.rows(0..n))
}

/// [`fit_prior`] on latents computed elsewhere (the GPU's), one row per image of `labels`.
pub fn prior_from_latents(z: ArrayView2<'_, f32>, labels: &[usize], components: usize, seed: u64) -> Result<Gmm> {
    Gmm::fit(z.mapv(f64::from).view(), components, Some(labels), &mut rng::rng(seed, &[RNG_PRIOR_FIT]))
}

/// Dreams `n` digits from `prior` (only from component `only` when given), components drawn as
/// the model's configuration says (or as `draw` overrides).
pub fn dream(model: &Pff<f32>, prior: &Gmm, n: usize, only: Option<usize>, draw: Option<ComponentDraw>, seed: u64) -> Result<Dream> {
    if n == 0 || n > MAX_DREAM {
        return Err(PffError::Input(format!("sample count {n} must be in 1..={MAX_DREAM}")));
    }
    let draw = draw.unwrap_or(model.cfg.component_draw);
    let (z, comps) = prior.sample(n, draw, only, &mut rng::rng(seed, &[RNG_DREAM]))?;
    Ok(decoded(model, z.mapv(|v| v as f32), comps))
}

/// `frames` digits on the straight line between two latents dreamed from `prior` (ends
/// included, Gmm::interpolate).
pub fn interpolate(model: &Pff<f32>, prior: &Gmm, frames: usize, seed: u64) -> Result<Dream> {
    if !(2..=MAX_DREAM).contains(&frames) {
        return Err(PffError::Input(format!("interpolation frames {frames} must be in 2..={MAX_DREAM}")));
    }
    let (ends, comps) = prior.sample(2, model.cfg.component_draw, None, &mut rng::rng(seed, &[RNG_INTERPOLATION]))?;
    let path = Gmm::interpolate(ends.row(0), ends.row(1), frames);
    let comps = (0..frames).map(|i| if 2 * i < frames { comps[0] } else { comps[1] }).collect();
    Ok(decoded(model, path.mapv(|v| v as f32), comps))
}

fn decoded(model: &Pff<f32>, z: Array2<f32>, comps: Vec<usize>) -> Dream {
    let images = model.generative.decode(z.view());
    Dream {
        n: z.nrows(),
        images: images.into_raw_vec_and_offset().0,
        latents: z.into_raw_vec_and_offset().0,
        components: comps.into_iter().map(|c| c as u32).collect(),
    }
}

/// Points of a latent map of the images' top latents: their first two principal components,
/// or their t-SNE map.
#[derive(Clone, Debug, Serialize)]
pub struct LatentMap {
    pub n: usize,
    /// x, y per image (n×2, row-major).
    pub points: Vec<f32>,
    pub labels: Vec<u8>,
}

/// The standardised top latents of images `start..start+count` of `data` (each latent
/// dimension to mean 0 and standard deviation 1, so that no single wide one decides a map),
/// with their labels: what both maps are drawn from.
pub fn latent_features(model: &Pff<f32>, data: &Dataset, start: usize, count: usize) -> Result<(Array2<f64>, Vec<u8>)> {
    let end = start.saturating_add(count).min(data.len());
    if start >= end || end - start < 2 {
        return Err(PffError::Input(format!("a latent map needs at least 2 images; {start}..{end} of {} holds fewer", data.len())));
    }
    let (x, labels) = data.rows(start..end);
    Ok(standardised(model.latents(x.view()).view(), labels))
}

/// [`latent_features`] from latents computed elsewhere (the GPU's), one row per label.
pub fn standardised(z: ArrayView2<'_, f32>, labels: Vec<usize>) -> (Array2<f64>, Vec<u8>) {
    let mut z = z.mapv(f64::from);
    for mut col in z.columns_mut() {
        let mean = col.mean().unwrap_or(0.0);
        let sd = col.mapv(|v| (v - mean).powi(2)).mean().unwrap_or(0.0).sqrt();
        col.mapv_inplace(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 });
    }
    (z, labels.into_iter().map(|l| l as u8).collect())
}

/// The PCA latent map of images `start..start+count` of `data`.
pub fn latent_map(model: &Pff<f32>, data: &Dataset, start: usize, count: usize) -> Result<LatentMap> {
    let (z, labels) = latent_features(model, data, start, count)?;
    Ok(pca_map(z.view(), labels))
}

/// The PCA map of features (one row per label, from [`latent_features`] or [`standardised`]).
pub fn pca_map(z: ArrayView2<'_, f64>, labels: Vec<u8>) -> LatentMap {
    let p = pca2(z);
    LatentMap { n: labels.len(), points: p.iter().map(|&v| v as f32).collect(), labels }
}

/// The PCA latent map of images `start..start+count` of `data`, and the t-SNE map that starts
/// from it, ready to advance ([`crate::tsne::Tsne::step`]).
pub fn tsne_start(model: &Pff<f32>, data: &Dataset, start: usize, count: usize, opts: crate::tsne::TsneOptions) -> Result<(LatentMap, crate::tsne::Tsne)> {
    let (z, labels) = latent_features(model, data, start, count)?;
    tsne_start_of(z, labels, opts)
}

/// [`tsne_start`] from features (one row per label, from [`latent_features`] or [`standardised`]).
pub fn tsne_start_of(z: Array2<f64>, labels: Vec<u8>, opts: crate::tsne::TsneOptions) -> Result<(LatentMap, crate::tsne::Tsne)> {
    let pca = pca2(z.view());
    let map = crate::tsne::Tsne::new(z.as_slice().expect("standard layout"), z.ncols(), pca.as_slice().expect("standard layout"), opts)?;
    Ok((LatentMap { n: labels.len(), points: pca.iter().map(|&v| v as f32).collect(), labels }, map))
}

/// The t-SNE latent map of images `start..start+count` of `data`, started from the PCA map
/// and run to its end ([`crate::tsne`]).
pub fn tsne_map(model: &Pff<f32>, data: &Dataset, start: usize, count: usize, opts: crate::tsne::TsneOptions) -> Result<LatentMap> {
    let (pca, map) = tsne_start(model, data, start, count, opts)?;
    Ok(LatentMap { points: map.run().iter().map(|&v| v as f32).collect(), ..pca })
}

/// Projection of the rows of `x` onto their first two principal components (power iteration
/// with deflation on the covariance).
pub fn pca2(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mean = x.mean_axis(Axis(0)).expect("non-empty");
    let xc = &x - &mean;
    let cov = xc.t().dot(&xc) / x.nrows().max(1) as f64;
    let d = cov.nrows();
    let mut comps: Vec<ndarray::Array1<f64>> = Vec::new();
    for k in 0..2 {
        let mut v = ndarray::Array1::from_shape_fn(d, |i| 1.0 + (i * (k + 3)) as f64 % 7.0);
        for _ in 0..200 {
            let mut nv = cov.dot(&v);
            for c in &comps {
                let p = nv.dot(c);
                nv.scaled_add(-p, c);
            }
            let n = nv.dot(&nv).sqrt();
            if n == 0.0 {
                break;
            }
            v = nv / n;
        }
        comps.push(v);
    }
    let mut out = Array2::zeros((x.nrows(), 2));
    for (k, c) in comps.iter().enumerate() {
        out.column_mut(k).assign(&xc.dot(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn pca_finds_the_direction_of_largest_spread() {
        // points on the line y = 2x (plus a tiny orthogonal wobble): the first component holds it all
        let x = array![[0.0, 0.0, 0.0], [1.0, 2.0, 0.01], [2.0, 4.0, -0.01], [3.0, 6.0, 0.0]];
        let p = pca2(x.view());
        let spread = |k: usize| p.column(k).iter().map(|v| v * v).sum::<f64>();
        assert!(spread(0) > 1000.0 * spread(1), "{p:?}");
        assert!((spread(0) - 5.0 * (1.5f64.powi(2) * 2.0 + 0.5f64.powi(2) * 2.0)).abs() < 1e-3);
    }
}
