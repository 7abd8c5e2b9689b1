#!/usr/bin/env python3
"""check_torch.py MODULE.py CKPT REPORT.json FAMILY N — the module written by
`lnet export --torch`, loaded with the checkpoint, scores the first N test
examples (fashion: Fashion-MNIST test images; text: the first N validation
windows of the fortunes corpus) as `lnet eval --test-limit N` did in REPORT:
the same task loss within 1e-4 (relative) and the same accuracy within one
example. Prints both and exits 1 on a mismatch."""
import importlib.util
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from pytorch_train import FMNIST, corpus, fmnist_split  # noqa: E402

module, ckpt, report, family, n = sys.argv[1:6]
n = int(n)
spec = importlib.util.spec_from_file_location("exported", module)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
net = mod.load(ckpt)
want = json.load(open(report))["final"]
with torch.no_grad():
    if family == "text":
        _, val = corpus("/usr/share/games/fortunes")
        w = torch.stack([val[i * 64:i * 64 + 65] for i in range(n)])
        x, y = w[:, :-1].int(), w[:, 1:]
        out = net(x).reshape(-1, 256)
        y = y.reshape(-1)
    else:
        x, y = fmnist_split(FMNIST, False)
        x, y = x[:n], y[:n]
        out = net(x)
    loss = F.cross_entropy(out, y).item()
    acc = (out.argmax(-1) == y).float().mean().item()
print(f"torch: loss {loss:.6f} accuracy {acc:.4f}; lnet eval: loss {want['test_loss']:.6f} "
      f"accuracy {want['test_accuracy']:.4f}")
ok = abs(loss - want["test_loss"]) <= 1e-4 * max(1.0, abs(want["test_loss"])) and \
    abs(acc - want["test_accuracy"]) <= 1.0 / len(y) + 1e-9
print("match" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
