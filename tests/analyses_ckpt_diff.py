"""analyses_ckpt_diff.py A B — the parameter tensors (not optimizer states,
not the run's counters) that two lnet checkpoints hold with the same bytes,
and those that differ: two lines, "same: ..." and "changed: ...", names
sorted. A checkpoint is a safetensors file."""
import json
import struct
import sys


def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in head.items()
            if k != "__metadata__" and not k.startswith("lnet.")
            and not k.endswith((".m", ".v", ".momentum"))}


a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
names = sorted(set(a) & set(b))
print("same:", " ".join(k for k in names if a[k] == b[k]))
print("changed:", " ".join(k for k in names if a[k] != b[k]))
