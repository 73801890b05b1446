#!/usr/bin/python3
"""tmlp export --features-only, checked by real peers: ONNX's checker (python3-onnx,
full_check) accepts every exported file, and ONNX Runtime (onnxruntime-node, in-process CPU)
predicts what tmlp predicts on the same features, within 1e-5 relative (1e-4 for GELU's erf
form; relative to the outputs' mean magnitude for values near zero), for every activation, with
layer norm, batch norm (folded), residual layers and embedding tables, on binary, multi-class
and regression models trained on bundled data; bad input gets one line.

    check_export.py TMLP_CLI DATA_DIR TMLP_PYTHONPATH NODE_PREFIX
NODE_PREFIX: where `npm ci` installed tests/onnx/package.json (node_modules inside).
"""
import json
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
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    failures += 0 if ok else 1


def one_line_error(name, expect, args, path_not_written=None):
    r = subprocess.run([tmlp_cli] + args, capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    ok = r.returncode != 0 and len(lines) == 1 and expect in r.stderr
    if path_not_written:
        ok = ok and not os.path.exists(path_not_written) and not any(
            f.startswith(os.path.basename(path_not_written))
            for f in os.listdir(os.path.dirname(path_not_written)))
    check(name, ok, r.stderr.strip())


with tempfile.TemporaryDirectory() as work:
    runs = []  # (name, model file, onnx file, tolerance)
    tasks = [("multiclass", "letter.csv", "target_letter"),
             ("binary", "breast_cancer.csv", "target_benign"),
             ("regression", "diabetes.csv", "target_progression")]
    for act in ACTIVATIONS:
        for extra in ([], ["--layer-norm"], ["--batch-norm"], ["--residual"]):
            for task, csv, target in tasks:
                if task != "multiclass" and extra:  # every layer kind once per activation
                    continue
                name = f"{task} {act} {' '.join(extra)}".strip()
                model = os.path.join(work, f"m{len(runs)}.tmlp")
                layers = "48,32" if extra != ["--residual"] else "40,40,24"
                subprocess.run([tmlp_cli, "train", os.path.join(data, csv), "--target", target,
                                "--layers", layers, "--activation", act, "--epochs", "2",
                                "--quiet", "-o", model] + extra, check=True)
                out = model.replace(".tmlp", ".onnx")
                subprocess.run([tmlp_cli, "export", model, out, "--features-only"], check=True)
                runs.append((name, model, out, 1e-4 if act == "gelu" else 1e-5))

    # Embedding tables (telco's categorical columns of more than 2 levels), with and without
    # batch norm: index values in range, out of range and negative all go through the lookup.
    for extra in ([], ["--batch-norm"]):
        model = os.path.join(work, f"m{len(runs)}.tmlp")
        subprocess.run([tmlp_cli, "train", os.path.join(data, "telco_churn.csv"), "--target",
                        "target_churn", "--layers", "32,16", "--embedding-dim", "3",
                        "--one-hot-max", "2", "--epochs", "2", "--quiet", "-o", model] + extra,
                       check=True)
        out = model.replace(".tmlp", ".onnx")
        subprocess.run([tmlp_cli, "export", model, out, "--features-only"], check=True)
        runs.append((f"binary embeddings {' '.join(extra)}".strip(), model, out, 1e-5))

    jobs, expected = [], []
    rng = np.random.default_rng(7)
    for i, (name, model, out, _) in enumerate(runs):
        m = tmlp.load(model)
        x = rng.standard_normal((257, m.n_inputs)).astype(np.float32)
        for e in m.spec.get("embeddings", []):  # category indices, some out of range
            x[:, e["column"]] = rng.integers(-2, e["cardinality"] + 2, size=x.shape[0])
        expected.append(m.predict(x))
        inp = os.path.join(work, f"in{i}.json")
        with open(inp, "w") as f:
            json.dump({"rows": x.shape[0], "cols": x.shape[1], "x": x.ravel().tolist()}, f)
        jobs.append({"model": out, "input": inp, "output": os.path.join(work, f"out{i}.json")})
        try:
            onnx.checker.check_model(onnx.load(out), full_check=True)
            check(f"{name}: onnx.checker (full_check)", True)
        except Exception as e:  # noqa: BLE001
            check(f"{name}: onnx.checker (full_check)", False, str(e))
    with open(os.path.join(work, "jobs.json"), "w") as f:
        json.dump(jobs, f)
    env = dict(os.environ, NODE_PATH=os.path.join(node_prefix, "node_modules"))
    subprocess.run(["node", os.path.join(HERE, "ort_run.js"), os.path.join(work, "jobs.json")],
                   check=True, env=env)
    for (name, _, _, tol), job, want in zip(runs, jobs, expected):
        with open(job["output"]) as f:
            got = np.array(json.load(f), np.float32).reshape(want.shape)
        # Relative to each value, or to the outputs' mean magnitude for values near zero (the two
        # sides sum their products in different orders, so a value that cancels to near zero
        # keeps only an absolute agreement).
        scale = np.maximum(np.abs(want), np.mean(np.abs(want)))
        rel = float(np.max(np.abs(got - want) / scale))
        same_class = want.shape[1] == 1 or np.array_equal(got.argmax(1), want.argmax(1))
        check(f"{name}: ONNX Runtime = tmlp within {tol:g} relative", rel <= tol and same_class,
              f"max {rel:.2e}")

    model = runs[0][1]
    bad = os.path.join(work, "bad.onnx")
    one_line_error("a file that is not a model", "not a usable tmlp model",
                   ["export", os.path.join(data, "iris.csv"), bad, "--features-only"], bad)
    one_line_error("an opset below 17", "--opset: 12", ["export", model, bad, "--features-only",
                                                       "--opset", "12"], bad)
    one_line_error("an unwritable path", "cannot",
                   ["export", model, os.path.join(work, "no", "such", "dir.onnx"),
                    "--features-only"])
    one_line_error("the raw-column export is not built yet, and says so", "--features-only",
                   ["export", model, bad], bad)

print(f"{failures} check(s) failed")
sys.exit(1 if failures else 0)
