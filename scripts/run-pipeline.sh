#!/usr/bin/env bash
# Runs a ready pipeline file with gst-launch-1.0, filling in ${NAME} values:
#   scripts/run-pipeline.sh pipelines/dataset-stats.pipeline DATA=dir OUT=file
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
file=$1; shift
desc=$(grep -v '^#' "$file" | tr '\n' ' ')
for kv in "$@"; do
  desc=${desc//\$\{${kv%%=*}\}/${kv#*=}}
done
if [[ $desc == *'${'* ]]; then
  echo "unfilled value in $file: $(grep -o '\${[A-Z_]*}' <<<"$desc" | sort -u | tr '\n' ' ')" >&2
  exit 2
fi
source "$root/scripts/env.sh"
# shellcheck disable=SC2086
exec gst-launch-1.0 -e $desc
