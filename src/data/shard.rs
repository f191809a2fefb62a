//! The project's compressed shard format: encoding, decoding and verifying one shard, and
//! encoding a split into shards.
//!
//! # Format (version 1)
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

use super::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::fmt;
use std::io::{Read, Write};

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
    let mut raw = gunzip_shard(gz_bytes, name)?;
    let count = read_header(&raw, name)?;
    check_length(raw.len(), count, name)?;
    let split = SHARD_HEADER_LEN + count * PIXELS;
    let labels = raw[split..].to_vec();
    raw.truncate(split);
    raw.drain(..SHARD_HEADER_LEN);
    Ok(Dataset { pixels: raw, labels })
}

/// The decompressed content of a shard, refused when it is not gzip or decompresses to more
/// than a full shard ([`MAX_SHARD_DECOMPRESSED`] bytes; no more than one byte beyond is read).
fn gunzip_shard(gz_bytes: &[u8], name: &str) -> Result<Vec<u8>> {
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
    Ok(raw)
}

/// Checks the header of the decompressed shard `raw` (magic, version, image size, count
/// limit) and returns the image count it declares.
fn read_header(raw: &[u8], name: &str) -> Result<usize> {
    if raw.len() < 8 || raw[..8] != SHARD_MAGIC {
        return Err(PffError::data(name, "bad magic: not a pff shard (expected \"PFFSHARD\")"));
    }
    if raw.len() < SHARD_HEADER_LEN {
        return Err(PffError::data(name, format!("truncated: the shard header needs {SHARD_HEADER_LEN} bytes, only {} are present", raw.len())));
    }
    let version = le_u32(raw, 8);
    if version != SHARD_VERSION {
        return Err(PffError::data(name, format!("unsupported shard version {version} (this build reads version {SHARD_VERSION})")));
    }
    let count = le_u32(raw, 12) as usize;
    let (rows, cols) = (le_u32(raw, 16), le_u32(raw, 20));
    if rows as usize != ROWS || cols as usize != COLS {
        return Err(PffError::data(name, format!("images are {rows}x{cols} pixels, expected {ROWS}x{COLS}")));
    }
    if count > MAX_SHARD_IMAGES {
        return Err(PffError::data(name, format!("the header declares {count} images, more than the limit of {MAX_SHARD_IMAGES}")));
    }
    Ok(count)
}

/// Checks that a decompressed shard of `len` bytes holds exactly the header, pixels and labels
/// of `count` images: nothing missing, nothing after the labels.
fn check_length(len: usize, count: usize, name: &str) -> Result<()> {
    let expected = SHARD_HEADER_LEN + count * (PIXELS + 1);
    if len < expected {
        return Err(PffError::data(
            name,
            format!(
                "truncated: the header declares {count} images ({expected} bytes) but only {len} \
                 bytes are present"
            ),
        ));
    }
    if len > expected {
        return Err(PffError::data(
            name,
            format!(
                "counts disagree: the header declares {count} images ({expected} bytes) but {len} \
                 bytes are present"
            ),
        ));
    }
    Ok(())
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
