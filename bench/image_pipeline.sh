#!/bin/bash
# The image-pipeline benchmark: the gst-alexnet pipeline against torchvision's
# PIL pipeline and against libjpeg-turbo's decode alone, on one core, side by
# side in one run.  See bench/README.md.
#
#   bench/image_pipeline.sh [BUILD_DIR] [PHOTO_DIR]
#
# Environment: EPOCHS (passes over the photos per measurement, 2), TJ_ROUNDS
# (passes for tj-decode-bench, 3*EPOCHS as it is fast), REPS
# (repetitions, median reported, 3), CORE (the core to pin to, 1), COUNT
# (photos to make when PHOTO_DIR has none, 300), SCALE_RULE (how `decode`
# picks its DCT scale: "smallest" factor keeping the shorter side >= 256, or
# "pow2" for 1/1, 1/2, 1/4, 1/8 only; picks the ceiling row), GST_PIPELINE
# (replaces the pipeline below, up to but not including the sink).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD_DIR=$(realpath -m "${1:-$root/build}")
PHOTO_DIR=$(realpath -m "${2:-$here/photos}")
EPOCHS=${EPOCHS:-2}
REPS=${REPS:-3}
CORE=${CORE:-1}
COUNT=${COUNT:-300}
SCALE_RULE=${SCALE_RULE:-pow2}
TJ_ROUNDS=${TJ_ROUNDS:-$((3 * EPOCHS))}
PY=/usr/bin/python3
ncores_all=$(nproc --all)
ncores=$(nproc)   # before OMP_NUM_THREADS=1 below, which nproc obeys

if (( CORE >= ncores_all )); then CORE=0; fi
pin=(taskset -c "$CORE")

# --- build and photos -------------------------------------------------------
if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  meson setup "$BUILD_DIR" "$root" >/dev/null
fi
ninja -C "$BUILD_DIR" >/dev/null || { echo "build failed: ninja -C $BUILD_DIR" >&2; exit 1; }
tj="$BUILD_DIR/bench/tj-decode-bench"
gstbench="$BUILD_DIR/bench/gst-pipeline-bench"
for t in "$tj" "$gstbench"; do
  [[ -x $t ]] || { echo "missing $t: is subdir('bench') in meson.build?" >&2; exit 1; }
done

if ! find "$PHOTO_DIR" -iname '*.jpeg' -print -quit 2>/dev/null | grep -q .; then
  echo "making $COUNT photos in $PHOTO_DIR ..."
  $PY "$here/make_photos.py" "$PHOTO_DIR" --count "$COUNT"
fi
nfiles=$(find "$PHOTO_DIR" -type f \( -iname '*.jpeg' -o -iname '*.jpg' \) | wc -l)

pipeline=${GST_PIPELINE:-"dataset-src location=$PHOTO_DIR shuffle=true epochs=$EPOCHS ! decode ! resize-256 ! random-crop-flip ! pca-jitter"}
pipeline="$pipeline ! fakesink name=benchsink sync=false"
gst_label="gst dataset-src ! decode ! ... ! pca-jitter"
[[ -n ${GST_PIPELINE:-} ]] && gst_label="gst (GST_PIPELINE given)"
export GST_PLUGIN_PATH="$BUILD_DIR/elements${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export OMP_NUM_THREADS=1

# --- measurements -----------------------------------------------------------
# run NAME CMD...: run pinned, append images/s (or "n/a") to results_NAME,
# keep the output of the last run in log_NAME.
declare -A results logs
run() {
  local name=$1; shift
  local out rc=0
  out=$("${pin[@]}" "$@" 2>&1) || rc=$?
  logs[$name]=$out
  local ips
  ips=$(awk '/^images_per_s /{print $2}' <<<"$out" | tail -1)
  if (( rc != 0 )) || [[ -z $ips ]]; then ips=n/a; fi
  results[$name]="${results[$name]:-} $ips"
  printf '  %-14s %s\n' "$name" "$ips"
}

median() {  # median of the numbers among the arguments, or n/a
  printf '%s\n' "$@" | { grep -E '^[0-9.]+$' || true; } | sort -g |
    awk '{v[NR]=$1} END {if (NR == 0) print "n/a";
         else if (NR % 2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'
}

echo "photos: $nfiles JPEGs in $PHOTO_DIR; $EPOCHS epochs per measurement;" \
     "$REPS repetitions, interleaved; pinned to core $CORE"
echo "gst pipeline: $pipeline"
for ((r = 1; r <= REPS; r++)); do
  echo "repetition $r/$REPS (images/s)"
  run torchvision $PY "$here/torchvision_pipeline.py" "$PHOTO_DIR" --epochs "$EPOCHS"
  run gst "$gstbench" "$pipeline"
  run tj-smallest "$tj" --rounds "$TJ_ROUNDS" "$PHOTO_DIR"
  run tj-pow2 "$tj" --pow2 --rounds "$TJ_ROUNDS" "$PHOTO_DIR"
  run tj-full "$tj" --full --rounds "$TJ_ROUNDS" "$PHOTO_DIR"
done

if [[ ${results[gst]} != *[0-9]* ]]; then
  echo
  echo "the gst pipeline did not run; its output:"
  sed 's/^/  /' <<<"${logs[gst]}"
fi

# --- report -----------------------------------------------------------------
# shellcheck disable=SC2086  # word splitting of the result lists is wanted
{
  tv=$(median ${results[torchvision]})
  gs=$(median ${results[gst]})
  ts=$(median ${results[tj-smallest]})
  tp=$(median ${results[tj-pow2]})
  tf=$(median ${results[tj-full]})
}
case $SCALE_RULE in
  pow2) ceiling=$tp; ceiling_name="tj-pow2" ;;
  *) ceiling=$ts; ceiling_name="tj-smallest" ;;
esac

ratio() {  # ratio A B, or n/a
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0)
    printf "%.2f", a / b; else printf "n/a" }'
}
# judged on the unrounded ratio (ratio() prints two decimals)
verdict=$(awk -v r="$(ratio "$gs" "$tv")" -v a="$gs" -v b="$tv" 'BEGIN { if (r == "n/a") print "FAIL (gst pipeline did not run)";
  else if (a / b >= 3.0) print "PASS"; else print "FAIL" }')

cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
pyver=$($PY -c 'import torch, torchvision, PIL, PIL.features
print("torch", torch.__version__ + ", torchvision", torchvision.__version__ + ", PIL",
      PIL.__version__, "(libjpeg API " + PIL.features.version("jpg") + ")")' ||
  echo "python versions unknown")
gstver=$(pkg-config --modversion gstreamer-1.0 2>/dev/null || gst-launch-1.0 --version | awk 'NR==2{print $2}')
tjver=$(pkg-config --modversion libturbojpeg 2>/dev/null || echo unknown)
scales=$(grep -A8 '^scales' <<<"${logs[tj-smallest]}" | grep -E '^  [0-9]' | awk '{printf "%s x%s, ", $1, $2}' || true)

echo
echo "machine:  $ncores_all cores ($ncores usable), $cpu; measured on core $CORE"
echo "versions: $pyver; GStreamer $gstver; libjpeg-turbo $tjver"
echo "photos:   $nfiles JPEGs, $(grep -m1 '^files' <<<"${logs[tj-full]}" | awk '{print $3, $4}') mean; $EPOCHS epochs (tj: $TJ_ROUNDS rounds); median of $REPS"
echo "decode scales (smallest rule): ${scales%, }"
echo
printf '%-54s %12s\n' "pipeline (one core)" "images/s"
printf '%-54s %12s\n' "torchvision/PIL (decode+Resize+crops+flip+ToTensor)" "$tv"
printf '%-54s %12s\n' "$gst_label" "$gs"
printf '%-54s %12s\n' "libjpeg-turbo decode, smallest DCT scale >=256" "$ts"
printf '%-54s %12s\n' "libjpeg-turbo decode, 1/2^k DCT scale >=256" "$tp"
printf '%-54s %12s\n' "libjpeg-turbo decode, full size" "$tf"
echo
echo "gst / torchvision:           $(ratio "$gs" "$tv")  (issue floor 3.00: $verdict)"
echo "gst / libjpeg-turbo ceiling: $(ratio "$gs" "$ceiling")  (ceiling = $ceiling_name, SCALE_RULE=$SCALE_RULE; 1.00 = decode-bound)"
echo "gst / full-size decode:      $(ratio "$gs" "$tf")"
[[ $verdict == PASS ]]
