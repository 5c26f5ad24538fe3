#!/usr/bin/env bash
# setup.sh — installs what graphc needs on Debian 12 (only what is missing;
# needs root for that), then configures and builds it in build/.
# Sourced by train-mlp.sh and test.sh; usable alone: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(build-essential cmake pkg-config git python3
  pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo
  libclblast-dev libopenblas-dev check zlib1g-dev dataset-fashion-mnist
  libonnx-dev libprotobuf-c-dev protobuf-c-compiler libonnx-testdata)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "graphc setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "graphc setup: error: packages missing and not root; run as root or: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
