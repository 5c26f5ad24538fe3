#!/usr/bin/env bash
# cli_test.sh — end-to-end checks of the `graphc` command line: exit codes
# and one-line messages for bad arguments, the listings, a perceptron and an
# ffnn training run (text and --json) and compile --stats --json (of a
# registry model and of an ONNX file). Runs on
# the default device ($GRAPHC_DEVICE, else the first OpenCL device).
# Usage: cli_test.sh PATH/TO/graphc
set -u
GRAPHC=${1:?usage: cli_test.sh PATH/TO/graphc}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run ARGS...: runs graphc, leaving stdout, stderr and status in $TMP/out,
# $TMP/err and $rc.
run() {
  "$GRAPHC" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}

# expect_error STATUS ARGS...: exit status STATUS and exactly one stderr
# line, "graphc: error: ...", and nothing on stdout.
expect_error() {
  local want=$1
  shift
  run "$@"
  local what="graphc $*"
  [ "$rc" -eq "$want" ] || fail "$what: exit status $rc, want $want"
  [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$TMP/err")"
  grep -q '^graphc: error: ' "$TMP/err" || fail "$what: stderr lacks 'graphc: error:': $(cat "$TMP/err")"
  [ ! -s "$TMP/out" ] || fail "$what: wrote to stdout: $(cat "$TMP/out")"
  echo "ok: $what -> $rc: $(cat "$TMP/err")"
}

# ---- bad arguments
expect_error 2 frobnicate
expect_error 2 train
expect_error 2 train nosuchmodel
expect_error 2 train ffnn --epochs abc
expect_error 2 train ffnn --epochs 0
expect_error 2 train ffnn --epochs
expect_error 2 train ffnn --epochs 1.5
expect_error 2 train ffnn --batch -1
expect_error 2 train ffnn --batch=-3
expect_error 2 train ffnn --lr -0.1
expect_error 2 train ffnn --lr nan
expect_error 2 train ffnn --seed -4
expect_error 2 train ffnn --limit 0
expect_error 2 train ffnn --bogus
expect_error 2 train ffnn mlp
expect_error 2 train ffnn --json=yes
expect_error 2 compile ffnn --epochs 3
expect_error 2 compile ffnn --dump-after=nosuchpass
grep -q 'shapes' "$TMP/err" || fail "unknown --dump-after does not list the passes"
expect_error 1 train ffnn --device nonexistent
expect_error 1 compile ffnn --device nonexistent
expect_error 1 train mlp --data /nonexistent
expect_error 2 list extra

# ---- help, version, listings
run --help
[ "$rc" -eq 0 ] && grep -q 'usage: graphc' "$TMP/out" || fail "--help"
run help
[ "$rc" -eq 0 ] && grep -q 'usage: graphc' "$TMP/out" || fail "help"
run --version
[ "$rc" -eq 0 ] && grep -q '^graphc [0-9]' "$TMP/out" || fail "--version"
run
[ "$rc" -eq 2 ] || fail "no arguments: exit status $rc, want 2"

run list
[ "$rc" -eq 0 ] || fail "list: exit status $rc"
for m in perceptron ffnn mlp; do
  grep -q "^$m " "$TMP/out" || fail "list lacks $m"
done
echo "ok: list"

run devices
[ "$rc" -eq 0 ] || fail "devices: exit status $rc"
grep -qi 'pocl\|portable computing language' "$TMP/out" || fail "devices does not show PoCL: $(cat "$TMP/out")"
grep -q '^ref ' "$TMP/out" || fail "devices lacks the ref line"
echo "ok: devices"

# ---- training
run train perceptron
[ "$rc" -eq 0 ] || fail "train perceptron: exit status $rc: $(cat "$TMP/err")"
grep -Eq '^AND .* 1\.00 .* yes' "$TMP/out" || fail "perceptron did not learn AND: $(cat "$TMP/out")"
grep -Eq '^OR .* 1\.00 .* yes' "$TMP/out" || fail "perceptron did not learn OR"
grep -Eq '^XOR +perceptron.* no' "$TMP/out" || fail "perceptron learned XOR?"
grep -Eq '^XOR +2-.* 1\.00 .* yes' "$TMP/out" || fail "the two-layer net did not solve XOR"
[ "$(grep -c '^perceptron: test accuracy' "$TMP/out")" -eq 1 ] || fail "perceptron summary line"
cat "$TMP/out"

run train ffnn --json
[ "$rc" -eq 0 ] || fail "train ffnn --json: exit status $rc: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "train ffnn --json: stdout is not one line"
python3 -c '
import json, sys
r = json.load(sys.stdin)
for k in ("model", "epochs", "test_accuracy", "train_seconds", "samples_per_second",
          "final_loss", "device", "batch", "lr", "seed"):
    assert k in r, "missing key " + k
assert r["model"] == "ffnn"
assert r["test_accuracy"] >= 0.93, "test accuracy %s" % r["test_accuracy"]
' <"$TMP/out" || fail "train ffnn --json: $(cat "$TMP/out")"
cat "$TMP/out"

run train ffnn --epochs=20 --batch 8 --lr 0.02 --seed 3 --device ref
[ "$rc" -eq 0 ] && grep -q '^ffnn: test accuracy .* after 20 epoch(s)' "$TMP/out" ||
  fail "train ffnn on ref: $(cat "$TMP/out" "$TMP/err")"

# ---- compile
run compile mlp --train --stats --json
[ "$rc" -eq 0 ] || fail "compile mlp --train --stats --json: exit status $rc: $(cat "$TMP/err")"
python3 -c '
import json, sys
r = json.load(sys.stdin)
for k in ("nodes_before", "nodes_after", "kernels", "launches_per_step", "arena_bytes",
          "no_reuse_bytes", "live_lower_bound_bytes", "compile_seconds", "cache_hit",
          "gemm_own", "gemm_clblast", "gemm_measured", "updates_split", "arena_bytes_unsplit",
          "compile_cold_seconds", "compile_cached_seconds", "postdom_joins", "postdom_misses"):
    assert k in r, "missing key " + k
assert r["nodes_before"] > 0 and r["nodes_after"] > 0
assert r["compile_cold_seconds"] > 0 and r["compile_cached_seconds"] > 0, r
assert r["postdom_misses"] == 0, r
# the MLP step splits two Adam updates, which halves its arena (passes/split_updates.c)
assert r["updates_split"] == 2 and 2 * r["arena_bytes"] <= r["no_reuse_bytes"], r
assert r["arena_bytes_unsplit"] > r["arena_bytes"], r
assert r["kernels"] > 0 or "ref" in r["device"]  # the interpreter runs nodes, not kernels
# 3 forward and 5 backward matrix products, whichever GEMM runs them
assert r["gemm_own"] + r["gemm_clblast"] == 8 or "ref" in r["device"]
' <"$TMP/out" || fail "compile --json: $(cat "$TMP/out")"
cat "$TMP/out"

# GRAPHC_GEMM (OpenCL only): "own" never uses CLBlast; an unknown value is
# a one-line error.
if [ "${GRAPHC_DEVICE:-}" != ref ]; then
  GRAPHC_GEMM=own run compile mlp --train --json
  python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["gemm_own"] == 8 and r["gemm_clblast"] == 0 and r["gemm_measured"] == 0
' <"$TMP/out" || fail "GRAPHC_GEMM=own compile --json: $(cat "$TMP/out" "$TMP/err")"
  GRAPHC_GEMM=fastest expect_error 1 compile mlp --train
  grep -q 'GRAPHC_GEMM' "$TMP/err" || fail "GRAPHC_GEMM=fastest: the message does not name it"
fi

run compile ffnn --stats --device ref
[ "$rc" -eq 0 ] && grep -q 'kernels' "$TMP/out" || fail "compile ffnn --stats: $(cat "$TMP/out" "$TMP/err")"

# compile accepts an ONNX file in place of a registry model (no --train)
LSTM=/usr/share/libonnx-testdata/data/node/test_lstm_defaults/model.onnx
if [ -f "$LSTM" ]; then
  run compile "$LSTM" --stats --json
  [ "$rc" -eq 0 ] || fail "compile $LSTM --stats --json: exit status $rc: $(cat "$TMP/err")"
  python3 -c '
import json, sys
r = json.load(sys.stdin)
for k in ("model", "train", "batch", "device", "nodes_before", "nodes_after", "kernels",
          "launches_per_step", "arena_bytes", "no_reuse_bytes", "live_lower_bound_bytes",
          "persistent_bytes", "compile_seconds", "cache_hit", "compile_cached_seconds",
          "gemm_own", "gemm_clblast", "gemm_measured"):
    assert k in r, "missing key " + k
assert r["model"].endswith("model.onnx") and r["train"] is False
assert r["nodes_before"] > 0 and r["nodes_after"] > 0
# the producers of the cell gates join the movement ops that read them, along
# the post-dominator tree (passes/fuse_postdom.c); none is left
assert r["postdom_joins"] > 0 and r["postdom_misses"] == 0, r
' <"$TMP/out" || fail "compile model.onnx --json: $(cat "$TMP/out")"
  expect_error 2 compile "$LSTM" --train
  expect_error 1 compile "$TMP/missing.onnx"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all CLI checks passed"
