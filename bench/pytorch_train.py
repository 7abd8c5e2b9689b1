#!/usr/bin/env python3
"""PyTorch reference *accuracy* for lnet's example models: the same networks as
bench/pytorch_bench.py trained on the same data with the same recipe as the
lnet examples, so a gap in final accuracy or loss is lnet's to explain.

Data, as lnet reads it:
  mlp, cnn  Fashion-MNIST IDX files (--data-dir, default Debian's
            dataset-fashion-mnist folder), pixels / 255, then normalised by
            mean 0.2860 and standard deviation 0.3530 (lnet's constants);
            reshuffled every epoch; test accuracy on the 10,000 test images.
  charlm    every text file of --data-dir (default /usr/share/games/fortunes,
            without the *.dat / *.u8 index files) concatenated in name order;
            the last 10% of the bytes are the validation split. Training
            batches are random 64-byte windows; validation is the first
            --val-windows non-overlapping windows, in bits per byte.
Initialisation follows lnet's defaults (He normal for dense and conv
weights, Glorot uniform for attention's projections, normal(0, 0.02) for
embeddings, zero biases) unless --init torch.

Run through bench/pytorch.sh (it pins OpenBLAS and the thread count):
  bench/pytorch.sh 1 pytorch_train.py --model mlp --epochs 5
Prints one JSON line: the recipe, the final test accuracy / loss (charlm:
validation bits per byte), the training seconds.
"""
import argparse
import gzip
import json
import math
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_bench import CharLM, cnn, mlp

FMNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    _, _, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.reshape(dims)


def find(dirname, stem):
    for cand in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        p = os.path.join(dirname, cand)
        if os.path.exists(p):
            return p
    raise SystemExit(f"pytorch_train.py: {dirname}: no {stem}[.gz]")


# lnet normalises Fashion-MNIST pixels (/ 255) with these (runtime/data/data.h).
FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530


def fmnist_split(dirname, train):
    """Images (normalised as lnet does) and labels of one split."""
    pre = "train" if train else "t10k"
    x = read_idx(find(dirname, pre + "-images-idx3-ubyte")).float() / 255
    y = read_idx(find(dirname, pre + "-labels-idx1-ubyte")).long()
    return (x - FMNIST_MEAN) / FMNIST_STD, y


def corpus(dirname):
    names = sorted(n for n in os.listdir(dirname)
                   if not n.startswith(".") and not n.endswith((".dat", ".u8"))
                   and os.path.isfile(os.path.join(dirname, n)))
    data = b"".join(open(os.path.join(dirname, n), "rb").read() for n in names)
    n_val = int(len(data) * 0.1)
    t = torch.frombuffer(bytearray(data), dtype=torch.uint8).long()
    return t[:len(data) - n_val], t[len(data) - n_val:]


def lnet_init(net):
    """lnet's defaults: dense and conv weights He normal, attention's q, k, v
    and o projections Glorot uniform, embeddings normal(0, 0.02), biases zero."""
    attention = set()
    for m in net.modules():
        if hasattr(m, "heads"):
            attention.update(id(p) for p in (m.q, m.k, m.v, m.o))
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            if id(m) in attention:
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / m.weight[0].numel()))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)


def lr_at(a, step, total):
    if a.schedule == "constant":
        return a.lr
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    p = (step - a.warmup) / max(1, total - a.warmup)
    return a.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn", "charlm"], default="mlp")
    ap.add_argument("--data-dir")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--steps", type=int, help="charlm: training steps")
    ap.add_argument("--optimizer", choices=["adam", "adamw", "sgd"])
    ap.add_argument("--lr", type=float)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--schedule", choices=["constant", "cosine"])
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--clip", type=float, default=0.0)
    ap.add_argument("--val-windows", type=int, default=4096, help="charlm: as lnet eval (0 = all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--init", choices=["lnet", "torch"], default="lnet")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    lm = a.model == "charlm"
    # The lnet examples' recipes (examples/*.lnet) unless overridden.
    a.batch = a.batch or (32 if lm else 128)
    a.optimizer = a.optimizer or ("adamw" if lm else "adam")
    a.lr = a.lr or (3e-4 if lm else 1e-3)
    a.schedule = a.schedule or ("cosine" if lm else "constant")
    if lm and a.clip == 0.0 and a.schedule == "cosine":
        a.clip = 1.0
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net = {"mlp": mlp, "cnn": cnn, "charlm": CharLM}[a.model]()
    if a.init == "lnet":
        lnet_init(net)
    params = list(net.parameters())
    if a.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay)
    elif a.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=a.lr)
    else:
        opt = torch.optim.SGD(params, lr=a.lr)

    if lm:
        train, val = corpus(a.data_dir or "/usr/share/games/fortunes")
        total = a.steps or 1000
        ctx = 64
        gen = torch.Generator().manual_seed(a.seed)

        def batches():
            for _ in range(total):
                start = torch.randint(0, len(train) - ctx, (a.batch,), generator=gen)
                w = torch.stack([train[s:s + ctx + 1] for s in start.tolist()])
                yield w[:, :-1], w[:, 1:]
    else:
        x, y = fmnist_split(a.data_dir or FMNIST, True)
        xt, yt = fmnist_split(a.data_dir or FMNIST, False)
        if a.model == "cnn":
            x, xt = x.unsqueeze(1), xt.unsqueeze(1)
        per_epoch = len(x) // a.batch
        total = per_epoch * a.epochs
        gen = torch.Generator().manual_seed(a.seed)

        def batches():
            for _ in range(a.epochs):
                perm = torch.randperm(len(x), generator=gen)
                for i in range(per_epoch):
                    idx = perm[i * a.batch:(i + 1) * a.batch]
                    yield x[idx], y[idx]

    t0 = time.perf_counter()
    net.train()
    for step, (xb, yb) in enumerate(batches()):
        for g in opt.param_groups:
            g["lr"] = lr_at(a, step, total)
        opt.zero_grad(set_to_none=True)
        out = net(xb)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1))
        loss.backward()
        if a.clip > 0:
            nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
    train_s = time.perf_counter() - t0

    net.eval()
    res = {"model": a.model, "batch": a.batch, "optimizer": a.optimizer, "lr": a.lr,
           "schedule": a.schedule, "clip": a.clip, "seed": a.seed, "init": a.init,
           "steps": total, "train_s": round(train_s, 1)}
    with torch.no_grad():
        if lm:
            n = (len(val) - 1) // ctx
            if a.val_windows:
                n = min(n, a.val_windows)
            tot = 0.0
            for i in range(0, n, 256):
                ws = torch.stack([val[j * ctx:j * ctx + ctx + 1] for j in range(i, min(n, i + 256))])
                out = net(ws[:, :-1])
                tot += F.cross_entropy(out.reshape(-1, 256), ws[:, 1:].reshape(-1),
                                       reduction="sum").item()
            nats = tot / (n * ctx)
            res.update(val_windows=n, val_loss=round(nats, 4), bits_per_byte=round(nats / math.log(2), 4))
        else:
            correct, tot = 0, 0.0
            for i in range(0, len(xt), 1000):
                out = net(xt[i:i + 1000])
                tot += F.cross_entropy(out, yt[i:i + 1000], reduction="sum").item()
                correct += (out.argmax(1) == yt[i:i + 1000]).sum().item()
            res.update(test_accuracy=correct / len(xt), test_loss=round(tot / len(xt), 4))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
