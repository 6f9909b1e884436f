#!/usr/bin/python3
"""Writes checkpoint_fixture.safetensors, read by tests/unit/test_checkpoint.c
to check that the C reader loads a file laid out as PyTorch's safetensors
writes it. The `safetensors` package is not needed: the format is written
by hand here, mimicking the reference implementation (Rust, serde_json):

- 8-byte little-endian header length N, then N bytes of JSON, then data;
- JSON compact (no spaces), "__metadata__" first, non-ASCII as raw UTF-8;
- tensors sorted by dtype, larger element types first (the reference's
  enum order, descending), then by name, packed back to back; the header
  entries in that same order;
- the header padded with spaces to a multiple of 8.

    /usr/bin/python3 tests/data/gen_checkpoint_fixture.py \
        tests/data/checkpoint_fixture.safetensors

The values are chosen so that the C test can recompute them exactly; keep
both in step.
"""
import json
import struct
import sys

import numpy as np

# The reference implementation's Dtype enum, in its declaration order.
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
               "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
NUMPY_DTYPE = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I64": "<i8",
               "I32": "<i4", "U8": "u1"}


def tensors():
    t = {}
    w = ((np.arange(4 * 3 * 3 * 3) % 23) - 11).astype(np.float32) * 0.125
    # Bit patterns a sloppy reader would lose: -0, 0.1, a subnormal, FLT_MAX.
    w[0:4] = np.array([-0.0, 0.1, 1e-40, 3.4028235e38], dtype=np.float32)
    t["conv1.weight"] = ("F32", w.reshape(4, 3, 3, 3))
    t["conv1.bias"] = ("F32", np.array([1.0, -2.0, 3.5, 0.0], np.float32))
    t["fc8.weight"] = ("F32",
                       (np.arange(12, dtype=np.float32) * 0.5 - 3).reshape(3, 4))
    t["fc8.bias"] = ("F32", np.array([0.25, -0.5, 0.75], np.float32))
    t["momentum.fc8.bias"] = ("F32", np.array([-1e-3, 0, 1e-3], np.float32))
    t["counter"] = ("I64", np.array(123456789012345, dtype=np.int64))
    t["state"] = ("I32", np.array([-2 ** 31, -1, 0, 2 ** 31 - 1], np.int32))
    t["mask"] = ("U8", np.array([0, 1, 2, 254, 255], dtype=np.uint8))
    t["half"] = ("F16", np.array([1.0, -2.0], dtype=np.float16))
    t["doubles"] = ("F64", np.array([0.1, -1e300], dtype=np.float64))
    return t


def metadata():
    return {
        "format": "gst-alexnet",
        "format_version": "1",
        "architecture": "alexnet-torchvision",
        "num_classes": "3",
        # Inner JSON with \\u escapes (Python's default), including a
        # surrogate pair for the fish.
        "class_names": json.dumps(["tench", "caf\u00e9 cr\u00e8me",
                                   "\U0001f41f \"quoted\" \\ back"]),
        "input_size": "224",
        "normalization": json.dumps({"mean": [0.485, 0.456, 0.406],
                                     "std": [0.229, 0.224, 0.225]}),
        "note": "Gr\u00f6\u00dfe \u2713 \u65e5\u672c\ttab\nnewline",
        "step": "1234",
        "learning_rate": "0.01",
    }


def serialize(tens, meta):
    order = sorted(tens, key=lambda n: (-DTYPE_ORDER.index(tens[n][0]), n))
    header = {"__metadata__": meta} if meta else {}
    blobs, offset = [], 0
    for name in order:
        dtype, arr = tens[name]
        data = np.ascontiguousarray(arr, dtype=NUMPY_DTYPE[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    raw = text.encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "checkpoint_fixture.safetensors"
    with open(out, "wb") as f:
        f.write(serialize(tensors(), metadata()))


if __name__ == "__main__":
    main()
