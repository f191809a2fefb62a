//! Data formats (placeholder: being written).
