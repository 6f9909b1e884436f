#!/usr/bin/python3
"""Writes layer_fixture.bin: PyTorch's outputs and gradients of the AlexNet
layers on small random inputs, read by tests/unit/test_torch_fixture.c to
cross-check the CPU backend. Run with Debian's python3-torch:

    /usr/bin/python3 tests/data/gen_layer_fixture.py tests/data/layer_fixture.bin

Format (little-endian): b"AXLF", u32 version=1, u32 record count; then per
record: 32-byte NUL-padded name, 4 x i32 shape (NCHW, padded with 1s),
float32 data. Each case stores its inputs, a random upstream gradient
"gy", the output "y" and the gradients "g<input>" from autograd.
The parameters of each case are repeated in the C test; keep both in step.
PyTorch's CPU convolution runs on oneDNN too, like our backend; it is
switched off here so that the cross-check uses PyTorch's own kernels.
"""
import struct
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(2012)
records = []


def add(name, t):
    t = t.detach().to(torch.float32).contiguous()
    shape = list(t.shape) + [1] * (4 - t.dim())
    records.append((name, shape, t.numpy().tobytes()))


def case(prefix, fn, **inputs):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**leaves)
    gy = torch.randn_like(y)
    y.backward(gy)
    for k, v in inputs.items():
        add(f"{prefix}.{k}", v)
    add(f"{prefix}.y", y)
    add(f"{prefix}.gy", gy)
    for k, v in leaves.items():
        add(f"{prefix}.g{k}", v.grad)


def rand(*shape, scale=1.0):
    return torch.randn(*shape) * scale


def build():
    # conv1 style: 11x11, stride 4, pad 2, groups 1.
    case("conv1", lambda x, w, b: F.conv2d(x, w, b, stride=4, padding=2),
         x=rand(2, 3, 27, 27), w=rand(8, 3, 11, 11, scale=0.1), b=rand(8))
    # conv2 style: 5x5, pad 2, groups 2 (the two towers on one device).
    case("conv2", lambda x, w, b: F.conv2d(x, w, b, padding=2, groups=2),
         x=rand(2, 8, 7, 7), w=rand(12, 4, 5, 5, scale=0.2), b=rand(12))
    # conv4 style: 3x3, pad 1, groups 2, odd size.
    case("conv4", lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2),
         x=rand(3, 6, 5, 5), w=rand(6, 3, 3, 3, scale=0.3), b=rand(6))
    # LRN with the paper's constants: PyTorch divides alpha by size, so 5e-4.
    # Inputs scaled up so that the alpha term matters.
    case("lrn", lambda x: F.local_response_norm(x, size=5, alpha=5e-4, beta=0.75,
                                                k=2.0),
         x=rand(2, 9, 5, 5, scale=20.0))
    case("pool", lambda x: F.max_pool2d(x, 3, 2), x=rand(2, 4, 13, 13))
    # fc6 style: flattens NCHW channel-major, weight [out, in].
    case("fc", lambda x, w, b: F.linear(x.flatten(1), w, b),
         x=rand(4, 8, 3, 3), w=rand(10, 72, scale=0.1), b=rand(10))
    # Softmax with cross-entropy, mean over the batch; labels as floats.
    labels = torch.randint(0, 10, (4,))
    case("xent", lambda x: F.cross_entropy(x, labels).reshape(1),
         x=rand(4, 10, scale=3.0))
    add("xent.labels", labels.float())
    # torch.optim.SGD with momentum and weight decay equals the paper's
    # update at a constant lr (its buffer is the paper's v divided by -lr).
    w = torch.nn.Parameter(rand(5, 7))
    opt = torch.optim.SGD([w], lr=0.01, momentum=0.9, weight_decay=5e-4)
    grads = rand(3, 5, 7)
    add("sgd.w0", w)
    add("sgd.g", grads)
    for g in grads:
        w.grad = g.clone()
        opt.step()
    add("sgd.w3", w)


torch.backends.mkldnn.enabled = False
build()
with open(sys.argv[1] if len(sys.argv) > 1 else "layer_fixture.bin", "wb") as f:
    f.write(b"AXLF" + struct.pack("<II", 1, len(records)))
    for name, shape, data in records:
        f.write(name.encode().ljust(32, b"\0") + struct.pack("<4i", *shape))
        f.write(data)
