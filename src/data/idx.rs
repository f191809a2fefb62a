//! MNIST-style IDX files: parsing the image and label files, with errors that say what a
//! file is when it is not the one expected.

use super::*;
use std::fmt;

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
