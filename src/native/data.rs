//! Fetching and sharding datasets (placeholder: being written).
