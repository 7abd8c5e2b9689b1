#!/usr/bin/env python3
"""PyTorch reference throughput for lnet's example models (same layers, same
optimizer, same batch), measured over a fixed number of steps after warm-up.

Run through bench/pytorch.sh, which pins Debian's OpenBLAS (OpenMP flavour)
and sets the thread count before torch is imported. Prints one JSON line:
{"model", "batch", "threads", "steps", "examples_per_s"}.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp():
    layers, width = [nn.Flatten()], 784
    for _ in range(4):
        layers += [nn.Linear(width, 1024), nn.ReLU()]
        width = 1024
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.f1, self.f2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x):
        n, t, d = x.shape
        h = self.ln1(x)
        split = lambda z: z.view(n, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        att = (q @ k.transpose(-1, -2)) / (d // self.heads) ** 0.5
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(n, t, d))
        return x + self.f2(F.gelu(self.f1(self.ln2(x))))


class CharLM(nn.Module):
    def __init__(self, ctx=64, d=128, layers=4, heads=4):
        super().__init__()
        self.emb = nn.Embedding(256, d)
        self.pos = nn.Parameter(torch.randn(ctx, d) * 0.02)
        self.blocks = nn.Sequential(*(Block(d, heads) for _ in range(layers)))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, 256)

    def forward(self, tok):
        return self.head(self.ln(self.blocks(self.emb(tok) + self.pos)))


def batch_for(model, b):
    if model == "charlm":
        x = torch.randint(0, 256, (b, 64))
        return x, torch.randint(0, 256, (b, 64))
    shape = (b, 28, 28) if model == "mlp" else (b, 1, 28, 28)
    return torch.randn(shape), torch.randint(0, 10, (b,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn", "charlm"], default="mlp")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = {"mlp": mlp, "cnn": cnn, "charlm": CharLM}[a.model]()
    opt = (torch.optim.AdamW(net.parameters(), lr=3e-4) if a.model == "charlm"
           else torch.optim.Adam(net.parameters(), lr=1e-3))
    x, y = batch_for(a.model, a.batch)

    def step():
        opt.zero_grad(set_to_none=True)
        out = net(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    print(json.dumps({"model": a.model, "batch": a.batch, "threads": a.threads,
                      "steps": a.steps, "examples_per_s": a.steps * a.batch / dt}))


if __name__ == "__main__":
    main()
