#!/usr/bin/env python3
"""check_torch.py MODULE.py CKPT REPORT.json FAMILY N — the module written by
`lnet export --torch`, loaded with the checkpoint, scores the first N test
examples (fashion: Fashion-MNIST test images; text: the first N validation
windows of the fortunes corpus) as `lnet eval --test-limit N` did in REPORT:
the same task loss within 1e-4 (relative) and the same accuracy within one
example. Prints both and exits 1 on a mismatch."""
import importlib.util
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from score import compare, examples  # noqa: E402

module, ckpt, report, family, n = sys.argv[1:6]
spec = importlib.util.spec_from_file_location("exported", module)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
net = mod.load(ckpt)
x, y = examples(family, int(n))
with torch.no_grad():
    compare("torch", net(x), y, report)
