//! Data formats: MNIST-style IDX files, the project's compressed shard format, the dataset
//! manifest, and the in-memory [`Dataset`] that training and evaluation draw batches from.
//!
//! Everything here is pure computation on byte slices (no files, no processes), so the same
//! code decodes shards natively and in the browser. Reading and writing files, fetching the
//! datasets and verifying what is on disk live in `native::data` (feature `cli`).
//!
//! Rooms: [`idx`] (MNIST-style IDX files), [`dataset`] (the in-memory [`Dataset`] and its
//! rows), [`shard`] (the shard format), [`manifest`] (`manifest.json` and a dataset's names).

mod dataset;
mod idx;
mod manifest;
mod shard;

pub use dataset::*;
pub use idx::*;
pub use manifest::*;
pub use shard::*;

use std::borrow::Cow;
use std::io::Read;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::error::{PffError, Result};

/// Image height in pixels.
pub const ROWS: usize = 28;
/// Image width in pixels.
pub const COLS: usize = 28;
/// Pixels per image (28 × 28).
pub const PIXELS: usize = ROWS * COLS;
/// Number of classes of MNIST and Fashion-MNIST (a dataset's own count is in its manifest).
pub const CLASSES: usize = 10;
/// The most classes a dataset may have: a shard stores a label in one byte.
pub const MAX_CLASSES: usize = 256;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The first 8 bytes of a decompressed shard.
pub const SHARD_MAGIC: [u8; 8] = *b"PFFSHARD";
/// The shard format version this build writes and reads.
pub const SHARD_VERSION: u32 = 1;
/// Size of the shard header (magic, version, count, rows, cols).
pub const SHARD_HEADER_LEN: usize = 24;
/// The most images one shard may hold.
pub const MAX_SHARD_IMAGES: usize = 10_000;
/// The largest decompressed shard: header, pixels and labels of [`MAX_SHARD_IMAGES`] images.
pub const MAX_SHARD_DECOMPRESSED: usize = SHARD_HEADER_LEN + MAX_SHARD_IMAGES * (PIXELS + 1);

/// File name of the manifest inside a dataset's folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Value of the manifest's `format` field.
pub const MANIFEST_FORMAT: &str = "pff-shards";
/// Value of the manifest's `version` field.
pub const MANIFEST_VERSION: u32 = 1;

/// The largest dev split: the last `min(DEV_SIZE, n / DEV_FRACTION)` of `n` official training
/// images become the dev split ([`dev_size`]), so MNIST and Fashion-MNIST keep 10,000.
pub const DEV_SIZE: usize = 10_000;
/// A smaller training set gives a sixth of its images to the dev split.
pub const DEV_FRACTION: usize = 6;
/// The split names, in the order they are reported.
pub const SPLITS: [&str; 3] = ["train", "dev", "test"];

/// Lower-case hexadecimal sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0x0f), 16).unwrap_or('0'));
    }
    out
}

/// Whether `bytes` start with the gzip magic `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Decompresses `bytes` if they are gzip (`name` names the file in errors), or borrows them
/// unchanged otherwise. IDX files are distributed both ways.
pub fn maybe_gunzip<'a>(bytes: &'a [u8], name: &str) -> Result<Cow<'a, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).map_err(|e| PffError::data(name, format!("corrupt or truncated gzip data: {e}")))?;
    Ok(Cow::Owned(out))
}

/// Whether `name` is a plain file name that is safe to join to a folder: ASCII letters,
/// digits, `.`, `_` and `-` only, not starting with a dot.
pub fn is_safe_file_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 200 && !name.starts_with('.') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn check_labels(labels: &[u8], classes: usize, name: &str) -> Result<()> {
    if let Some((i, &v)) = labels.iter().enumerate().find(|&(_, &v)| usize::from(v) >= classes) {
        return Err(PffError::data(name, format!("label {v} at index {i} is outside 0..={} (the dataset has {classes} classes)", classes - 1)));
    }
    Ok(())
}
