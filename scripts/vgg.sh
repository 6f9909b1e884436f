#!/usr/bin/env bash
# The VGG job on the built-in data set, Fashion-MNIST (the main job's JPEG
# folders), within a 15-minute budget on two cores, set-up included:
#   1. colour statistics of the training images;
#   2. trains VGG configuration A with torchvision's batch norm (vgg-a-bn),
#      every width / 8, at 32x32 (the smallest input VGG takes; Fashion-
#      MNIST's items are 28 pixels), with the VGG paper's scale jittering
#      (shorter side S drawn from [32, 48] per image, random 32x32 crop and
#      flip): pipelines/train-fashion-mnist-vgg.pipeline;
#   3. evaluates it as the VGG paper did: the centre crop on the 10,000 test
#      images, and on every tenth of them (1,000) the centre crop, dense
#      evaluation, multi-crop (5x5 grid and mirrors) and their combination,
#      at the test scales Q = 32, 40, 48 (the paper's {S_min, mid, S_max});
#   4. writes the table (docs/vgg.md shows one) to out/vgg/table.md.
# Usage: scripts/vgg.sh [BUDGET_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
budget=${1:-900}
scripts/setup.sh
source scripts/env.sh

data=data/fashion-mnist
out=out/vgg
mkdir -p "$out"
source scripts/jobs-lib.sh
fashion_mnist_data "$data"
elapsed() { echo $(($(date +%s) - start)); }
model=$out/fashion-mnist-vgg-a-bn.safetensors

echo "== 1. colour statistics of the training images"
scripts/run-pipeline.sh pipelines/dataset-stats.pipeline \
  DATA="$data/train.txt" OUT="$out/stats.json" >/dev/null

# The evaluations take about 100 s here (multi-crop runs 150 crops per
# image); the rest of the budget trains.
train_time=$((budget - $(elapsed) - 110))
((train_time > 60)) || train_time=60
echo "== 2. training VGG-A (batch norm, widths / 8, 32x32, S in [32, 48]) for ${train_time} s"
rm -f "$out/metrics.jsonl"
scripts/run-pipeline.sh pipelines/train-fashion-mnist-vgg.pipeline \
  DATA="$data/train.txt" VAL="$data/val.txt" STATS="$out/stats.json" DIV=8 \
  MODEL="$model" METRICS="$out/metrics.jsonl" TIME="$train_time" \
  >"$out/train.log" 2>&1 &
trainer=$!
# every 10th line: the log interval is 20 steps of a fast net
if ! follow_training "$trainer" "$out/metrics.jsonl" 10; then
  echo "training failed; the end of its log:" >&2
  tail -20 "$out/train.log" >&2
  exit 1
fi

echo "== 3. evaluating as the VGG paper did"
run() {   # run VIEWS DATA SCALES OUT
  scripts/run-pipeline.sh pipelines/classify-list-views.pipeline \
    MODEL="$model" VIEWS="$1" DATA="$2" SCALES="$3" OUT="$4" >/dev/null
}
run center "$data/test" "" "$out/test-center.jsonl"
echo "   centre crop, 10,000 test images: $(scripts/accuracy.sh "$out/test-center.jsonl")"
run center "$data/test-subset.txt" "" "$out/subset-center.jsonl"
run dense "$data/test-subset.txt" 32,40,48 "$out/subset-dense.jsonl"
run multi-crop "$data/test-subset.txt" 32,40,48 "$out/subset-multi-crop.jsonl"

echo "== 4. the table"
{
  echo "VGG-A with batch norm (vgg-a-bn), widths / 8, 32x32, trained ${train_time} s on 59,500 Fashion-MNIST images with scale jittering S in [32, 48]"
  echo
  python3 scripts/views-table.py "$model" \
    "centre crop (all 10,000)=$out/test-center.jsonl" \
    "centre crop=$out/subset-center.jsonl" "dense=$out/subset-dense.jsonl" \
    "multi-crop=$out/subset-multi-crop.jsonl" --combine dense multi-crop
} >"$out/table.md"
cat "$out/table.md"
cat <<EOT
== done in $(elapsed) s
checkpoint: $model
metrics:    $out/metrics.jsonl
table:      $out/table.md
EOT
