#!/usr/bin/env bash
# Installs what the project needs from Debian's archive (only what is
# missing, so it is cheap to run again) and builds it into build/.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential meson ninja-build pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  libturbojpeg0-dev libjson-glib-dev zlib1g-dev libdnnl-dev
  dataset-fashion-mnist valgrind locales python3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Where nvcc is (every machine of this project has it under /usr/local/cuda),
# the CUDA backend must build: -Dcuda=enabled turns anything missing into an
# error instead of a quiet CPU-only build.
cuda=auto
if command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  cuda=enabled
fi
if [[ ! -f build/build.ninja ]]; then
  # (its progress bars go to stderr: shown only if the configuration fails)
  if ! meson setup build --buildtype=debugoptimized -Dwerror=true \
      -Dcuda=$cuda >/tmp/gst-alexnet-setup.$$.log 2>&1; then
    cat /tmp/gst-alexnet-setup.$$.log >&2
    rm -f /tmp/gst-alexnet-setup.$$.log
    exit 1
  fi
  rm -f /tmp/gst-alexnet-setup.$$.log
fi
ninja -C build >/dev/null
echo "== built: build/elements/libgstalexnet.so"
