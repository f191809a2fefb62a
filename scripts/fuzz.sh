#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes with libFuzzer (cargo-fuzz), SECONDS each (default 60):
#   shard, idx, manifest, weights, request_path, prior, run_request   (fuzz/fuzz_targets/)
# Seeds come from real files (examples/fuzz_seeds.rs). Each target runs with a memory limit
# (-rss_limit_mb) and a per-input timeout (-timeout), so a target that allocates without bound
# or loops fails like one that panics. Crashes are kept under fuzz/artifacts/TARGET/; every
# crash found becomes a named regression test in the ordinary test suite.
# FUZZ_RUNS=N runs each target for N executions instead of SECONDS (the long runs);
# FUZZ_TARGETS="a b" runs only those targets.
# Prints one line per target: "TARGET: N runs in S s, 0 crashes" and exits non-zero on a crash.
#
#   ./scripts/fuzz.sh 20          # the smoke run of ./scripts/test.sh
#   ./scripts/fuzz.sh 3600        # a long run
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=nightly-2026-05-20
CARGO_FUZZ_VERSION=0.13.2
SECONDS_EACH=${1:-60}
TARGETS=(shard idx manifest weights request_path prior run_request)
[ -n "${FUZZ_TARGETS:-}" ] && read -r -a TARGETS <<<"$FUZZ_TARGETS" # e.g. FUZZ_TARGETS="shard idx"

rustup toolchain list | grep -q "^$NIGHTLY" ||
  rustup toolchain install "$NIGHTLY" --profile minimal --component rust-src --target wasm32-unknown-unknown
[ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" = "$CARGO_FUZZ_VERSION" ] ||
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked

# --features gpu: the library the test command has already built for its tests and the CLI
cargo run --quiet --release --features gpu --example fuzz_seeds -- fuzz/corpus
rustup run "$NIGHTLY" cargo fuzz build
status=0
for t in "${TARGETS[@]}"; do
  max_len=65536
  [ "$t" = weights ] && max_len=262144
  [ "$t" = request_path ] && max_len=512
  log=$(mktemp)
  limit=(-max_total_time="$SECONDS_EACH")
  [ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
  start=$(date +%s)
  if rustup run "$NIGHTLY" cargo fuzz run "$t" "fuzz/corpus/$t" -- \
      "${limit[@]}" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
      -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    echo "$t: $runs runs in $(($(date +%s) - start)) s, 0 crashes"
  else
    status=1
    echo "$t: CRASH (artifacts in fuzz/artifacts/$t/)"
    grep -aE 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -n 8
  fi
  rm -f "$log"
done
exit "$status"
