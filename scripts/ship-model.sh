#!/usr/bin/env bash
# Turns the best-dev weights of a training run into a shipped model under data/weights/:
# fits the GMM prior on the training latents, records the full test-split accuracy in the
# file's metadata, and writes the report figures to docs/figures/ (SVG charts, PNG grids).
#   scripts/ship-model.sh RUN NAME DATASET
#   e.g. scripts/ship-model.sh runs/mnist-web mnist-web mnist
# (RUN.safetensors and RUN.history.jsonl come from `pff train --out RUN.safetensors`.)
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1 name=$2 dataset=$3
pff=./target/release/pff
mkdir -p data/weights docs/figures
tmp="data/weights/.$name.safetensors.tmp"
cp "$run.safetensors" "$tmp"
$pff prior --weights "$tmp" --dataset "$dataset"
$pff eval --weights "$tmp" --dataset "$dataset" --split test --record
mv "$tmp" "data/weights/$name.safetensors"
cp "$run.history.jsonl" "data/weights/$name.history.jsonl"
$pff report --weights "data/weights/$name.safetensors" --history "$run.history.jsonl" --out docs/figures
