//! The `pff` command-line tool (native only). On wasm32 this binary is an empty stub, so that
//! `cargo test --target wasm32-unknown-unknown` and `wasm-pack test` can build every target.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
