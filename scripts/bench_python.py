#!/usr/bin/python3
"""The cost of tmlp's Python layer: the same work through Python and through `tmlp bench`.

A benchmark, not a test: it prints figures and judges nothing. Benchmark configuration A
(28-256-256-1, ReLU, binary cross-entropy, Adam lr 1e-3, batch 256: read from
`tmlp bench --list --json`, never copied here) on synthetic data made as tmlp bench makes it
(standardized normal inputs, targets of a random linear teacher; NumPy's generator, so the
values differ from tmlp bench's, their distribution does not).

1. Training. `tmlp bench A` (C++) and a Python process that calls
   `tmlp.Trainer(...).fit(model, X, y)` on float32 C-contiguous arrays (used in place: the
   report's notes would say if anything was converted) train the same rows at the same thread
   count for --epochs epochs, the first a warm-up. Each side's figure is the median of its
   epoch reports' samples_per_second after the warm-up (tmlp bench reports the same quantity
   for its epochs). The two run alternately, C++ then Python, --pairs times; the table shows the
   median ratio Python / C++ over the pairs with its min and max. The Python side also times
   the whole fit() call, so the cost outside the epochs (argument checks, the report) shows.
2. Prediction. In the same processes: batch-4096 inference, --epochs - 1 rounds of at least
   --min-time seconds each (as tmlp bench measures it), `model.predict(X4096, threads=T)`
   against tmlp bench's inference samples/s, median ratio over the pairs; and single-row
   latency p50/p99 in microseconds, `model.predict(row, threads=1)` against tmlp bench's
   batch-1 latency (which runs on one thread), plus the call as most code writes it,
   `model.predict(row)` (threads=0: every core).
3. Estimators. tmlp.MLPClassifier against scikit-learn's MLPClassifier (and a PyTorch loop
   written as BENCHMARKS.md asks, if PyTorch is installed) on --sk-rows rows of the same data as
   a pandas DataFrame, with --sk-test more rows held out: hidden layers and batch of config A,
   Adam lr 1e-3, --sk-epochs epochs, no early stopping, no validation split, no L2 penalty on
   either side. The figure is the wall time of fit() (samples/s = rows x epochs / seconds) and
   the held-out accuracy. scikit-learn's only thread setting is its BLAS (NumPy's OpenBLAS),
   which reads OPENBLAS_NUM_THREADS when it loads, so each candidate from 1 to --threads runs
   in its own process with it set before import (OPENBLAS_CORETYPE and other OPENBLAS_ settings
   already in the environment are left as they are); the best candidate's median is compared.
   PyTorch gets 1 ATen thread and --threads OpenBLAS threads, the best 2-core setting of
   BENCHMARKS.md. Each round runs every side once, in turn; there are --sk-rounds rounds.

Every measurement runs in its own process. The machines here are shared: before each one the
script waits (at most --idle-wait seconds) until other processes use under 0.2 cores, and it
reports, per measurement, the cores other processes used while it ran (the machine's busy time
from /proc/stat less the child's CPU time, over the wall time). Rerun a run they disturbed.

    /usr/bin/python3 scripts/bench_python.py [--tmlp build/release/src/cli/tmlp]
        [--pythonpath build/release/python] [--threads N] [--pairs K] [--rows N]
        [--epochs E] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_timing import latency_us, stats, timed_rounds  # scripts/bench_timing.py

INFER_BATCH = 4096
CONFIG = "A"


def load_config(tmlp, name):
    """Configuration `name` as `tmlp bench --list --json` defines it."""
    p = subprocess.run([tmlp, "bench", "--list", "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_python: {tmlp} bench --list --json failed: {p.stderr.strip()}")
    for c in json.loads(p.stdout):
        if c["name"] == name:
            return c
    sys.exit(f"bench_python: {tmlp} bench --list has no configuration {name}")


def synthetic(cfg, rows, seed, extra_rows=0):
    """Standardized normal inputs and targets of a random linear teacher, as tmlp bench makes
    them (src/train/bench.cpp, make_bench_data): x, y (rows x outputs, float32; class indices
    for ce, 0/1 for bce) and x_infer (INFER_BATCH rows). extra_rows more rows of the same teacher
    come after the first `rows` (a held-out part)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    n_in, k = cfg["inputs"], cfg["outputs"]
    v = rng.standard_normal((k, n_in), dtype=np.float32) / np.float32(np.sqrt(n_in))
    x = rng.standard_normal((rows + extra_rows, n_in), dtype=np.float32)
    t = x @ v.T
    if cfg["loss"] == "ce":
        y = t.argmax(axis=1).astype(np.float32).reshape(-1, 1)
    elif cfg["loss"] == "bce":
        y = (t > 0).astype(np.float32)
    else:
        y = t
    x_infer = rng.standard_normal((INFER_BATCH, n_in), dtype=np.float32)
    return np.ascontiguousarray(x), np.ascontiguousarray(y), x_infer


# --- workers: one measurement each, JSON on stdout ------------------------------------------------
def model_spec(cfg, seed):
    layers = [{"units": w, "activation": cfg["activation"]} for w in cfg["hidden"]]
    layers.append({"units": cfg["outputs"], "activation": "identity"})
    return {"n_inputs": cfg["inputs"], "layers": layers, "loss": cfg["loss"], "seed": seed}


def py_worker(a, cfg):
    """Training, batch-4096 inference and single-row latency through tmlp's Python API."""
    import tmlp
    x, y, x_infer = synthetic(cfg, a.rows, a.seed)
    model = tmlp.Model.create(model_spec(cfg, a.seed))
    trainer = tmlp.Trainer(optimizer=cfg["optimizer"], lr=cfg["lr"],
                           batch_size=cfg["batch_size"], epochs=1 + a.epochs, threads=a.threads,
                           seed=a.seed)
    t0 = time.perf_counter()
    report = trainer.fit(model, x, y)
    wall = time.perf_counter() - t0
    epochs = report["epochs"]
    out = {"tmlp": tmlp.__version__, "status": report["status"], "notes": report["notes"],
           "n_workers": report["n_workers"], "n_shards": report["n_shards"],
           "epoch_samples_per_s": [e["samples_per_second"] for e in epochs[1:]],
           "fit_call_seconds": wall, "epoch_seconds": sum(e["seconds"] for e in epochs)}
    out["infer_samples_per_s"] = timed_rounds(
        lambda: model.predict(x_infer, threads=a.threads), a.epochs, a.min_time, INFER_BATCH)
    rows = [x_infer[i:i + 1] for i in range(INFER_BATCH)]  # views, C-contiguous float32
    out["latency"] = latency_us(lambda i: model.predict(rows[i], threads=1), INFER_BATCH,
                                a.latency_n, a.min_time)
    out["latency_default_threads"] = latency_us(lambda i: model.predict(rows[i]), INFER_BATCH,
                                                a.latency_n, a.min_time)
    return out


def estimator_data(cfg, a):
    """The --sk-rows training rows and --sk-test held-out rows as DataFrames / Series of 0/1."""
    import pandas as pd
    x, y, _ = synthetic(cfg, a.sk_rows, a.seed + 1, extra_rows=a.sk_test)
    cols = [f"x{j + 1}" for j in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=cols)
    target = pd.Series(y[:, 0].astype("int64"), name="y")
    n = a.sk_rows
    return frame.iloc[:n], target.iloc[:n], frame.iloc[n:], target.iloc[n:]


def tmlp_clf_worker(a, cfg):
    import tmlp
    x, y, x_test, y_test = estimator_data(cfg, a)
    clf = tmlp.MLPClassifier(layers=",".join(map(str, cfg["hidden"])),
                             activation=cfg["activation"], optimizer=cfg["optimizer"],
                             lr=cfg["lr"], batch_size=cfg["batch_size"], epochs=a.sk_epochs,
                             early_stop=0, valid_fraction=0.0, threads=a.threads, seed=a.seed,
                             verbose=0)
    t0 = time.perf_counter()
    clf.fit(x, y)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "accuracy": float(clf.score(x_test, y_test)),
            "epochs_run": a.sk_epochs}


def sklearn_worker(a, cfg):
    import warnings
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    warnings.simplefilter("ignore", ConvergenceWarning)
    x, y, x_test, y_test = estimator_data(cfg, a)
    if cfg["optimizer"] != "adam":
        sys.exit("bench_python: the scikit-learn side is written for Adam")
    est = MLPClassifier(hidden_layer_sizes=tuple(cfg["hidden"]), activation=cfg["activation"],
                        solver="adam", learning_rate_init=cfg["lr"],
                        batch_size=cfg["batch_size"], alpha=0.0, max_iter=a.sk_epochs, tol=0.0,
                        n_iter_no_change=10 ** 9, early_stopping=False, shuffle=True,
                        random_state=a.seed)
    t0 = time.perf_counter()
    est.fit(x, y)
    seconds = time.perf_counter() - t0
    return {"sklearn": sklearn.__version__, "seconds": seconds,
            "accuracy": float(est.score(x_test, y_test)), "epochs_run": est.n_iter_,
            "dtype": str(est.coefs_[0].dtype),
            "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}


def torch_worker(a, cfg):
    """A PyTorch loop as an expert writes it: tensors made once, a permutation per epoch,
    slices as views, zero_grad(set_to_none=True), no DataLoader."""
    import torch
    from torch import nn
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    xf, yf, xt, yt = estimator_data(cfg, a)
    t0 = time.perf_counter()  # the DataFrame to tensors is part of fit, as it is for the others
    x = torch.from_numpy(xf.to_numpy(dtype="float32"))
    y = torch.from_numpy(yf.to_numpy(dtype="float32")).reshape(-1, 1)
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[cfg["activation"]]
    widths = [cfg["inputs"]] + cfg["hidden"] + [cfg["outputs"]]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(act())
    model = nn.Sequential(*layers)
    loss_fn = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    batch, n = cfg["batch_size"], x.shape[0]
    for _ in range(a.sk_epochs):
        perm = torch.randperm(n)
        xp, yp = x[perm], y[perm]
        for i in range(0, n, batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xp[i:i + batch]), yp[i:i + batch])
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.inference_mode():
        z = model(torch.from_numpy(xt.to_numpy(dtype="float32")))
        acc = float(((z[:, 0] > 0).numpy() == (yt.to_numpy() == 1)).mean())
    return {"torch": torch.__version__, "seconds": seconds, "accuracy": acc,
            "epochs_run": a.sk_epochs, "aten_threads": 1,
            "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}


WORKERS = {"py": py_worker, "tmlp_clf": tmlp_clf_worker, "sklearn": sklearn_worker,
           "torch": torch_worker}


# --- the driver ---------------------------------------------------------------------------------
def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def busy_seconds():
    """CPU seconds the whole machine has been busy (every process, every core) since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_until_idle(a):
    """Waits (at most --idle-wait seconds) until the other processes use under 0.2 cores, so
    that a measurement does not start on a core another job holds. Returns the seconds waited
    and the cores the others used when it stopped waiting."""
    t0 = time.perf_counter()
    while True:
        b0, w0 = busy_seconds(), time.perf_counter()
        time.sleep(0.5)
        others = (busy_seconds() - b0) / (time.perf_counter() - w0)
        waited = time.perf_counter() - t0
        if others < 0.2 or waited >= a.idle_wait:
            return waited, others
        time.sleep(2.0)


def measured(a, fn):
    """fn() run in a child process, with the cores the other processes used meanwhile (the
    machine's busy time less the children's CPU time, over the wall time) in "others_cores"."""
    waited, _ = wait_until_idle(a)
    b0, c0, w0 = busy_seconds(), children_cpu_seconds(), time.perf_counter()
    out = fn()
    wall = time.perf_counter() - w0
    others = (busy_seconds() - b0) - (children_cpu_seconds() - c0)
    out["others_cores"] = max(0.0, others / wall)
    out["idle_wait_seconds"] = waited
    return out


def run_worker(kind, a, cfg, blas=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (a.pythonpath, env.get("PYTHONPATH")) if p)
    if blas is not None:
        env["OPENBLAS_NUM_THREADS"] = str(blas)
        env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind,
           "--config-json", json.dumps(cfg)] + a.passthrough
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_python: the {kind} worker failed:\n{p.stderr.strip()}")
    return json.loads(p.stdout)


def run_cpp(a):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.json")
        cmd = [a.tmlp, "bench", CONFIG, "--rows", str(a.rows), "--threads", str(a.threads),
               "--warmup", "1", "--repeats", str(a.epochs), "--mode", "both", "--min-time",
               str(a.min_time), "--latency-n", str(a.latency_n), "--seed", str(a.seed),
               "--json", path, "--quiet"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"bench_python: {' '.join(cmd)} failed: {p.stderr.strip()}")
        with open(path) as f:
            j = json.load(f)
    row = j["threads"][0]
    return {"epoch_samples_per_s": row["train"]["epoch_samples_per_s"],
            "n_workers": row["n_workers"], "n_shards": row["n_shards"], "status": row["status"],
            "infer_samples_per_s": row["inference"]["round_samples_per_s"],
            "latency": j["latency"], "machine": j["machine"], "notes": j["notes"]}


def fmt_int(v):
    return f"{v:,.0f}"


def spread(s, f=fmt_int):
    return f"{f(s['median'])} ({f(s['min'])} - {f(s['max'])})"


def ratio_text(s):
    return f"{s['median']:.3f} ({s['min']:.3f} - {s['max']:.3f})"


def blas_candidates(threads):
    c = [1]
    while c[-1] * 2 <= threads:
        c.append(c[-1] * 2)
    return sorted(set(c + [threads]))


def measure_api(a, cfg):
    """Parts 1 and 2: C++ and Python processes alternately, --pairs times."""
    cpp, py = [], []
    for i in range(a.pairs):
        cpp.append(measured(a, lambda: run_cpp(a)))
        py.append(measured(a, lambda: run_worker("py", a, cfg)))
        c, p = cpp[-1], py[-1]
        print(f"  pair {i + 1}/{a.pairs}: fit C++ {fmt_int(statistics.median(c['epoch_samples_per_s']))}"
              f", Python {fmt_int(statistics.median(p['epoch_samples_per_s']))} samples/s; "
              f"predict C++ {fmt_int(statistics.median(c['infer_samples_per_s']))}, Python "
              f"{fmt_int(statistics.median(p['infer_samples_per_s']))} rows/s; other processes "
              f"{c['others_cores']:.2f} / {p['others_cores']:.2f} cores", flush=True)
    med = lambda r, k: statistics.median(r[k])  # noqa: E731
    out = {"pairs": []}
    for c, p in zip(cpp, py):
        out["pairs"].append({
            "cpp_fit": med(c, "epoch_samples_per_s"), "py_fit": med(p, "epoch_samples_per_s"),
            "cpp_predict": med(c, "infer_samples_per_s"),
            "py_predict": med(p, "infer_samples_per_s"),
            "cpp_latency_p50_us": c["latency"]["p50_us"],
            "cpp_latency_p99_us": c["latency"]["p99_us"],
            "py_latency_p50_us": p["latency"]["p50_us"], "py_latency_p99_us": p["latency"]["p99_us"],
            "py_default_latency_p50_us": p["latency_default_threads"]["p50_us"],
            "py_default_latency_p99_us": p["latency_default_threads"]["p99_us"],
            "py_fit_call_seconds": p["fit_call_seconds"], "py_epoch_seconds": p["epoch_seconds"],
            "others_cores": [c["others_cores"], p["others_cores"]],
            "idle_wait_seconds": [c["idle_wait_seconds"], p["idle_wait_seconds"]],
            "cpp_epoch_samples_per_s": c["epoch_samples_per_s"],
            "py_epoch_samples_per_s": p["epoch_samples_per_s"]})
    col = lambda k: [q[k] for q in out["pairs"]]  # noqa: E731
    for k in ("cpp_fit", "py_fit", "cpp_predict", "py_predict", "cpp_latency_p50_us",
              "cpp_latency_p99_us", "py_latency_p50_us", "py_latency_p99_us",
              "py_default_latency_p50_us", "py_default_latency_p99_us"):
        out[k] = stats(col(k))
    out["fit_ratio"] = stats([q["py_fit"] / q["cpp_fit"] for q in out["pairs"]])
    out["predict_ratio"] = stats([q["py_predict"] / q["cpp_predict"] for q in out["pairs"]])
    out["latency_p50_ratio"] = stats([q["py_latency_p50_us"] / q["cpp_latency_p50_us"]
                                      for q in out["pairs"]])
    out["outside_epochs_seconds"] = stats([q["py_fit_call_seconds"] - q["py_epoch_seconds"]
                                           for q in out["pairs"]])
    out["others_cores_max"] = max(max(q["others_cores"]) for q in out["pairs"])
    out["py_notes"] = sorted({n for p in py for n in p["notes"]})
    out["workers"] = {"cpp": [cpp[0]["n_workers"], cpp[0]["n_shards"]],
                      "py": [py[0]["n_workers"], py[0]["n_shards"]]}
    out["status"] = sorted({c["status"] for c in cpp} | {p["status"] for p in py})
    out["machine"] = cpp[0]["machine"]
    out["cpp_notes"] = cpp[0]["notes"]
    return out


def measure_estimators(a, cfg):
    """Part 3: tmlp.MLPClassifier, scikit-learn at each BLAS thread count, PyTorch if present."""
    sides = [("tmlp", "tmlp_clf", None)]
    sides += [(f"sklearn, OpenBLAS {b}", "sklearn", b) for b in blas_candidates(a.threads)]
    have_torch = subprocess.run([sys.executable, "-c", "import torch"],
                                capture_output=True).returncode == 0
    if have_torch:
        sides.append((f"PyTorch, 1 ATen + {a.threads} OpenBLAS", "torch", a.threads))
    else:
        print("  PyTorch is not installed (import torch failed): no PyTorch column")
    runs = {name: [] for name, _, _ in sides}
    for r in range(a.sk_rounds):
        for name, kind, blas in sides:
            runs[name].append(measured(a, lambda: run_worker(kind, a, cfg, blas)))
        print(f"  round {r + 1}/{a.sk_rounds}: " + ", ".join(
            f"{n} {runs[n][-1]['seconds']:.2f} s" for n, _, _ in sides) +
            "; other processes " + " / ".join(f"{runs[n][-1]['others_cores']:.2f}"
                                              for n, _, _ in sides) + " cores", flush=True)
    samples = a.sk_rows * a.sk_epochs
    out = {"sides": {}, "have_torch": have_torch}
    for name, kind, blas in sides:
        rs = runs[name]
        out["sides"][name] = {
            "kind": kind, "openblas_threads": blas,
            "seconds": stats([x["seconds"] for x in rs]),
            "samples_per_s": stats([samples / x["seconds"] for x in rs]),
            "accuracy": stats([x["accuracy"] for x in rs]),
            "epochs_run": sorted({x["epochs_run"] for x in rs}),
            "extra": {k: v for k, v in rs[0].items()
                      if k not in ("seconds", "accuracy", "epochs_run", "others_cores",
                                   "idle_wait_seconds")},
            "runs": rs}
    sk = {n: s for n, s in out["sides"].items() if s["kind"] == "sklearn"}
    best = min(sk, key=lambda n: sk[n]["seconds"]["median"])
    out["sklearn_best"] = best
    t = out["sides"]["tmlp"]["seconds"]["median"]
    out["speedup_vs_sklearn_best"] = sk[best]["seconds"]["median"] / t
    out["others_cores_max"] = max(x["others_cores"] for rs in runs.values() for x in rs)
    return out


def print_report(a, cfg, api, est, load_before, load_after):
    m = api["machine"]
    print(f"\nbench_python  config {CONFIG}: {cfg['inputs']}-"
          f"{'-'.join(map(str, cfg['hidden']))}-{cfg['outputs']} {cfg['activation']}, "
          f"{cfg['loss']}, {cfg['optimizer']} lr {cfg['lr']:g}, batch {cfg['batch_size']}")
    print(f"machine       {m['n_cores']} cores, simd {m['simd']}, {m['blas']}")
    print(f"load average  {load_before:.2f} before, {load_after:.2f} after; other processes used "
          f"at most {api['others_cores_max']:.2f} cores during a measurement"
          + (f" (parts 1-2), {est['others_cores_max']:.2f} (part 3)" if est else ""))
    if max(api["others_cores_max"], est["others_cores_max"] if est else 0.0) > 0.25:
        print("              (above 0.25 cores: some measurements shared the machine; the "
              "per-pair lines above say which; rerun when it is quiet)")
    print(f"\n1-2. Python API against tmlp bench: {fmt_int(a.rows)} rows, {a.threads} thread(s), "
          f"1 warm-up + {a.epochs} epochs, {a.pairs} alternating pairs; median (min - max) "
          f"over the pairs")
    print(f"{'':<34} {'C++ (tmlp bench)':<34} {'Python':<34} {'Python / C++'}")
    rows = [("fit, samples/s", "cpp_fit", "py_fit", "fit_ratio", fmt_int),
            ("predict 4096 rows, rows/s", "cpp_predict", "py_predict", "predict_ratio", fmt_int),
            ("predict 1 row, threads=1, p50 us", "cpp_latency_p50_us", "py_latency_p50_us",
             "latency_p50_ratio", lambda v: f"{v:.1f}"),
            ("predict 1 row, threads=1, p99 us", "cpp_latency_p99_us", "py_latency_p99_us", None,
             lambda v: f"{v:.1f}")]
    for label, c, p, r, f in rows:
        print(f"{label:<34} {spread(api[c], f):<34} {spread(api[p], f):<34} "
              f"{ratio_text(api[r]) if r else ''}")
    f1 = lambda v: f"{v:.1f}"  # noqa: E731
    print(f"{'predict(row), default threads, us':<34} {'-':<34} "
          f"p50 {spread(api['py_default_latency_p50_us'], f1)}, "
          f"p99 {spread(api['py_default_latency_p99_us'], f1)}")
    o = api["outside_epochs_seconds"]
    print(f"Python fit() call outside its epochs: {o['median'] * 1e3:.1f} ms "
          f"({o['min'] * 1e3:.1f} - {o['max'] * 1e3:.1f})")
    print(f"workers/shards: C++ {api['workers']['cpp']}, Python {api['workers']['py']}; "
          f"status {', '.join(api['status'])}")
    converted = [n for n in api["py_notes"] if "converted" in n]
    print("Python inputs: " + ("; ".join(converted) if converted else
                               "used in place (no conversion note in the fit report)"))
    for n in api["py_notes"]:
        if n not in converted:
            print(f"Python fit note: {n}")
    for n in api["cpp_notes"]:
        print(f"tmlp bench note: {n}")
    for what, key, goal in (("fit", "fit_ratio", 0.97), ("predict", "predict_ratio", 0.95)):
        r = api[key]
        verdict = ("the pairs span the goal: rerun with more pairs on a quiet machine"
                   if r["min"] < goal <= r["max"] else
                   "every pair at or above it" if r["min"] >= goal else "every pair below it")
        print(f"goal, {what}: Python / C++ >= {goal:.2f}; median {r['median']:.3f} ({verdict})")
    if est is None:
        return

    print(f"\n3. Estimators: {fmt_int(a.sk_rows)} rows as a DataFrame ({fmt_int(a.sk_test)} "
          f"held out), hidden {','.join(map(str, cfg['hidden']))}, batch {cfg['batch_size']}, "
          f"{cfg['optimizer']} lr {cfg['lr']:g}, {a.sk_epochs} epochs, {a.threads} thread(s), "
          f"{a.sk_rounds} rounds; fit() wall time, median (min - max)")
    print(f"{'':<34} {'seconds':<26} {'samples/s':<34} {'held-out accuracy'}")
    for name, s in est["sides"].items():
        print(f"{name:<34} {spread(s['seconds'], lambda v: f'{v:.2f}'):<26} "
              f"{spread(s['samples_per_s']):<34} {s['accuracy']['median']:.4f}")
    if not est["have_torch"]:
        print(f"{'PyTorch':<34} not installed")
    sk = est["sides"][est["sklearn_best"]]
    print(f"scikit-learn's best: {est['sklearn_best']} (its weights {sk['extra'].get('dtype')}); "
          f"tmlp.MLPClassifier.fit is {est['speedup_vs_sklearn_best']:.2f}x as fast")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tmlp", default="build/release/src/cli/tmlp")
    ap.add_argument("--pythonpath", default="build/release/python",
                    help="where the tmlp package is (prepended to PYTHONPATH of the workers)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--pairs", type=int, default=7, help="C++ / Python pairs (parts 1 and 2)")
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--epochs", type=int, default=3,
                    help="measured epochs (after one warm-up) and inference rounds")
    ap.add_argument("--min-time", type=float, default=0.2,
                    help="seconds per inference round (tmlp bench's --min-time)")
    ap.add_argument("--latency-n", type=int, default=2000, help="most single-row calls timed")
    ap.add_argument("--sk-rows", type=int, default=50000)
    ap.add_argument("--sk-test", type=int, default=10000)
    ap.add_argument("--sk-epochs", type=int, default=5)
    ap.add_argument("--sk-rounds", type=int, default=3)
    ap.add_argument("--skip-estimators", action="store_true", help="parts 1 and 2 only")
    ap.add_argument("--idle-wait", type=float, default=120.0,
                    help="most seconds to wait before each measurement for the other processes "
                         "to use under 0.2 cores")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--config-json", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(WORKERS[a.worker](a, json.loads(a.config_json))))
        return
    if min(a.threads, a.pairs, a.rows, a.epochs, a.sk_rows, a.sk_test, a.sk_epochs,
           a.sk_rounds) < 1:
        sys.exit("bench_python: --threads, --pairs, --rows, --epochs and the --sk- counts must "
                 "be at least 1")
    a.tmlp = os.path.abspath(a.tmlp)
    a.pythonpath = os.path.abspath(a.pythonpath) if a.pythonpath else ""
    a.passthrough = ["--threads", str(a.threads), "--rows", str(a.rows), "--epochs",
                     str(a.epochs), "--min-time", str(a.min_time), "--latency-n",
                     str(a.latency_n), "--sk-rows", str(a.sk_rows), "--sk-test", str(a.sk_test),
                     "--sk-epochs", str(a.sk_epochs), "--seed", str(a.seed)]
    cfg = load_config(a.tmlp, CONFIG)
    load_before = loadavg()
    print(f"1-2. fit and predict, C++ and Python alternately ({a.threads} thread(s))", flush=True)
    api = measure_api(a, cfg)
    est = None
    if not a.skip_estimators:
        print(f"3. estimators ({a.threads} thread(s))", flush=True)
        est = measure_estimators(a, cfg)
    load_after = loadavg()
    print_report(a, cfg, api, est, load_before, load_after)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"config": cfg, "args": {k: v for k, v in vars(a).items()
                                               if k not in ("worker", "config_json",
                                                            "passthrough")},
                       "load_before": load_before, "load_after": load_after,
                       "api": api, "estimators": est}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
