#!/usr/bin/env bash
# Builds the four WebAssembly packages of the engine with wasm-pack:
#   pkg/single/   stable toolchain, +simd128 (.cargo/config.toml), one thread: any static host
#   pkg/threads/  nightly-2026-05-20, +atomics with shared memory and -Z build-std
#                 (.cargo/threads.toml), rayon pool through wasm-bindgen-rayon
#   pkg/relaxed/  pkg/threads plus +relaxed-simd (.cargo/relaxed.toml): fused multiply-add
#                 kernels; it fails validation in engines without relaxed SIMD, so the page
#                 picks it at run time (www/wasm-build.js)
#   pkg/webgpu/   stable, +simd128, no atomics, feature `gpu`: the GPU engine on the browser's
#                 WebGPU (wgpu's webgpu backend); the page loads it only where the browser
#                 offers an adapter (www/wasm-build.js)
# wasm-pack uses the wasm-bindgen on PATH (it must be 0.2.130: scripts/setup.sh installs it)
# and never downloads one (--mode no-install); wasm-opt is off (Cargo.toml metadata).
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=nightly-2026-05-20
WB_VERSION=0.2.130
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
if [ "$have" != "$WB_VERSION" ]; then
  echo "wasm-bindgen $WB_VERSION is needed (found '${have:-none}'): run scripts/setup.sh" >&2
  exit 1
fi
echo "==> pkg/single (stable, simd128)"
wasm-pack --quiet build --target web --release --mode no-install --out-dir pkg/single
echo "==> pkg/threads ($NIGHTLY, atomics + simd128)"
CARGO_TARGET_DIR=target/threads rustup run "$NIGHTLY" wasm-pack --quiet build --target web --release --mode no-install \
  --out-dir pkg/threads -- --config .cargo/threads.toml --features threads
echo "==> pkg/relaxed ($NIGHTLY, atomics + relaxed simd)"
CARGO_TARGET_DIR=target/relaxed rustup run "$NIGHTLY" wasm-pack --quiet build --target web --release --mode no-install \
  --out-dir pkg/relaxed -- --config .cargo/threads.toml --config .cargo/relaxed.toml --features threads
echo "==> pkg/webgpu (stable, simd128, the GPU engine on WebGPU)"
wasm-pack --quiet build --target web --release --mode no-install --out-dir pkg/webgpu -- --features gpu
ls -l pkg/single/pff_bg.wasm pkg/threads/pff_bg.wasm pkg/relaxed/pff_bg.wasm pkg/webgpu/pff_bg.wasm
