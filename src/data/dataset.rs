//! The in-memory [`Dataset`] that training and evaluation read rows from, and the split of an
//! official training set into train and dev.

use super::*;
use ndarray::Array2;
use num_traits::Float;
use std::fmt;
use std::ops::Range;

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

    /// The images in `range`, in order, as an `N × 784` matrix of pixels / 255 (in 0..=1), and
    /// their labels. Panics if the range is out of bounds.
    pub fn rows(&self, range: Range<usize>) -> (Array2<f32>, Vec<usize>) {
        assert!(range.start <= range.end && range.end <= self.len(), "rows {range:?} out of bounds for a dataset of {}", self.len());
        let data = self.pixels[range.start * PIXELS..range.end * PIXELS].iter().map(|&p| f32::from(p) / 255.0).collect();
        let labels = self.labels[range.clone()].iter().map(|&l| usize::from(l)).collect();
        (Array2::from_shape_vec((range.len(), PIXELS), data).expect("rows shape matches the data length"), labels)
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
