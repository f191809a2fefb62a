#!/usr/bin/env bash
# Runs every test of the project and ends with one line "N passed, M failed":
#   1. native: cargo test --release (gradients, engine, data incl. the real MNIST and
#      Fashion-MNIST fetches, server, shipped weights) and the GPU engine against the CPU on
#      lavapipe, Mesa's software Vulkan driver (tests/gpu.rs; fails without an adapter), in one
#      build with `--features gpu`
#   2. the four wasm packages built with wasm-pack (scripts/build-wasm.sh)
#   3. wasm-bindgen tests in headless Chromium and headless Firefox ESR (`wasm-pack test
#      --headless --chrome` / `--firefox`), single-threaded build and threaded build, and the
#      relaxed-SIMD build in Chromium
#   4. end-to-end tests of the page with playwright-core and Debian's Chromium, served by
#      `pff serve` with and without cross-origin isolation; a smoke subset of them in Firefox ESR
#      through WebDriver (tests/e2e/firefox.mjs); a custom dataset trained, bundled and served by
#      a plain static host (tests/e2e/bundle.mjs); the GPU build in Chromium on SwiftShader's
#      software WebGPU adapter (tests/e2e/webgpu.mjs)
#   5. a 20-second smoke run of every fuzz target (scripts/fuzz.sh; cargo-fuzz on the pinned nightly)
#   6. the gates: cargo fmt --check, clippy with warnings denied (native with the gpu feature,
#      and wasm32, with and without it), tsc over the page's JavaScript (JSDoc types, strict, the worker protocol of
#      www/protocol.js) and prettier --check over it and the e2e tests (pinned in tests/e2e,
#      .prettierrc)
# Installs what it needs first (scripts/setup.sh --test).
set -uo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=nightly-2026-05-20
LOG=$(mktemp)
failed_steps=()

step() {
  local name=$1 start=$SECONDS
  shift
  echo "==> $name"
  if ! "$@" 2>&1 | tee -a "$LOG"; then
    failed_steps+=("$name")
  fi
  timings+=("$((SECONDS - start)) s  $name")
}
timings=()

./scripts/setup.sh --test || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
step "format" cargo fmt --check
step "clippy (native)" cargo clippy --release --all-targets --features gpu -- -D warnings
step "clippy (wasm32)" cargo clippy --release --target wasm32-unknown-unknown --lib --tests -- -D warnings
step "clippy (wasm32, relaxed SIMD)" env CARGO_TARGET_DIR=target/relaxed-check \
  cargo clippy --release --target wasm32-unknown-unknown --lib --tests --config .cargo/relaxed.toml -- -D warnings
# the GPU build's library (pkg/webgpu: feature gpu on wasm32, the browser's WebGPU)
step "clippy (wasm32, WebGPU)" cargo clippy --release --target wasm32-unknown-unknown --lib --features gpu -- -D warnings
step "JavaScript format" bash -c 'cd tests/e2e && npx --no-install prettier --config .prettierrc --check "../../www/*.js" "*.mjs" "panels/*.mjs"'
# One feature set for clippy, the tests and the CLI, so that the crate is compiled once: the
# gpu feature only adds src/gpu/ (tests/gpu.rs runs the GPU engine on lavapipe).
step "native tests (and the GPU engine on lavapipe)" cargo test --release --features gpu --no-fail-fast -- --include-ignored
step "wasm build" ./scripts/build-wasm.sh
# after the build: the type check reads the wasm handles' types from pkg/single/pff.d.ts
step "JavaScript type check" bash -c 'cd tests/e2e && npx --no-install tsc -p tsconfig.json'
step "wasm tests (single)" wasm-pack test --headless --chrome --mode no-install --release
step "wasm tests (threads)" env CARGO_TARGET_DIR=target/threads rustup run "$NIGHTLY" \
  wasm-pack test --headless --chrome --mode no-install --release -- --config .cargo/threads.toml --features threads
step "wasm tests (relaxed)" env CARGO_TARGET_DIR=target/relaxed rustup run "$NIGHTLY" \
  wasm-pack test --headless --chrome --mode no-install --release -- --config .cargo/threads.toml --config .cargo/relaxed.toml --features threads
# the GPU build's run on Chrome's SwiftShader WebGPU adapter (its flags: tests/webdriver-webgpu.json)
step "wasm tests (webgpu, SwiftShader)" env WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/tests/webdriver-webgpu.json" WASM_BINDGEN_TEST_TIMEOUT=300 \
  wasm-pack test --headless --chrome --mode no-install --release -- --features gpu --test web
step "wasm tests (single, Firefox)" wasm-pack test --headless --firefox --mode no-install --release
step "wasm tests (threads, Firefox)" env CARGO_TARGET_DIR=target/threads rustup run "$NIGHTLY" \
  wasm-pack test --headless --firefox --mode no-install --release -- --config .cargo/threads.toml --features threads
# No separate CLI build: the native test step built target/release/pff (the binary of the CLI
# tests, same features), which the end-to-end tests serve the page with. A `cargo build` here
# would compile pff again, since cargo unifies the dev-dependencies' features into a test build.
step "end-to-end tests" node tests/e2e/run.mjs
step "end-to-end tests (Firefox)" node tests/e2e/firefox.mjs
step "end-to-end tests (WebGPU on SwiftShader)" node tests/e2e/webgpu.mjs
step "end-to-end: share a model (bundle on a plain static host)" node tests/e2e/bundle.mjs
step "fuzz smoke (20 s per target)" ./scripts/fuzz.sh 20

# Sum the runners' own summary lines only: cargo's and wasm-bindgen-test's
# "test result: ok. N passed; M failed; …" and the e2e runners' last lines "N passed, M failed".
passed=$(grep -aoE '^test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$LOG" | awk '{s+=$4} END {print s+0}')
failed=$(grep -aoE '^test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$LOG" | awk '{s+=$6} END {print s+0}')
passed=$((passed + $(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$LOG" | awk '{s+=$1} END {print s+0}')))
failed=$((failed + $(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$LOG" | awk '{s+=$3} END {print s+0}')))
rm -f "$LOG"
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]}"
  [ "$failed" -gt 0 ] || failed=${#failed_steps[@]}
fi
echo "time per step:"
printf '  %s\n' "${timings[@]}"
echo "$passed passed, $failed failed"
[ ${#failed_steps[@]} -eq 0 ] && [ "$failed" -eq 0 ]
