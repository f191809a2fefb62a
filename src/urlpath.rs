//! Request paths as `pff serve` reads them: percent-decoding and the refusal of anything that
//! is not a plain relative path. Pure (no file system, no server), so that it can be fuzzed
//! (`fuzz/fuzz_targets/request_path.rs`).

use std::path::{Component, Path, PathBuf};

/// Decodes a raw URL path the way tower-http's `ServeDir` does (percent-decoding, then path components)
/// and returns the relative path, or `None` for anything that is not a plain relative path:
/// `..`, an absolute path, a drive prefix, invalid UTF-8 or an embedded NUL.
pub fn decode_relative(raw: &str) -> Option<PathBuf> {
    let bytes = percent_decode(raw.trim_start_matches('/'))?;
    let text = String::from_utf8(bytes).ok()?;
    if text.contains('\0') {
        return None;
    }
    let mut rel = PathBuf::new();
    for component in Path::new(&text).components() {
        match component {
            Component::Normal(c) if Path::new(c).components().all(|c| matches!(c, Component::Normal(_))) => rel.push(c),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(rel)
}

/// `%XX` decoding; `None` for a malformed escape.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}
