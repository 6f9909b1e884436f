#!/usr/bin/python3
"""PyTorch's side of bench/train_bench.c: the paper's two-tower AlexNet
(groups 2 in conv2/4/5, LRN within each tower, dropout 0.5) at 224x224,
1000 classes, on 2 threads with PyTorch's defaults (oneDNN on). Prints
"train_ips", "infer_ips" (batch 128 training step with SGD momentum 0.9,
weight decay 5e-4; batch 64 inference), "latency_ms" (batch 1), and images
per CPU-second of this process ("train_cpu_ips", "infer_cpu_ips"): steadier
than wall time on a shared machine.

    /usr/bin/python3 bench/torch_alexnet_bench.py [--reps N]
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "data"))
from gen_net_fixture import paper_alexnet  # noqa: E402  (same definition)


cpu_s = 0.0


def timed(fn, reps):
    """Wall seconds per call; CPU seconds per call left in cpu_s."""
    global cpu_s
    fn()  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        fn()
    cpu_s = (time.process_time() - c0) / reps
    return (time.perf_counter() - t0) / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2)
    reps = ap.parse_args().reps
    torch.set_num_threads(2)
    torch.manual_seed(0)
    m = paper_alexnet(1000)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9,
                          weight_decay=5e-4)
    x = torch.randn(128, 3, 224, 224)
    y = torch.randint(0, 1000, (128,))

    def train():
        opt.zero_grad()
        F.cross_entropy(m.forward(x), y).backward()
        opt.step()

    m.train()
    print("train_ips %.3f" % (128 / timed(train, reps)), flush=True)
    print("train_cpu_ips %.3f" % (128 / cpu_s), flush=True)
    m.eval()
    x64 = x[:64].contiguous()
    x1 = x[:1].contiguous()
    with torch.no_grad():
        print("infer_ips %.3f" % (64 / timed(lambda: m.forward(x64), reps * 2)),
              flush=True)
        print("infer_cpu_ips %.3f" % (64 / cpu_s), flush=True)
        print("latency_ms %.3f" % (1e3 * timed(lambda: m.forward(x1), reps * 20)),
              flush=True)


if __name__ == "__main__":
    main()
