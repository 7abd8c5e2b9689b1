#!/usr/bin/env python3
"""filters.py INIT CKPT... — how far each checkpoint's first-layer filters moved
from their initialisation, and how smooth they are (docs/paper.md, result 4).

INIT is a checkpoint of the same model and seed whose first layer is still at
its initialisation (`lnet train ... --method last-layer --max-steps 1 --save
INIT`: last-layer freezes every other layer). For each CKPT, on the tensor
PARAM (default conv2d_0.w, shape (O, C, K, K)):
  change       ||w - w0|| / ||w0||
  smoothness   the mean, over the filters, of the correlation between
               horizontally and vertically neighbouring weights (each filter
               centred on its mean, normalised by its variance): about 0 for
               the random initialisation, toward 1 for smooth filters.
Reads lnet checkpoints (safetensors) with the standard library only.
"""
import json
import math
import os
import struct
import sys
from array import array


def load(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        if name not in header:
            sys.exit(f"filters.py: {path}: no tensor '{name}'")
        t = header[name]
        if t["dtype"] != "F32" or len(t["shape"]) != 4:
            sys.exit(f"filters.py: {path}: '{name}' is not an f32 (O, C, K, K) tensor")
        a, b = t["data_offsets"]
        f.seek(8 + n + a)
        w = array("f")
        w.frombytes(f.read(b - a))
        if sys.byteorder != "little":
            w.byteswap()
        return w, t["shape"]


def smoothness(w, shape):
    O, C, K, _ = shape
    total = 0.0
    for p in range(O * C):
        f = w[p * K * K:(p + 1) * K * K]
        mean = sum(f) / len(f)
        g = [v - mean for v in f]
        var = sum(v * v for v in g) / len(g)
        pairs = [(g[i * K + j], g[i * K + j + 1]) for i in range(K) for j in range(K - 1)]
        pairs += [(g[i * K + j], g[(i + 1) * K + j]) for i in range(K - 1) for j in range(K)]
        total += sum(a * b for a, b in pairs) / len(pairs) / var if var > 0 else 0.0
    return total / (O * C)


def main():
    args = sys.argv[1:]
    param = "conv2d_0.w"
    if len(args) >= 2 and args[0] == "--param":
        param, args = args[1], args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    w0, shape = load(args[0], param)
    norm0 = math.sqrt(sum(v * v for v in w0))
    print("| checkpoint | change from init | smoothness |")
    print("|---|---|---|")
    print(f"| {os.path.basename(args[0])} (init) | 0 | {smoothness(w0, shape):.3f} |")
    for path in args[1:]:
        w, s = load(path, param)
        if s != shape:
            sys.exit(f"filters.py: {path}: '{param}' has shape {s}, the init {shape}")
        change = math.sqrt(sum((a - b) ** 2 for a, b in zip(w, w0))) / norm0
        print(f"| {os.path.basename(path)} | {change:.3f} | {smoothness(w, s):.3f} |")


if __name__ == "__main__":
    main()
