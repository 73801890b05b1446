#!/usr/bin/python3
"""The cost model of one distributed training step (docs/DISTRIBUTED.md), and what it predicts.

    scripts/scale_model.py --rate A B H          the prediction tables for A, B and H from the
                                                 one-thread samples/s of each
    scripts/scale_model.py --check bench*.json   the model against `tmlp bench` runs under
                                                 mpirun (with their own link figures)

A step on R nodes of c cores, of a batch of B rows cut into S shards (S: the power of two
nearest B / 64, at most max_shards), costs

    compute   = ceil(ceil(S / R) / c) * (B / S) / rate1   a node's shards over its cores
    adds      = ceil(S / R) / S * reduce1 / c             its shards' gradients into the chain
    update    = update1 / c                               every rank updates every parameter
    chain     = (h - 1) * (a + b / w) + N / w             h = min(R, S) ranks with shards,
                                                          pipelined over blocks of b bytes
    broadcast = N / w + ceil(log2 R) * (a + b / w)
    gathers   = (1 + barriers) * ceil(log2 R) * a

with N the gradient's bytes, a the link's latency, w its bandwidth, and rate1, reduce1 and
update1 one thread's samples per second, reduction time (all S shards) and update time on this
step; the node's c cores are taken to share compute, adds and update perfectly (an upper bound
on the node). Communication does not overlap the shards' compute.
"""
import argparse
import json
import math
import sys

BLOCK = 16384 * 4  # bytes of a parameter block (param_block floats)
CONFIGS = {
    # name: (widths, batch)
    "A": ([28, 256, 256, 1], 256),
    "B": ([100, 1024, 1024, 1024, 10], 1024),
    "H": ([28, 300, 300, 300, 300, 300, 1], 100),
}


def n_params(widths):
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def n_shards(batch, shard_rows=64, max_shards=16):
    n, limit = 1, math.sqrt(2) * shard_rows
    while 2 * n <= max_shards and 2 * n <= batch and batch / n >= limit:
        n *= 2
    return n


def step_seconds(widths, batch, ranks, cores, rate1, latency, bandwidth, max_shards=16,
                 reduce1=0.0, update1=0.0):
    """(compute with adds and update, communication) seconds of one step."""
    s = n_shards(batch, max_shards=max_shards)
    compute = math.ceil(math.ceil(s / ranks) / cores) * (batch / s) / rate1
    compute += math.ceil(s / ranks) / s * reduce1 / cores + update1 / cores
    if ranks == 1:
        return compute, 0.0
    grad = 4 * n_params(widths)
    hop = latency + min(BLOCK, grad) / bandwidth
    log_r = math.ceil(math.log2(ranks))
    chain = (min(ranks, s) - 1) * hop + grad / bandwidth
    bcast = grad / bandwidth + log_r * hop
    gathers = log_r * latency
    return compute, chain + bcast + gathers


# One thread's reduction of a batch's S shards and update, in seconds per step, measured with
# `tmlp bench X --threads 1` on one rank (scaled by S for the larger batches below).
ONE_THREAD = {"A": (0.10e-3, 0.09e-3), "B": (15.1e-3, 2.6e-3), "H": (0.42e-3, 0.37e-3)}


def predict(rates, cores=16):
    print(f"Predicted step time, samples/s and efficiency against {cores} x nodes x one "
          f"thread's rate; nodes of {cores} cores")
    for name, (widths, batch0) in CONFIGS.items():
        rate1 = rates[name]
        print(f"\n{name}: {n_params(widths):,} parameters ({4 * n_params(widths) / 1e6:.2f} MB), "
              f"one thread {rate1:,.0f} samples/s")
        print(f"{'network':>8} {'nodes':>6} {'batch':>8} {'shards':>6} {'step ms':>9} "
              f"{'comm ms':>8} {'samples/s':>13} {'efficiency':>10}")
        for gbit, latency in ((25, 5e-6), (100, 2e-6)):
            bandwidth = gbit * 1e9 / 8
            for nodes in (8, 64, 512):
                # The protocol's batch (16 shards at most), then one of 64 rows per core.
                for batch, max_shards in ((batch0, 16), (64 * cores * nodes, cores * nodes)):
                    reduce1, update1 = ONE_THREAD[name]
                    reduce1 *= n_shards(batch, max_shards=max_shards) / n_shards(batch0)
                    compute, comm = step_seconds(widths, batch, nodes, cores, rate1, latency,
                                                 bandwidth, max_shards, reduce1, update1)
                    total = compute + comm
                    sps = batch / total
                    print(f"{gbit:>6}G  {nodes:>6} {batch:>8} "
                          f"{n_shards(batch, max_shards=max_shards):>6} {total * 1e3:>9.3f} "
                          f"{comm * 1e3:>8.3f} {sps:>13,.0f} "
                          f"{sps / (nodes * cores * rate1):>10.1%}")


def check(paths):
    """Each run on R > 1 ranks against the model: the slowest rank's measured compute, plus the
    one-rank run's reduction (the adds, shared by the ranks) and update, plus the modelled
    communication over the link the run measured."""
    runs = {}
    for path in paths:
        with open(path) as f:
            runs[path] = json.load(f)
    print(f"{'run':>22} {'link us, GB/s':>14} {'measured step ms':>16} {'model step ms':>13} "
          f"{'of which comm':>13} {'measured/model':>14}")
    for path, j in sorted(runs.items()):
        ranks = j["ranks"]
        one = [r for r in runs.values() if r["config"] == j["config"] and r["ranks"] == 1
               and path.split("_")[0] == [p for p, v in runs.items() if v is r][0].split("_")[0]]
        if ranks < 2 or not one:
            continue
        one = one[0]["per_rank"][0]
        widths, _ = CONFIGS[j["config"]]
        s = n_shards(j["batch"])
        compute = max(r["compute_s"] for r in j["per_rank"])
        adds = one["reduce_s"] * math.ceil(s / ranks) / s
        _, comm = step_seconds(widths, j["batch"], ranks, 1, 1.0, j["link_latency_s"],
                               j["link_bandwidth_bytes_per_s"])
        model = compute + adds + comm + one["update_s"]
        measured = max(r["step_s"] for r in j["per_rank"])
        link = f"{j['link_latency_s'] * 1e6:.1f}, {j['link_bandwidth_bytes_per_s'] / 1e9:.2f}"
        print(f"{path:>22} {link:>14} {measured * 1e3:>16.3f} {model * 1e3:>13.3f} "
              f"{comm * 1e3:>13.3f} {measured / model:>14.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", nargs="*", help="bench JSON files written under mpirun")
    ap.add_argument("--rate", nargs=3, type=float, metavar=("A", "B", "H"),
                    help="one thread's training samples/s for A, B and H")
    args = ap.parse_args()
    if args.check:
        check(args.check)
        return 0
    if not args.rate:
        print("--rate A B H: one thread's samples/s for each (see docs/DISTRIBUTED.md)",
              file=sys.stderr)
        return 2
    predict(dict(zip("ABH", args.rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
