//! Native-only functionality for the `pff` command line: files, child processes, the server.
//! Compiled only with feature `cli` and never for wasm32.

pub mod data;
