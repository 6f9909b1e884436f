#!/bin/bash
# The inference benchmark: a folder of JPEGs classified by
#   dataset-src ! decode ! alexnet-infer batch-size=64 ! fakesink
# against the compute core alone (build/bench/infer_bench: the same network
# at batch 64 on images already in memory), runs interleaved on the same
# cores. The issue's floor: the pipeline reaches at least 90 % of the
# core's images/s. See bench/README.md.
#
#   bench/infer_bench.sh [BUILD_DIR] [PHOTO_DIR]
#
# Environment: REPS (repetitions, median reported, 3), COUNT (photos to make
# when PHOTO_DIR has none; a multiple of 64, 320), MODEL (checkpoint; by
# default a random-weight paper AlexNet, 224x224, 1000 classes, written to
# bench/results/alexnet-random.safetensors), GST_PIPELINE (replaces the
# pipeline up to, not including, the sink; @MODEL@ is the checkpoint).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD_DIR=$(realpath -m "${1:-$root/build}")
PHOTO_DIR=$(realpath -m "${2:-$here/photos-infer}")
REPS=${REPS:-3}
COUNT=${COUNT:-320}
BATCH=64
MODEL=${MODEL:-$here/results/alexnet-random.safetensors}
PY=/usr/bin/python3

if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  meson setup "$BUILD_DIR" "$root" >/dev/null
fi
ninja -C "$BUILD_DIR" >/dev/null || { echo "build failed: ninja -C $BUILD_DIR" >&2; exit 1; }
core="$BUILD_DIR/bench/infer_bench"
gstbench="$BUILD_DIR/bench/gst-pipeline-bench"

if ! find "$PHOTO_DIR" -iname '*.jpeg' -print -quit 2>/dev/null | grep -q .; then
  echo "making $COUNT photos in $PHOTO_DIR ..."
  $PY "$here/make_photos.py" "$PHOTO_DIR" --count "$COUNT"
fi
nfiles=$(find "$PHOTO_DIR" -type f \( -iname '*.jpeg' -o -iname '*.jpg' \) | wc -l)
if (( nfiles % BATCH != 0 || nfiles < 2 * BATCH )); then
  echo "$PHOTO_DIR has $nfiles photos: use a multiple of $BATCH, at least $((2 * BATCH))" >&2
  exit 1
fi
if [[ ! -f $MODEL ]]; then
  mkdir -p "$(dirname "$MODEL")"
  echo "writing a random-weight checkpoint to $MODEL ..."
  "$core" --write-checkpoint "$MODEL"
fi

pipeline=${GST_PIPELINE:-"dataset-src location=$PHOTO_DIR ! decode ! alexnet-infer model=@MODEL@ batch-size=$BATCH"}
pipeline="${pipeline//@MODEL@/$MODEL} ! fakesink name=benchsink sync=false"
export GST_PLUGIN_PATH="$BUILD_DIR/elements${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

median () { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
core_runs=() gst_runs=()
for ((r = 1; r <= REPS; r++)); do
  c=$("$core" --batch $BATCH --reps 5 | awk '/^core_images_per_s/ { print $2 }')
  # frames leave in bursts of a batch: from the first batch out to the
  # last, (frames - one batch) were classified
  out=$("$gstbench" "$pipeline")
  n=$(awk '/^buffers/ { print $2 }' <<<"$out")
  span=$(awk '/^first_to_last_s/ { print $2 }' <<<"$out")
  g=$(awk -v n="$n" -v s="$span" -v b=$BATCH 'BEGIN { printf "%.1f", (n - b) / s }')
  (( n == nfiles )) || { echo "the pipeline gave $n buffers for $nfiles photos" >&2; exit 1; }
  echo "run $r: core $c images/s, pipeline $g images/s"
  core_runs+=("$c") gst_runs+=("$g")
done
c=$(printf '%s\n' "${core_runs[@]}" | median)
g=$(printf '%s\n' "${gst_runs[@]}" | median)
ratio=$(awk -v g="$g" -v c="$c" 'BEGIN { printf "%.3f", g / c }')
pass=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.90) ? "PASS" : "FAIL" }')
printf '\n%-58s %10s\n' "AlexNet 224x224, batch $BATCH ($nfiles photos, $(nproc) cores)" "images/s"
printf '%-58s %10.1f\n' "compute core alone (infer_bench, median of $REPS)" "$c"
printf '%-58s %10.1f\n' "dataset-src ! decode ! alexnet-infer ! fakesink" "$g"
printf '\npipeline / core: %s  (issue floor 0.90: %s)\n' "$ratio" "$pass"
[[ $pass == PASS ]]
