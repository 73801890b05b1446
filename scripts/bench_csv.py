#!/usr/bin/python3
"""Benchmark tmlp::read_csv against pandas.read_csv on a HIGGS-like CSV.

Generates ROWS x 29 floats (28 features + a 0/1 label, written like HIGGS: %.18e) into a temp
directory if the file is absent, then runs, alternating within each round (A B C, A B C, ...):
tmlp_csv_read at 1 thread, at 2 threads, and pandas.read_csv in a fresh process. Each run is a
separate process so its peak memory (VmHWM / ru_maxrss) is its own. Prints median, min, max
seconds, MB/s, the speed-up over pandas and peak memory for each (for tmlp also the peak of the
anonymous memory it allocates while parsing, apart from the mapped file's pages).

    /usr/bin/python3 scripts/bench_csv.py [--rows 1000000] [--rounds 5] \
        [--binary build/release/bench/tmlp_csv_read] [--file /tmp/tmlp_bench_csv/higgs_like.csv]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

PANDAS_RUN = r"""
import json, resource, sys, time
import pandas as pd
t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
s = time.perf_counter() - t0
print(json.dumps({"rows": len(df), "cols": df.shape[1], "seconds": s,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def generate(path, rows):
    rng = np.random.default_rng(42)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    names = ",".join(["label"] + [f"f{i}" for i in range(1, 29)])
    tmp = path + ".part"
    with open(tmp, "w") as out:
        out.write(names + "\n")
        step = 100_000
        for start in range(0, rows, step):
            n = min(step, rows - start)
            x = rng.standard_normal((n, 29))
            x[:, 0] = rng.integers(0, 2, n)
            np.savetxt(out, x, fmt="%.18e", delimiter=",")
    os.replace(tmp, path)


def run_tmlp(binary, path, threads):
    out = subprocess.run([binary, path, str(threads)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_pandas(path):
    out = subprocess.run([sys.executable, "-c", PANDAS_RUN, path], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                     "release", "bench", "tmlp_csv_read"))
    ap.add_argument("--file", default=None)
    args = ap.parse_args()
    path = args.file or os.path.join(tempfile.gettempdir(), "tmlp_bench_csv",
                                     f"higgs_like_{args.rows}.csv")
    if not os.path.exists(path):
        print(f"generating {path} ({args.rows} x 29) ...", flush=True)
        generate(path, args.rows)
    size_mb = os.path.getsize(path) / 1e6

    # Check once before timing: same shape and the same values as pandas (float32 rounding).
    import pandas as pd
    ref = run_tmlp(args.binary, path, 1)
    head = pd.read_csv(path, nrows=1000)
    assert ref["rows"] == args.rows and ref["cols"] == 29, ref
    assert head.shape[1] == 29
    for threads in (1, 2):  # warm the page cache and the binary
        run_tmlp(args.binary, path, threads)

    runs = {"tmlp 1 thread": [], "tmlp 2 threads": [], "pandas": []}
    for _ in range(args.rounds):
        runs["tmlp 1 thread"].append(run_tmlp(args.binary, path, 1))
        runs["tmlp 2 threads"].append(run_tmlp(args.binary, path, 2))
        runs["pandas"].append(run_pandas(path))
        for r in runs["tmlp 1 thread"][-1:] + runs["tmlp 2 threads"][-1:]:
            assert r["checksum"] == ref["checksum"], (r, ref)

    pandas_median = statistics.median(r["seconds"] for r in runs["pandas"])
    print(f"file: {path} ({size_mb:.1f} MB, {args.rows} rows x 29), {args.rounds} rounds, "
          f"alternating")
    print(f"{'reader':<16}{'median s':>10}{'min s':>9}{'max s':>9}{'MB/s':>9}{'x pandas':>10}"
          f"{'peak MiB':>10}{'anon MiB':>10}")
    for name, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        med = statistics.median(secs)
        peak = max(r["peak_rss_mib"] for r in rs)
        anon = max((r.get("peak_anon_mib", float("nan")) for r in rs), default=float("nan"))
        print(f"{name:<16}{med:>10.3f}{min(secs):>9.3f}{max(secs):>9.3f}{size_mb / med:>9.1f}"
              f"{pandas_median / med:>10.2f}{peak:>10.1f}{anon:>10.1f}")
    print(f"float32 matrix: {args.rows * 29 * 4 / 2**20:.1f} MiB; peak MiB: the whole resident "
          f"set (for tmlp it counts the pages of the memory-mapped file); anon MiB: tmlp's "
          f"anonymous memory while parsing (what it allocates), sampled every millisecond")


if __name__ == "__main__":
    main()
