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
source scripts/jobs-lib.sh
fashion_mnist_data "$data"

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
if ! follow_training "$trainer" "$out/metrics.jsonl"; then
  echo "training failed; the end of its log:" >&2
  tail -20 "$out/train.log" >&2
  exit 1
fi

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
