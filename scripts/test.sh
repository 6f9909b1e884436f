#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite: unit
# tests of the core, GstHarness tests of every element, whole pipelines —
# once natively and once under valgrind's memcheck (invalid reads/writes and
# uses of uninitialised memory fail the run) for all but the oneDNN parts.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1

summary=build/meson-logs/ci-summary.txt
: >"$summary"
echo "== tests"
meson test -C build --print-errorlogs --num-processes 2 "$@" | tee -a "$summary"
rc=${PIPESTATUS[0]}
# Why tests skipped (the GPU suite without a GPU), in the CI output itself.
grep -h "^SKIP:" build/meson-logs/testlog.txt 2>/dev/null | sort -u | sed 's/^/   /'
echo "== tests under valgrind memcheck"
# (not the compute core's: valgrind cannot run oneDNN's JIT-generated code;
# not the tree checks, which are Python)
meson test -C build --print-errorlogs --num-processes 2 --timeout-multiplier 10 \
  --no-suite core --no-suite tree \
  --wrapper "valgrind -q --error-exitcode=9 --suppressions=$PWD/tests/valgrind.supp" \
  "$@" | tee -a "$summary"
rc2=${PIPESTATUS[0]}
# One closing line that any CI reader understands, from meson's summaries.
awk '/^Ok:/ {ok+=$2} /^Expected Fail:/ {xf+=$3} /^Fail:/ {f+=$2}
     /^Unexpected Pass:/ {up+=$3} /^Skipped:/ {s+=$2} /^Timeout:/ {t+=$2}
     END {printf "tests: %d passed, %d failed, %d skipped\n", ok+xf, f+up+t, s}' \
  "$summary"
[[ $rc -eq 0 && $rc2 -eq 0 ]]
