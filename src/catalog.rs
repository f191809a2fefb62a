//! What the front ends offer and within which bounds: the presets with their labels, the
//! defaults and limits of a training run started from the page, and the page's other numbers
//! (pretrained model, prior size, dream sizes). The page reads all of it through the wasm
//! surface (`catalog()`), so no preset value or limit is written in `www/`.
//!
//! What a particular site publishes (its models, datasets, title, whether it offers training)
//! is a [`Site`]: the repository's own is [`Site::repository`]; `pff bundle` writes another as
//! [`SITE_FILE`] beside the page, and the page hands that file to [`catalog_for`].

use crate::config::Config;
use crate::data::{Manifest, Noun, validate_dataset_name};
use crate::error::{PffError, Result};
use crate::run::RunRequest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file at a site's root that says what the site publishes (written by `pff bundle`).
pub const SITE_FILE: &str = "site.json";
/// The folder of a site's weights files, relative to its root.
pub const WEIGHTS_DIR: &str = "data/weights";
/// Longest page title a site may set.
pub const MAX_TITLE_CHARS: usize = 80;

/// A preset as the front ends list it.
#[derive(Clone, Debug, Serialize)]
pub struct PresetInfo {
    /// Name passed to `Config::preset` (`tiny`, `web`, `paper`).
    pub name: String,
    /// A one-line label such as `web (2×500 units, K 12)`.
    pub label: String,
    /// Whether the page offers it for in-page training (the paper model is too large).
    pub in_page: bool,
    /// The full configuration.
    pub config: Config,
}

/// A model published with the page, one click away in the Weights panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippedModel {
    /// Its name (`mnist-web`); the page calls it "pretrained NAME".
    pub name: String,
    /// The button's text.
    pub label: String,
    /// The dataset it was trained on, which the page loads with it.
    pub dataset: String,
    /// Its weights file, relative to the site root.
    pub url: String,
}

/// What one site publishes: its models (the default first), the datasets it serves, its title
/// and whether it offers in-page training (which needs the training split).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The page's title, when the site sets one (`pff bundle --title`).
    #[serde(default)]
    pub title: Option<String>,
    /// The models, the one the page opens with first.
    pub models: Vec<ShippedModel>,
    /// The datasets the site serves (each a folder `data/NAME/` with its manifest).
    pub datasets: Vec<String>,
    /// Whether the page offers in-page training (the site then serves the training split).
    pub training: bool,
}

impl Site {
    /// The site of this repository (`pff serve`, and `pff bundle` without options).
    pub fn repository() -> Site {
        Site {
            title: None,
            models: vec![
                ShippedModel::named("mnist-web", "Load the pretrained MNIST model", "mnist"),
                ShippedModel::named("fashion-web", "Load the pretrained Fashion-MNIST model", "fashion"),
            ],
            datasets: vec!["mnist".into(), "fashion".into()],
            training: true,
        }
    }

    /// Reads and checks a site file.
    pub fn from_json(text: &str) -> Result<Site> {
        let site: Site = serde_json::from_str(text).map_err(|e| PffError::Config(format!("{SITE_FILE} is not a valid site file: {e}")))?;
        site.validate()?;
        Ok(site)
    }

    /// The site file's text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a site serialises") + "\n"
    }

    /// Checks that the site can be served: at least one model, names that are safe path parts,
    /// weights under [`WEIGHTS_DIR`], every model's dataset among the datasets, no duplicates.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(PffError::Config(format!("{SITE_FILE}: {m}")));
        if self.models.is_empty() {
            return bad("a site publishes at least one model".into());
        }
        if let Some(t) = &self.title
            && (t.trim().is_empty() || t.chars().count() > MAX_TITLE_CHARS || t.chars().any(char::is_control))
        {
            return bad(format!("the title must be 1 to {MAX_TITLE_CHARS} characters without control characters"));
        }
        for (i, d) in self.datasets.iter().enumerate() {
            validate_dataset_name(d)?;
            if self.datasets[..i].contains(d) {
                return bad(format!("dataset {d:?} is listed twice"));
            }
        }
        for (i, m) in self.models.iter().enumerate() {
            validate_dataset_name(&m.name).map_err(|_| PffError::Config(format!("{SITE_FILE}: model name {:?} is not valid", m.name)))?;
            if self.models[..i].iter().any(|o| o.name == m.name) {
                return bad(format!("model {:?} is listed twice", m.name));
            }
            if m.url != ShippedModel::url_of(&m.name) {
                return bad(format!("model {:?} must be at {}, not {:?}", m.name, ShippedModel::url_of(&m.name), m.url));
            }
            if !self.datasets.contains(&m.dataset) {
                return bad(format!("model {:?} is trained on {:?}, which the site does not serve", m.name, m.dataset));
            }
            if m.label.trim().is_empty() || m.label.chars().count() > 2 * MAX_TITLE_CHARS || m.label.chars().any(char::is_control) {
                return bad(format!("model {:?} needs a one-line label", m.name));
            }
        }
        Ok(())
    }
}

impl ShippedModel {
    /// A model of a site, its weights at [`ShippedModel::url_of`].
    pub fn named(name: &str, label: &str, dataset: &str) -> ShippedModel {
        ShippedModel { name: name.into(), label: label.into(), dataset: dataset.into(), url: Self::url_of(name) }
    }

    /// Where a site keeps the weights of model `name`.
    pub fn url_of(name: &str) -> String {
        format!("{WEIGHTS_DIR}/{name}.safetensors")
    }
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
    PresetInfo { name: name.to_string(), label, in_page, config }
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
        presets: vec![preset("tiny", true), preset("web", true), preset("paper", false)],
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
        assert!(c.presets.iter().any(|p| p.name == c.default_preset && p.in_page));
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

    #[test]
    fn a_site_file_round_trips_and_sets_the_default_model() {
        Site::repository().validate().unwrap();
        let site = Site {
            title: Some("Letters".into()),
            models: vec![ShippedModel::named("abcd-tiny", "Load my model", "abcd"), ShippedModel::named("mnist-web", "MNIST", "mnist")],
            datasets: vec!["abcd".into(), "mnist".into()],
            training: false,
        };
        let back = Site::from_json(&site.to_json()).unwrap();
        assert_eq!(back, site);
        let c = catalog_for(back);
        assert_eq!((c.pretrained_url.as_str(), c.default_dataset.as_str()), ("data/weights/abcd-tiny.safetensors", "abcd"));
        assert_eq!(c.pretrained_name, "pretrained abcd-tiny");
        assert_eq!((c.title.as_deref(), c.training), (Some("Letters"), false));
    }

    #[test]
    fn a_site_file_that_cannot_be_served_is_refused_with_the_reason() {
        let ok = Site::repository();
        let with = |f: &dyn Fn(&mut Site)| {
            let mut s = ok.clone();
            f(&mut s);
            Site::from_json(&s.to_json()).unwrap_err().to_string()
        };
        assert!(with(&|s| s.models.clear()).contains("at least one model"));
        assert!(with(&|s| s.models[0].url = "../../etc/passwd".into()).contains("must be at data/weights/mnist-web.safetensors"));
        assert!(with(&|s| s.models[0].name = "../x".into()).contains("model name"));
        assert!(with(&|s| s.datasets.retain(|d| d != "fashion")).contains("does not serve"));
        assert!(with(&|s| s.datasets.push("mnist".into())).contains("twice"));
        assert!(with(&|s| s.models.push(s.models[0].clone())).contains("twice"));
        assert!(with(&|s| s.title = Some("a\nb".into())).contains("title"));
        assert!(with(&|s| s.title = Some("x".repeat(81))).contains("title"));
        assert!(Site::from_json("{\"models\": []}").unwrap_err().to_string().contains("not a valid site file"));
        assert!(Site::from_json(&ok.to_json().replace("\"training\"", "\"trainin\"")).is_err());
    }
}
