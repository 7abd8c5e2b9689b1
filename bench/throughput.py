#!/usr/bin/env python3
"""Throughput benchmark: lnet's schedules against each other and PyTorch.

For each model and batch size, every configuration runs REPS times,
interleaved (config A, B, C, A, B, C, ...) so that machine noise spreads over
all of them; the table reports the median examples/s over the steps after
warm-up (read from lnet's step log: training seconds per row) and the ratio
to lnet's backprop on one thread. Usage:

    bench/throughput.py [--models mlp,cnn] [--batches 32,128] [--reps 3] [--out FILE]

It needs a built lnet (build/lnet) and, for the PyTorch rows, python3-torch
(bench/pytorch.sh); a configuration that lnet rejects is reported as such.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LNET = os.path.join(ROOT, "build", "lnet")
EXAMPLES = {"mlp": "examples/fmnist_mlp.lnet", "cnn": "examples/fmnist_cnn.lnet"}
STEPS = {"mlp": (20, 120), "cnn": (4, 24)}      # (warm-up, total) steps

CONFIGS = [
    ("backprop-1", ["--method", "backprop", "--threads", "1"]),
    ("backprop-2", ["--method", "backprop", "--threads", "2"]),
    ("data-parallel-2", ["--method", "backprop", "--schedule", "data-parallel", "--threads", "2"]),
    ("pipeline-2", ["--method", "backprop", "--schedule", "pipeline", "--blocks", "2",
                    "--microbatches", "4", "--threads", "2"]),
    ("local-chunked-2", ["--method", "chunked", "--blocks", "2", "--schedule", "local",
                         "--threads", "2"]),
    ("local-chunked-2-default", ["--method", "chunked", "--blocks", "2"]),
    ("local-chunked-4", ["--method", "chunked", "--blocks", "4", "--threads", "2"]),
    ("local-greedy", ["--method", "greedy", "--threads", "2"]),
    ("overlap-local-d1", ["--method", "overlap", "--schedule", "local", "--threads", "2"]),
    ("overlap-sequential-d1", ["--method", "overlap", "--schedule", "sequential",
                               "--overlap-delay", "1", "--threads", "2"]),
    ("overlap-sequential-d0", ["--method", "overlap", "--schedule", "sequential",
                               "--overlap-delay", "0", "--threads", "2"]),
]


def run_lnet(model, batch, flags):
    warm, total = STEPS[model]
    with tempfile.TemporaryDirectory() as d:
        log, rep = os.path.join(d, "log.csv"), os.path.join(d, "r.json")
        cmd = [LNET, "train", os.path.join(ROOT, EXAMPLES[model]), "--batch", str(batch),
               "--max-steps", str(total), "--train-limit", str(batch * total),
               "--test-limit", "64", "--quiet", "--log", log, "--report", rep] + flags
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"
        rows = [r for r in csv.DictReader(open(log)) if r["kind"] == "train"]
        t0 = float(rows[warm - 1]["train_s"])
        t1 = float(rows[-1]["train_s"])
        report = json.load(open(rep))
        return (len(rows) - warm) * batch / (t1 - t0), report


def run_torch(model, batch, threads):
    warm, total = STEPS[model]
    p = subprocess.run([os.path.join(ROOT, "bench", "pytorch.sh"), str(threads), "--model",
                        model, "--batch", str(batch), "--steps", str(total - warm),
                        "--warmup", str(warm)], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])["examples_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=None)
    ap.add_argument("--configs", default=None, help="comma-separated subset of the lnet rows")
    a = ap.parse_args()
    env_torch = subprocess.run([os.path.join(ROOT, "bench", "pytorch.sh"), "1", "--steps", "1",
                                "--warmup", "0"], capture_output=True).returncode == 0
    configs = [c for c in CONFIGS if not a.configs or c[0] in a.configs.split(",")]
    lines = []
    for model in a.models.split(","):
        for batch in map(int, a.batches.split(",")):
            samples, notes, acts = {}, {}, {}
            names = [c[0] for c in configs] + (["pytorch-1", "pytorch-2"] if env_torch else [])
            for _ in range(a.reps):
                for name, flags in configs:
                    v, rep = run_lnet(model, batch, flags)
                    if v is None:
                        notes[name] = rep
                        continue
                    samples.setdefault(name, []).append(v)
                    workers = " ".join(f"{w['blocks'][0]}-{w['blocks'][1]}×{w['threads']}"
                                       for w in rep.get("workers", []))
                    acts[name] = (rep.get("act_bytes", []), rep.get("schedule"),
                                  f"{rep.get('threads')} ({workers})" if workers else
                                  rep.get("threads"))
                for th in (1, 2) if env_torch else ():
                    v = run_torch(model, batch, th)
                    if v:
                        samples.setdefault(f"pytorch-{th}", []).append(v)
                print(".", end="", file=sys.stderr, flush=True)
            base = statistics.median(samples["backprop-1"])
            lines.append(f"\n### {model}, batch {batch}\n")
            lines.append("| configuration | schedule | threads (worker: blocks×threads) | "
                         "median examples/s | runs | "
                         "vs backprop-1 | activation MB per block |")
            lines.append("|---|---|---|---|---|---|---|")
            for name in names:
                if name not in samples:
                    lines.append(f"| {name} | — | — | not run: {notes.get(name, 'n/a')} | | | |")
                    continue
                med = statistics.median(samples[name])
                act, sched, threads = acts.get(name, ([], "pytorch", name[-1]))
                mb = ", ".join(f"{b / 2**20:.1f}" for b in act) or "—"
                lines.append(f"| {name} | {sched} | {threads} | {med:,.0f} | "
                             f"{len(samples[name])} | {med / base:.2f}× | {mb} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        open(a.out, "w").write(text)


if __name__ == "__main__":
    main()
