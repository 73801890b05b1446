#!/usr/bin/python3
"""Writes a CSV for measuring tmlp train's memory on categorical data (issue 13, item 6).

    scripts/gen_categorical_csv.py OUT.csv [ROWS=3000000] [SEED=7]

Columns: x1..x4 (standard normal, 5 decimals), cat_a and cat_b (229 levels each: a0..a228,
b0..b228), y (0/1, from x1, x2 and cat_a). 3,000,000 rows are about 135 MB. Then e.g.
    tmlp convert OUT.csv OUT.tmlpd
    /usr/bin/time -v tmlp train OUT.csv --target y --epochs 1 -q   # "Maximum resident set size"
"""
import random
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 3_000_000
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
g, ri = rng.gauss, rng.randrange
with open(out, "w") as f:
    f.write("x1,x2,x3,x4,cat_a,cat_b,y\n")
    lines = []
    for _ in range(n):
        p, q, r, t = g(0, 1), g(0, 1), g(0, 1), g(0, 1)
        u, v = ri(229), ri(229)
        w = 1 if p + 0.5 * q + (u % 7 == 0) > 0.3 else 0
        lines.append(f"{p:.5f},{q:.5f},{r:.5f},{t:.5f},a{u},b{v},{w}\n")
        if len(lines) == 100_000:
            f.write("".join(lines))
            lines = []
    f.write("".join(lines))
