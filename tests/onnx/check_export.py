#!/usr/bin/python3
"""tmlp export, checked by real peers: ONNX's checker (python3-onnx, full_check) accepts every
exported file, and ONNX Runtime (onnxruntime-node, in-process CPU) predicts what tmlp predicts.

- Raw columns (the default export, preprocessing inside): models trained on bundled data with
  categorical, boolean and missing values, for every task, predict held-out rows (with more
  missing values, boolean words in any case and categories never seen in training): ONNX
  Runtime's probabilities or values equal tmlp.Predictor's (what `tmlp predict` computes) within
  1e-5 relative (1e-4 with GELU's erf form), and its labels are `tmlp predict`'s, text for text.
- --features-only: every activation, with layer norm, batch norm (folded), residual layers and
  embedding tables, feature scaling, periodic embeddings, on binary, multi-class and regression
  models, on the same features.
- Ensembles (--ensemble K): the members' networks side by side, their probabilities or values
  averaged in the graph, equal to tmlp's mean, in both exports; --raw of an ensemble is refused.
- Bad input gets one line, and a failed export leaves no file behind and an existing file as it
  was.

    check_export.py TMLP_CLI DATA_DIR TMLP_PYTHONPATH NODE_PREFIX
NODE_PREFIX: where `npm ci` installed tests/onnx/package.json (node_modules inside).
ONNX_CHECK_KEEP=DIR in the environment writes the models, data and ONNX Runtime's outputs to DIR
instead of a temporary folder, to look at after a failure.
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

tmlp_cli, data, pythonpath, node_prefix = sys.argv[1:5]
sys.path.insert(0, pythonpath)
import tmlp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ACTIVATIONS = ["relu", "leaky_relu", "prelu", "elu", "selu", "sigmoid", "tanh", "gelu",
               "gelu_tanh", "softplus"]
MISSING = ["", "NA", "NaN", "null", "?"]  # what a CSV reads as missing
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "t", "y"}, {"false", "no", "f", "n"}
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    failures += 0 if ok else 1


def run(args, **kw):
    return subprocess.run([tmlp_cli] + args, capture_output=True, text=True, **kw)


def must(args):
    r = run(args)
    if r.returncode != 0:
        sys.exit(f"tmlp {' '.join(args)} failed: {r.stderr.strip()}")
    return r


def one_line_error(name, expect, args, path_not_written=None):
    r = run(args)
    lines = r.stderr.strip().splitlines()
    ok = r.returncode != 0 and len(lines) == 1 and expect in r.stderr
    if path_not_written:  # neither the file nor a temporary one beside it
        ok = ok and not os.path.exists(path_not_written) and not any(
            f.startswith(os.path.basename(path_not_written))
            for f in os.listdir(os.path.dirname(path_not_written)))
    check(name, ok, r.stderr.strip())


def full_check(name, path):
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        check(f"{name}: onnx.checker (full_check)", True)
    except Exception as e:  # noqa: BLE001
        check(f"{name}: onnx.checker (full_check)", False, str(e))


def close(name, got, want, tol):
    """got within tol of want, relative to each value or, for values near zero, to the values'
    mean magnitude (the two sides sum their products in different orders, so a value that
    cancels to near zero keeps only an absolute agreement)."""
    got = np.asarray(got, np.float64).reshape(want.shape)
    scale = np.maximum(np.abs(want), np.mean(np.abs(want)))
    rel = float(np.max(np.abs(got - want) / scale))
    check(f"{name}: ONNX Runtime = tmlp within {tol:g} relative", rel <= tol, f"max {rel:.2e}")


def split_with_damage(src, train_path, held_path, seed, booleans=(), categorical=()):
    """Every fifth row of src held out. Columns in `booleans` (0/1) become yes/no words; the
    held-out rows also get missing values, words in other cases and categories training never
    saw (in text columns and those in `categorical`), in every feature column."""
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    rng = np.random.default_rng(seed)
    bool_cols = [header.index(b) for b in booleans]
    cat_cols = [header.index(c) for c in categorical]
    train, held = [header], [header]
    for i, row in enumerate(body):
        row = list(row)
        for c in bool_cols:
            row[c] = "Yes" if row[c] == "1" else "No"
        if i % 5:
            train.append(row)
            continue
        for c in range(len(row) - 1):  # the target is the last column
            u = rng.random()
            if u < 0.05:
                row[c] = MISSING[int(rng.integers(len(MISSING)))]
            elif c in bool_cols and u < 0.3:
                row[c] = {"Yes": ["yes", "YES", "y", "True", "t"],
                          "No": ["no", "NO", "n", "false", "F"]}[row[c]][int(rng.integers(5))]
            elif u < 0.08 and (c in cat_cols or not _numeric(row[c])):
                row[c] = f"never seen {int(rng.integers(3))}"
        held.append(row)
    for path, part in ((train_path, train), (held_path, held)):
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(part)


def _numeric(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def raw_feeds(onnx_path, csv_path):
    """The ONNX model's inputs from a CSV's text: strings as they are; floats parsed, a boolean
    word as 0/1, a missing text as NaN (null)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    feeds = {}
    for inp in onnx.load(onnx_path).graph.input:
        column = [r[header.index(inp.name)] for r in body]
        if inp.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            feeds[inp.name] = {"type": "string", "dims": [len(body), 1], "data": column}
            continue
        values = []
        for text in column:
            low = text.lower()
            if text in MISSING:
                values.append(None)
            elif low in TRUE_WORDS or low in FALSE_WORDS:
                values.append(1.0 if low in TRUE_WORDS else 0.0)
            else:
                values.append(float(np.float32(float(text))))
        feeds[inp.name] = {"type": "float32", "dims": [len(body), 1], "data": values}
    return feeds, len(body)


def run_ort(work, jobs, tag):
    """jobs: [(onnx path, feeds)] -> [{output name: np.array}] from one node process."""
    specs = []
    for i, (model, feeds) in enumerate(jobs):
        inp = os.path.join(work, f"{tag}_feeds{i}.json")
        with open(inp, "w") as f:
            json.dump(feeds, f)
        specs.append({"model": model, "input": inp, "output": os.path.join(work, f"{tag}_ort{i}.json")})
    with open(os.path.join(work, f"{tag}_jobs.json"), "w") as f:
        json.dump(specs, f)
    env = dict(os.environ, NODE_PATH=os.path.join(node_prefix, "node_modules"))
    subprocess.run(["node", os.path.join(HERE, "ort_run.js"), os.path.join(work, f"{tag}_jobs.json")],
                   check=True, env=env)
    results = []
    for s in specs:
        with open(s["output"]) as f:
            out = json.load(f)
        results.append({k: (np.array(v["data"], dtype=object).reshape(v["dims"])
                            if v["data"] and isinstance(v["data"][0], str)
                            else np.array([math.nan if x is None else x for x in v["data"]],
                                          np.float64).reshape(v["dims"]))
                        for k, v in out.items()})
    return results


with tempfile.TemporaryDirectory() as work:
    work = os.environ.get("ONNX_CHECK_KEEP", work)
    # ---- raw columns: the whole model, on held-out rows --------------------------------------
    telco = os.path.join(work, "telco")
    split_with_damage(os.path.join(data, "telco_churn.csv"), telco + "_train.csv",
                      telco + "_held.csv", 1, booleans=["partner", "dependents"])
    with open(os.path.join(data, "telco_churn.csv"), newline="") as f:
        header = next(csv.reader(f))
    # the contract as a multi-class target with text labels (moved to the last column)
    contract = os.path.join(work, "contract")
    for part in ("train", "held"):
        with open(f"{telco}_{part}.csv", newline="") as f:
            rows = list(csv.reader(f))
        c = rows[0].index("contract")
        with open(f"{contract}_{part}.csv", "w", newline="") as f:
            csv.writer(f).writerows([r[:c] + r[c + 1:] + [r[c]] for r in rows])
    tenure = os.path.join(work, "tenure")  # tenure as categorical, with tenures never seen
    split_with_damage(os.path.join(data, "telco_churn.csv"), tenure + "_train.csv",
                      tenure + "_held.csv", 5, categorical=["tenure"])
    cps = os.path.join(work, "cps")
    split_with_damage(os.path.join(data, "cpssw8.csv"), cps + "_train.csv", cps + "_held.csv", 2)
    gender = os.path.join(work, "gender")  # a binary target with text labels
    for part in ("train", "held"):
        with open(f"{cps}_{part}.csv", newline="") as f:
            rows = list(csv.reader(f))
        with open(f"{gender}_{part}.csv", "w", newline="") as f:
            csv.writer(f).writerows([r[1:] + [r[0]] for r in rows if r[0] in ("gender", "male",
                                                                              "female")])
    letter, diabetes = os.path.join(work, "letter"), os.path.join(work, "diabetes")
    split_with_damage(os.path.join(data, "letter.csv"), letter + "_train.csv",
                      letter + "_held.csv", 3)
    split_with_damage(os.path.join(data, "diabetes.csv"), diabetes + "_train.csv",
                      diabetes + "_held.csv", 4)

    raw = [  # name, data prefix, target, flags, tolerance
        ("telco binary: missing values, booleans, one-hot", telco, "target_churn", [], 1e-5),
        ("telco multi-class contract: text labels, indicators, median, min-max, layer norm, gelu",
         contract, "contract", ["--missing-indicators", "--impute", "median", "--scale",
                                "minmax", "--layer-norm", "--activation", "gelu"], 1e-4),
        ("telco embeddings: tenure's 73 levels, unseen and missing among them", tenure,
         "target_churn", ["--categorical", "tenure", "--embedding-dim", "4", "--one-hot-max",
                          "8", "--batch-norm"], 1e-5),
        ("telco hashed: tenure into 16 buckets", tenure, "target_churn",
         ["--categorical", "tenure", "--one-hot-max", "16", "--activation", "tanh"], 1e-5),
        ("cps regression: categoricals, no scaling, batch norm, residual, selu", cps,
         "target_earnings", ["--scale", "none", "--batch-norm", "--residual", "--layers",
                             "32,32", "--activation", "selu"], 1e-5),
        ("cps binary gender: text labels, education as categorical", gender, "gender",
         ["--categorical", "education", "--activation", "softplus"], 1e-5),
        ("letter multi-class: number labels, missing values", letter, "target_letter",
         ["--activation", "elu"], 1e-5),
        ("diabetes regression: missing values, indicators", diabetes, "target_progression",
         ["--missing-indicators", "--activation", "prelu"], 1e-5),
        ("diabetes regression: quantile scaling, missing values, indicators", diabetes,
         "target_progression", ["--scale", "quantile", "--missing-indicators"], 1e-5),
        ("cps regression: robust scaling with the smooth clip", cps, "target_earnings",
         ["--scale", "robust"], 1e-5),
        ("telco binary: automatic scaling", telco, "target_churn", ["--scale", "auto"], 1e-5),
        ("diabetes regression: piecewise-linear bins, missing values, indicators", diabetes,
         "target_progression", ["--ple-bins", "8", "--missing-indicators"], 1e-5),
        ("cps regression: piecewise-linear bins with categoricals", cps, "target_earnings",
         ["--ple-bins", "16"], 1e-5),
        ("telco periodic embeddings and feature scaling, with tenure's embedding", tenure,
         "target_churn", ["--categorical", "tenure", "--embedding-dim", "4", "--one-hot-max",
                          "8", "--numeric-embedding", "periodic", "--periodic-frequencies", "5",
                          "--periodic-dim", "3", "--periodic-sigma", "0.5", "--feature-scale"],
         1e-5),
        ("diabetes regression: periodic embeddings, indicators", diabetes, "target_progression",
         ["--missing-indicators", "--numeric-embedding", "periodic", "--periodic-sigma", "1"],
         1e-5),
        ("letter multi-class: feature scaling", letter, "target_letter", ["--feature-scale"],
         1e-5),
        ("telco binary ensemble of 3: the members' probabilities averaged", telco,
         "target_churn", ["--ensemble", "3"], 1e-5),
        ("letter multi-class ensemble of 2 with batch norm", letter, "target_letter",
         ["--ensemble", "2", "--batch-norm"], 1e-5),
        ("diabetes regression ensemble of 3: the members' values averaged", diabetes,
         "target_progression", ["--ensemble", "3"], 1e-5),
    ]
    jobs, wants = [], []
    for i, (name, prefix, target, flags, tol) in enumerate(raw):
        model, out = os.path.join(work, f"raw{i}.tmlp"), os.path.join(work, f"raw{i}.onnx")
        layers = [] if "--layers" in flags else ["--layers", "32,16"]
        must(["train", prefix + "_train.csv", "--target", target, "--epochs", "3",
              "--valid-fraction", "0.1", "--quiet", "-o", model] + layers + flags)
        hashed = "--one-hot-max" in flags and "--embedding-dim" not in flags
        if hashed:  # the model file keeps no texts of a hashed column: the export asks for them
            one_line_error(f"{name}: without --levels-from", "'tenure'", ["export", model, out],
                           out)
        r = must(["export", model, out] + (["--levels-from", prefix + "_train.csv"] if hashed
                                           else []))
        notice = r.stderr.strip().splitlines()
        check(f"{name}: export notice", (len(notice) == 1 and "'tenure' (" in notice[0]
                                         and "hashed" in notice[0]) if hashed else not notice,
              r.stderr.strip())
        full_check(name, out)
        held = prefix + "_held.csv"
        p = tmlp.Predictor.load(model)
        table = p.open(held)
        want = p.values(table) if p.task == "regression" else p.probabilities(table)
        labels = None
        if p.task != "regression":
            with open(os.path.join(work, "labels.csv"), "w") as f:
                f.write(must(["predict", model, held]).stdout)
            with open(os.path.join(work, "labels.csv"), newline="") as f:
                labels = [r[0] for r in list(csv.reader(f))[1:]]
        feeds, n = raw_feeds(out, held)
        keep = np.ones(n, bool)
        if hashed:  # rows with a tenure the training data lacks: tmlp hashes it, the file cannot
            with open(prefix + "_train.csv", newline="") as f:
                rows = list(csv.reader(f))
            c = rows[0].index("tenure")
            seen = {r[c] for r in rows[1:]} | set(MISSING)
            keep = np.array([t in seen for t in feeds["tenure"]["data"]])
            check(f"{name}: held-out rows with tenures training saw", 0.8 * n < keep.sum() < n,
                  f"{keep.sum()} of {n}")
        jobs.append((out, feeds))
        wants.append((name, tol, want, labels, keep))
    # The same model at every opset and with a fixed batch.
    for opset in (18, 19, 20, 21):
        out = os.path.join(work, f"opset{opset}.onnx")
        must(["export", os.path.join(work, "raw1.tmlp"), out, "--opset", str(opset)])
        jobs.append((out, raw_feeds(out, contract + "_held.csv")[0]))
        wants.append((f"{raw[1][0]}, opset {opset}",) + wants[1][1:])
    out = os.path.join(work, "batch7.onnx")
    must(["export", os.path.join(work, "raw0.tmlp"), out, "--batch", "7"])
    full_check("telco binary --batch 7", out)
    feeds = raw_feeds(out, telco + "_held.csv")[0]
    for f in feeds.values():
        f["data"], f["dims"] = f["data"][:7], [7, 1]
    jobs.append((out, feeds))
    name, tol, want, labels, keep = wants[0]
    wants.append(("telco binary --batch 7", tol, want[:7], labels[:7], keep[:7]))

    # The Python API: the same bytes as the program's; a scikit-learn estimator fitted on a
    # DataFrame exports what predict and predict_proba give (with a hashed column: the
    # training DataFrame as levels_from, and the notice as a UserWarning).
    import warnings

    import pandas as pd
    p = tmlp.Predictor.load(os.path.join(work, "raw0.tmlp"))
    with open(os.path.join(work, "raw0.onnx"), "rb") as f:
        check("Predictor.to_onnx = tmlp export, byte for byte", p.to_onnx() == f.read())
    p = tmlp.Predictor.load(os.path.join(work, "raw3.tmlp"))
    notice = p.export_onnx(os.path.join(work, "py3.onnx"),
                           levels_from=os.path.join(work, "tenure_train.csv"))
    with open(os.path.join(work, "raw3.onnx"), "rb") as f, \
            open(os.path.join(work, "py3.onnx"), "rb") as g:
        check("Predictor.export_onnx(levels_from=path) = tmlp export --levels-from",
              f.read() == g.read() and "'tenure'" in notice, notice)
    try:
        p.to_onnx()
        check("Predictor.to_onnx of a hashed column without levels_from raises", False)
    except tmlp.Error as e:
        check("Predictor.to_onnx of a hashed column without levels_from raises",
              "'tenure'" in str(e), str(e))
    read = dict(keep_default_na=False, na_values=MISSING, dtype={"tenure": str})
    frame = pd.read_csv(tenure + "_train.csv", **read)
    held_frame = pd.read_csv(tenure + "_held.csv", **read)
    X, y = frame.drop(columns="target_churn"), frame["target_churn"]
    Xh = held_frame.drop(columns="target_churn")
    est = tmlp.MLPClassifier(epochs=3, layers="32,16", one_hot_max=8, verbose=0,
                             categorical=["tenure"]).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.export_onnx(os.path.join(work, "est.onnx"), levels_from=X)
    check("MLPClassifier.export_onnx: the hashed columns' notice as a UserWarning",
          len(caught) == 1 and "hashed" in str(caught[0].message),
          "; ".join(str(w.message) for w in caught))
    est_feeds = {}
    for inp in onnx.load(os.path.join(work, "est.onnx")).graph.input:
        column = Xh[inp.name]
        if inp.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            texts = ["" if isinstance(v, float) and math.isnan(v) else str(v) for v in column]
            est_feeds[inp.name] = {"type": "string", "dims": [len(Xh), 1], "data": texts}
        else:
            values = [None if isinstance(v, float) and math.isnan(v)
                      else (1.0 if v.lower() in TRUE_WORDS else 0.0) if isinstance(v, str)
                      else float(v) for v in column]
            est_feeds[inp.name] = {"type": "float32", "dims": [len(Xh), 1], "data": values}
    jobs.append((os.path.join(work, "est.onnx"), est_feeds))
    tenures = set(X["tenure"]) | {math.nan}
    wants.append(("MLPClassifier on a DataFrame, hashed tenure", 1e-5,
                  est.predict_proba(Xh).astype(np.float64),
                  [str(v) for v in est.predict(Xh)],
                  np.array([v in tenures or isinstance(v, float) for v in Xh["tenure"]])))

    for (name, tol, want, labels, keep), got in zip(wants, run_ort(work, jobs, "raw")):
        if labels is None:
            close(name, got["prediction"][keep], want[keep].reshape(-1, 1), tol)
            continue
        close(name, got["probabilities"][keep], want[keep], tol)
        same = [a == b for a, b, k in zip(got["label"].tolist(), labels, keep) if k]
        check(f"{name}: labels = tmlp predict's", all(same),
              f"{len(same) - sum(same)} of {len(same)} differ")

    # ---- --features-only: the network on features ------------------------------------------
    runs = []  # (name, model file, onnx file, tolerance)
    tasks = [("multiclass", "letter.csv", "target_letter"),
             ("binary", "breast_cancer.csv", "target_benign"),
             ("regression", "diabetes.csv", "target_progression")]
    for act in ACTIVATIONS:
        for extra in ([], ["--layer-norm"], ["--batch-norm"], ["--residual"]):
            for task, csv_name, target in tasks:
                if task != "multiclass" and extra:  # every layer kind once per activation
                    continue
                name = f"features-only {task} {act} {' '.join(extra)}".strip()
                model = os.path.join(work, f"m{len(runs)}.tmlp")
                layers = "48,32" if extra != ["--residual"] else "40,40,24"
                must(["train", os.path.join(data, csv_name), "--target", target, "--layers",
                      layers, "--activation", act, "--epochs", "2", "--quiet", "-o", model]
                     + extra)
                out = model.replace(".tmlp", ".onnx")
                must(["export", model, out, "--features-only"])
                runs.append((name, model, out, 1e-4 if act == "gelu" else 1e-5))

    # Embedding tables (telco's categorical columns of more than 2 levels), with and without
    # batch norm: index values in range, out of range and negative all go through the lookup.
    for extra in ([], ["--batch-norm"]):
        model = os.path.join(work, f"m{len(runs)}.tmlp")
        must(["train", os.path.join(data, "telco_churn.csv"), "--target", "target_churn",
              "--layers", "32,16", "--embedding-dim", "3", "--one-hot-max", "2", "--epochs", "2",
              "--quiet", "-o", model] + extra)
        out = model.replace(".tmlp", ".onnx")
        must(["export", model, out, "--features-only"])
        runs.append((f"features-only binary embeddings {' '.join(extra)}".strip(), model, out,
                     1e-5))
    # Feature scaling and periodic embeddings, with the embedding tables and alone.
    for extra in (["--embedding-dim", "3", "--one-hot-max", "2"], []):
        model = os.path.join(work, f"m{len(runs)}.tmlp")
        must(["train", os.path.join(data, "telco_churn.csv"), "--target", "target_churn",
              "--layers", "32,16", "--epochs", "2", "--quiet", "--feature-scale",
              "--numeric-embedding", "periodic", "--periodic-frequencies", "6", "--periodic-dim",
              "4", "--periodic-sigma", "0.3", "-o", model] + extra)
        out = model.replace(".tmlp", ".onnx")
        must(["export", model, out, "--features-only"])
        runs.append((f"features-only binary periodic, scaled {' '.join(extra)}".strip(), model,
                     out, 1e-5))

    # Ensembles: the members' outputs averaged in the graph.
    for task, csv_name, target in tasks:
        model = os.path.join(work, f"m{len(runs)}.tmlp")
        must(["train", os.path.join(data, csv_name), "--target", target, "--layers", "32,16",
              "--epochs", "2", "--ensemble", "3", "--quiet", "-o", model])
        out = model.replace(".tmlp", ".onnx")
        must(["export", model, out, "--features-only"])
        runs.append((f"features-only {task} ensemble of 3", model, out, 1e-5))
    ensemble_model = runs[-1][1]

    jobs, expected = [], []
    rng = np.random.default_rng(7)
    for name, model, out, _ in runs:
        m = tmlp.load(model)
        x = rng.standard_normal((257, m.n_inputs)).astype(np.float32)
        for e in m.spec.get("embeddings", []):  # category indices, some out of range
            x[:, e["column"]] = rng.integers(-2, e["cardinality"] + 2, size=x.shape[0])
        expected.append(m.predict(x))
        jobs.append((out, {"features": {"type": "float32", "dims": list(x.shape),
                                        "data": x.ravel().tolist()}}))
        full_check(name, out)
    for (name, _, _, tol), want, got in zip(runs, expected, run_ort(work, jobs, "features")):
        close(name, got["outputs"], want, tol)
        if want.shape[1] > 1:
            check(f"{name}: same classes", np.array_equal(got["outputs"].argmax(1),
                                                         want.argmax(1)))

    # ---- bad input ----------------------------------------------------------------------------
    model = os.path.join(work, "raw0.tmlp")
    bad = os.path.join(work, "bad.onnx")
    one_line_error("a file that is not a model", "not a usable tmlp model",
                   ["export", os.path.join(data, "iris.csv"), bad], bad)
    damaged = os.path.join(work, "damaged.tmlp")
    with open(model, "rb") as f:
        blob = bytearray(f.read())
    blob[len(blob) // 2] ^= 0xFF
    with open(damaged, "wb") as f:
        f.write(blob)
    one_line_error("a damaged model", "damaged.tmlp", ["export", damaged, bad], bad)
    one_line_error("an opset below 17", "--opset: 12", ["export", model, bad, "--opset", "12"],
                   bad)
    one_line_error("an opset above 21", "--opset: 22", ["export", model, bad, "--opset", "22"],
                   bad)
    one_line_error("a batch that is neither a count nor a name", "--batch: 'a b'",
                   ["export", model, bad, "--batch", "a b"], bad)
    one_line_error("--raw without --features-only", "--raw", ["export", model, bad, "--raw"],
                   bad)
    one_line_error("--raw of an ensemble", "ensemble of 3 members",
                   ["export", ensemble_model, bad, "--features-only", "--raw"], bad)
    one_line_error("an unwritable path", "cannot",
                   ["export", model, os.path.join(work, "no", "such", "dir.onnx")])
    good = os.path.join(work, "good.onnx")
    with open(good, "w") as f:
        f.write("a good file")
    r = run(["export", model, good, "--opset", "12"])
    with open(good) as f:
        check("a failed export leaves the file at its path as it was",
              r.returncode != 0 and f.read() == "a good file")

print(f"{failures} check(s) failed")
sys.exit(1 if failures else 0)
