#!/usr/bin/env python3
"""The peers' side of bench/vgg_bench.sh: torchvision's VGG (vgg16 by
default: configuration D) at 224x224, 1000 classes, fp32, one measurement
per process so that the process's peak resident memory is that
measurement's:

  --mode train   torch.set_num_threads(T), train mode (dropout on),
                 cross-entropy, SGD lr 0.01 momentum 0.9 weight decay 5e-4
                 (zero_grad, forward, loss, backward, step);
  --mode infer   eval mode under torch.inference_mode();
  --mode ort     the same module (eval) exported by torch.onnx.export
                 (TorchScript exporter, fixed shapes) into a temporary
                 directory, run by ONNX Runtime's CPUExecutionProvider with
                 intra_op_num_threads T, inter_op 1, ORT_ENABLE_ALL.

--memory-format channels_last converts the module and the images (PyTorch
modes). --width-div D divides every conv and hidden fc width (as
ax_net_spec_narrow does) for quick checks. Random weights (torchvision's
initialisation) and images; `warmup` untimed calls, then `reps` timed.
Prints "key value" lines: images_per_s, cpu_images_per_s (images per
CPU-second of this process), max_rss_kb (getrusage's peak, at the end),
import_rss_kb (after the imports, before the model), the versions.
Needs torch and torchvision (and onnx, onnxruntime for --mode ort); never
used by the build or the tests.

    VENV/bin/python bench/torch_vgg_bench.py --mode train [--arch vgg16]
        [--batch 32] [--threads 2] [--warmup 1] [--reps 3]
        [--memory-format contiguous|channels_last] [--width-div 1]
"""
import argparse
import os
import platform
import re
import resource
import sys
import tempfile
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

SIZE, CLASSES = 224, 1000
CONFIG = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


def vm_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class NarrowVGG(nn.Module):
    """torchvision's VGG layout (features, avgpool, classifier) with every
    width / div; not torchvision.models.vgg.VGG itself, whose constructor
    would first allocate the full-width fc6 (411 MB) and so raise the
    process's peak memory."""

    def __init__(self, arch, div):
        super().__init__()
        vgg = torchvision.models.vgg
        self.features = vgg.make_layers(
            [v if v == "M" else v // div for v in vgg.cfgs[CONFIG[arch]]])
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        c, h = 512 // div, 4096 // div
        self.classifier = nn.Sequential(
            nn.Linear(c * 7 * 7, h), nn.ReLU(True), nn.Dropout(),
            nn.Linear(h, h), nn.ReLU(True), nn.Dropout(),
            nn.Linear(h, CLASSES))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def make_model(arch, div):
    """torchvision's model, or the same layout with every width / div."""
    if div == 1:
        return getattr(torchvision.models, arch)(weights=None)
    return NarrowVGG(arch, div)


def timed(fn, warmup, reps):
    """(wall seconds, CPU seconds of this process) per timed call."""
    for _ in range(warmup):
        fn()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        fn()
    return ((time.perf_counter() - t0) / reps,
            (time.process_time() - c0) / reps)


def torch_onednn():
    found = re.findall(r"(?:oneDNN|MKL-DNN) v([\d.]+)", torch.__config__.show())
    return found[0] if found else "unknown"


def ort_runner(m, x, threads, tmp):
    import onnx
    import onnxruntime as ort
    path = os.path.join(tmp, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the TorchScript exporter: the default (dynamo) one needs
        # onnxscript, and both give the same graph for a plain VGG
        torch.onnx.export(m, (x,), path, dynamo=False, input_names=["images"],
                          output_names=["logits"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    print("onnxruntime %s" % ort.__version__)
    print("onnx %s" % onnx.__version__)
    print("ort_providers %s" % ",".join(sess.get_providers()))
    xn = x.numpy()
    return lambda: sess.run(None, {"images": xn})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["train", "infer", "ort"], required=True)
    ap.add_argument("--arch", choices=sorted(CONFIG), default="vgg16")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--width-div", type=int, default=1)
    ap.add_argument("--memory-format", choices=["contiguous", "channels_last"],
                    default="contiguous")
    a = ap.parse_args()
    import_rss = vm_rss_kb()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = make_model(a.arch, a.width_div)
    x = torch.randn(a.batch, 3, SIZE, SIZE)
    fmt = a.memory_format
    if a.mode != "ort" and fmt == "channels_last":
        m = m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    if a.mode == "train":
        y = torch.randint(0, CLASSES, (a.batch,))
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9,
                              weight_decay=5e-4)
        m.train()

        def run():
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()
        wall, cpu = timed(run, a.warmup, a.reps)
    elif a.mode == "infer":
        m.eval()
        with torch.inference_mode():
            wall, cpu = timed(lambda: m(x), a.warmup, a.reps)
    else:
        fmt = "onnx"
        m.eval()
        with tempfile.TemporaryDirectory() as tmp:
            run = ort_runner(m, x, a.threads, tmp)
            del m
            wall, cpu = timed(run, a.warmup, a.reps)

    print("mode %s" % a.mode)
    print("arch %s" % a.arch)
    print("memory_format %s" % fmt)
    print("batch %d" % a.batch)
    print("threads %d" % (a.threads if a.mode == "ort" else torch.get_num_threads()))
    print("torch %s" % torch.__version__)
    print("torchvision %s" % torchvision.__version__)
    print("torch_onednn %s" % torch_onednn())
    print("python %s" % platform.python_version())
    print("seconds_per_batch %.4f" % wall)
    print("images_per_s %.3f" % (a.batch / wall))
    print("cpu_images_per_s %.3f" % (a.batch / cpu))
    print("import_rss_kb %d" % import_rss)
    print("max_rss_kb %d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
