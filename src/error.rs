//! One small error type for the whole crate. Every fallible public function returns
//! [`PffError`]; the messages are written for the person who will read them (a CLI user or a
//! visitor of the web page), naming the file or tensor and what is wrong with it.
//!
//! A caller acts on [`PffError::kind`], never on the message: the kind is stable (it crosses
//! the wasm boundary as a string such as `corrupt-data`), the wording is not.

use serde::Serialize;

/// Everything that can go wrong in the engine, the data pipeline and the weights format.
#[derive(Debug, thiserror::Error)]
pub enum PffError {
    /// A data file (IDX file, shard, manifest, tarball) is malformed or fails its checks.
    #[error("{file}: {reason}")]
    Data { file: String, reason: String },
    /// A weights (safetensors) file is malformed, truncated, or does not match the model.
    #[error("weights file: {0}")]
    Weights(String),
    /// A configuration value is out of range or inconsistent (including a run's identity).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An input has the wrong shape or content (for example an image that is not 28×28).
    #[error("invalid input: {0}")]
    Input(String),
    /// A NaN or infinity appeared where finite numbers are required (for example during training).
    #[error("non-finite values: {0}")]
    NonFinite(String),
    /// The caller stopped the work before it finished (an interrupt, the page's Stop button).
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// The compute device cannot do what was asked: no GPU adapter, a refused device, a lost
    /// device or a readback that failed.
    #[error("{0}")]
    Device(String),
    /// An operating-system level failure (file system, child process), with context.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// What kind of failure a [`PffError`] is: the part of an error a program may act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// A data file failed its checks (sha256, format, counts).
    CorruptData,
    /// A weights file is malformed or does not fit the model.
    BadWeights,
    /// A configuration or run identity is invalid or conflicts with a stored one.
    BadConfig,
    /// An argument is out of range or has the wrong shape.
    BadInput,
    /// Training produced a NaN or infinity.
    NonFinite,
    /// The work was stopped before it finished.
    Cancelled,
    /// The operating system refused (files).
    Io,
    /// The compute device (the GPU) is missing or failed.
    Device,
}

impl ErrorKind {
    /// The stable name of the kind (`corrupt-data`, `bad-weights`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::CorruptData => "corrupt-data",
            ErrorKind::BadWeights => "bad-weights",
            ErrorKind::BadConfig => "bad-config",
            ErrorKind::BadInput => "bad-input",
            ErrorKind::NonFinite => "non-finite",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Io => "io",
            ErrorKind::Device => "device",
        }
    }
}

impl PffError {
    /// A data error naming `file`.
    pub fn data(file: impl Into<String>, reason: impl Into<String>) -> Self {
        PffError::Data { file: file.into(), reason: reason.into() }
    }

    /// An I/O error with a sentence of context (usually the path involved).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        PffError::Io { context: context.into(), source }
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PffError::Data { .. } => ErrorKind::CorruptData,
            PffError::Weights(_) => ErrorKind::BadWeights,
            PffError::Config(_) => ErrorKind::BadConfig,
            PffError::Input(_) => ErrorKind::BadInput,
            PffError::NonFinite(_) => ErrorKind::NonFinite,
            PffError::Cancelled(_) => ErrorKind::Cancelled,
            PffError::Io { .. } => ErrorKind::Io,
            PffError::Device(_) => ErrorKind::Device,
        }
    }

    /// The file a data error names, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            PffError::Data { file, .. } => Some(file),
            _ => None,
        }
    }
}

pub type Result<T, E = PffError> = std::result::Result<T, E>;
