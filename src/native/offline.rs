//! What makes a bundle work offline and cross-origin isolated on any static host: the service
//! worker (`coi-serviceworker.js`, with the bundle's file list and a version derived from it)
//! and the `<script>` tag that loads it first.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use super::bundle::MARKER_FILE;
use crate::data::sha256_hex;
use crate::error::{PffError, Result};

/// The service worker written as `DIR/coi-serviceworker.js` (with its slots filled): a page
/// file, `www/coi-serviceworker.js`, so that the page's type and format checks see it. The
/// bundle writes it in place of the copy of `www/`'s.
pub const COI_SERVICEWORKER_JS: &str = include_str!("../../www/coi-serviceworker.js");
/// File name of the service worker at the bundle's top level.
pub const COI_SERVICEWORKER_FILE: &str = "coi-serviceworker.js";
/// The tag injected as the first element of `<head>` in the bundled `index.html`.
pub const COI_SCRIPT_TAG: &str = r#"<script src="coi-serviceworker.js"></script>"#;

/// The regular files under `dir`, as `/`-separated paths relative to it, sorted (symlinks are
/// not followed).
pub fn files_under(dir: &Path) -> io::Result<Vec<String>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(base, &entry.path(), out)?;
            } else if kind.is_file() {
                let rel = entry.path().strip_prefix(base).map_err(io::Error::other)?.to_path_buf();
                out.push(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// What the service worker knows of one bundle file.
#[derive(Serialize)]
pub struct OfflineFile {
    sha256: String,
    /// Cached after the first visit: the page, the CPU wasm builds, the site file, the default
    /// model and the manifest and test split of its dataset. The rest is cached when fetched.
    warm: bool,
}

/// Where the GPU build lives in a site.
const WEBGPU_BUILD_DIR: &str = "pkg/webgpu/";

/// Every file of the bundle in `dst` (relative path → sha256 and whether it is cached for
/// offline use after the first visit: everything outside `data/` and the GPU build, and the
/// `data/` files listed in `warm_data`), the service worker and the marker aside.
pub fn offline_files(dst: &Path, warm_data: &[String]) -> Result<BTreeMap<String, OfflineFile>> {
    let mut out = BTreeMap::new();
    for rel in files_under(dst).map_err(|e| PffError::io(format!("cannot list {}", dst.display()), e))? {
        if rel == COI_SERVICEWORKER_FILE || rel == MARKER_FILE {
            continue;
        }
        let path = dst.join(&rel);
        let bytes = fs::read(&path).map_err(|e| PffError::io(format!("cannot read {}", path.display()), e))?;
        // data beyond the default model's, and the GPU build (fetched only where the browser has
        // an adapter), are cached when first fetched rather than ahead
        let warm = !(rel.starts_with("data/") || rel.starts_with(WEBGPU_BUILD_DIR)) || warm_data.contains(&rel);
        out.insert(rel, OfflineFile { sha256: sha256_hex(&bytes), warm });
    }
    Ok(out)
}

/// The service worker with the bundle's file list and a version derived from it.
pub fn service_worker(files: &BTreeMap<String, OfflineFile>) -> Result<String> {
    const FILES_SLOT: &str = "/* pff-bundle:files */ {}";
    const VERSION_SLOT: &str = "/* pff-bundle:version */ 'unversioned'";
    let json = serde_json::to_string(files).expect("file list serialises");
    let version = &sha256_hex(json.as_bytes())[..16];
    if !COI_SERVICEWORKER_JS.contains(FILES_SLOT) || !COI_SERVICEWORKER_JS.contains(VERSION_SLOT) {
        return Err(PffError::Input("cannot write the service worker: coi-serviceworker.js lost its pff-bundle slots".into()));
    }
    Ok(COI_SERVICEWORKER_JS.replace(FILES_SLOT, &json).replace(VERSION_SLOT, &format!("'{version}'")))
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
