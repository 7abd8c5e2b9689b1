#!/usr/bin/env python3
"""Writes the .npy and CIFAR files of tests/npy.cmake without numpy.

  write_npy.py blobs DIR N_TRAIN N_TEST DTYPE   x.npy y.npy xt.npy yt.npy in DIR:
      a separable problem of 4 classes of [3, 8, 8] images (class k brightens
      a k-dependent quarter of the image), DTYPE f4, f8 or u1 for the
      examples (labels <i8; xt/yt: <i4 labels, version 2.0 header)
  write_npy.py bad DIR KIND     x.npy (or y.npy) broken in one way, KIND one of
      magic, truncated, fortran, dtype, shape, header, version, labels, bigendian, dict
  write_npy.py cifar DIR N_PER_FILE [100]   CIFAR-10 (or -100) binary files
"""
import random
import struct
import sys


def header(descr, shape, fortran=False, version=1, pad_to=None):
    sh = "(" + "".join("%d, " % s for s in shape).rstrip(" ")
    sh = sh[:-1] + ")" if len(shape) > 1 else sh + ")"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, sh)
    pre = 10 if version == 1 else 12
    total = pad_to or (pre + len(d) + 1 + 63) // 64 * 64
    d = d + " " * (total - pre - len(d) - 1) + "\n"
    ln = struct.pack("<H", len(d)) if version == 1 else struct.pack("<I", len(d))
    return b"\x93NUMPY" + bytes([version, 0]) + ln + d.encode()


def pack(descr, values):
    code = {"<f4": "f", "<f8": "d", "|u1": "B", "<i4": "i", "<i8": "q", ">f4": "f"}[descr]
    order = ">" if descr[0] == ">" else "<"
    return struct.pack(order + "%d%s" % (len(values), code), *values)


def write(path, descr, shape, values, **kw):
    with open(path, "wb") as f:
        f.write(header(descr, shape, **kw) + pack(descr, values))


def blobs(n, dtype, rng):
    xs, ys = [], []
    for _ in range(n):
        k = rng.randrange(4)
        for c in range(3):
            for y in range(8):
                for x in range(8):
                    on = (y < 4) == (k < 2) and (x < 4) == (k % 2 == 0)
                    v = min(1.0, max(0.0, (0.7 if on else 0.2) + rng.gauss(0, 0.15)))
                    xs.append(int(v * 255) if dtype == "|u1" else v)
        ys.append(k)
    return xs, ys


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    rng = random.Random(7)
    if cmd == "blobs":
        ntr, nte, dt = int(sys.argv[3]), int(sys.argv[4]), {"f4": "<f4", "f8": "<f8", "u1": "|u1"}[sys.argv[5]]
        for (xn, yn, n, ydt, ver) in (("x", "y", ntr, "<i8", 1), ("xt", "yt", nte, "<i4", 2)):
            xs, ys = blobs(n, dt, rng)
            write("%s/%s.npy" % (d, xn), dt, (n, 3, 8, 8), xs, version=ver)
            write("%s/%s.npy" % (d, yn), ydt, (n,), ys, version=ver)
    elif cmd == "bad":
        kind, x = sys.argv[3], "%s/x.npy" % d
        vals = [0.5] * (20 * 192)
        if kind == "magic":
            open(x, "wb").write(b"\x93NUMPX" + header("<f4", (20, 3, 8, 8))[6:] + pack("<f4", vals))
        elif kind == "truncated":
            open(x, "wb").write(header("<f4", (20, 3, 8, 8)) + pack("<f4", vals)[:-100])
        elif kind == "fortran":
            write(x, "<f4", (20, 3, 8, 8), vals, fortran=True)
        elif kind == "dtype":
            write(x, "<i4", (20, 3, 8, 8), [1] * len(vals))
        elif kind == "bigendian":
            write(x, ">f4", (20, 3, 8, 8), vals)
        elif kind == "shape":
            write(x, "<f4", (20, 192), vals)
        elif kind == "header":
            open(x, "wb").write(b"\x93NUMPY\x02\x00" + struct.pack("<I", 1 << 30) + b"{")
        elif kind == "version":
            open(x, "wb").write(b"\x93NUMPY\x04\x00" + header("<f4", (20, 3, 8, 8))[8:])
        elif kind == "dict":
            h = header("<f4", (20, 3, 8, 8))
            open(x, "wb").write(h.replace(b"'shape': (", b"'shape': [") + pack("<f4", vals))
        elif kind == "labels":
            write("%s/y.npy" % d, "<i8", (20,), [1] * 19 + [9])
    elif cmd == "cifar":
        n, c100 = int(sys.argv[3]), len(sys.argv) > 4
        names = ["train.bin", "test.bin"] if c100 else ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]
        for name in names:
            with open("%s/%s" % (d, name), "wb") as f:
                for _ in range(n):
                    k = rng.randrange(100 if c100 else 10)
                    lab = bytes([k // 5, k]) if c100 else bytes([k])
                    # class k: a bright row band at k's height in the red plane
                    pix = bytearray(rng.randrange(64) for _ in range(3072))
                    for x in range(32):
                        for y in (3 * (k % 10), 3 * (k % 10) + 1):
                            pix[y * 32 + x] = 250
                    f.write(lab + bytes(pix))


main()
