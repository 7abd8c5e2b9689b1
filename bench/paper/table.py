#!/usr/bin/env python3
"""table.py OUT — the accuracy table of docs/paper.md (result 5) from the
reports accuracy.sh wrote under OUT/FAMILY/: per family and method, the task
head's final test accuracy (charlm: validation bits per byte), mean ± half the
spread (max - min) over the seeds run, and the number of seeds."""
import glob
import json
import math
import os
import re
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "bench/paper/out"
names = {"backprop": "backprop", "greedy": "greedy", "chunked2": "chunked K=2",
         "chunked3": "chunked K=3", "overlap2": "overlap (window 2)",
         "last-layer": "last layer only (control)",
         "pytorch": "PyTorch backprop"}
print("| model | method | test accuracy (charlm: bits/byte) | seeds |")
print("|---|---|---|---|")
for fam in ("mlp", "cnn", "charlm"):
    runs = {}
    for f in sorted(glob.glob(os.path.join(out, fam, "*-s*.json"))):
        m = re.match(r"(.*)-s(\d+)\.json$", os.path.basename(f))
        r = json.load(open(f))
        if "final" in r:    # lnet's report: the task head first
            v = r["final"]["test_loss"] / math.log(2) if fam == "charlm" else r["final"]["test_accuracy"]
        else:               # bench/pytorch_train.py
            v = r["bits_per_byte"] if fam == "charlm" else r["test_accuracy"]
        runs.setdefault(m.group(1), []).append(v)
    for key in names:
        if key not in runs:
            continue
        v = runs[key]
        mean, half = sum(v) / len(v), (max(v) - min(v)) / 2
        fmt = "%.3f ± %.3f" if fam == "charlm" else "%.2f%% ± %.2f"
        scale = 1 if fam == "charlm" else 100
        print(f"| {fam} | {names[key]} | {fmt % (mean * scale, half * scale)} | {len(v)} |")
