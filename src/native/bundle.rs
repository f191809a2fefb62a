//! `pff bundle`: a self-contained static copy of the web page, deployable to any static host.
//!
//! Layout of the bundle (`--out DIR`), the same URL layout as `pff serve`:
//!
//! ```text
//! DIR/
//!   index.html ...            www/* (index.html gets the service worker's <script> tag)
//!   coi-serviceworker.js      cross-origin isolation on hosts that cannot set headers
//!   pkg/single/ pkg/threads/ pkg/relaxed/  the wasm-bindgen builds (the threaded ones if built)
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
    /// The optional builds included: `threads`, `relaxed` (without them the page runs
    /// single-threaded; without `relaxed`, without fused multiply-add).
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
    let mut replaced = false;
    match fs::symlink_metadata(out) {
        Ok(meta) if meta.is_dir() => {
            let mut entries = fs::read_dir(out).map_err(io_err(format!("cannot read {}", out.display())))?;
            if entries.next().is_some() {
                if !out.join(MARKER_FILE).is_file() {
                    return Err(invalid(
                        format!("refusing to overwrite {}", out.display()),
                        &format!("it is not empty and is not a previous bundle (no {MARKER_FILE} marker); choose another --out or empty it"),
                    ));
                }
                replaced = true;
            }
        }
        Ok(_) => {
            return Err(invalid(format!("refusing to overwrite {}", out.display()), "it exists and is not a folder"));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(PffError::io(format!("cannot inspect {}", out.display()), e)),
    }
    fs::create_dir_all(&parent).map_err(io_err(format!("cannot create {}", parent.display())))?;

    // The bundle must not live inside a folder it copies from (it would copy itself), and
    // replacing it must not delete the sources.
    let canon_parent = fs::canonicalize(&parent).map_err(io_err(format!("cannot resolve {}", parent.display())))?;
    let canon_out = canon_parent.join(&out_name);
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

/// A checked plan of what a bundle publishes.
struct Plan {
    site: Site,
    /// `(model name, weights file)`, in the site's order.
    weights: Vec<(String, PathBuf)>,
    /// `(dataset, its folder, its manifest)`, in the site's order.
    datasets: Vec<(String, PathBuf, Manifest)>,
    notes: Vec<String>,
}

/// Reads every weights file and manifest the bundle will publish and decides the site.
fn plan_site(data_dir: &Path, opts: &BundleOptions) -> Result<Plan> {
    let mut notes = Vec::new();
    let mut files = opts.weights.clone();
    if let Some(d) = &opts.default
        && !files.iter().any(|f| same_file(f, d))
    {
        files.insert(0, d.clone());
    }
    let mut weights: Vec<(String, PathBuf)> = Vec::new();
    let mut models: Vec<ShippedModel> = Vec::new();
    let mut datasets: Vec<String> = Vec::new();
    if files.is_empty() {
        // The repository's site: the shipped models present, every dataset present.
        for m in Site::repository().models {
            let file = data_dir.join("weights").join(format!("{}.safetensors", m.name));
            if !file.is_file() {
                notes.push(format!("{} is missing: the page will not offer {}", file.display(), m.name));
            } else if !data_dir.join(&m.dataset).join(MANIFEST_FILE).is_file() {
                notes.push(format!("dataset {} is missing ({}): the page will not offer {}", m.dataset, fetch_hint(data_dir, &m.dataset), m.name));
            } else {
                weights.push((m.name.clone(), file));
                models.push(m);
            }
        }
        if let Ok(entries) = fs::read_dir(data_dir) {
            let mut present: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && n != "weights" && data_dir.join(n).join(MANIFEST_FILE).is_file())
                .collect();
            present.sort();
            datasets.extend(present);
        }
    } else {
        for file in &files {
            let (name, dataset) = read_model(file)?;
            if let Some((_, other)) = weights.iter().find(|(n, _)| *n == name) {
                return Err(invalid(
                    format!("cannot bundle {}", file.display()),
                    &format!("{} has the same name {name:?}; a site publishes each model under its file name", other.display()),
                ));
            }
            weights.push((name.clone(), file.clone()));
            models.push(ShippedModel::named(&name, &name, &dataset)); // labelled below, with its dataset's title
            if !datasets.contains(&dataset) {
                datasets.push(dataset);
            }
        }
    }
    for d in &opts.datasets {
        if !datasets.contains(d) {
            datasets.push(d.clone());
        }
    }
    if models.is_empty() {
        return Err(invalid(
            format!("cannot bundle: no model to publish from {}", data_dir.join("weights").display()),
            &format!(
                "the page needs a model to open with: give --weights FILE, or fetch the datasets of the shipped models with `pff{} data`",
                crate::native::shell::data_dir_flag(data_dir)
            ),
        ));
    }
    let mut with_manifest = Vec::new();
    for d in &datasets {
        let dir = data_dir.join(d);
        let manifest = crate::native::data::load_manifest(data_dir, d)?;
        if !files.is_empty() {
            for m in models.iter_mut().filter(|m| m.dataset == *d) {
                m.label = format!("Load {} ({})", m.name, manifest.display_name());
            }
        }
        with_manifest.push((d.clone(), dir, manifest));
    }
    let site = Site { title: opts.title.clone(), models, datasets, training: !opts.no_training };
    site.validate()?;
    Ok(Plan { site, weights, datasets: with_manifest, notes })
}

/// A weights file's model name (its file name without `.safetensors`) and dataset, read and
/// checked as a checkpoint.
fn read_model(file: &Path) -> Result<(String, String)> {
    let what = format!("cannot bundle {}", file.display());
    let fname = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if fname.ends_with(".train.safetensors") {
        return Err(invalid(what, "it is a training state (for `pff train --resume`); bundle the weights file beside it"));
    }
    let Some(name) = fname.strip_suffix(".safetensors") else {
        return Err(invalid(what, "a weights file is named NAME.safetensors"));
    };
    crate::data::validate_dataset_name(name).map_err(|_| {
        invalid(what.clone(), "its name (before .safetensors) must be 1 to 64 ASCII letters, digits, '_' or '-': the page publishes it under that name")
    })?;
    let bytes = fs::read(file).map_err(io_err(what.clone()))?;
    let ck = Checkpoint::from_bytes(&bytes).map_err(|e| invalid(what.clone(), &e.to_string()))?;
    if ck.meta.dataset.is_empty() {
        return Err(invalid(what, "it does not record the dataset it was trained on (record it with `pff eval --weights FILE --dataset NAME --record`)"));
    }
    Ok((name.to_string(), ck.meta.dataset))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Writes the bundle's contents into `dst` (the temporary folder).
fn write_tree(root: &Path, plan: &Plan, dst: &Path, report: &mut BundleReport) -> Result<()> {
    let mut copier = Copier { files: 0, bytes: 0, notes: plan.notes.clone() };

    copier.copy_dir(&root.join("www"), dst, &|_| true)?;
    let page_bytes = copier.bytes;
    let pkg = root.join("pkg");
    copier.copy_dir(&pkg.join("single"), &dst.join("pkg").join("single"), &|_| true)?;
    for (build, without) in [("threads", "single-threaded"), ("relaxed", "without fused multiply-add (relaxed SIMD)")] {
        let dir = pkg.join(build);
        if dir.is_dir() {
            copier.copy_dir(&dir, &dst.join("pkg").join(build), &|_| true)?;
            report.builds.push(build);
        } else {
            copier.notes.push(format!("{} is missing: the bundle runs {without} ({BUILD_HINT})", dir.display()));
        }
    }
    let wasm_bytes = copier.bytes - page_bytes;

    let training = plan.site.training;
    for (name, dir, manifest) in &plan.datasets {
        copy_dataset(&mut copier, name, dir, manifest, training, &dst.join("data").join(name))?;
        report.datasets.push(name.clone());
    }
    let data_bytes = copier.bytes - page_bytes - wasm_bytes;
    let weights_dst = dst.join(WEIGHTS_DIR);
    fs::create_dir_all(&weights_dst).map_err(io_err(format!("cannot create {}", weights_dst.display())))?;
    for (name, file) in &plan.weights {
        let target = dst.join(ShippedModel::url_of(name));
        let n = fs::copy(file, &target).map_err(io_err(format!("cannot copy {} to {}", file.display(), target.display())))?;
        copier.files += 1;
        copier.bytes += n;
        report.weights.push(format!("{name}.safetensors"));
    }
    let weights_bytes = copier.bytes - page_bytes - wasm_bytes - data_bytes;
    report.models = plan.site.models.iter().map(|m| m.name.clone()).collect();
    report.training = training;
    copier.write(&dst.join(SITE_FILE), plan.site.to_json().as_bytes())?;
    report.part_bytes = [0, wasm_bytes, data_bytes, weights_bytes];

    let index_path = dst.join("index.html");
    let html = fs::read_to_string(&index_path).map_err(io_err(format!("cannot read {}", root.join("www").join("index.html").display())))?;
    if let Some(injected) = inject_script(&html) {
        fs::write(&index_path, &injected).map_err(io_err(format!("cannot write {}", index_path.display())))?;
        copier.bytes = copier.bytes + injected.len() as u64 - html.len() as u64;
        report.injected = true;
    }
    let offline = offline_files(dst, &warm_data(plan))?;
    copier.write(&dst.join(COI_SERVICEWORKER_FILE), service_worker(&offline)?.as_bytes())?;
    // The marker lists the files the bundle made, so that a later bundle into the same folder
    // knows which files are someone else's (a CNAME, a robots.txt) and keeps them.
    let marker = serde_json::json!({
        "generator": "pff bundle",
        "version": env!("CARGO_PKG_VERSION"),
        "created_unix": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "files": files_under(dst).map_err(io_err(format!("cannot list {}", dst.display())))?,
    });
    copier.write(&dst.join(MARKER_FILE), format!("{marker}\n").as_bytes())?;

    report.files = copier.files;
    report.bytes = copier.bytes;
    report.part_bytes[0] = copier.bytes - report.part_bytes[1..].iter().sum::<u64>();
    report.notes.append(&mut copier.notes);
    Ok(())
}

/// The `data/` files cached on the first visit: the default model, and the manifest and test
/// split of its dataset.
fn warm_data(plan: &Plan) -> Vec<String> {
    let default = &plan.site.models[0];
    let mut warm = vec![ShippedModel::url_of(&default.name), format!("data/{}/{MANIFEST_FILE}", default.dataset)];
    if let Some((_, _, m)) = plan.datasets.iter().find(|(n, _, _)| *n == default.dataset)
        && let Some(test) = m.splits.get("test")
    {
        warm.extend(test.shards.iter().map(|s| format!("data/{}/{}", default.dataset, s.file)));
    }
    warm
}

/// Copies the splits of a dataset the site serves, each shard checked against its sha256, and
/// writes a manifest that lists only those splits.
fn copy_dataset(copier: &mut Copier, name: &str, dir: &Path, manifest: &Manifest, training: bool, dst: &Path) -> Result<()> {
    let mut served = manifest.clone();
    served.splits.retain(|split, _| splits_served(training).contains(&split.as_str()));
    if !served.splits.contains_key("test") {
        return Err(invalid(format!("cannot bundle dataset {name}"), "it has no test split, which the page's views need"));
    }
    if training && !served.splits.contains_key("train") {
        copier.notes.push(format!("dataset {name} has no training split: the page cannot train on it"));
    }
    fs::create_dir_all(dst).map_err(io_err(format!("cannot create {}", dst.display())))?;
    for info in served.splits.values() {
        for shard in &info.shards {
            let src = dir.join(&shard.file);
            let bytes = fs::read(&src).map_err(io_err(format!("cannot read {}", src.display())))?;
            if !sha256_hex(&bytes).eq_ignore_ascii_case(&shard.sha256) {
                return Err(PffError::data(
                    src.display().to_string(),
                    format!("its sha256 does not match the manifest: make it again ({})", fetch_hint(dir.parent().unwrap_or(Path::new(".")), name)),
                ));
            }
            copier.write(&dst.join(&shard.file), &bytes)?;
        }
    }
    copier.write(&dst.join(MANIFEST_FILE), served.to_json().as_bytes())
}

struct Copier {
    files: usize,
    bytes: u64,
    notes: Vec<String>,
}

impl Copier {
    fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        fs::write(path, bytes).map_err(io_err(format!("cannot write {}", path.display())))?;
        self.files += 1;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Copies the regular files under `src` (following symlinks that stay inside `src`) to
    /// `dst`, skipping hidden and `*.tmp` names and files `keep` rejects.
    fn copy_dir(&mut self, src: &Path, dst: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<()> {
        let base = fs::canonicalize(src).map_err(io_err(format!("cannot read {}", src.display())))?;
        self.copy_inside(&base, src, dst, keep, 0)
    }

    fn copy_inside(&mut self, base: &Path, src: &Path, dst: &Path, keep: &dyn Fn(&Path) -> bool, depth: usize) -> Result<()> {
        if depth > 32 {
            return Err(invalid(format!("cannot bundle {}", src.display()), "folders nested too deep (a symlink loop?)"));
        }
        fs::create_dir_all(dst).map_err(io_err(format!("cannot create {}", dst.display())))?;
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(io_err(format!("cannot read {}", src.display())))?
            .collect::<io::Result<_>>()
            .map_err(io_err(format!("cannot read {}", src.display())))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let name_str = name.to_string_lossy();
            let path = entry.path();
            if name_str.starts_with('.') || name_str.ends_with(".tmp") || !keep(&path) {
                continue;
            }
            let resolved = match resolve_within(base, &path) {
                Within::Inside(p) => p,
                Within::Missing => {
                    self.notes.push(format!("skipped {} (a broken symlink)", path.display()));
                    continue;
                }
                Within::Outside(to) => {
                    self.notes.push(format!("skipped {} (a symlink to {}, outside the folder)", path.display(), to.display()));
                    continue;
                }
            };
            let target = dst.join(&name);
            if resolved.is_dir() {
                self.copy_inside(base, &path, &target, keep, depth + 1)?;
            } else if resolved.is_file() {
                let n = fs::copy(&resolved, &target).map_err(io_err(format!("cannot copy {} to {}", path.display(), target.display())))?;
                self.files += 1;
                self.bytes += n;
            }
        }
        Ok(())
    }
}
