#!/usr/bin/python3
"""Writes the fixtures of tests/elements/test_alexnet_infer.c: a checkpoint
made by PyTorch and PyTorch's probabilities for a few images, so the test
can check that alexnet-infer, loading that checkpoint, gives PyTorch's
answers on the same crops. Run with Debian's python3-torch and python3-pil:

    /usr/bin/python3 tests/data/gen_infer_fixture.py tests/data

- infer_model.safetensors: the paper's two-tower AlexNet (groups 2 in
  conv2/4/5, LRN within each tower) narrowed 16x (conv 6/16/24/24/16, fc
  256), 63x63 input, 10 classes, PyTorch's default initialisation with
  the weights scaled up (x2, fc8 x12) and the biases down (x0.1), so the
  probabilities are far from uniform and differ from crop to crop; metadata as
  docs/checkpoint-format.md names it (ImageNet mean and std, class names,
  width_divisor 16). Written by hand as safetensors (no `safetensors`
  package needed), laid out as the reference writer lays it out.
- infer_expected.safetensors: the images (U8, height x width x 3) and
  PyTorch's probabilities (F32, images x 10) for the centre crop
  ("center") and for the ten views with the softmax averaged ("tencrop").
  Images 0 and 1 are 72x72, the resize size of a 63 input (63 * 256 / 224),
  so no resampling is involved; image 2 is 61x50 and is resized by PIL
  (BILINEAR, shorter side to 72, then the centre 72x72), which the element's
  resize reproduces exactly.

The crops follow torchvision's CenterCrop and TenCrop (offsets
int(round((72 - 63) / 2.0)) = 4; TenCrop's last five are the five crops of
the mirrored image), the input is ToTensor then Normalize, the softmax is
torch.softmax and the ten-crop probabilities are the mean of the ten
softmaxes. PyTorch's oneDNN is switched off so the reference is its own
code.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

INPUT = 63
RESIZE = 72
CLASSES = 10
DIV = 16
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
NAMES = ["tench", "goldfish", "white shark", "tiger shark", "hammerhead",
         "electric ray", "stingray", "cock", "hen", "ostrich"]


class TowerLRN(nn.Module):
    """LRN within each tower's maps; PyTorch divides alpha by size, so the
    paper's alpha 1e-4 over 5 maps is 5e-4 here."""

    def __init__(self):
        super().__init__()
        self.lrn = nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)

    def forward(self, x):
        return torch.cat([self.lrn(c) for c in x.chunk(2, 1)], 1)


class PaperAlexNet(nn.Module):
    def __init__(self):
        super().__init__()
        c = [96 // DIV, 256 // DIV, 384 // DIV, 384 // DIV, 256 // DIV]
        fc = 4096 // DIV
        s = (INPUT + 4 - 11) // 4 + 1
        for _ in range(3):
            s = (s - 3) // 2 + 1
        self.conv1 = nn.Conv2d(3, c[0], 11, 4, 2)
        self.conv2 = nn.Conv2d(c[0], c[1], 5, 1, 2, groups=2)
        self.conv3 = nn.Conv2d(c[1], c[2], 3, 1, 1)
        self.conv4 = nn.Conv2d(c[2], c[3], 3, 1, 1, groups=2)
        self.conv5 = nn.Conv2d(c[3], c[4], 3, 1, 1, groups=2)
        self.fc6 = nn.Linear(c[4] * s * s, fc)
        self.fc7 = nn.Linear(fc, fc)
        self.fc8 = nn.Linear(fc, CLASSES)
        self.lrn = TowerLRN()

    def forward(self, x):
        x = F.max_pool2d(self.lrn(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.lrn(F.relu(self.conv2(x))), 3, 2)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = F.relu(self.fc6(x.flatten(1)))
        x = F.relu(self.fc7(x))
        return self.fc8(x)


# --- safetensors by hand (as tests/data/gen_checkpoint_fixture.py) ---
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
               "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
NUMPY_DTYPE = {"F32": "<f4", "U8": "u1"}


def write_safetensors(path, tens, meta):
    order = sorted(tens, key=lambda n: (-DTYPE_ORDER.index(tens[n][0]), n))
    header = {"__metadata__": dict(sorted(meta.items()))} if meta else {}
    blobs, offset = [], 0
    for name in order:
        dtype, arr = tens[name]
        data = np.ascontiguousarray(arr, dtype=NUMPY_DTYPE[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":"),
                     ensure_ascii=False).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def images():
    rng = np.random.default_rng(2012)
    out = []
    for h, w in ((RESIZE, RESIZE), (RESIZE, RESIZE), (50, 61)):
        # smooth gradients plus noise, so crops differ from one another
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255.0 / w, y * 255.0 / h,
                         (x + y) * 127.0 / (w + h)], -1)
        img = base + rng.normal(0, 40, (h, w, 3))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def resize_square(img):
    """torchvision Resize(RESIZE) + CenterCrop(RESIZE) on a PIL image."""
    h, w = img.shape[:2]
    if (h, w) == (RESIZE, RESIZE):
        return img
    if w <= h:
        size = (RESIZE, int(RESIZE * h / w))
    else:
        size = (int(RESIZE * w / h), RESIZE)
    im = np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))
    top = int(round((size[1] - RESIZE) / 2.0))
    left = int(round((size[0] - RESIZE) / 2.0))
    return im[top:top + RESIZE, left:left + RESIZE]


def five_crops(img):
    h, w = img.shape[:2]
    c = INPUT
    top = int(round((h - c) / 2.0))
    left = int(round((w - c) / 2.0))
    return [img[:c, :c], img[:c, w - c:], img[h - c:, :c], img[h - c:, w - c:],
            img[top:top + c, left:left + c]]


def to_tensor(crops):
    x = torch.from_numpy(np.stack(crops).copy()).permute(0, 3, 1, 2)
    x = x.to(torch.float32).div(255)
    mean = torch.as_tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.as_tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub(mean).div(std)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.backends.mkldnn.enabled = False
    torch.manual_seed(2012)
    m = PaperAlexNet()
    with torch.no_grad():
        # larger weights and small biases: answers that depend on the crop
        for name, p in m.named_parameters():
            if name.endswith("bias"):
                p.mul_(0.1)
            elif not name.startswith("fc8"):
                p.mul_(2.0)
        m.fc8.weight.mul_(12.0)
    m.eval()

    tens = {n: ("F32", p.detach().numpy()) for n, p in m.named_parameters()}
    meta = {"format": "gst-alexnet", "format_version": "1",
            "architecture": "alexnet-paper", "num_classes": str(CLASSES),
            "class_names": json.dumps(NAMES), "input_size": str(INPUT),
            "width_divisor": str(DIV),
            "normalization": json.dumps({"mean": MEAN, "std": STD}),
            "lrn": json.dumps({"size": 5, "alpha": 0.0001, "beta": 0.75,
                               "k": 2, "alpha_divided_by_size": False}),
            "init": json.dumps({"scheme": "torchvision", "seed": "2012"}),
            "producer": "tests/data/gen_infer_fixture.py (PyTorch %s)"
                        % torch.__version__}
    write_safetensors(os.path.join(outdir, "infer_model.safetensors"), tens,
                      meta)

    expected = {}
    center, tencrop = [], []
    with torch.no_grad():
        for i, img in enumerate(images()):
            expected["image%d" % i] = ("U8", img)
            sq = resize_square(img)
            crops = five_crops(sq) + five_crops(np.ascontiguousarray(sq[:, ::-1]))
            p = torch.softmax(m(to_tensor(crops)), 1)
            center.append(p[4].numpy())   # view 4: the centre crop
            tencrop.append(p.mean(0).numpy())
    expected["center"] = ("F32", np.stack(center))
    expected["tencrop"] = ("F32", np.stack(tencrop))
    write_safetensors(os.path.join(outdir, "infer_expected.safetensors"),
                      expected, {"producer": "gen_infer_fixture.py"})
    for name in ("center", "tencrop"):
        print(name, np.round(expected[name][1], 3).tolist())
    print("views of the last image: max", np.round(p.max(1).values.numpy(), 3))


if __name__ == "__main__":
    main()
