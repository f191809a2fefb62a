//! What one site publishes: its models (the default first), the datasets it serves, its title
//! and whether it offers in-page training. The repository's own site is [`Site::repository`];
//! `pff bundle` writes another as [`SITE_FILE`] beside the page, and the page reads it back
//! through [`Site::from_json`], which refuses a site that could not be served (a model whose
//! weights are not under [`WEIGHTS_DIR`], a dataset the site does not serve).

use crate::data::validate_dataset_name;
use crate::error::{PffError, Result};
use serde::{Deserialize, Serialize};

/// The file at a site's root that says what the site publishes (written by `pff bundle`).
pub const SITE_FILE: &str = "site.json";
/// The folder of a site's weights files, relative to its root.
pub const WEIGHTS_DIR: &str = "data/weights";
/// Longest page title a site may set.
pub const MAX_TITLE_CHARS: usize = 80;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::catalog_for;

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
