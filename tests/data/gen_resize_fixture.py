#!/usr/bin/python3
"""Writes the PIL fixtures of tests/unit/test_image_resize.c.

Each case is a w x h RGB image of pseudo-random pixels from a 64-bit LCG
(the C test makes the same image from the same seed, so only the expected
output is stored), resized as torchvision's Resize(S) + CenterCrop(S) does
on PIL images: shorter side to S with Image.BILINEAR, the longer side to
int(S * long / short), then the crop at int(round((scaled - S) / 2.0)).
Output: tests/data/resize_<w>x<h>_s<S>.rgb, S*S*3 raw bytes.

Run: /usr/bin/python3 tests/data/gen_resize_fixture.py  (needs PIL only)
"""
import os
from PIL import Image

# (w, h, S, seed): downscale, portrait, odd sizes, upscale 28 -> 256
CASES = [
    (67, 45, 32, 1),
    (45, 67, 40, 2),
    (300, 200, 64, 3),
    (97, 131, 48, 4),
    (28, 28, 256, 5),
]
MASK = (1 << 64) - 1


def lcg_image(w, h, seed):
    """Same generator as make_lcg_image() in the C test."""
    state = seed & MASK
    out = bytearray(w * h * 3)
    for i in range(len(out)):
        state = (state * 6364136223846793005 + 1442695040888963407) & MASK
        out[i] = state >> 56
    return Image.frombytes("RGB", (w, h), bytes(out))


def resize_center_crop(img, size):
    w, h = img.size
    short, long_ = (w, h) if w <= h else (h, w)
    new_long = int(size * long_ / short)
    ow, oh = (size, new_long) if w <= h else (new_long, size)
    img = img.resize((ow, oh), Image.BILINEAR)
    left = int(round((ow - size) / 2.0))
    top = int(round((oh - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for w, h, size, seed in CASES:
        out = resize_center_crop(lcg_image(w, h, seed), size)
        name = os.path.join(here, "resize_%dx%d_s%d.rgb" % (w, h, size))
        with open(name, "wb") as f:
            f.write(out.tobytes())
        print(name, size * size * 3, "bytes")


if __name__ == "__main__":
    main()
