#!/usr/bin/python3
"""Writes net_fixture.bin: PyTorch's view of whole networks, read by
tests/unit/test_net.c to cross-check kernels/nn/net.c. Run with Debian's
python3-torch:

    /usr/bin/python3 tests/data/gen_net_fixture.py tests/data/net_fixture.bin

Four cases:
 - "small": the paper's two-tower AlexNet (groups 2 in conv2/4/5, LRN within
   each tower with the paper's constants) narrowed 16x (conv 6/16/24/24/16,
   fc 256), 99x99 images, 10 classes, batch 4, dropout p=0. Stores the
   input, labels, initial weights, logits, loss, every gradient, and the
   weights after three torch.optim.SGD steps (lr 0.01, momentum 0.9,
   weight decay 5e-4) on the same batch.
 - "paper224" and "tv224": the full-size paper AlexNet and torchvision's
   AlexNet, 224x224, 1000 classes, batch 1, logits only; "paper224t": the
   paper's net in training mode (dropout off, label 7): the loss and the
   gradients of conv1 (weight, bias), conv2's bias and fc8's bias. Their weights and
   image are not stored: both sides compute them from gen_values() below
   (integer hashing, exact in float64), mirrored in the C test.

Format as layer_fixture.bin (little-endian): b"AXLF", u32 version=1, u32
record count; per record a 32-byte NUL-padded name, 4 x i32 shape (padded
with 1s), float32 data. PyTorch's oneDNN is switched off so that the
reference is PyTorch's own code.
"""
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

records = []


def add(name, t):
    t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
    shape = list(t.shape) + [1] * (4 - t.dim())
    assert len(name) < 32, name
    records.append((name, shape, t.numpy().tobytes()))


class TowerLRN(nn.Module):
    """LRN within each tower's maps: PyTorch divides alpha by size, so the
    paper's alpha 1e-4 over n=5 maps is 5e-4 here."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups
        self.lrn = nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)

    def forward(self, x):
        return torch.cat([self.lrn(c) for c in x.chunk(self.groups, 1)], 1)


def paper_alexnet(classes, div=1, p=0.5, in_size=224):
    c = [96 // div, 256 // div, 384 // div, 384 // div, 256 // div]
    fc = 4096 // div
    s = (in_size + 4 - 11) // 4 + 1
    for _ in range(3):
        s = (s - 3) // 2 + 1
    m = nn.Module()
    m.conv1 = nn.Conv2d(3, c[0], 11, 4, 2)
    m.conv2 = nn.Conv2d(c[0], c[1], 5, 1, 2, groups=2)
    m.conv3 = nn.Conv2d(c[1], c[2], 3, 1, 1)
    m.conv4 = nn.Conv2d(c[2], c[3], 3, 1, 1, groups=2)
    m.conv5 = nn.Conv2d(c[3], c[4], 3, 1, 1, groups=2)
    m.fc6 = nn.Linear(c[4] * s * s, fc)
    m.fc7 = nn.Linear(fc, fc)
    m.fc8 = nn.Linear(fc, classes)
    lrn = TowerLRN(2)

    def forward(x):
        x = F.max_pool2d(lrn(F.relu(m.conv1(x))), 3, 2)
        x = F.max_pool2d(lrn(F.relu(m.conv2(x))), 3, 2)
        x = F.relu(m.conv3(x))
        x = F.relu(m.conv4(x))
        x = F.max_pool2d(F.relu(m.conv5(x)), 3, 2)
        x = F.dropout(F.relu(m.fc6(x.flatten(1))), p, m.training)
        x = F.dropout(F.relu(m.fc7(x)), p, m.training)
        return m.fc8(x)

    m.forward = forward
    return m


def torchvision_alexnet(classes):
    """torchvision.models.alexnet's modules, so the names match."""
    m = nn.Module()
    m.features = nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
    m.avgpool = nn.AdaptiveAvgPool2d((6, 6))
    m.classifier = nn.Sequential(
        nn.Dropout(0.5), nn.Linear(256 * 36, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, classes))
    m.forward = lambda x: m.classifier(torch.flatten(m.avgpool(m.features(x)), 1))
    return m


def gen_values(count, stream, scale):
    """Deterministic values in [-scale, scale]: an integer hash of the index
    and the stream, the same in tests/unit/test_net.c (gen_values)."""
    M = np.uint64(0xFFFFFFFF)
    i = np.arange(count, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(stream * 40503 + 12345)) & M
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & M
    h ^= h >> np.uint64(13)
    u = ((h % np.uint64(20001)).astype(np.int64) - 10000).astype(np.float64)
    return (u / 10000.0 * scale).astype(np.float32)


def fill_formula(m):
    """Weights U(-sqrt(3/fan_in), ..) by formula, biases in [-0.1, 0.1]."""
    with torch.no_grad():
        for k, (name, p) in enumerate(m.named_parameters()):
            if p.dim() == 1:
                scale = 0.1
            else:
                scale = (3.0 / (p[0].numel())) ** 0.5
            v = gen_values(p.numel(), k, scale)
            p.copy_(torch.from_numpy(v).reshape(p.shape))


def small_case():
    torch.manual_seed(2012)
    m = paper_alexnet(10, div=16, p=0.0, in_size=99)
    m.train()
    x = torch.randn(4, 3, 99, 99)
    labels = torch.tensor([3, 0, 9, 3])
    add("small.input", x)
    add("small.labels", labels.float())
    for name, p in m.named_parameters():
        add("w0." + name, p)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9,
                          weight_decay=5e-4)
    for step in range(3):
        opt.zero_grad()
        logits = m.forward(x)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        if step == 0:
            add("small.logits", logits)
            add("small.loss", loss.reshape(1))
            for name, p in m.named_parameters():
                add("g." + name, p.grad)
        opt.step()
    for name, p in m.named_parameters():
        add("w3." + name, p)


def full_case(prefix, m):
    fill_formula(m)
    m.eval()
    x = torch.from_numpy(gen_values(3 * 224 * 224, 999, 1.0)).reshape(1, 3, 224, 224)
    with torch.no_grad():
        add(prefix + ".logits", m.forward(x))


def full_training_case():
    """One 224x224 image through the full paper net in training mode with
    dropout off: the loss and the gradients of the first and last layers
    (conv1's depends on every layer's backward), small enough to store."""
    m = paper_alexnet(1000, p=0.0)
    fill_formula(m)
    m.train()
    x = torch.from_numpy(gen_values(3 * 224 * 224, 999, 1.0)).reshape(1, 3, 224, 224)
    loss = F.cross_entropy(m.forward(x), torch.tensor([7]))
    loss.backward()
    add("paper224t.loss", loss.reshape(1))
    for name in ("conv1.weight", "conv1.bias", "conv2.bias", "fc8.bias"):
        add("paper224t.g." + name, dict(m.named_parameters())[name].grad)


def main():
    torch.backends.mkldnn.enabled = False
    torch.set_num_threads(2)
    small_case()
    full_case("paper224", paper_alexnet(1000))
    full_case("tv224", torchvision_alexnet(1000))
    full_training_case()
    with open(sys.argv[1] if len(sys.argv) > 1 else "net_fixture.bin", "wb") as f:
        f.write(b"AXLF" + struct.pack("<II", 1, len(records)))
        for name, shape, data in records:
            f.write(name.encode().ljust(32, b"\0") + struct.pack("<4i", *shape))
            f.write(data)


if __name__ == "__main__":
    main()
