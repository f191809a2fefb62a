#!/usr/bin/env bash
# Installs what building (and, with --test, testing) pff needs on a bare machine of this kind
# (Debian 12, rustup). Idempotent: installed pieces are skipped. Pinned versions:
#   nightly-2026-05-20 (the threaded wasm build; the 05-19 nightly has no wasm32 std)
#   wasm-bindgen-cli 0.2.130 (= the wasm-bindgen crate pinned in Cargo.toml), wasm-pack 0.15.1
#   rustfmt and clippy (the gates of scripts/test.sh)
#   --test: Debian chromium + chromium-driver and firefox-esr (Debian serves one version of each:
#   tested with Chromium 156 and Firefox ESR 153.8), geckodriver 0.37.1 (crates registry), npm
#   packages of tests/e2e (package-lock.json: playwright-core 1.65.1, selenium-webdriver 4.49.0,
#   typescript for the type check of www/ and prettier 3.10.2 for its format check), and lavapipe, Mesa's software Vulkan driver, for
#   the GPU tests (Debian mesa-vulkan-drivers, Mesa 22.3.6; vulkan-tools for `vulkaninfo`)
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=nightly-2026-05-20
WB_VERSION=0.2.130
WASM_PACK_VERSION=0.15.1
GECKODRIVER_VERSION=0.37.1
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: $* (install them with: sudo apt-get install $*)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

need=()
command -v npm >/dev/null || need+=(nodejs npm)
if [ "$with_tests" = 1 ]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  command -v firefox-esr >/dev/null || need+=(firefox-esr)
  # the plain static host of the bundle test (tests/e2e/bundle.mjs): python3 -m http.server
  command -v python3 >/dev/null || need+=(python3)
  # the GPU tests' adapter (tests/gpu.rs): lavapipe registers lvp_icd.*.json with the Vulkan loader
  ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
  command -v vulkaninfo >/dev/null || need+=(vulkan-tools)
fi
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
# Fashion-MNIST is fetched with `apt-get download`, which needs the package lists.
if [ "$with_tests" = 1 ] && [ "$(id -u)" -eq 0 ] && ! apt-cache show dataset-fashion-mnist >/dev/null 2>&1; then
  apt-get update -qq
fi

rustup target add wasm32-unknown-unknown --toolchain stable >/dev/null
rustup component add rustfmt clippy --toolchain stable >/dev/null
rustup toolchain list | grep -q "^$NIGHTLY" ||
  rustup toolchain install "$NIGHTLY" --profile minimal --component rust-src --target wasm32-unknown-unknown

# wasm-bindgen-cli: NOT --locked (its lockfile wants a webpki-roots version the registry lacks).
[ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$WB_VERSION" ] ||
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
[ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" = "$WASM_PACK_VERSION" ] ||
  cargo install wasm-pack --version "$WASM_PACK_VERSION"

# geckodriver: wasm-pack's --firefox and the Firefox end-to-end tests look for it on PATH
if [ "$with_tests" = 1 ] && [ "$(geckodriver --version 2>/dev/null | awk 'NR==1 {print $2}')" != "$GECKODRIVER_VERSION" ]; then
  cargo install geckodriver --version "$GECKODRIVER_VERSION" --locked
fi

if [ "$with_tests" = 1 ] && [ -f tests/e2e/package-lock.json ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup complete"
