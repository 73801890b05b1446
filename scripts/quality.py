#!/usr/bin/python3
"""tmlp with its defaults against scikit-learn's MLP and HistGradientBoosting on the nine
bundled datasets: the test metric and the fit time of each, on fixed splits.

Each dataset's rows, in file order, are split by
sklearn.model_selection.train_test_split(test_size=0.2, random_state=0). Then
- tmlp: `tmlp train TRAIN.csv --target Y` with no other flag (extra flags: --tmlp-flags), and
  `tmlp evaluate` on the test rows;
- scikit-learn's MLPClassifier / MLPRegressor(hidden_layer_sizes=(128, 64), batch_size=256,
  max_iter=200, random_state=0) on standardized numeric (mean-imputed) and one-hot categorical
  inputs; a regression's target is standardized too (TransformedTargetRegressor), as tmlp does;
- HistGradientBoostingClassifier / Regressor(random_state=0) with native categorical support
  (categorical columns ordinal-encoded and marked categorical).
The metric is accuracy for classification and RMSE (the target's units) for regression. Fit
time is the wall time of training alone (tmlp: the `train` process, reading the CSV included).

    /usr/bin/python3 scripts/quality.py [--tmlp build/release/src/cli/tmlp]
        [--data tests/data] [--only letter,shuttle] [--tmlp-flags "--epochs 100"]
        [--peers-from FILE] [--json FILE]

--peers-from reuses the scikit-learn figures of an earlier --json file (they do not depend on
tmlp), to try tmlp settings quickly.

The goal (issue "Better by default"): tmlp beats the MLP on all nine and beats or ties
HistGradientBoosting (within 0.3% accuracy or 1% RMSE) on at least seven.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

DATASETS = [  # file, target, task
    ("iris", "target_species", "classification"),
    ("wine", "target_cultivar", "classification"),
    ("breast_cancer", "target_benign", "classification"),
    ("digits", "target_digit", "classification"),
    ("diabetes", "target_progression", "regression"),
    ("telco_churn", "target_churn", "classification"),
    ("letter", "target_letter", "classification"),
    ("shuttle", "target_class", "classification"),
    ("cpssw8", "target_earnings", "regression"),
]


def split(path, target):
    frame = pd.read_csv(path, keep_default_na=False, na_values=["", "NA", "NaN", "null", "?"])
    train, test = train_test_split(frame, test_size=0.2, random_state=0)
    return frame, train, test


def run_tmlp(tmlp, flags, train_csv, test_csv, target, work):
    model = os.path.join(work, "m.tmlp")
    t0 = time.perf_counter()
    subprocess.run([tmlp, "train", train_csv, "--target", target, "--quiet", "-o", model]
                   + flags, check=True)
    fit = time.perf_counter() - t0
    r = subprocess.run([tmlp, "evaluate", model, test_csv, "--json"], check=True,
                       capture_output=True, text=True)
    m = json.loads(r.stdout)
    return (m["accuracy"] if "accuracy" in m else m["rmse"]), fit


def columns(frame, target):
    x = frame.drop(columns=target)
    categorical = [c for c in x.columns if x[c].dtype == object]
    numeric = [c for c in x.columns if c not in categorical]
    return x, numeric, categorical


def metric(task, y, pred):
    if task == "classification":
        return float(np.mean(np.asarray(y) == np.asarray(pred)))
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(pred, float)) ** 2)))


def run_mlp(task, train, test, target):
    x, numeric, categorical = columns(train, target)
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])
    kw = dict(hidden_layer_sizes=(128, 64), batch_size=256, max_iter=200, random_state=0)
    if task == "classification":
        est = make_pipeline(prep, MLPClassifier(**kw))
    else:
        est = TransformedTargetRegressor(make_pipeline(prep, MLPRegressor(**kw)),
                                         transformer=StandardScaler())
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(x, train[target])
    fit = time.perf_counter() - t0
    return metric(task, test[target], est.predict(test.drop(columns=target))), fit


def run_hgb(task, train, test, target):
    x, numeric, categorical = columns(train, target)
    enc = ColumnTransformer([
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                               encoded_missing_value=np.nan), categorical),
        ("num", "passthrough", numeric)])
    mask = [True] * len(categorical) + [False] * len(numeric)
    cls = HistGradientBoostingClassifier if task == "classification" else \
        HistGradientBoostingRegressor
    est = make_pipeline(enc, cls(random_state=0, categorical_features=mask))
    t0 = time.perf_counter()
    est.fit(x, train[target])
    fit = time.perf_counter() - t0
    return metric(task, test[target], est.predict(test.drop(columns=target))), fit


def verdict(task, ours, peer, tie):
    """'beats', 'ties' or 'behind' for ours against peer (tie: the tolerance, relative)."""
    if task == "classification":
        return "beats" if ours > peer else "ties" if ours >= peer - tie else "behind"
    return "beats" if ours < peer else "ties" if ours <= peer * (1 + tie) else "behind"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tmlp", default="build/release/src/cli/tmlp")
    ap.add_argument("--data", default="tests/data")
    ap.add_argument("--only", default="")
    ap.add_argument("--tmlp-flags", default="")
    ap.add_argument("--json", default=None)
    ap.add_argument("--peers-from", default=None)
    a = ap.parse_args()
    peers = {}
    if a.peers_from:
        with open(a.peers_from) as f:
            peers = {r["dataset"]: r for r in json.load(f)}
    only = set(a.only.split(",")) - {""}
    flags = shlex.split(a.tmlp_flags)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name, target, task in DATASETS:
            if only and name not in only:
                continue
            _, train, test = split(os.path.join(a.data, f"{name}.csv"), target)
            train_csv, test_csv = os.path.join(work, "train.csv"), os.path.join(work, "test.csv")
            train.to_csv(train_csv, index=False)
            test.to_csv(test_csv, index=False)
            t = run_tmlp(a.tmlp, flags, train_csv, test_csv, target, work)
            if name in peers:
                m = (peers[name]["mlp"], peers[name]["mlp_fit_s"])
                h = (peers[name]["hgb"], peers[name]["hgb_fit_s"])
            else:
                m = run_mlp(task, train, test, target)
                h = run_hgb(task, train, test, target)
            row = {"dataset": name, "task": task, "metric": "accuracy" if task ==
                   "classification" else "rmse", "tmlp": t[0], "tmlp_fit_s": t[1],
                   "mlp": m[0], "mlp_fit_s": m[1], "hgb": h[0], "hgb_fit_s": h[1],
                   "vs_mlp": verdict(task, t[0], m[0], 0.0),
                   "vs_hgb": verdict(task, t[0], h[0], 0.003 if task == "classification"
                                     else 0.01)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| dataset | metric | tmlp (fit s) | sklearn MLP (fit s) | HistGradientBoosting "
          "(fit s) | tmlp vs MLP | tmlp vs HGB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['metric']} | {r['tmlp']:.4f} ({r['tmlp_fit_s']:.1f}) | "
              f"{r['mlp']:.4f} ({r['mlp_fit_s']:.1f}) | {r['hgb']:.4f} ({r['hgb_fit_s']:.1f}) | "
              f"{r['vs_mlp']} | {r['vs_hgb']} |")
    beats_mlp = sum(r["vs_mlp"] == "beats" for r in rows)
    hgb_ok = sum(r["vs_hgb"] != "behind" for r in rows)
    print(f"\ntmlp beats the MLP on {beats_mlp} of {len(rows)}, beats or ties "
          f"HistGradientBoosting on {hgb_ok} of {len(rows)}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
