#!/usr/bin/python3
"""The reference for the image-pipeline benchmark: torchvision's usual
AlexNet training transform on PIL images, one thread, over every JPEG under a
folder, E passes in a seeded shuffled order.

    /usr/bin/python3 bench/torchvision_pipeline.py PHOTO_DIR [--epochs 2]

Timed: open + decode (PIL.Image.open(path).convert('RGB')), Resize(256),
CenterCrop(256), RandomCrop(224), RandomHorizontalFlip(), ToTensor().
Not timed: interpreter start-up, imports, listing the folder.
Prints "images_per_s N" as its last line.
"""

import argparse
import os
import random
import sys
import time

import torch
import torchvision
from PIL import Image
from torchvision import transforms


def list_jpegs(root):
    paths = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith((".jpeg", ".jpg")):
                paths.append(os.path.join(folder, name))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photo_dir")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    paths = list_jpegs(args.photo_dir)
    if not paths:
        sys.exit(f"torchvision_pipeline: no JPEGs under {args.photo_dir}")

    transform = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(256),
        transforms.RandomCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
    ])

    count = 0
    checksum = 0.0
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = paths[:]
        rng.shuffle(order)
        for path in order:
            with Image.open(path) as im:
                tensor = transform(im.convert("RGB"))
            checksum += float(tensor[0, 0, 0])
            count += 1
    elapsed = time.perf_counter() - start

    assert tuple(tensor.shape) == (3, 224, 224)
    print(f"torchvision_pipeline: torch {torch.__version__}, torchvision "
          f"{torchvision.__version__}, threads {torch.get_num_threads()}")
    print(f"images {count} ({len(paths)} files x {args.epochs} epochs) "
          f"in {elapsed:.3f} s")
    print(f"images_per_s {count / elapsed:.1f}")


if __name__ == "__main__":
    main()
