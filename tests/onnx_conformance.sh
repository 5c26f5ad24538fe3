#!/usr/bin/env bash
# onnx_conformance.sh — runs `graphc onnx-test` over libonnx-testdata's
# backend cases: every case of the four suites (no list), or the cases of
# a list file (one path per line relative to the data root, # comments).
# Every case that runs is also run unfused (--compare-unfused): fused and
# unfused outputs must agree within 1e-5 (1 + |unfused|), ints exactly.
# Fails on any FAIL (graphc's exit status); SKIP (unsupported) is allowed.
# usage: onnx_conformance.sh GRAPHC [LIST]
set -uo pipefail
tool=$1
list=${2:-}
root=/usr/share/libonnx-testdata/data
if [ ! -d "$root" ]; then
  echo "onnx_conformance: $root not found (apt-get install libonnx-testdata)" >&2
  exit 1
fi
cases=()
if [ -n "$list" ]; then
  while read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    cases+=("$root/$line")
  done < "$list"
else
  for suite in node pytorch-converted pytorch-operator simple; do
    cases+=("$root/$suite"/*/)
  done
fi
exec "$tool" onnx-test --device "${GRAPHC_DEVICE:-pocl}" --compare-unfused "${cases[@]}"
