#!/usr/bin/env bash
# test.sh — set up, build, and run the whole default test suite (every ctest
# entry except those labelled "long"). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cd build
exec ctest --output-on-failure -j2 -LE long "$@"
