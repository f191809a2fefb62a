//! One small error type for the whole crate. Every fallible public function returns
//! [`PffError`]; the messages are written for the person who will read them (a CLI user or a
//! visitor of the web page), naming the file or tensor and what is wrong with it.

/// Everything that can go wrong in the engine, the data pipeline and the weights format.
#[derive(Debug, thiserror::Error)]
pub enum PffError {
    /// A data file (IDX file, shard, manifest, tarball) is malformed or fails its checks.
    #[error("{file}: {reason}")]
    Data { file: String, reason: String },
    /// A weights (safetensors) file is malformed, truncated, or does not match the model.
    #[error("weights file: {0}")]
    Weights(String),
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An input has the wrong shape or content (for example an image that is not 28×28).
    #[error("invalid input: {0}")]
    Input(String),
    /// A NaN or infinity appeared where finite numbers are required (for example during training).
    #[error("non-finite values: {0}")]
    NonFinite(String),
    /// An operating-system level failure (file system, child process), with context.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
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
}

pub type Result<T, E = PffError> = std::result::Result<T, E>;
