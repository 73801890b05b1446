#!/usr/bin/python3
"""tmlp side by side with PyTorch (and scikit-learn for configs A and C) on the same machine.

Trains one benchmark configuration (BENCHMARKS.md: A, B, C, H, read from `tmlp bench --list
--json`) with the same rows, batch, optimizer and epochs in both, after one warm-up epoch that
is not counted, and measures
inference throughput at batch 4096 and single-row latency. Runs alternate (tmlp, PyTorch,
scikit-learn, tmlp, PyTorch, ...) and the ratios tmlp / peer are taken per pair: the table shows
their median with min and max.

PyTorch runs at its best thread setting for the thread count: OpenBLAS (nn.Linear) reads
OPENBLAS_NUM_THREADS when it loads and ATen's pool is set by torch.set_num_threads, so each
candidate (ATen, OpenBLAS) runs in its own process, set before import, with one inter-op thread
(torch.set_num_interop_threads(1)). A probe picks the best candidate for training and for
inference unless --torch-threads names one: each candidate trains --warmup epochs, then
--probe-epochs timed epochs (and as many inference rounds), on --probe-rows rows; --probe-rounds
repeats the sweep over the candidates (A B C D A B C D ...) and pools the samples. The choice is
by the median (at 2 threads single epochs are bimodal: one each picks wrong). Every candidate's
median, min and max are printed and saved with --json.

    /usr/bin/python3 scripts/compare_pytorch.py --config A [--rows 200000] [--epochs 3]
        [--pairs 3] [--threads N] [--tmlp build/release/src/cli/tmlp]
        [--torch-threads ATEN,BLAS] [--probe-epochs 3] [--probe-rounds 1] [--probe-rows N]
        [--sklearn auto|on|off] [--json FILE]

Needs Debian's python3-torch and python3-sklearn under /usr/bin/python3
(scripts/setup.sh --peers installs them).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from bench_timing import latency_us, stats, timed_rounds  # scripts/bench_timing.py

INFER_BATCH = 4096


def load_configs(tmlp):
    """The named configurations as `tmlp bench --list --json` gives them (tmlp/bench.hpp holds
    the one definition), keyed by name, in this script's terms."""
    p = subprocess.run([tmlp, "bench", "--list", "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"compare_pytorch: {tmlp} bench --list --json failed: {p.stderr.strip()}")
    return {c["name"]: dict(inputs=c["inputs"], hidden=c["hidden"], outputs=c["outputs"],
                            act=c["activation"], loss=c["loss"], opt=c["optimizer"], lr=c["lr"],
                            momentum=c["momentum"], batch=c["batch_size"])
            for c in json.loads(p.stdout)}


# --- worker processes: one measurement each, JSON on stdout ---------------------------------------
def synthetic(cfg, rows, seed):
    """Standardized normal inputs and targets of a random linear teacher, as tmlp bench makes."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cfg["inputs"]), dtype=np.float32)
    v = rng.standard_normal((cfg["outputs"], cfg["inputs"]), dtype=np.float32)
    t = x @ (v.T / np.float32(np.sqrt(cfg["inputs"])))
    if cfg["loss"] == "ce":
        y = t.argmax(axis=1)
    elif cfg["loss"] == "bce":
        y = (t > 0).astype(np.float32)
    else:
        y = t
    x_infer = rng.standard_normal((INFER_BATCH, cfg["inputs"]), dtype=np.float32)
    return x, y, x_infer


def torch_worker(a):
    import time
    import torch
    from torch import nn
    torch.set_num_interop_threads(1)  # before any parallel work, or it is refused
    torch.set_num_threads(a.aten)
    torch.manual_seed(a.seed)
    cfg = json.loads(a.config_json)
    x_np, y_np, xi_np = synthetic(cfg, a.rows, a.seed)
    x, x_infer = torch.from_numpy(x_np), torch.from_numpy(xi_np)
    y = torch.from_numpy(y_np).long() if cfg["loss"] == "ce" else torch.from_numpy(y_np)
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[cfg["act"]]
    widths = [cfg["inputs"]] + cfg["hidden"] + [cfg["outputs"]]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(act())
    model = nn.Sequential(*layers)
    loss_fn = {"bce": nn.BCEWithLogitsLoss, "ce": nn.CrossEntropyLoss, "mse": nn.MSELoss}[
        cfg["loss"]]()
    if cfg["opt"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
    out = {"torch": torch.__version__, "aten_threads": torch.get_num_threads(),
           "interop_threads": torch.get_num_interop_threads(),
           "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    if a.mode in ("train", "both"):
        batch, n, sps = cfg["batch"], a.rows, []
        for epoch in range(a.warmup + a.epochs):
            t0 = time.perf_counter()
            perm = torch.randperm(n)
            xp, yp = x[perm], y[perm]  # one gather per epoch; the batches below are views
            for i in range(0, n, batch):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xp[i:i + batch]), yp[i:i + batch])
                loss.backward()
                opt.step()
            if epoch >= a.warmup:
                sps.append(n / (time.perf_counter() - t0))
        out["train_samples_per_s"] = sps
    if a.mode in ("infer", "both"):
        model.eval()
        # Probabilities, as tmlp's predict returns them.
        post = {"bce": torch.sigmoid, "ce": lambda z: torch.softmax(z, dim=1)}.get(
            cfg["loss"], lambda z: z)
        with torch.inference_mode():
            out["infer_samples_per_s"] = timed_rounds(lambda: post(model(x_infer)), a.epochs,
                                                      a.min_time, INFER_BATCH)
            if not a.no_latency:
                out["latency"] = latency_us(lambda i: post(model(x_infer[i:i + 1])),
                                            INFER_BATCH, 2000, a.min_time)
    return out


def sklearn_worker(a):
    import time
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    warnings.simplefilter("ignore", ConvergenceWarning)
    cfg = json.loads(a.config_json)
    x, y, _ = synthetic(cfg, a.rows, a.seed)
    common = dict(hidden_layer_sizes=tuple(cfg["hidden"]), activation=cfg["act"],
                  batch_size=cfg["batch"], learning_rate_init=cfg["lr"], alpha=0.0, tol=0.0,
                  n_iter_no_change=10 ** 9, shuffle=True, random_state=a.seed, warm_start=True,
                  max_iter=a.warmup)
    if cfg["opt"] == "adam":
        common.update(solver="adam")
    else:
        common.update(solver="sgd", learning_rate="constant", momentum=cfg["momentum"],
                      nesterovs_momentum=False)
    est = (MLPRegressor if cfg["loss"] == "mse" else MLPClassifier)(**common)
    y_fit = y.ravel() if cfg["outputs"] == 1 else y
    if a.warmup:
        est.fit(x, y_fit)  # warm-up epochs; warm_start makes the next fit continue from here
    est.set_params(max_iter=a.epochs)
    t0 = time.perf_counter()
    est.fit(x, y_fit)
    seconds = time.perf_counter() - t0
    import sklearn
    return {"sklearn": sklearn.__version__, "openblas_threads": os.environ.get(
        "OPENBLAS_NUM_THREADS"), "train_samples_per_s": [a.rows * a.epochs / seconds],
        "epochs_run": est.n_iter_}


# --- the driver ---------------------------------------------------------------------------------
def run_worker(kind, args, rows, epochs, mode, aten, blas, latency=True):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas), OMP_NUM_THREADS=str(aten),
               MKL_NUM_THREADS=str(blas))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--config", args.config,
           "--config-json", json.dumps(args.cfg), "--rows", str(rows), "--epochs", str(epochs),
           "--warmup", str(args.warmup), "--mode", mode, "--aten", str(aten), "--seed",
           str(args.seed), "--min-time", str(args.min_time)] + ([] if latency else ["--no-latency"])
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"compare_pytorch: the {kind} worker failed: {p.stderr.strip().splitlines()[-1:]}")
    return json.loads(p.stdout)


def run_tmlp(args):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.json")
        cmd = [args.tmlp, "bench", args.config, "--rows", str(args.rows), "--threads",
               str(args.threads), "--warmup", str(args.warmup), "--repeats", str(args.epochs),
               "--min-time", str(args.min_time), "--seed", str(args.seed), "--quiet", "--json",
               path]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"compare_pytorch: {' '.join(cmd)} failed: {p.stderr.strip()}")
        with open(path) as f:
            r = json.load(f)
    t = r["threads"][0]
    return {"train_samples_per_s": t["train"]["epoch_samples_per_s"],
            "infer_samples_per_s": t["inference"]["round_samples_per_s"],
            "latency": {"p50_us": r["latency"]["p50_us"], "p99_us": r["latency"]["p99_us"]},
            "n_workers": t["n_workers"], "n_shards": t["n_shards"],
            "gemm_limit_samples_per_s": t["train"]["gemm_limit_samples_per_s"],
            "train_gflops": t["train"]["gflops"]["median"],
            "fma_isa": (r.get("fma_peak") or {}).get("isa"),
            "fma_peak_gflops": t["train"].get("fma_peak_gflops"),
            "core_ns": core_ns(r.get("core_latency"))}


def core_ns(k):
    """The longest one-way cache-line time between the CPUs tmlp ran on, at the start and at the
    end of its run (tmlp bench's `cores` line), or None."""
    if not k:
        return None
    worst = [max((v for v in k[w] if v is not None), default=None)
             for w in ("start_ns_one_way", "end_ns_one_way")]
    return None if None in worst else worst


def setting_name(setting):
    """(ATen, BLAS) threads as the output names them."""
    return f"{setting[0]} ATen + {setting[1]} OpenBLAS"


def probe_torch(args):
    """(best training setting, best inference setting, every candidate's figures) over (ATen,
    OpenBLAS) threads: each candidate runs --warmup epochs, then --probe-epochs timed epochs and
    inference rounds, in --probe-rounds alternating sweeps; the best median wins."""
    if args.torch_threads:
        aten, blas = (int(v) for v in args.torch_threads.split(","))
        return (aten, blas), (aten, blas), []
    t = args.threads
    candidates = sorted({(1, 1), (1, t), (t, 1), (t, t)})
    rows = args.probe_rows or min(args.rows, max(20000, 20 * args.cfg["batch"]))
    samples = {c: {"train": [], "infer": []} for c in candidates}
    for _ in range(args.probe_rounds):
        for c in candidates:  # A B C D A B C D: a slow spell of the machine hits them all
            r = run_worker("torch", args, rows, args.probe_epochs, "both", *c, latency=False)
            samples[c]["train"] += r["train_samples_per_s"]
            samples[c]["infer"] += r["infer_samples_per_s"]
    probes = [{"aten": c[0], "blas": c[1], "rows": rows,
               "train_samples_per_s": samples[c]["train"], "train": stats(samples[c]["train"]),
               "infer_samples_per_s": samples[c]["infer"], "infer": stats(samples[c]["infer"])}
              for c in candidates]
    best_train = max(probes, key=lambda p: p["train"]["median"])
    best_infer = max(probes, key=lambda p: p["infer"]["median"])
    for p in probes:
        p["chosen_for"] = [w for w, b in (("train", best_train), ("infer", best_infer)) if p is b]
    return ((best_train["aten"], best_train["blas"]), (best_infer["aten"], best_infer["blas"]),
            probes)


def print_probes(args, probes):
    """Every candidate's figures, the chosen ones marked, so a reader sees the choice."""
    if not probes:
        return
    n = len(probes[0]["train_samples_per_s"])
    print(f"PyTorch thread probe: {probes[0]['rows']:,} rows, {args.warmup} warm-up + "
          f"{args.probe_epochs} timed epoch(s) and inference rounds x {args.probe_rounds} "
          f"round(s) = {n} samples per candidate; median (min - max) samples/s")
    print(f"  {'ATen + OpenBLAS threads':24} {'training':>34} {'inference':>34}")
    for p in probes:
        mark = {"train": " <- training", "infer": " <- inference"}
        chosen = "".join(mark[w] for w in p["chosen_for"])
        print(f"  {p['aten']:>4} + {p['blas']:<17} {fmt_stats(p['train']):>34} "
              f"{fmt_stats(p['infer']):>34}{chosen}", flush=True)


def fmt_stats(s, digits=0):
    f = f"{{:,.{digits}f}}"
    return f"{f.format(s['median'])} ({f.format(s['min'])} - {f.format(s['max'])})"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="A", help="A, B, C or H (tmlp bench --list)")
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--epochs", type=int, default=3, help="measured epochs (and inference rounds)")
    ap.add_argument("--warmup", type=int, default=1, help="warm-up epochs, not measured")
    ap.add_argument("--pairs", type=int, default=3, help="alternating rounds tmlp, PyTorch, ...")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--tmlp", default="build/release/src/cli/tmlp", help="the tmlp program")
    ap.add_argument("--torch-threads", help="ATEN,BLAS threads for PyTorch (default: probe)")
    ap.add_argument("--probe-epochs", type=int, default=3,
                    help="timed epochs (and inference rounds) per probed PyTorch setting")
    ap.add_argument("--probe-rounds", type=int, default=1,
                    help="sweeps over the PyTorch settings, alternating, samples pooled")
    ap.add_argument("--probe-rows", type=int, default=0,
                    help="rows per probe epoch (default: min(rows, max(20000, 20 x batch)))")
    ap.add_argument("--sklearn", default="auto", choices=["auto", "on", "off"],
                    help="auto: for configs A and C")
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per inference round")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write every run and the ratios to this file")
    ap.add_argument("--worker", choices=["torch", "sklearn"], help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="both", help=argparse.SUPPRESS)
    ap.add_argument("--aten", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--config-json", help=argparse.SUPPRESS)  # a worker's configuration
    ap.add_argument("--no-latency", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps((torch_worker if args.worker == "torch" else sklearn_worker)(args)))
        return
    if min(args.rows, args.epochs, args.pairs, args.threads, args.probe_epochs,
           args.probe_rounds) < 1 or args.probe_rows < 0:
        sys.exit("compare_pytorch: --rows, --epochs, --pairs, --threads, --probe-epochs and "
                 "--probe-rounds must be positive")
    if args.torch_threads:
        try:
            aten, blas = (int(v) for v in args.torch_threads.split(","))
            assert aten >= 1 and blas >= 1
        except (ValueError, AssertionError):
            sys.exit(f"compare_pytorch: --torch-threads '{args.torch_threads}': expected ATEN,BLAS "
                     "like 1,2")
    if not os.access(args.tmlp, os.X_OK):
        sys.exit(f"compare_pytorch: no tmlp program at '{args.tmlp}' (build it or pass --tmlp)")
    configs = load_configs(args.tmlp)
    if args.config not in configs:
        sys.exit(f"compare_pytorch: --config {args.config}: expected one of "
                 f"{', '.join(configs)} (tmlp bench --list)")
    args.cfg = configs[args.config]
    try:
        subprocess.run([sys.executable, "-c", "import torch"], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        sys.exit(f"compare_pytorch: {sys.executable} cannot import torch; run "
                 "scripts/setup.sh --peers (Debian python3-torch) and use /usr/bin/python3")
    use_sklearn = args.sklearn == "on" or (args.sklearn == "auto" and args.config in "AC")
    cfg = args.cfg
    widths = "-".join(str(w) for w in [cfg["inputs"]] + cfg["hidden"] + [cfg["outputs"]])
    print(f"config {args.config}: {widths} {cfg['act']} {cfg['loss']} {cfg['opt']} lr {cfg['lr']:g}"
          f"{' momentum %g' % cfg['momentum'] if cfg['momentum'] else ''}, batch {cfg['batch']}, "
          f"{args.rows:,} rows; {args.warmup} warm-up + {args.epochs} measured epochs; "
          f"{args.threads} thread(s); {args.pairs} pairs; load {loadavg()}", flush=True)

    train_set, infer_set, probes = probe_torch(args)
    print_probes(args, probes)
    sk_blas = 1
    if use_sklearn and args.threads > 1:  # sklearn's only threads are OpenBLAS's
        sk_probe = {b: run_worker("sklearn", args, min(args.rows, 20000), args.probe_epochs,
                                  "train", 1, b) for b in (1, args.threads)}
        sk_blas = max(sk_probe, key=lambda b: sk_probe[b]["train_samples_per_s"][0])
    how = "given (--torch-threads)" if args.torch_threads else "probed"
    print(f"PyTorch settings ({how}): training {setting_name(train_set)} threads, inference "
          f"{setting_name(infer_set)}"
          f"{f'; scikit-learn {sk_blas} OpenBLAS thread(s)' if use_sklearn else ''}", flush=True)

    runs = {"tmlp": [], "torch_train": [], "torch_infer": [], "sklearn": []}
    for i in range(args.pairs):
        runs["tmlp"].append(run_tmlp(args))
        if train_set == infer_set:
            r = run_worker("torch", args, args.rows, args.epochs, "both", *train_set)
            runs["torch_train"].append(r)
            runs["torch_infer"].append(r)
        else:
            runs["torch_train"].append(
                run_worker("torch", args, args.rows, args.epochs, "train", *train_set))
            runs["torch_infer"].append(
                run_worker("torch", args, args.rows, args.epochs, "infer", *infer_set))
        if use_sklearn:
            runs["sklearn"].append(
                run_worker("sklearn", args, args.rows, args.epochs, "train", 1, sk_blas))
        t, p = runs["tmlp"][-1], runs["torch_train"][-1]
        apart = (f"; CPUs {t['core_ns'][0]:.0f} / {t['core_ns'][1]:.0f} ns apart"
                 if t["core_ns"] else "")
        print(f"  pair {i + 1}: tmlp {statistics.median(t['train_samples_per_s']):,.0f}/s, "
              f"PyTorch {statistics.median(p['train_samples_per_s']):,.0f}/s; load {loadavg()}"
              f"{apart}", flush=True)

    med = statistics.median
    rows = []  # (what, tmlp values, peer values, peer name, ratio per pair)

    def add(what, peer, tmlp_vals, peer_vals, invert=False):
        ratios = [(p / t if invert else t / p) for t, p in zip(tmlp_vals, peer_vals)]
        rows.append({"what": what, "peer": peer, "tmlp": stats(tmlp_vals),
                     "peer_stats": stats(peer_vals), "ratio": stats(ratios),
                     "ratios": ratios})

    tm_train = [med(r["train_samples_per_s"]) for r in runs["tmlp"]]
    torch_train = f"PyTorch ({train_set[0]}+{train_set[1]})"  # ATen + OpenBLAS threads
    torch_infer = f"PyTorch ({infer_set[0]}+{infer_set[1]})"
    add("training samples/s", torch_train, tm_train,
        [med(r["train_samples_per_s"]) for r in runs["torch_train"]])
    add(f"inference samples/s (batch {INFER_BATCH})", torch_infer,
        [med(r["infer_samples_per_s"]) for r in runs["tmlp"]],
        [med(r["infer_samples_per_s"]) for r in runs["torch_infer"]])
    add("latency p50 us, batch 1 (peer/tmlp)", torch_infer,
        [r["latency"]["p50_us"] for r in runs["tmlp"]],
        [r["latency"]["p50_us"] for r in runs["torch_infer"]], invert=True)
    if use_sklearn:
        add("training samples/s", "scikit-learn", tm_train,
            [r["train_samples_per_s"][0] for r in runs["sklearn"]])

    print(f"\n{'median (min - max) over pairs':54} {'tmlp':>30} {'peer':>30}   ratio tmlp/peer")
    for r in rows:
        d = 1 if "latency" in r["what"] else 0
        print(f"{r['peer'] + ' ' + r['what']:54} {fmt_stats(r['tmlp'], d):>30} "
              f"{fmt_stats(r['peer_stats'], d):>30}   {fmt_stats(r['ratio'], 2)}")
    print("PyTorch (A+B): A ATen + B OpenBLAS threads, one inter-op thread")
    t0 = runs["tmlp"][0]
    gl = t0["gemm_limit_samples_per_s"]
    fma = ""
    if t0["fma_peak_gflops"]:  # what the machine's FMA units can do at this thread count
        reached = 100 * med([r["train_gflops"] for r in runs["tmlp"]]) / t0["fma_peak_gflops"]
        fma = (f"; FMA peak ({t0['fma_isa']}) {t0['fma_peak_gflops']:.1f} GFLOP/s "
               f"({reached:.0f}% reached)")
    print(f"tmlp: {t0['n_workers']} worker(s), {t0['n_shards']} shards; "
          f"GEMM limit at {args.threads} thread(s) {gl:,.0f} samples/s "
          f"({100 * med(tm_train) / gl:.0f}% reached){fma}; load {loadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": args.config, "config_spec": cfg, "rows": args.rows,
                       "epochs": args.epochs, "warmup": args.warmup, "threads": args.threads,
                       "pairs": args.pairs, "torch_train_threads": train_set,
                       "torch_infer_threads": infer_set,
                       "torch_threads_given": bool(args.torch_threads),
                       "torch_probe": {"epochs": args.probe_epochs, "rounds": args.probe_rounds,
                                       "warmup": args.warmup, "candidates": probes},
                       "sklearn_openblas_threads": sk_blas if use_sklearn else None,
                       "comparisons": rows, "runs": runs}, f, indent=2)


if __name__ == "__main__":
    main()
