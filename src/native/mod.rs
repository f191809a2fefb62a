//! Native-only functionality for the `pff` command line: files, child processes, the server,
//! images and benchmarks. Compiled only with feature `cli` and never for wasm32.

pub mod bench;
#[cfg(feature = "gpu")]
pub mod bench_gpu;
pub mod bundle;
pub mod data;
pub mod fetch;
pub mod fs;
pub mod image;
pub mod offline;
pub mod plot;
pub mod process;
pub mod serve;
pub mod shell;
