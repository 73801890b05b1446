"""A model trained from Python on a DataFrame read from a CSV file and one trained by `tmlp train`
on that file, with the same flags and seed, hold the same parameters and preprocessing, byte for
byte; the model files differ only in the metadata that records where the data came from."""
import json
import os
import struct
import subprocess

import pandas as pd
import pytest

import tmlp


def model_file_parts(path):
    """(header JSON, parameter bytes) of a model file (magic, u32 version, u32 reserved, u64 JSON
    length, u64 float count, JSON, floats, u64 checksum)."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:8] == b"TMLPMODL"
    n_json, n_floats = struct.unpack("<QQ", b[16:32])
    return json.loads(b[32:32 + n_json]), b[32 + n_json:32 + n_json + 4 * n_floats]


CASES = [
    # dataset, target, estimator, flags (CLI), the same as keyword arguments
    ("iris", "target_species", tmlp.MLPClassifier,
     ["--epochs", "4", "--seed", "5"], dict(epochs=4, seed=5)),
    ("telco_churn", "target_churn", tmlp.MLPClassifier,
     ["--epochs", "3", "--seed", "2", "--layers", "32,16", "--dropout", "0.1", "--batch-norm"],
     dict(epochs=3, seed=2, layers="32,16", dropout=0.1, batch_norm=True)),
    ("cpssw8", "target_earnings", tmlp.MLPRegressor,
     ["--epochs", "2", "--seed", "1", "--categorical", "age", "--one-hot-max", "8",
      "--embedding-dim", "3", "--optimizer", "adamw", "--schedule", "cosine:1"],
     dict(epochs=2, seed=1, categorical=["age"], one_hot_max=8, embedding_dim=3,
          optimizer="adamw", schedule="cosine:1")),
    ("iris", "target_species", tmlp.MLPClassifier,
     ["--epochs", "3", "--seed", "4", "--layers", "16", "--ensemble", "3"],
     dict(epochs=3, seed=4, layers="16", ensemble=3)),
]


@pytest.mark.parametrize("name,target,estimator,flags,kwargs", CASES,
                         ids=[c[0] for c in CASES])
def test_dataframe_model_is_the_cli_model(tmp_path, data_dir, tmlp_cli, name, target,
                                          estimator, flags, kwargs):
    csv = os.path.join(data_dir, f"{name}.csv")
    cli_model = tmp_path / "cli.tmlp"
    subprocess.run([tmlp_cli, "train", csv, "--target", target, "-o", str(cli_model), "-q",
                    "--threads", "2"] + flags, check=True)

    frame = pd.read_csv(csv)
    est = estimator(verbose=0, threads=1, **kwargs).fit(frame.drop(columns=target),
                                                          frame[target])
    py_model = tmp_path / "py.tmlp"
    est.save(str(py_model))

    cli_header, cli_params = model_file_parts(cli_model)
    py_header, py_params = model_file_parts(py_model)
    assert py_params == cli_params
    assert py_header["spec"] == cli_header["spec"]
    assert py_header["metadata"]["preprocessing"] == cli_header["metadata"]["preprocessing"]
    py_training = dict(py_header["metadata"]["training"])
    cli_training = dict(cli_header["metadata"]["training"])
    assert py_training.pop("data") == "<DataFrame>"
    assert cli_training.pop("data") == f"{name}.csv"
    assert py_training == cli_training
