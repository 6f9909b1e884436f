#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite: unit
# tests of the core, GstHarness tests of every element, whole pipelines.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1

meson test -C build --print-errorlogs --num-processes 2 "$@" | tee build/meson-logs/ci-summary.txt
rc=${PIPESTATUS[0]}
# One closing line that any CI reader understands, from meson's summary.
awk '/^Ok:/ {ok=$2} /^Expected Fail:/ {xf=$3} /^Fail:/ {f=$2}
     /^Unexpected Pass:/ {up=$3} /^Skipped:/ {s=$2} /^Timeout:/ {t=$2}
     END {printf "tests: %d passed, %d failed, %d skipped\n", ok+xf, f+up+t, s}' \
  build/meson-logs/ci-summary.txt
exit "$rc"
