#!/usr/bin/env python3
"""The VGG job's table (docs/vgg.md): top-1 and top-5 error of each
evaluation's results file (alexnet-infer JSON lines with output-all), and
of "combined" made here as the mean of the dense and multi-crop
probabilities of each image (what views=combined computes, without running
both again). Usage: views-table.py MODEL NAME=results.jsonl ... [--combine
dense multi-crop]; the class names come from the checkpoint MODEL, the
truth is the folder an image came from."""
import json
import struct
import sys


def class_names(model):
    with open(model, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n))["__metadata__"]
    return json.loads(meta["class_names"])


def read(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            out[o["id"]] = (o["probabilities"], o.get("evaluation"), o.get("scales"))
    return out


def errors(results, names):
    top1 = top5 = 0
    for rid, (p, _, _) in results.items():
        truth = names.index(rid.split("/")[-2])
        order = sorted(range(len(p)), key=lambda c: -p[c])
        top1 += order[0] != truth
        top5 += truth not in order[:5]
    n = len(results)
    return 100.0 * top1 / n, 100.0 * top5 / n, n


def main():
    args = sys.argv[1:]
    combine = None
    if "--combine" in args:
        i = args.index("--combine")
        combine = args[i + 1:i + 3]
        args = args[:i] + args[i + 3:]
    names, runs = class_names(args[0]), [a.split("=", 1) for a in args[1:]]
    table = [(label, read(path)) for label, path in runs]
    if combine:
        a, b = (dict(table)[k] for k in combine)
        both = {k: ([(x + y) / 2 for x, y in zip(a[k][0], b[k][0])], "combined",
                    a[k][2]) for k in a if k in b}
        table.append(("combined (%s + %s)" % tuple(combine), both))
    print("| evaluation | test scales Q | images | top-1 error | top-5 error |")
    print("|---|---|---:|---:|---:|")
    for label, res in table:
        t1, t5, n = errors(res, names)
        scales = next(iter(res.values()))[2]
        q = ",".join(str(s) for s in scales) if scales else "-"
        print("| %s | %s | %d | %.2f %% | %.2f %% |" % (label, q, n, t1, t5))


if __name__ == "__main__":
    main()
