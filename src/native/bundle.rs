//! `pff bundle`: a self-contained static copy of the web page, deployable to any static host.
//!
//! Layout of the bundle (`--out DIR`), the same URL layout as `pff serve`:
//!
//! ```text
//! DIR/
//!   index.html ...            www/* (index.html gets the service worker's <script> tag)
//!   coi-serviceworker.js      cross-origin isolation on hosts that cannot set headers
//!   pkg/single/ pkg/threads/  the wasm-bindgen builds (threads only if it was built)
//!   data/NAME/                every dataset folder of data/ that has a manifest.json
//!   data/weights/             the weights (training checkpoints *.train.safetensors left out)
//!   .pff-bundle               marker: this folder is a bundle and may be replaced
//! ```
//!
//! The bundle is written into a temporary folder beside `DIR` and renamed into place at the
//! end, so a failed bundle leaves no half-written `DIR`. An existing `DIR` is replaced only if
//! it is empty or a previous bundle. Hidden files and `*.tmp` files are not copied, nor are
//! symlinks that resolve outside their folder (the same rule as `pff serve`).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{PffError, Result};

/// The service worker written as `DIR/coi-serviceworker.js`.
pub const COI_SERVICEWORKER_JS: &str = include_str!("coi-serviceworker.js");
/// File name of the service worker at the bundle's top level.
pub const COI_SERVICEWORKER_FILE: &str = "coi-serviceworker.js";
/// The marker file that identifies a folder as a bundle.
pub const MARKER_FILE: &str = ".pff-bundle";
/// The tag injected as the first element of `<head>` in the bundled `index.html`.
pub const COI_SCRIPT_TAG: &str = r#"<script src="coi-serviceworker.js"></script>"#;

const BUILD_HINT: &str = "run the build first: scripts/build-wasm.sh";

/// What [`bundle`] wrote.
#[derive(Debug, Clone, Default)]
pub struct BundleReport {
    /// The bundle folder.
    pub out: PathBuf,
    /// Files written (the marker included).
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Whether `pkg/threads` was included (without it the page runs single-threaded).
    pub threads: bool,
    /// Dataset folders copied under `data/`.
    pub datasets: Vec<String>,
    /// Files copied from `data/weights/`.
    pub weights: Vec<String>,
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
            if self.threads { ", pkg/threads" } else { "" },
            self.datasets.join(", "),
            self.weights.join(", "),
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

/// Builds the bundle of the repository at `root` into `out` (see the module documentation).
pub fn bundle(root: &Path, out: &Path) -> Result<BundleReport> {
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

    let unique = format!("{}-{}", std::process::id(), SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    let tmp = TempDir(parent.join(format!(".{}.pff-bundle-{unique}.tmp", out_name.to_string_lossy())), true);
    fs::create_dir(&tmp.0).map_err(io_err(format!("cannot create {}", tmp.0.display())))?;

    let mut report = BundleReport { out: out.to_path_buf(), replaced, ..Default::default() };
    write_tree(root, &tmp.0, &mut report)?;

    // Swap it into place: the previous bundle is moved aside first and deleted last.
    let old = parent.join(format!(".{}.pff-bundle-{unique}.old", out_name.to_string_lossy()));
    let had_out = fs::symlink_metadata(out).is_ok();
    if had_out {
        fs::rename(out, &old).map_err(io_err(format!("cannot move the previous {} aside", out.display())))?;
    }
    if let Err(e) = fs::rename(&tmp.0, out) {
        if had_out {
            let _ = fs::rename(&old, out);
        }
        return Err(PffError::io(format!("cannot move the bundle into {}", out.display()), e));
    }
    tmp.disarm();
    if had_out && let Err(e) = fs::remove_dir_all(&old) {
        report.notes.push(format!("could not delete the previous bundle moved to {}: {e}", old.display()));
    }
    Ok(report)
}

/// Writes the bundle's contents into `dst` (the temporary folder).
fn write_tree(root: &Path, dst: &Path, report: &mut BundleReport) -> Result<()> {
    let mut copier = Copier { files: 0, bytes: 0, notes: Vec::new() };

    copier.copy_dir(&root.join("www"), dst, &|_| true)?;
    let pkg = root.join("pkg");
    copier.copy_dir(&pkg.join("single"), &dst.join("pkg").join("single"), &|_| true)?;
    let threads = pkg.join("threads");
    report.threads = threads.is_dir();
    if report.threads {
        copier.copy_dir(&threads, &dst.join("pkg").join("threads"), &|_| true)?;
    } else {
        copier.notes.push(format!("{} is missing: the bundle runs single-threaded ({BUILD_HINT})", threads.display()));
    }

    let data = root.join("data");
    let mut datasets: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(entries) = fs::read_dir(&data) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !name.starts_with('.') && name != "weights" && path.is_dir() && path.join("manifest.json").is_file() {
                datasets.push((name, path));
            }
        }
    }
    datasets.sort();
    if datasets.is_empty() {
        copier.notes.push(format!("no dataset in {} (a folder with a manifest.json): run `pff data` first", data.display()));
    }
    for (name, path) in &datasets {
        copier.copy_dir(path, &dst.join("data").join(name), &|_| true)?;
        report.datasets.push(name.clone());
    }
    let weights = data.join("weights");
    if weights.is_dir() {
        // Training checkpoints (optimizer state) are for `pff train --resume`, not the page.
        let before = copier.files;
        let not_checkpoint = |p: &Path| !p.to_string_lossy().ends_with(".train.safetensors");
        copier.copy_dir(&weights, &dst.join("data").join("weights"), &not_checkpoint)?;
        if copier.files > before {
            let mut names: Vec<String> = fs::read_dir(dst.join("data").join("weights"))
                .map_err(io_err(format!("cannot read {}", dst.display())))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            report.weights = names;
        }
    } else {
        copier.notes.push(format!("no {}: the page will have no pretrained weights", weights.display()));
    }

    copier.write(&dst.join(COI_SERVICEWORKER_FILE), COI_SERVICEWORKER_JS.as_bytes())?;
    let index_path = dst.join("index.html");
    let html = fs::read_to_string(&index_path).map_err(io_err(format!("cannot read {}", root.join("www").join("index.html").display())))?;
    if let Some(injected) = inject_script(&html) {
        fs::write(&index_path, &injected).map_err(io_err(format!("cannot write {}", index_path.display())))?;
        copier.bytes = copier.bytes + injected.len() as u64 - html.len() as u64;
        report.injected = true;
    }
    let marker = format!(
        "{{\"generator\": \"pff bundle\", \"version\": \"{}\", \"created_unix\": {}}}\n",
        env!("CARGO_PKG_VERSION"),
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    );
    copier.write(&dst.join(MARKER_FILE), marker.as_bytes())?;

    report.files = copier.files;
    report.bytes = copier.bytes;
    report.notes.append(&mut copier.notes);
    Ok(())
}

/// Inserts [`COI_SCRIPT_TAG`] as the first element of `<head>`, or returns `None` if the page
/// already loads `coi-serviceworker.js`. Without a `<head>` the tag goes right after
/// `<!doctype …>` / `<html …>` (or at the very start), which browsers put in the head anyway.
pub fn inject_script(html: &str) -> Option<String> {
    if html.contains(COI_SERVICEWORKER_FILE) {
        return None;
    }
    let lower = html.to_ascii_lowercase();
    let after_tag = |name: &str| -> Option<usize> {
        let mut from = 0;
        while let Some(i) = lower[from..].find(name) {
            let start = from + i;
            let next = lower.as_bytes().get(start + name.len()).copied();
            // `<head>` or `<head attr…>`, not `<header>`.
            if matches!(next, Some(b'>') | Some(b' ') | Some(b'\t') | Some(b'\n') | Some(b'\r') | Some(b'/')) {
                return lower[start..].find('>').map(|j| start + j + 1);
            }
            from = start + name.len();
        }
        None
    };
    let at = after_tag("<head").or_else(|| after_tag("<html")).or_else(|| after_tag("<!doctype")).unwrap_or(0);
    // On its own line, indented like the line that follows it.
    let rest = &html[at..];
    let ws = &rest[..rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len()];
    let indent = ws.rsplit('\n').next().unwrap_or("");
    let mut out = String::with_capacity(html.len() + COI_SCRIPT_TAG.len() + indent.len() + 2);
    out.push_str(&html[..at]);
    if at > 0 {
        out.push('\n');
        out.push_str(if ws.contains('\n') { indent } else { "" });
    }
    out.push_str(COI_SCRIPT_TAG);
    if at == 0 {
        out.push('\n');
    }
    out.push_str(rest);
    Some(out)
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
            let resolved = match fs::canonicalize(&path) {
                Ok(p) => p,
                Err(_) => {
                    self.notes.push(format!("skipped {} (a broken symlink)", path.display()));
                    continue;
                }
            };
            if !resolved.starts_with(base) {
                self.notes.push(format!("skipped {} (a symlink to {}, outside the folder)", path.display(), resolved.display()));
                continue;
            }
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

/// A temporary folder removed on drop unless disarmed (when it has been renamed into place).
struct TempDir(PathBuf, bool);

impl TempDir {
    fn disarm(mut self) {
        self.1 = false;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.1 {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injects_first_in_head() {
        let html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<script type=\"module\" src=\"app.js\"></script>\n</head><body><header></header></body></html>";
        let out = inject_script(html).unwrap();
        let tag = out.find(COI_SCRIPT_TAG).unwrap();
        assert!(tag > out.find("<head>").unwrap() && tag < out.find("<meta").unwrap());
        assert_eq!(inject_script(&out), None);
        let attrs = inject_script("<HEAD data-x=\"1\"><title>t</title></HEAD>").unwrap();
        assert!(attrs.starts_with("<HEAD data-x=\"1\">\n<script src=\"coi-serviceworker.js\"></script><title>"));
        let headless = inject_script("<header>x</header>").unwrap();
        assert!(headless.starts_with(COI_SCRIPT_TAG));
        let indented = inject_script("<html>\n<head>\n\t\t<meta charset=\"utf-8\">").unwrap();
        assert_eq!(indented, format!("<html>\n<head>\n\t\t{COI_SCRIPT_TAG}\n\t\t<meta charset=\"utf-8\">"));
    }
}
