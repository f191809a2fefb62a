#!/usr/bin/env bash
# Builds both WebAssembly packages of the engine:
#   pkg/single/   stable toolchain, +simd128, one thread (any static host)
#   pkg/threads/  pinned nightly, +atomics (shared memory, -Z build-std), wasm-bindgen-rayon pool
# Needs: rustup targets/toolchain and wasm-bindgen-cli (scripts/setup.sh installs them).
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
cargo +stable build --release --target wasm32-unknown-unknown --lib
rm -rf pkg/single.tmp && wasm-bindgen --target web --out-dir pkg/single.tmp target/wasm32-unknown-unknown/release/pff.wasm
rm -rf pkg/single && mv pkg/single.tmp pkg/single
echo "==> pkg/threads ($NIGHTLY, atomics + simd128)"
cargo +"$NIGHTLY" build --config .cargo/threads.toml --release --target wasm32-unknown-unknown --lib \
  --features threads --target-dir target/threads
rm -rf pkg/threads.tmp && wasm-bindgen --target web --out-dir pkg/threads.tmp target/threads/wasm32-unknown-unknown/release/pff.wasm
rm -rf pkg/threads && mv pkg/threads.tmp pkg/threads
ls -l pkg/single/*.wasm pkg/threads/*.wasm
