# Shared by the jobs (scripts/main.sh, scripts/vgg.sh); source it.

# Fashion-MNIST (Debian's dataset-fashion-mnist) written once as JPEG
# folders under $1, and its lists: 500 training images held out for
# validation (val.txt, the rest train.txt), 300 test images for a video
# (video.txt) and every tenth test image (test-subset.txt).
fashion_mnist_data() {
  local data=$1
  if [[ ! -d $data/train || ! -d $data/test ]]; then
    echo "== writing Fashion-MNIST as JPEG folders into $data"
    mkdir -p "$data"
    fashion-mnist-to-jpeg /usr/share/datasets/fashion-mnist "$data"
  fi
  list() {   # list SPLIT AWK-CONDITION FILE [HEAD]
    [[ -f $data/$3 ]] && return 0
    find "$data/$1" -name '*.jpg' | sort | awk "$2" | head -"${4:-1000000}" |
      sed -E "s|^$data/($1/([^/]+)/.*)$|\1 \2|" >"$data/$3"
  }
  list train 'NR % 120 == 0' val.txt
  list train 'NR % 120 != 0' train.txt
  list test 'NR % 33 == 0' video.txt 300
  list test 'NR % 10 == 0' test-subset.txt
}

# Shows alexnet-train's metrics file $2 (every $3-th new line) while the
# training process $1 runs, and returns its exit status; kills it if the
# caller is interrupted.
follow_training() {
  local pid=$1 metrics=$2 every=${3:-1} shown=0 lines
  trap 'kill "$pid" 2>/dev/null || true' EXIT
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if [[ -f $metrics ]]; then
      lines=$(wc -l <"$metrics")
      if ((lines > shown)); then
        tail -n +"$((shown + 1))" "$metrics" |
          awk -v n="$every" -v s="$shown" '(s + NR) % n == 0' |
          scripts/show-metrics.sh || true
        shown=$lines
      fi
    fi
  done
  trap - EXIT
  wait "$pid"
}
