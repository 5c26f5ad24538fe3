#!/usr/bin/env bash
# train-mlp.sh — the main job: set up, then train the MLP on Fashion-MNIST on
# PoCL and print its test accuracy. Extra arguments go to `graphc train`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec build/graphc train mlp --epochs 5 --seed 0 --device pocl "$@"
