//! What the front ends offer and within which bounds: the presets with their labels, the
//! defaults and limits of a training run started from the page, and the page's other numbers
//! (pretrained model, prior size, dream sizes). The page reads all of it through the wasm
//! surface (`catalog()`), so no preset value or limit is written in `www/`.
//!
//! What a particular site publishes (its models, datasets, title, whether it offers training)
//! is a [`Site`]: the repository's own is [`Site::repository`]; `pff bundle` writes another as
//! [`SITE_FILE`] beside the page, and the page hands that file to [`catalog_for`].

use crate::config::Config;
use crate::data::{Manifest, Noun};
use crate::run::RunRequest;
use serde::Serialize;
use std::collections::BTreeMap;

mod site;
pub use site::{MAX_TITLE_CHARS, SITE_FILE, ShippedModel, Site, WEIGHTS_DIR};

/// A preset as the front ends list it.
#[derive(Clone, Debug, Serialize)]
pub struct PresetInfo {
    /// Name passed to `Config::preset` (`tiny`, `web`, `paper`).
    pub name: String,
    /// A one-line label such as `web (2×500 units, K 12)`.
    pub label: String,
    /// Whether the page offers it for in-page training.
    pub in_page: bool,
    /// Whether an in-page run of it needs the GPU build (`paper`: an epoch takes many minutes on
    /// a CPU); the CPU builds show it as needing a GPU and refuse to start it.
    pub needs_gpu: bool,
    /// The full configuration.
    pub config: Config,
}

/// An integer setting with its bounds and default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Bounds {
    pub min: u64,
    pub max: u64,
    pub default: u64,
}

impl Bounds {
    /// These bounds for a split of `have` images: nothing above what it has (the minimum and
    /// the default come down with the maximum; all three are 0 for a split that is missing).
    pub fn within(self, have: usize) -> Bounds {
        let max = self.max.min(have as u64);
        let min = self.min.min(max);
        Bounds { min, max, default: self.default.clamp(min, max) }
    }

    /// `value` brought within these bounds.
    pub fn clamp(self, value: u64) -> u64 {
        value.clamp(self.min.min(self.max), self.max)
    }
}

/// How many images of each split an in-page run may use: the catalog's bounds, or (from
/// [`RunBounds::for_dataset`]) those bounds clamped to what a dataset has.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RunBounds {
    /// Training images (the first N of the train split).
    pub train_images: Bounds,
    /// Dev images evaluated after every epoch.
    pub dev_images: Bounds,
    /// Test images the best model is evaluated on at the end.
    pub test_images: Bounds,
}

impl RunBounds {
    /// The bounds of an in-page run on any dataset.
    pub fn standard() -> RunBounds {
        RunBounds {
            train_images: Bounds { min: 100, max: 50_000, default: 10_000 },
            dev_images: Bounds { min: 100, max: 10_000, default: 2_000 },
            test_images: Bounds { min: 100, max: 10_000, default: 2_000 },
        }
    }

    /// The standard bounds clamped to the splits `manifest` lists: a run on a small dataset
    /// asks for no more images than it has.
    pub fn for_dataset(manifest: &Manifest) -> RunBounds {
        let have = |split: &str| manifest.splits.get(split).map_or(0, |s| s.count);
        let s = RunBounds::standard();
        RunBounds {
            train_images: s.train_images.within(have("train")),
            dev_images: s.dev_images.within(have("dev")),
            test_images: s.test_images.within(have("test")),
        }
    }
}

/// A dataset as the page offers it: its names, what one image shows, the images of each split,
/// and the bounds of an in-page run on it (the form's defaults and limits).
#[derive(Clone, Debug, Serialize)]
pub struct DatasetOffer {
    /// The dataset's name (its folder).
    pub name: String,
    /// The name to show (`Fashion-MNIST`).
    pub title: String,
    /// The class names, label by label.
    pub classes: Vec<String>,
    /// What one image shows (`digit` / `digits`, `item` / `items`).
    pub noun: Noun,
    /// Images per split.
    pub splits: BTreeMap<String, usize>,
    /// The bounds of an in-page run on this dataset.
    pub bounds: RunBounds,
}

impl DatasetOffer {
    /// The offer of the dataset `manifest` describes.
    pub fn of(manifest: &Manifest) -> DatasetOffer {
        DatasetOffer {
            name: manifest.name.clone(),
            title: manifest.display_name().to_string(),
            classes: manifest.class_names(),
            noun: manifest.noun(),
            splits: manifest.splits.iter().map(|(k, v)| (k.clone(), v.count)).collect(),
            bounds: RunBounds::for_dataset(manifest),
        }
    }
}

/// A real-valued setting with its bounds (the default comes from the preset).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RealBounds {
    pub min: f64,
    pub max: f64,
}

/// The shape of every image the page draws, shows and sends: `rows` × `cols` pixels, row by row.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ImageShape {
    pub rows: usize,
    pub cols: usize,
    /// `rows` × `cols`: the length of one image's pixels.
    pub pixels: usize,
}

/// Everything the page shows or sends that is not a property of the loaded model.
#[derive(Clone, Debug, Serialize)]
pub struct Catalog {
    /// The images' shape ([`crate::data::ROWS`] × [`crate::data::COLS`]).
    pub image: ImageShape,
    pub presets: Vec<PresetInfo>,
    /// The preset the Train panel starts with.
    pub default_preset: String,
    /// Training images of an in-page run (the first N of the train split), on any dataset; a
    /// dataset's own ([`DatasetOffer::bounds`]) are these clamped to what it has.
    pub train_images: Bounds,
    /// Dev images an in-page run evaluates after every epoch.
    pub dev_images: Bounds,
    /// Test images an in-page run evaluates its best model on at the end.
    pub test_images: Bounds,
    pub epochs: Bounds,
    pub seed: Bounds,
    /// Settling steps K.
    pub steps: Bounds,
    /// Learning rate η.
    pub lr: RealBounds,
    /// Images the page fits a prior on when a model has none.
    pub prior_images: usize,
    /// Digits in the Dream panel's grid.
    pub dream_samples: usize,
    /// Frames of a latent interpolation.
    pub interpolation_frames: usize,
    /// Test images on the Dream panel's latent map.
    pub map_points: usize,
    /// The perplexity of its t-SNE map.
    pub map_perplexity: f64,
    /// The iterations of its t-SNE map.
    pub map_iterations: usize,
    /// Iterations between two pictures of the map as it forms.
    pub map_step_iterations: usize,
    /// The model the page opens with, relative to the site root (the first of `models`).
    pub pretrained_url: String,
    /// Its display name.
    pub pretrained_name: String,
    /// The dataset the page opens with.
    pub default_dataset: String,
    /// Every model published with the page, the default first.
    pub models: Vec<ShippedModel>,
    /// The datasets the page may offer (those whose manifest the site serves).
    pub datasets: Vec<String>,
    /// The site's page title, if it sets one.
    pub title: Option<String>,
    /// Whether the page offers in-page training.
    pub training: bool,
}

fn preset(name: &str, in_page: bool) -> PresetInfo {
    let config = Config::preset(name).expect("a built-in preset");
    let label = format!("{name} (2×{} units, K {})", config.hidden, config.steps);
    PresetInfo { name: name.to_string(), label, in_page, needs_gpu: needs_gpu(name), config }
}

/// Whether an in-page run of preset `name` needs the GPU build: the paper's 2×2000 model, whose
/// epoch takes about 6 minutes natively on two cores and longer in a page.
pub fn needs_gpu(preset: &str) -> bool {
    preset == "paper"
}

/// Refuses an in-page run of `preset` that needs the GPU ([`needs_gpu`]) where it would not train
/// on one (`on_gpu`): the page's CPU builds when the run is made, its GPU build when the run
/// steps before it moved onto the adapter.
pub fn check_device(preset: &str, on_gpu: bool) -> crate::Result<()> {
    if needs_gpu(preset) && !on_gpu {
        return Err(crate::PffError::Config(format!(
            "the {preset} preset needs a GPU in the page (a browser with WebGPU), or train it natively: pff train --preset {preset}"
        )));
    }
    Ok(())
}

/// The catalog of this build for the repository's own site.
pub fn catalog() -> Catalog {
    catalog_for(Site::repository())
}

/// The catalog of this build for `site` (checked with [`Site::validate`] by whoever read it).
pub fn catalog_for(site: Site) -> Catalog {
    let Site { title, models, datasets, training } = site;
    let RunBounds { train_images, dev_images, test_images } = RunBounds::standard();
    Catalog {
        image: ImageShape { rows: crate::data::ROWS, cols: crate::data::COLS, pixels: crate::data::PIXELS },
        presets: vec![preset("tiny", true), preset("web", true), preset("paper", true)],
        default_preset: RunRequest::IN_PAGE_PRESET.into(),
        train_images,
        dev_images,
        test_images,
        epochs: Bounds { min: 1, max: 100, default: 1 },
        seed: Bounds { min: 0, max: u32::MAX as u64, default: RunRequest::DEFAULT_SEED },
        steps: Bounds { min: 2, max: 30, default: Config::preset(RunRequest::IN_PAGE_PRESET).expect("a built-in preset").steps as u64 },
        lr: RealBounds { min: 1e-5, max: 0.1 },
        prior_images: 2_000,
        dream_samples: crate::generate::DREAM_SAMPLES,
        interpolation_frames: 16,
        map_points: crate::generate::MAP_POINTS,
        map_perplexity: crate::tsne::DEFAULT_PERPLEXITY,
        map_iterations: crate::tsne::DEFAULT_ITERATIONS,
        map_step_iterations: 20,
        pretrained_url: models[0].url.clone(),
        pretrained_name: format!("pretrained {}", models[0].name),
        default_dataset: models[0].dataset.clone(),
        models,
        datasets,
        title,
        training,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_in_the_catalog_is_the_crates_own() {
        let c = catalog();
        for p in &c.presets {
            assert_eq!(p.config, Config::preset(&p.name).unwrap());
            assert!(p.label.contains(&p.config.hidden.to_string()));
        }
        assert!(c.presets.iter().any(|p| p.name == c.default_preset && p.in_page && !p.needs_gpu));
        let needing: Vec<&str> = c.presets.iter().filter(|p| p.needs_gpu).map(|p| p.name.as_str()).collect();
        assert_eq!(needing, ["paper"]);
        let refused = check_device("paper", false).unwrap_err();
        assert_eq!(refused.kind(), crate::ErrorKind::BadConfig);
        assert!(refused.to_string().contains("the paper preset needs a GPU in the page"), "{refused}");
        assert!(check_device("paper", true).is_ok() && check_device("web", false).is_ok());
        let web = c.presets.iter().find(|p| p.name == "web").unwrap();
        assert_eq!(web.config.lr, Config::web().lr);
        // the default model is the first shipped one, on the default dataset
        assert_eq!((c.models[0].url.as_str(), c.models[0].dataset.as_str()), (c.pretrained_url.as_str(), c.default_dataset.as_str()));
        assert_eq!(c.pretrained_name, format!("pretrained {}", c.models[0].name));
        assert!(c.models.iter().all(|m| c.datasets.contains(&m.dataset)));
        assert!(c.training && c.title.is_none());
    }

    #[test]
    fn bounds_come_down_to_what_a_split_has() {
        let b = Bounds { min: 100, max: 10_000, default: 2_000 };
        assert_eq!(b.within(800), Bounds { min: 100, max: 800, default: 800 });
        assert_eq!(b.within(50_000), b, "a large split keeps the catalog's bounds");
        assert_eq!(b.within(40), Bounds { min: 40, max: 40, default: 40 }, "fewer images than the minimum: all of them");
        assert_eq!(b.within(0), Bounds { min: 0, max: 0, default: 0 }, "a missing split offers nothing");
        assert_eq!((b.clamp(5), b.clamp(2_500), b.clamp(99_999)), (100, 2_500, 10_000));
        // the catalog's own bounds are the standard run bounds
        let (c, s) = (catalog(), RunBounds::standard());
        assert_eq!((c.train_images, c.dev_images, c.test_images), (s.train_images, s.dev_images, s.test_images));
    }
}
