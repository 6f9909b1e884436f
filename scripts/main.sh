#!/usr/bin/env bash
# The main job on the built-in data set, Fashion-MNIST (Debian's
# dataset-fashion-mnist, written once as an ImageNet-layout folder of JPEGs
# so that the real decode path is used):
#   1. the data set's colour statistics (mean, covariance, eigenvectors);
#   2. one epoch of the paper's training crops at full speed through
#      dataset-src ! decode ! resize-256 ! random-crop-flip ! pca-jitter;
#   3. a few of those crops saved as PNG files to look at.
# Results go to out/. Usage: scripts/main.sh [DATA_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

data=${1:-data/fashion-mnist}
out=${2:-out}
mkdir -p "$out/crops"

if [[ ! -d $data/train || ! -d $data/test ]]; then
  echo "== writing Fashion-MNIST as JPEG folders into $data"
  mkdir -p "$data"
  fashion-mnist-to-jpeg /usr/share/datasets/fashion-mnist "$data"
fi

now() { date +%s.%N; }

echo "== 1. colour statistics of $data/train"
scripts/run-pipeline.sh pipelines/dataset-stats.pipeline \
  DATA="$data/train" OUT="$out/fashion-mnist-stats.json" >/dev/null
cat "$out/fashion-mnist-stats.json"

echo "== 2. one epoch of training crops (224x224, mirrored, colour noise)"
n=$(find "$data/train" -name '*.jpg' | wc -l)
t0=$(now)
scripts/run-pipeline.sh pipelines/train-crops-fakesink.pipeline \
  DATA="$data/train" >/dev/null
t1=$(now)
awk -v n="$n" -v a="$t0" -v b="$t1" \
  'BEGIN { printf "%d images in %.1f s: %.0f images/s (2 cores, whole process)\n", n, b-a, n/(b-a) }'

echo "== 3. sixteen training crops as PNG in $out/crops/"
scripts/run-pipeline.sh pipelines/save-train-crops.pipeline \
  DATA="$data/train" COUNT=16 STATS="$out/fashion-mnist-stats.json" \
  OUT="$out/crops" >/dev/null
ls "$out/crops" | head -3
echo "== done: statistics in $out/fashion-mnist-stats.json, crops in $out/crops/"
