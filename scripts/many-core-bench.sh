#!/usr/bin/env bash
# The many-core measurements of issue 10, as one short script for a lent machine with more cores.
#
#   scripts/many-core-bench.sh prepare   # here: release binaries (+ a numpy wheel) into device/
#   scripts/many-core-bench.sh run       # there, with device/ carried; results go to $OUT
#
# `run` writes to $OUT (default: device-out/): the machine (lscpu), `pff bench --json
# --threads-sweep` for the paper and web presets, the per-part profile at 1, 2 and all threads,
# and numpy's GEMM rate on the same shapes at each thread count (when the wheel installs).
# Thread counts: 1, 2, 4, 8, … up to the machine's cores. PRESETS (default "paper web") picks the
# presets; the profile uses the first (PRESETS=tiny: a quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=device

prepare() {
    grep -qxF "/$dir/" .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo "/$dir/" >> .git/info/exclude; }
    cargo build --release --bin pff --example profile_parts
    mkdir -p "$dir"
    cp target/release/pff target/release/examples/profile_parts "$dir/"
    rm -f "$dir"/numpy-*.whl
    pip download --quiet --only-binary=:all: --no-deps --dest "$dir" "numpy==2.*" \
        || echo "no numpy wheel: the GEMM reference will be skipped"
    du -sh "$dir"
}

run() {
    local out=${OUT:-device-out} cores sweep t
    mkdir -p "$out"
    cores=$(nproc)
    sweep=1
    for t in 2 4 8 16 32 64; do [ "$t" -le "$cores" ] && sweep="$sweep,$t"; done
    { lscpu; echo; free -g; } > "$out/machine.txt"
    echo "cores: $cores, sweep: $sweep"
    local presets=${PRESETS:-paper web}
    for preset in $presets; do
        "$dir/pff" bench --preset "$preset" --json --threads-sweep "$sweep" > "$out/bench-$preset.json"
        echo "bench $preset done ($SECONDS s)"
    done
    for t in 1 2 "$cores"; do
        RAYON_NUM_THREADS=$t "$dir/profile_parts" "${presets%% *}" > "$out/profile-${presets%% *}-$t.txt"
    done
    echo "profiles done ($SECONDS s)"
    if python3 -m pip install --quiet --no-index --target "$out/.py" "$dir"/numpy-*.whl 2>/dev/null; then
        for t in ${sweep//,/ }; do
            OPENBLAS_NUM_THREADS=$t PYTHONPATH="$out/.py" python3 scripts/gemm_reference.py "$t"
        done > "$out/numpy-gemm.jsonl"
        rm -rf "$out/.py"
        echo "numpy reference done ($SECONDS s)"
    else
        echo "numpy wheel did not install here: no GEMM reference" | tee "$out/numpy-gemm.jsonl"
    fi
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
