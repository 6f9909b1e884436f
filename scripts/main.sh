#!/usr/bin/env bash
# The main job on the built-in data set, Fashion-MNIST (Debian's
# dataset-fashion-mnist, written once as an ImageNet-layout folder of JPEGs
# so that the real decode path is used), within a 15-minute budget on two
# cores, set-up included:
#   1. colour statistics of the training images (mean/std for the input);
#   2. trains the paper's AlexNet at 224x224 through
#      dataset-src ! decode ! resize-256 ! random-crop-flip ! pca-jitter !
#      alexnet-train, with progress, validation, a checkpoint and metrics;
#   3. classifies the 10,000 test images (test accuracy) and a video made of
#      test images, annotated with classify-overlay;
#   4. plots the training curves.
# Everything lands in out/. Usage: scripts/main.sh [BUDGET_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
budget=${1:-900}
scripts/setup.sh
source scripts/env.sh

data=data/fashion-mnist
out=out
mkdir -p "$out"
if [[ ! -d $data/train || ! -d $data/test ]]; then
  echo "== writing Fashion-MNIST as JPEG folders into $data"
  mkdir -p "$data"
  fashion-mnist-to-jpeg /usr/share/datasets/fashion-mnist "$data"
fi
# 500 training images held out for validation; 300 test images for the video.
if [[ ! -f $data/val.txt ]]; then
  find "$data/train" -name '*.jpg' | sort | awk 'NR % 120 == 0' |
    sed -E "s|^$data/(train/([^/]+)/.*)$|\1 \2|" >"$data/val.txt"
  find "$data/train" -name '*.jpg' | sort | awk 'NR % 120 != 0' |
    sed -E "s|^$data/(train/([^/]+)/.*)$|\1 \2|" >"$data/train.txt"
  find "$data/test" -name '*.jpg' | sort | awk 'NR % 33 == 0' | head -300 |
    sed -E "s|^$data/(test/([^/]+)/.*)$|\1 \2|" >"$data/video.txt"
fi

elapsed() { echo $(($(date +%s) - start)); }

echo "== 1. colour statistics of the training images"
scripts/run-pipeline.sh pipelines/dataset-stats.pipeline \
  DATA="$data/train.txt" OUT="$out/fashion-mnist-stats.json" >/dev/null

# Leave 150 s for the test set (~110 s), the video and the plot (121 s in
# all on a fresh clone here), so that the whole job ends inside the budget.
train_time=$((budget - $(elapsed) - 150))
((train_time > 60)) || train_time=60
echo "== 2. training AlexNet (paper's network, Xavier init) for ${train_time} s"
rm -f "$out/metrics.jsonl"
scripts/run-pipeline.sh pipelines/train-fashion-mnist.pipeline \
  DATA="$data/train.txt" VAL="$data/val.txt" STATS="$out/fashion-mnist-stats.json" \
  MODEL="$out/fashion-mnist-alexnet.safetensors" METRICS="$out/metrics.jsonl" \
  TIME="$train_time" >"$out/train.log" 2>&1 &
trainer=$!
trap 'kill "$trainer" 2>/dev/null || true' EXIT
shown=0
while kill -0 "$trainer" 2>/dev/null; do
  sleep 5
  if [[ -f $out/metrics.jsonl ]]; then
    lines=$(wc -l <"$out/metrics.jsonl")
    if ((lines > shown)); then
      tail -n +"$((shown + 1))" "$out/metrics.jsonl" | scripts/show-metrics.sh || true
      shown=$lines
    fi
  fi
done
if ! wait "$trainer"; then
  trap - EXIT
  echo "training failed; the end of its log:" >&2
  tail -20 "$out/train.log" >&2
  exit 1
fi

trap - EXIT
echo "== 3a. classifying the 10,000 test images"
scripts/run-pipeline.sh pipelines/classify-folder.pipeline \
  DATA="$data/test" MODEL="$out/fashion-mnist-alexnet.safetensors" BATCH=64 \
  OUT="$out/test-results.jsonl" >/dev/null
accuracy=$(scripts/accuracy.sh "$out/test-results.jsonl")

echo "== 3b. an annotated video of 300 test images"
scripts/run-pipeline.sh pipelines/classify-dataset-video.pipeline \
  DATA="$data/video.txt" MODEL="$out/fashion-mnist-alexnet.safetensors" \
  OUT="$out/fashion-mnist-annotated.avi" >/dev/null

echo "== 4. training curves"
plot-metrics "$out/metrics.jsonl" "$out/training-curves.png"

cat <<EOF
== done in $(elapsed) s
test accuracy:   $accuracy
checkpoint:      $out/fashion-mnist-alexnet.safetensors
training curves: $out/training-curves.png (metrics: $out/metrics.jsonl)
annotated video: $out/fashion-mnist-annotated.avi
test results:    $out/test-results.jsonl
EOF
