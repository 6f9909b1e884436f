#!/usr/bin/python3
"""Make a few hundred JPEGs of ImageNet-like size from the sample photographs
that Debian packages ship (python3-skimage, python-matplotlib-data), for the
image-pipeline benchmark.

Each output image is a seeded random crop of one source photograph with the
aspect ratio of a typical ImageNet size, rescaled to that size, maybe mirrored,
and re-encoded as baseline JPEG, quality 90, 4:2:0.  Layout is ImageNet's:
OUTDIR/<class>/<class>_<n>.JPEG, the class being the source photograph.

    /usr/bin/python3 bench/make_photos.py OUTDIR [--count 300] [--seed 1]

The same --seed and --count give the same files, byte for byte (same PIL).
"""

import argparse
import os
import random
import sys

import numpy as np
from PIL import Image

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
MPL_DATA = "/usr/share/matplotlib/mpl-data/sample_data"

# Real photographs only: no synthetic, tiny, or text images.  The first group
# is colour; brick, grass and gravel are greyscale texture photographs, made
# RGB (three identical channels) so every file is a 3-component 4:2:0 JPEG.
SOURCES = [
    (SKIMAGE_DATA, "astronaut.png"),
    (SKIMAGE_DATA, "chelsea.png"),
    (SKIMAGE_DATA, "coffee.png"),
    (SKIMAGE_DATA, "rocket.jpg"),
    (SKIMAGE_DATA, "motorcycle_left.png"),
    (SKIMAGE_DATA, "motorcycle_right.png"),
    (SKIMAGE_DATA, "hubble_deep_field.jpg"),
    (SKIMAGE_DATA, "retina.jpg"),
    (SKIMAGE_DATA, "ihc.png"),
    (MPL_DATA, "grace_hopper.jpg"),
    (SKIMAGE_DATA, "brick.png"),
    (SKIMAGE_DATA, "grass.png"),
    (SKIMAGE_DATA, "gravel.png"),
]

# (width, height, weight).  ImageNet's photographs are mostly 500 pixels on
# the long side (500x375 and 500x333 dominate), mean about 400x350, with a
# long tail of larger ones.
SIZES = [
    (500, 375, 30), (500, 333, 18), (375, 500, 10), (333, 500, 6),
    (500, 500, 6), (400, 300, 10), (300, 400, 4), (320, 320, 3),
    (640, 480, 6), (480, 640, 2), (800, 600, 3), (1024, 768, 1),
    (1280, 960, 1),
]

# The sources are 300..1411 pixels; most outputs are up-scaled somewhat, which
# leaves them smoother (and so cheaper to entropy-decode) than real photos.
# A little seeded grain on up-scaled outputs brings the bytes per pixel back
# to what camera JPEGs have at quality 90.
DEFAULT_GRAIN = 2.0


def load_sources():
    images = []
    for folder, name in SOURCES:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            print(f"make_photos: {path} missing, skipped", file=sys.stderr)
            continue
        im = Image.open(path)
        im.load()
        images.append((os.path.splitext(name)[0], im.convert("RGB")))
    if not images:
        sys.exit("make_photos: no source photographs found "
                 "(install python3-skimage)")
    return images


def pick_size(rng):
    total = sum(w for _, _, w in SIZES)
    r = rng.uniform(0, total)
    for width, height, weight in SIZES:
        r -= weight
        if r <= 0:
            return width, height
    return SIZES[-1][:2]


def make_one(rng, src, width, height, grain):
    """Random crop of src with aspect width:height, 50..100% of the largest
    such crop (by side), resized to width x height, mirrored half the time."""
    sw, sh = src.size
    aspect = width / height
    max_w = min(sw, sh * aspect)
    frac = rng.uniform(0.5, 1.0)
    cw = max(16, int(round(max_w * frac)))
    ch = max(16, min(sh, int(round(cw / aspect))))
    x = rng.randint(0, sw - cw)
    y = rng.randint(0, sh - ch)
    im = src.crop((x, y, x + cw, y + ch)).resize((width, height),
                                                  Image.LANCZOS)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    if width > cw and grain > 0:
        nrng = np.random.default_rng(rng.getrandbits(63))
        a = np.asarray(im, dtype=np.float32)
        a += nrng.normal(0.0, grain, a.shape).astype(np.float32)
        im = Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))
    return im


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--grain", type=float, default=DEFAULT_GRAIN,
                    help="sigma of the grain added to up-scaled outputs "
                         "(8-bit levels; 0 = none)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sources = load_sources()
    total_bytes = 0
    total_pixels = 0
    for n in range(args.count):
        cls, src = sources[n % len(sources)]
        width, height = pick_size(rng)
        im = make_one(rng, src, width, height, args.grain)
        folder = os.path.join(args.outdir, cls)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{cls}_{n:05d}.JPEG")
        im.save(path, "JPEG", quality=90, subsampling=2, optimize=False,
                progressive=False)
        total_bytes += os.path.getsize(path)
        total_pixels += width * height
    print(f"make_photos: {args.count} JPEGs from {len(sources)} photographs "
          f"in {args.outdir}: mean {total_pixels / args.count / 1e3:.0f} "
          f"kpixel, {total_bytes / args.count / 1e3:.0f} kB, "
          f"{8 * total_bytes / total_pixels:.2f} bits/pixel")


if __name__ == "__main__":
    main()
