//! What the front ends offer and within which bounds: the presets with their labels, the
//! defaults and limits of a training run started from the page, and the page's other numbers
//! (pretrained model, prior size, dream sizes). The page reads all of it through the wasm
//! surface (`catalog()`), so no preset value or limit is written in `www/`.

use crate::config::Config;
use serde::Serialize;

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
#[derive(Clone, Debug, Serialize)]
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

/// An integer setting with its bounds and default.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Bounds {
    pub min: u64,
    pub max: u64,
    pub default: u64,
}

/// A real-valued setting with its bounds (the default comes from the preset).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RealBounds {
    pub min: f64,
    pub max: f64,
}

/// Everything the page shows or sends that is not a property of the loaded model.
#[derive(Clone, Debug, Serialize)]
pub struct Catalog {
    pub presets: Vec<PresetInfo>,
    /// The preset the Train panel starts with.
    pub default_preset: String,
    /// Training images of an in-page run (the first N of the train split).
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
    /// Test digits on the Dream panel's latent map.
    pub map_points: usize,
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
}

fn shipped(name: &str, label: &str, dataset: &str) -> ShippedModel {
    ShippedModel { name: name.into(), label: label.into(), dataset: dataset.into(), url: format!("data/weights/{name}.safetensors") }
}

fn preset(name: &str, in_page: bool) -> PresetInfo {
    let config = Config::preset(name).expect("a built-in preset");
    let label = format!("{name} (2×{} units, K {})", config.hidden, config.steps);
    PresetInfo { name: name.to_string(), label, in_page, config }
}

/// The catalog of this build.
pub fn catalog() -> Catalog {
    let models =
        vec![shipped("mnist-web", "Load the pretrained MNIST model", "mnist"), shipped("fashion-web", "Load the pretrained Fashion-MNIST model", "fashion")];
    Catalog {
        presets: vec![preset("tiny", true), preset("web", true), preset("paper", false)],
        default_preset: "tiny".into(),
        train_images: Bounds { min: 100, max: 50_000, default: 10_000 },
        dev_images: Bounds { min: 100, max: 10_000, default: 2_000 },
        test_images: Bounds { min: 100, max: 10_000, default: 2_000 },
        epochs: Bounds { min: 1, max: 100, default: 1 },
        seed: Bounds { min: 0, max: u32::MAX as u64, default: 1 },
        steps: Bounds { min: 2, max: 30, default: Config::tiny().steps as u64 },
        lr: RealBounds { min: 1e-5, max: 0.1 },
        prior_images: 2_000,
        dream_samples: 100,
        interpolation_frames: 16,
        map_points: 500,
        pretrained_url: models[0].url.clone(),
        pretrained_name: format!("pretrained {}", models[0].name),
        default_dataset: models[0].dataset.clone(),
        models,
        datasets: vec!["mnist".into(), "fashion".into()],
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
    }
}
