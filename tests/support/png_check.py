#!/usr/bin/env python3
"""png_check.py FILE [N ROWS COLS TILE_H TILE_W] - checks a PNG for tests/plot.cmake.

Checks the signature, that IHDR comes first and IEND last, and every chunk's
CRC; prints "png WIDTH HEIGHT". With the five numbers (an image of
`lnet plot filters`: 8-bit RGB, filter byte 0 on every row), also decodes the
pixels and checks the grid: 1-pixel separators of one colour around every tile
of TILE_H x TILE_W pixels, ROWS x COLS tiles, the first N of them filters each
scaled to the full range 0..255; then prints "filters ok". Exit status 1 on a
failed check, with the reason.
"""
import struct
import sys
import zlib


def fail(why):
    print("png_check: " + why)
    sys.exit(1)


def chunks(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG signature: %r" % data[:8])
    at, out = 8, []
    while at < len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + n]
        (crc,) = struct.unpack(">I", data[at + 8 + n:at + 12 + n])
        if zlib.crc32(kind + body) != crc:
            fail("bad CRC in chunk %r" % kind)
        out.append((kind, body))
        at += 12 + n
    if not out or out[0][0] != b"IHDR" or out[-1][0] != b"IEND":
        fail("IHDR must come first and IEND last")
    return out


def check_grid(cs, w, h, n, rows, cols, th, tw):
    depth, colour = cs[0][1][8], cs[0][1][9]
    if (depth, colour) != (8, 2):
        fail("expected 8-bit RGB, got depth %d colour type %d" % (depth, colour))
    raw = zlib.decompress(b"".join(b for k, b in cs if k == b"IDAT"))
    if len(raw) != h * (1 + 3 * w) or any(raw[y * (1 + 3 * w)] for y in range(h)):
        fail("rows are not %d x (filter byte 0, %d RGB pixels)" % (h, w))
    px = lambda x, y: raw[y * (1 + 3 * w) + 1 + 3 * x:y * (1 + 3 * w) + 4 + 3 * x]
    if (w, h) != (cols * (tw + 1) + 1, rows * (th + 1) + 1):
        fail("%d x %d pixels is not a grid of %d x %d tiles of %d x %d" % (w, h, rows, cols, th, tw))
    sep = px(0, 0)
    for y in range(h):
        for x in range(w):
            if (x % (tw + 1) == 0 or y % (th + 1) == 0) and px(x, y) != sep:
                fail("pixel (%d, %d) is not a separator" % (x, y))
    for t in range(n):
        x0, y0 = 1 + (t % cols) * (tw + 1), 1 + (t // cols) * (th + 1)
        vals = [v for y in range(y0, y0 + th) for x in range(x0, x0 + tw) for v in px(x, y)]
        if min(vals) != 0 or max(vals) != 255:
            fail("tile %d spans %d..%d, not 0..255" % (t, min(vals), max(vals)))
    print("filters ok")


def main():
    data = open(sys.argv[1], "rb").read()
    cs = chunks(data)
    w, h = struct.unpack(">II", cs[0][1][:8])
    print("png %d %d" % (w, h))
    if len(sys.argv) == 7:
        check_grid(cs, w, h, *map(int, sys.argv[2:]))


main()
