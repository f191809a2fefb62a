//! The file rules every native writer keeps, in one place: a file is written to a temporary
//! name and renamed ([`write_atomic`]); a folder is built beside its target and swapped in
//! ([`TempDir::beside`], [`swap_folder`]); fetches into one data root take turns
//! ([`DatasetLock`]); and a symlink may not lead out of the folder it is in ([`resolve_within`],
//! kept by `pff serve` and `pff bundle` alike).

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::data::sha256_hex;
use crate::error::{PffError, Result};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn unique_suffix() -> String {
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

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| PffError::io(format!("cannot read {}", path.display()), e))
}

/// Creates a folder and its parents, naming it in the error.
pub fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| PffError::io(format!("cannot create folder {}", path.display()), e))
}

/// A temporary folder, removed (with its content) on drop unless it was renamed into place
/// ([`swap_folder`]).
pub struct TempDir {
    path: PathBuf,
    armed: bool,
}

impl TempDir {
    /// A new folder in the system temporary folder, named for `tag` (the folders of `tag` that
    /// dead processes left behind are removed first).
    pub fn in_system(tag: &str) -> Result<Self> {
        remove_stale_temp_dirs(tag);
        let path = std::env::temp_dir().join(format!("pff-{tag}-{}", unique_suffix()));
        fs::create_dir_all(&path).map_err(|e| PffError::io(format!("cannot create temporary folder {}", path.display()), e))?;
        Ok(TempDir { path, armed: true })
    }

    /// A new hidden folder beside `target` (`.NAME.TAG-<unique>.tmp`), on the same file system,
    /// so that it can be renamed into `target`'s place.
    pub fn beside(target: &Path, tag: &str) -> Result<Self> {
        let (parent, name) = parent_and_name(target)?;
        let path = parent.join(format!(".{}.{tag}-{}.tmp", name.to_string_lossy(), unique_suffix()));
        fs::create_dir(&path).map_err(|e| PffError::io(format!("cannot create {}", path.display()), e))?;
        Ok(TempDir { path, armed: true })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The folder holding `path` (`.` for a bare name) and `path`'s last component.
fn parent_and_name(path: &Path) -> Result<(PathBuf, OsString)> {
    let name = path.file_name().filter(|n| !n.is_empty()).ok_or_else(|| {
        PffError::io(format!("cannot use {}", path.display()), io::Error::new(io::ErrorKind::InvalidInput, "the path names no file or folder"))
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name.to_owned()))
}

/// Puts the folder `fresh` in `target`'s place: a folder already there is moved aside first
/// (`.NAME.TAG-<unique>.old`), put back if the rename fails, and deleted last. Returns a note
/// when the old folder could not be deleted.
pub fn swap_folder(mut fresh: TempDir, target: &Path, tag: &str) -> Result<Option<String>> {
    let (parent, name) = parent_and_name(target)?;
    let old = parent.join(format!(".{}.{tag}-{}.old", name.to_string_lossy(), unique_suffix()));
    let had_target = fs::symlink_metadata(target).is_ok();
    if had_target {
        fs::rename(target, &old).map_err(|e| PffError::io(format!("cannot move the previous {} aside", target.display()), e))?;
    }
    if let Err(e) = fs::rename(&fresh.path, target) {
        if had_target {
            let _ = fs::rename(&old, target);
        }
        return Err(PffError::io(format!("cannot move {} into place", target.display()), e));
    }
    fresh.armed = false;
    match had_target.then(|| fs::remove_dir_all(&old)) {
        Some(Err(e)) => Ok(Some(format!("could not delete the previous {} moved to {}: {e}", target.display(), old.display()))),
        _ => Ok(None),
    }
}

/// Where a path in a served or copied folder leads, by the rule the server and the bundle both
/// keep: through symlinks if need be, but never out of the folder.
#[derive(Debug, PartialEq)]
pub enum Within {
    /// It resolves to this path, under the folder.
    Inside(PathBuf),
    /// It resolves to this path, outside the folder.
    Outside(PathBuf),
    /// It does not exist, or cannot be resolved (a broken symlink).
    Missing,
}

/// Resolves `path` against `base`, which must be canonical already.
pub fn resolve_within(base: &Path, path: &Path) -> Within {
    match fs::canonicalize(path) {
        Ok(target) if target.starts_with(base) => Within::Inside(target),
        Ok(target) => Within::Outside(target),
        Err(_) => Within::Missing,
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
pub struct DatasetLock {
    _file: File,
}

impl DatasetLock {
    pub fn acquire(data_root: &Path, name: &str) -> Result<Self> {
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
