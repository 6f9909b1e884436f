#!/usr/bin/env python3
"""Writes vgg_fixture.bin: PyTorch's view of the VGG configurations of
Simonyan and Zisserman, read by tests/unit/test_vgg.c to cross-check
kernels/nn (the network description's VGG builder and every layer it uses).
Run once, by hand, with PyTorch 2.x and torchvision from PyPI in a virtual
environment (CI does not need them):

    python3 -m venv venv-torch && venv-torch/bin/pip install torch torchvision
    venv-torch/bin/python tests/data/gen_vgg_fixture.py tests/data/vgg_fixture.bin

Cases (the record names start with the case's tag):
 - A, AL, B, C, D, E: configurations A, A-LRN, B, C, D, E laid out as
   torchvision lays out its VGGs (features.N, avgpool 7x7, classifier.N;
   A-LRN's LRN is Krizhevsky's, size 5, alpha 1e-4 per map, beta 0.75, k 2;
   C's last convolution of blocks 3-5 is 1x1), every conv width divided by
   32 and the hidden fc layers 32 wide, 64x64 images, 10 classes, batch
   2, dropout p=0 in training mode. Weights and images come from
   gen_values() below (integer hashing, mirrored in the C test), so only the
   results are stored: logits, loss, every gradient of the first step and
   every weight after three torch.optim.SGD steps (lr 0.01, momentum 0.9,
   weight decay 5e-4) on the same batch, all computed in float64 from the
   float32 weights and image: the exact answer that float32 code on every
   ISA approaches, with PyTorch's own float32 error against it (.t32err,
   first-step gradients) as the C test's yardstick where that exceeds
   1e-5. (At 224x224 these 2-channel nets meet near-ties in max-pooling
   and ReLU that float32 kernels of different ISAs break differently: AVX2
   and AVX-512 came out 10 % apart on some gradients; at 64x64 they agree.)
 - Abn, Bbn, Dbn, Ebn: torchvision's batch-norm variants of A, B, D, E
   (conv, BatchNorm2d, ReLU), narrowed and trained as above (batch norm in
   training mode: batch statistics, running statistics updated), plus the
   running statistics after the first forward (.r.features.N.running_mean,
   .running_var) and after the three steps (.w3.features.N...; the step
   counter, 3, is checked by the C test), and the logits of the same batch
   in evaluation mode after the first forward (.eval0.logits) and after the
   three steps (.eval.logits). The three-step results of Dbn and Ebn are
   not a usable reference for float32 code: a convolution's bias before a
   batch norm has an exact gradient of 0, so float32 moves it by rounding
   noise alone, and that noise reaches the evaluation-mode logits (1e-3
   apart between oneDNN's SSE4.1 and AVX2 kernels); the C test checks
   them after one step.
   Batch-norm weights are 1 + gen_values(0.1), their biases gen_values(0.1);
   the formula's stream index counts the state dict's entries, buffers
   included, as the C side's parameter index does.
 - A.dense256, A.dense384: the narrowed A of the first case (its weights
   before any step) made fully convolutional as the paper's dense
   evaluation does it (fc6 as a 7x7 convolution, fc7 and fc8 as 1x1), on
   a 256x320 and a 384x480 image (gen_values stream 1000 and 1001): the
   class scores averaged over the score map, for the image and its mirror
   (.scores, 2 x 10), and the mean of their two softmaxes (.probs).
 - D224: torchvision.models.vgg16 itself (1000 classes) on one 224x224
   image in evaluation mode: the logits.

Format as tests/data/net_fixture.bin (little-endian): b"AXLF", u32 version
1, u32 record count; per record a 32-byte NUL-padded name, 4 x i32 shape
(padded with 1s), float32 data. PyTorch's oneDNN is switched off so that
the reference is PyTorch's own code.
"""
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

# the same integer hashing as test_net's fixture and tests/net_test_util.h
from gen_net_fixture import gen_values

records = []

# (tag, blocks: (convs, width, last is 1x1), LRN after the first ReLU)
CONFIGS = [
    ("A", [(1, 64, 0), (1, 128, 0), (2, 256, 0), (2, 512, 0), (2, 512, 0)], 0),
    ("AL", [(1, 64, 0), (1, 128, 0), (2, 256, 0), (2, 512, 0), (2, 512, 0)], 1),
    ("B", [(2, 64, 0), (2, 128, 0), (2, 256, 0), (2, 512, 0), (2, 512, 0)], 0),
    ("C", [(2, 64, 0), (2, 128, 0), (3, 256, 1), (3, 512, 1), (3, 512, 1)], 0),
    ("D", [(2, 64, 0), (2, 128, 0), (3, 256, 0), (3, 512, 0), (3, 512, 0)], 0),
    ("E", [(2, 64, 0), (2, 128, 0), (4, 256, 0), (4, 512, 0), (4, 512, 0)], 0),
]
DIV, HIDDEN, CLASSES, BATCH, SIZE = 32, 32, 10, 2, 64
LABELS = [3, 7]


def add(name, t):
    t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
    shape = list(t.shape) + [1] * (4 - t.dim())
    assert len(name) < 32, name
    records.append((name, shape, t.numpy().tobytes()))


def fill_formula(m):
    """Weights U(-sqrt(3/fan_in), ..) by formula, biases in [-0.1, 0.1],
    batch-norm weights 1 + [-0.1, 0.1]; state dict entry k (buffers
    counted, not filled) is stream k."""
    params = dict(m.named_parameters())
    bn_weights = {n + ".weight" for n, mod in m.named_modules()
                  if isinstance(mod, nn.BatchNorm2d)}
    with torch.no_grad():
        for k, name in enumerate(m.state_dict().keys()):
            if name not in params:
                continue
            p = params[name]
            scale = 0.1 if p.dim() == 1 else (3.0 / p[0].numel()) ** 0.5
            v = torch.from_numpy(gen_values(p.numel(), k, scale)).reshape(p.shape)
            p.copy_(v + 1.0 if name in bn_weights else v)


class VGG(nn.Module):
    """torchvision.models.vgg.VGG with a narrow classifier: the same module
    names, so the same state dict names."""

    def __init__(self, blocks, lrn, div, hidden, classes, bn=False):
        super().__init__()
        layers, c_in, first = [], 3, True
        for n, width, last_1x1 in blocks:
            for j in range(n):
                one = last_1x1 and j == n - 1
                layers.append(nn.Conv2d(c_in, width // div, 1 if one else 3,
                                        padding=0 if one else 1))
                if bn:
                    layers.append(nn.BatchNorm2d(width // div))
                layers.append(nn.ReLU(True))
                if lrn and first:
                    layers.append(nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0))
                first = False
                c_in = width // div
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(c_in * 49, hidden), nn.ReLU(True), nn.Dropout(0.0),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(0.0),
            nn.Linear(hidden, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def image(batch, size):
    return torch.from_numpy(gen_values(batch * 3 * size * size, 999, 1.0)).reshape(
        batch, 3, size, size)


def grad_error(m32, m64):
    """The C test's metric of m32's first-step gradients against m64's:
    max |a - b| / max |b| per tensor, leaving out a convolution's bias
    before a batch norm (exact gradient 0: float32 gives rounding noise
    there, which the C test bounds apart)."""
    p32, p64 = dict(m32.named_parameters()), dict(m64.named_parameters())
    mods = dict(m64.named_modules())
    worst = 0.0
    for name, p in p64.items():
        mod, field = name.rsplit(".", 1)
        idx = mod.rsplit(".", 1)
        nxt = idx[0] + "." + str(int(idx[1]) + 1) if len(idx) == 2 and idx[1].isdigit() else None
        if field == "bias" and isinstance(mods[mod], nn.Conv2d) and \
                isinstance(mods.get(nxt), nn.BatchNorm2d):
            continue
        d = (p32[name].grad.double() - p.grad).abs().max().item()
        worst = max(worst, d / p.grad.abs().max().item())
    return worst


def narrow_case(tag, blocks, lrn, bn=False):
    m = VGG(blocks, lrn, DIV, HIDDEN, CLASSES, bn)
    fill_formula(m)
    x, labels = image(BATCH, SIZE), torch.tensor(LABELS)
    # float64 (from the same float32 weights and image): the exact answer,
    # which float32 code on any ISA approaches; batch norm's sums over a
    # channel cancel, and PyTorch's own float32 run is far off it after
    # three steps of Dbn and Ebn
    m.double()
    x = x.double()
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9,
                          weight_decay=5e-4)
    for step in range(3):
        opt.zero_grad()
        logits = m(x)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        if step == 0:
            # PyTorch's own float32 error, the C test's yardstick where
            # float32 cannot reach 1e-5
            m32 = VGG(blocks, lrn, DIV, HIDDEN, CLASSES, bn)
            fill_formula(m32)
            m32.train()
            F.cross_entropy(m32(image(BATCH, SIZE)), labels).backward()
            add(tag + ".t32err", torch.tensor([grad_error(m32, m)]))
        if step == 0:
            add(tag + ".logits", logits)
            add(tag + ".loss", loss.reshape(1))
            for name, p in m.named_parameters():
                add(tag + ".g." + name, p.grad)
            if bn:
                for name, b in m.named_buffers():
                    if not name.endswith("num_batches_tracked"):
                        add(tag + ".r." + name, b)
                m.eval()
                with torch.no_grad():
                    add(tag + ".eval0.logits", m(x))
                m.train()
        opt.step()
    for name, p in m.named_parameters():
        add(tag + ".w3." + name, p)
    if bn:
        for name, b in m.named_buffers():
            if not name.endswith("num_batches_tracked"):
                add(tag + ".w3." + name, b)
            else:
                assert int(b) == 3
        m.eval()
        with torch.no_grad():
            add(tag + ".eval.logits", m(x))


def dense_case(tag, blocks, lrn):
    m = VGG(blocks, lrn, DIV, HIDDEN, CLASSES)
    fill_formula(m)
    m.eval()
    fc6, fc7, fc8 = m.classifier[0], m.classifier[3], m.classifier[6]
    c5 = fc6.in_features // 49

    def conv(fc, k):
        return fc.weight.reshape(fc.out_features, -1, k, k), fc.bias

    for q, w, stream in ((256, 320, 1000), (384, 480, 1001)):
        x = torch.from_numpy(gen_values(3 * q * w, stream, 1.0)).reshape(1, 3, q, w)
        x = torch.cat([x, x.flip(3)])
        with torch.no_grad():
            y = m.features(x)
            y = F.relu(F.conv2d(y, *conv(fc6, 7)))
            assert conv(fc6, 7)[0].shape[1] == c5
            y = F.relu(F.conv2d(y, *conv(fc7, 1)))
            y = F.conv2d(y, *conv(fc8, 1))
            scores = y.mean((2, 3))
        add("%s.dense%d.scores" % (tag, q), scores)
        add("%s.dense%d.probs" % (tag, q), F.softmax(scores, 1).mean(0, keepdim=True))


def full_case():
    m = torchvision.models.vgg16(weights=None, num_classes=1000)
    fill_formula(m)
    m.eval()
    with torch.no_grad():
        add("D224.logits", m(image(1, 224)))


def main():
    torch.backends.mkldnn.enabled = False
    torch.set_num_threads(2)
    for tag, blocks, lrn in CONFIGS:
        narrow_case(tag, blocks, lrn)
    for tag, blocks, lrn in CONFIGS:
        if tag in ("A", "B", "D", "E"):
            narrow_case(tag + "bn", blocks, lrn, bn=True)
    dense_case(*CONFIGS[0])
    full_case()
    with open(sys.argv[1] if len(sys.argv) > 1 else "vgg_fixture.bin", "wb") as f:
        f.write(b"AXLF" + struct.pack("<II", 1, len(records)))
        for name, shape, data in records:
            f.write(name.encode().ljust(32, b"\0") + struct.pack("<4i", *shape))
            f.write(data)
    print("%d records (torch %s, torchvision %s)" % (len(records), torch.__version__,
                                                      torchvision.__version__))


if __name__ == "__main__":
    main()
