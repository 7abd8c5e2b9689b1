"""score.py — what check_torch.py and check_onnx.py share: the first N test
examples as `lnet eval --test-limit N` reads them, and the comparison of a
model's scores on them with the report of that `lnet eval`."""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from pytorch_train import FMNIST, corpus, fmnist_split  # noqa: E402


def examples(family, n):
    """(inputs, targets): Fashion-MNIST test images (normalised as lnet
    does) or, for text, the first n 64-byte validation windows."""
    if family == "text":
        _, val = corpus("/usr/share/games/fortunes")
        w = torch.stack([val[i * 64:i * 64 + 65] for i in range(n)])
        return w[:, :-1].int(), w[:, 1:]
    x, y = fmnist_split(FMNIST, False)
    return x[:n], y[:n]


def compare(who, logits, y, report):
    """Prints who's and lnet eval's loss and accuracy; exits 1 unless the
    loss agrees within 1e-4 (relative) and the accuracy within one example."""
    want = json.load(open(report))["final"]
    logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
    loss = F.cross_entropy(logits, y).item()
    acc = (logits.argmax(-1) == y).float().mean().item()
    print(f"{who}: loss {loss:.6f} accuracy {acc:.4f}; lnet eval: loss {want['test_loss']:.6f} "
          f"accuracy {want['test_accuracy']:.4f}")
    ok = abs(loss - want["test_loss"]) <= 1e-4 * max(1.0, abs(want["test_loss"])) and \
        abs(acc - want["test_accuracy"]) <= 1.0 / len(y) + 1e-9
    print("match" if ok else "MISMATCH")
    if not ok:
        sys.exit(1)
