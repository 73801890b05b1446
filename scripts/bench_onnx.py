#!/usr/bin/python3
"""tmlp's predict (the C++ API, in-process) against ONNX Runtime (onnxruntime-node, in-process
CPU) on the same network: configs A, B and H of BENCHMARKS.md (weights from one seed), exported
with `--features-only` semantics by tmlp_predict_latency --export, at batch 4096 and batch 1.

For each configuration, batch and thread count T:
1. ONNX Runtime's best setting: each candidate intra-op thread count (1..T) runs --probe
   rounds, and the one with the lowest median time per call is kept (and reported).
2. --pairs pairs alternate tmlp, ONNX Runtime, tmlp, ... in separate processes, each timing
   blocks of calls for --seconds after a warm-up; the ratio ONNX Runtime time / tmlp time is
   taken per pair (> 1: tmlp is faster). The table gives its median, min and max.

    /usr/bin/python3 scripts/bench_onnx.py [--configs A,B,H] [--batches 4096,1]
        [--threads 1,2] [--pairs 5] [--probe 3] [--seconds 1]
        [--build build/release] [--node-modules build/release/onnx_node/node_modules]
        [--json FILE]

Needs node and the ONNX Runtime package the ONNX tests install (tests/onnx/run_check.sh puts
it in BUILD/onnx_node), and a build with TMLP_WITH_ONNX.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = {"A": 28, "B": 100, "C": 10, "H": 28}


def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"bench_onnx: {' '.join(cmd)} failed: {p.stderr.strip()}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="A,B,H")
    ap.add_argument("--batches", default="4096,1")
    ap.add_argument("--threads", default=str(os.cpu_count() or 1))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--probe", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--node-modules", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    latency = os.path.join(a.build, "bench", "tmlp_predict_latency")
    modules = a.node_modules or os.path.join(a.build, "onnx_node", "node_modules")
    if not os.path.isdir(os.path.join(modules, "onnxruntime-node")):
        sys.exit(f"bench_onnx: no onnxruntime-node in {modules}; run the ONNX tests once "
                 "(ctest -L onnx) or give --node-modules")
    env = dict(os.environ, NODE_PATH=modules)
    ort_js = os.path.join(HERE, "bench_onnx_ort.js")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for config in a.configs.split(","):
            model = os.path.join(work, f"{config}.onnx")
            subprocess.run([latency, config, "--export", model], check=True)
            for batch in (int(b) for b in a.batches.split(",")):
                for threads in (int(t) for t in a.threads.split(",")):
                    secs = str(a.seconds)

                    def tmlp_us():
                        return run_json([latency, config, str(batch), str(threads), secs])

                    def ort_us(intra):
                        return run_json(["node", ort_js, model, str(batch), str(INPUTS[config]),
                                         str(intra), secs], env)
                    # ONNX Runtime's best intra-op thread count, by the median of --probe runs.
                    probe = {t: statistics.median(ort_us(t)["median_us"]
                                                  for _ in range(a.probe))
                             for t in range(1, threads + 1)}
                    best = min(probe, key=probe.get)
                    ratios, t_us, o_us = [], [], []
                    for _ in range(a.pairs):
                        t = tmlp_us()["median_us"]
                        o = ort_us(best)["median_us"]
                        t_us.append(t)
                        o_us.append(o)
                        ratios.append(o / t)
                    row = {"config": config, "batch": batch, "threads": threads,
                           "ort_intra_threads": best,
                           "ort_probe_us": {str(k): v for k, v in probe.items()},
                           "tmlp_us": statistics.median(t_us), "ort_us": statistics.median(o_us),
                           "ratio": {"median": statistics.median(ratios), "min": min(ratios),
                                     "max": max(ratios)}}
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    print("| config | batch | threads | tmlp us/call | ONNX Runtime us/call (best intra-op "
          "threads) | ORT / tmlp: median (min - max) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        q = r["ratio"]
        print(f"| {r['config']} | {r['batch']} | {r['threads']} | {r['tmlp_us']:.1f} | "
              f"{r['ort_us']:.1f} ({r['ort_intra_threads']}) | {q['median']:.2f}x "
              f"({q['min']:.2f} - {q['max']:.2f}) |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
