//! `pff bundle`: a self-contained static copy of the web page, deployable to any static host.
//!
//! Layout of the bundle (`--out DIR`), the same URL layout as `pff serve`:
//!
//! ```text
//! DIR/
//!   index.html ...            www/* (index.html gets the service worker's <script> tag)
//!   coi-serviceworker.js      cross-origin isolation on hosts that cannot set headers, and the
//!                             site offline (www/coi-serviceworker.js with the bundle's files)
//!   pkg/single/ pkg/threads/ pkg/relaxed/ pkg/webgpu/  the wasm-bindgen builds (all but single if built)
//!   site.json                 what the site publishes (`catalog::Site`): models, datasets, title
//!   data/NAME/                each published dataset: its manifest and the shards of the splits
//!                             the page uses (test; train and dev only if training is offered)
//!   data/weights/NAME.safetensors  each published model
//!   .pff-bundle               marker: this folder is a bundle and may be replaced; lists its files
//! ```
//!
//! Without [`BundleOptions`] the site is the repository's own ([`Site::repository`]: the
//! shipped models and every dataset present). With `weights`, it publishes those files (the
//! `default` one first) and the datasets they were trained on, which each weights file records.
//! Every shard is checked against its manifest's sha256 and every weights file is read as a
//! checkpoint before anything is written.
//!
//! The bundle is written into a temporary folder beside `DIR` and renamed into place at the
//! end, so a failed bundle leaves no half-written `DIR`. An existing `DIR` is replaced only if
//! it is empty or a previous bundle; files in it that the previous bundle did not make (those
//! its marker does not list, such as a `CNAME` or a `robots.txt`) are carried into the new one. Hidden files and `*.tmp` files are not copied, nor are
//! symlinks that resolve outside their folder (the same rule as `pff serve`).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::catalog::{SITE_FILE, ShippedModel, Site, WEIGHTS_DIR};
use crate::checkpoint::Checkpoint;
use crate::data::{MANIFEST_FILE, Manifest, sha256_hex};
use crate::error::{PffError, Result};
use crate::native::data::fetch_hint;
use crate::native::fs::{TempDir, Within, resolve_within, swap_folder};
pub use crate::native::offline::{COI_SCRIPT_TAG, COI_SERVICEWORKER_FILE, COI_SERVICEWORKER_JS, inject_script};
use crate::native::offline::{files_under, offline_files, service_worker};

mod plan;
mod write;

use plan::{Plan, plan_site};
use write::write_tree;

/// The marker file that identifies a folder as a bundle.
pub const MARKER_FILE: &str = ".pff-bundle";
const BUILD_HINT: &str = "run the build first: scripts/build-wasm.sh";

/// What a bundle publishes (`pff bundle`'s options); the default is the repository's site.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// The folder of the datasets (`pff --data-dir`); `None`: `ROOT/data`.
    pub data_dir: Option<PathBuf>,
    /// Weights files to publish; empty: the repository's shipped models.
    pub weights: Vec<PathBuf>,
    /// Datasets to serve besides those the models were trained on.
    pub datasets: Vec<String>,
    /// The model the page opens with (added to `weights` if it is not there); `None`: the first.
    pub default: Option<PathBuf>,
    /// The page's title.
    pub title: Option<String>,
    /// Leave in-page training out (and with it the training and dev splits).
    pub no_training: bool,
}

/// The splits a site serves: the test split always, the training and dev splits with training.
pub fn splits_served(training: bool) -> &'static [&'static str] {
    if training { &["test", "train", "dev"] } else { &["test"] }
}

/// What [`bundle`] wrote.
#[derive(Debug, Clone, Default)]
pub struct BundleReport {
    /// The bundle folder.
    pub out: PathBuf,
    /// Files written (the marker included).
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// The optional builds included: `threads`, `relaxed`, `webgpu` (without them the page runs
    /// single-threaded; without `relaxed`, without fused multiply-add; without `webgpu`, on the
    /// CPU only).
    pub builds: Vec<&'static str>,
    /// Dataset folders copied under `data/`.
    pub datasets: Vec<String>,
    /// Files written to `data/weights/`.
    pub weights: Vec<String>,
    /// The published models, the default first.
    pub models: Vec<String>,
    /// Whether the page offers in-page training.
    pub training: bool,
    /// Bytes by part: the page (HTML, JS, CSS, service worker, site file), the wasm builds, the
    /// datasets, the weights.
    pub part_bytes: [u64; 4],
    /// Whether the `<script>` tag was injected (false: `index.html` already loads the worker).
    pub injected: bool,
    /// Whether a previous bundle in `out` was replaced.
    pub replaced: bool,
    /// Things the user should know (missing optional parts, skipped files).
    pub notes: Vec<String>,
}

impl fmt::Display for BundleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {} ({} files, {:.1} MB): page, pkg/single{}, datasets [{}], weights [{}]",
            if self.replaced { "replaced the bundle in" } else { "wrote a bundle to" },
            self.out.display(),
            self.files,
            self.bytes as f64 / 1e6,
            self.builds.iter().map(|b| format!(", pkg/{b}")).collect::<String>(),
            self.datasets.join(", "),
            self.weights.join(", "),
        )?;
        let [page, wasm, data, weights] = self.part_bytes.map(|b| b as f64 / 1e6);
        writeln!(f, "size: page {page:.2} MB, wasm {wasm:.2} MB, data {data:.2} MB, weights {weights:.2} MB")?;
        writeln!(
            f,
            "models: {} (the page opens with {}); in-page training {}",
            self.models.join(", "),
            self.models.first().map(String::as_str).unwrap_or("none"),
            if self.training { "offered (training and dev splits included)" } else { "left out (test splits only)" }
        )?;
        if self.injected {
            writeln!(f, "index.html loads {COI_SERVICEWORKER_FILE} first (cross-origin isolation on hosts that cannot set headers)")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> PffError {
    let context = context.into();
    move |e| PffError::io(context, e)
}

fn invalid(context: String, reason: &str) -> PffError {
    PffError::io(context, io::Error::new(io::ErrorKind::InvalidInput, reason.to_string()))
}

/// Builds the bundle of the repository at `root` into `out`: the repository's own site.
pub fn bundle(root: &Path, out: &Path) -> Result<BundleReport> {
    bundle_with(root, out, &BundleOptions::default())
}

/// Builds the bundle of the repository at `root` into `out` as `opts` say (see the module
/// documentation).
pub fn bundle_with(root: &Path, out: &Path, opts: &BundleOptions) -> Result<BundleReport> {
    // Everything that can be checked is checked before anything is written.
    let index = root.join("www").join("index.html");
    if !index.is_file() {
        return Err(invalid(format!("cannot bundle: {} is missing", index.display()), "the web page (www/index.html) must exist"));
    }
    let single = root.join("pkg").join("single");
    if !single.is_dir() {
        return Err(invalid(format!("cannot bundle: {} is missing", single.display()), BUILD_HINT));
    }
    let out_name = out
        .file_name()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| invalid(format!("cannot bundle into {}", out.display()), "--out must name a folder"))?
        .to_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let replaced = may_replace(out)?;
    fs::create_dir_all(&parent).map_err(io_err(format!("cannot create {}", parent.display())))?;

    check_not_inside_sources(root, out, &parent, &out_name)?;

    let tmp = TempDir::beside(out, "pff-bundle")?;

    let data_dir = opts.data_dir.clone().unwrap_or_else(|| root.join("data"));
    let plan = plan_site(&data_dir, opts)?;
    let mut report = BundleReport { out: out.to_path_buf(), replaced, ..Default::default() };
    write_tree(root, &plan, tmp.path(), &mut report)?;
    if replaced {
        keep_foreign_files(out, tmp.path(), &mut report)?;
    }

    // Swap it into place: the previous bundle is moved aside first and deleted last.
    report.notes.extend(swap_folder(tmp, out, "pff-bundle")?);
    Ok(report)
}

/// Whether `out` is a previous bundle to replace (`false`: it is missing or empty); an error if
/// it is anything else.
fn may_replace(out: &Path) -> Result<bool> {
    match fs::symlink_metadata(out) {
        Ok(meta) if meta.is_dir() => {
            let mut entries = fs::read_dir(out).map_err(io_err(format!("cannot read {}", out.display())))?;
            if entries.next().is_none() {
                return Ok(false);
            }
            if !out.join(MARKER_FILE).is_file() {
                return Err(invalid(
                    format!("refusing to overwrite {}", out.display()),
                    &format!("it is not empty and is not a previous bundle (no {MARKER_FILE} marker); choose another --out or empty it"),
                ));
            }
            Ok(true)
        }
        Ok(_) => Err(invalid(format!("refusing to overwrite {}", out.display()), "it exists and is not a folder")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(PffError::io(format!("cannot inspect {}", out.display()), e)),
    }
}

/// The bundle must not live inside a folder it copies from (it would copy itself), and
/// replacing it must not delete the sources.
fn check_not_inside_sources(root: &Path, out: &Path, parent: &Path, out_name: &std::ffi::OsStr) -> Result<()> {
    let canon_parent = fs::canonicalize(parent).map_err(io_err(format!("cannot resolve {}", parent.display())))?;
    let canon_out = canon_parent.join(out_name);
    let canon_root = fs::canonicalize(root).map_err(io_err(format!("cannot resolve {}", root.display())))?;
    for src in ["www", "pkg", "data"] {
        if let Ok(dir) = fs::canonicalize(root.join(src))
            && canon_out.starts_with(&dir)
        {
            return Err(invalid(format!("cannot bundle into {}", out.display()), &format!("it is inside {}, which is bundled", root.join(src).display())));
        }
    }
    if canon_root.starts_with(&canon_out) {
        return Err(invalid(format!("cannot bundle into {}", out.display()), "it contains the repository root being bundled"));
    }
    Ok(())
}

/// Copies into the new bundle `fresh` the files of the previous bundle `old` that `pff bundle`
/// did not make: those its marker does not list. A marker from before the list (version 1 of
/// the layout) makes the bundle's own folders `pkg/` and `data/` its own, and everything else
/// the new bundle does not write someone else's. Where the new bundle writes the same path,
/// its file wins and a note says so.
fn keep_foreign_files(old: &Path, fresh: &Path, report: &mut BundleReport) -> Result<()> {
    let marker_path = old.join(MARKER_FILE);
    let marker: serde_json::Value = fs::read(&marker_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let listed: Option<std::collections::BTreeSet<String>> =
        marker["files"].as_array().map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_string)).collect());
    let made_by_bundle = |rel: &str| match &listed {
        Some(files) => files.contains(rel) || rel == MARKER_FILE,
        None => rel == MARKER_FILE || rel.starts_with("pkg/") || rel.starts_with("data/") || fresh.join(rel).exists(),
    };
    let mut kept = Vec::new();
    for rel in files_under(old).map_err(io_err(format!("cannot list {}", old.display())))? {
        if made_by_bundle(&rel) {
            continue;
        }
        let target = fresh.join(&rel);
        if target.exists() {
            report.notes.push(format!("{rel} was not made by pff bundle, but this bundle writes it: replaced"));
            continue;
        }
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
        }
        fs::copy(old.join(&rel), &target).map_err(io_err(format!("cannot keep {}", old.join(&rel).display())))?;
        kept.push(rel);
    }
    if !kept.is_empty() {
        report.notes.push(format!("kept {} that pff bundle did not make: {}", if kept.len() == 1 { "a file" } else { "files" }, kept.join(", ")));
    }
    Ok(())
}
