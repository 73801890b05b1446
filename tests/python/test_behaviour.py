"""What users of a Python library expect: the GIL released while tmlp works, Ctrl-C that stops
training and keeps a usable model, the host's BLAS threads left as they were, one-line errors
as tmlp.Error (a ValueError), and the lower-level API."""
import ctypes
import ctypes.util
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pandas as pd
import pytest

import tmlp


def big_problem(rows=200_000, cols=28, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols), dtype=np.float32)
    y = (x @ rng.standard_normal(cols, dtype=np.float32) > 0).astype(np.float32)
    return x, y


def binary_model(cols=28, width=256):
    return tmlp.Model.create({"n_inputs": cols,
                              "layers": [{"units": width}, {"units": width},
                                         {"units": 1, "activation": "identity"}],
                              "loss": "bce", "seed": 1})


def ticks_during(work):
    """How often a second Python thread got to run (about once a millisecond) during work(),
    and how long work() took."""
    ticks, done = [0], threading.Event()

    def count():
        while not done.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    try:
        start, started = ticks[0], time.monotonic()
        work()
        return ticks[0] - start, time.monotonic() - started
    finally:
        done.set()
        t.join()


def test_fit_releases_the_gil():
    x, y = big_problem()
    m = binary_model()
    during, seconds = ticks_during(lambda: tmlp.Trainer(epochs=2, threads=2).fit(m, x, y))
    # The fit takes seconds; a thread blocked on the GIL would count a handful of ticks.
    assert seconds > 0.2 and during > 50, (during, seconds)


def test_predict_releases_the_gil():
    x, _ = big_problem(rows=400_000)
    m = binary_model()
    during, seconds = ticks_during(lambda: [m.predict(x, threads=2) for _ in range(3)])
    assert seconds > 0.2 and during > 0.1 * seconds * 1000 / 2, (during, seconds)


def test_keyboard_interrupt_stops_training_and_keeps_a_usable_model():
    x, y = big_problem()
    frame = pd.DataFrame(x[:, :8], columns=[f"c{j}" for j in range(8)])
    est = tmlp.MLPClassifier(verbose=0, epochs=1000, early_stop=0, layers="256,256")
    # A timer thread sends SIGINT in the middle of the second epoch (the first has a report).
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))

    def start_timer_once(report):
        if report["epoch"] == 1:
            timer.start()

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        est.fit(frame, y, on_epoch=start_timer_once)
    timer.cancel()
    assert time.monotonic() - started < 120
    assert est.status_ == "stopped_by_callback"
    assert 0 < len(est.history_) < 1000
    proba = est.predict_proba(frame[:5])
    assert proba.shape == (5, 2) and np.all(np.isfinite(proba))
    # Python's own handler is back: the next SIGINT raises KeyboardInterrupt in Python.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def openblas():
    """The OpenBLAS loaded in this process (NumPy's, which Debian links to the system one)."""
    for name in ("openblas", "openblasp", "blas"):
        path = ctypes.util.find_library(name)
        if path:
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_get_num_threads"):
                return lib
    pytest.skip("no OpenBLAS with openblas_get_num_threads in this process")


def test_blas_threads_are_restored_after_fit_and_predict():
    lib = openblas()
    if lib.openblas_get_parallel() == 0:
        pytest.skip("a sequential OpenBLAS build: nothing to pin")
    before = lib.openblas_get_num_threads()
    lib.openblas_set_num_threads(2)
    try:
        x, y = big_problem(rows=5000)
        m = binary_model()
        report = tmlp.Trainer(epochs=1).fit(m, x, y)
        assert lib.openblas_get_num_threads() == 2
        assert any("OpenBLAS" in n for n in report["notes"])
        m.predict(x)
        assert lib.openblas_get_num_threads() == 2
    finally:
        lib.openblas_set_num_threads(before)


def test_float32_arrays_train_in_place_and_converted_ones_the_same():
    x, y = big_problem(rows=3000)
    a, b = binary_model(), binary_model()
    in_place = tmlp.Trainer(epochs=1, seed=3).fit(a, x, y)
    assert not any(n.startswith("X:") for n in in_place["notes"])
    converted = tmlp.Trainer({"epochs": 1, "seed": 3}).fit(
        b, np.asfortranarray(x.astype(np.float64)), y)
    assert any(n.startswith("X: converted once from float64 (not C-contiguous)")
               for n in converted["notes"]), converted["notes"]
    assert np.array_equal(a.parameters, b.parameters)


def test_errors_are_one_line_value_errors(tmp_path, data_dir):
    m = binary_model(cols=4, width=8)
    with pytest.raises(tmlp.Error, match="X: 5 columns, expected 4") as e:
        m.predict(np.zeros((3, 5), dtype=np.float32))
    assert isinstance(e.value, ValueError) and "\n" not in str(e.value)
    with pytest.raises(tmlp.Error, match="fit: y row 1 column 0 is nan, expected a finite number"):
        tmlp.Trainer().fit(m, np.zeros((3, 4), np.float32), np.array([0, np.nan, 1]))
    clf = tmlp.MLPClassifier(verbose=0)
    with pytest.raises(tmlp.Error, match="missing values"):
        clf.fit(np.zeros((4, 2)), np.array([0.0, 1.0, np.nan, 1.0]))
    with pytest.raises(tmlp.Error, match="X and y: 4 rows against 3 targets"):
        clf.fit(np.zeros((4, 2)), np.array([0, 1, 1]))
    with pytest.raises(tmlp.Error, match="--ignore: no column 'nope'"):
        tmlp.MLPClassifier(verbose=0, ignore=["nope"]).fit(pd.DataFrame({"a": [1.0, 2.0]}),
                                                          [0, 1])
    with pytest.raises(tmlp.Error, match="layers: 'abc' is not a list of positive layer widths"):
        tmlp.MLPClassifier(verbose=0, layers="abc").fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(tmlp.Error, match="unknown option 'epoch'"):
        tmlp.Trainer(epoch=3)
    not_a_model = tmp_path / "x.tmlp"
    not_a_model.write_bytes(b"hello, this is not a model file at all")
    with pytest.raises(tmlp.Error) as e:
        tmlp.load(str(not_a_model))
    assert e.value.code == "corrupt_model" and str(not_a_model) in str(e.value)
    with pytest.raises(tmlp.Error) as e:
        tmlp.read_csv(os.path.join(data_dir, "no_such.csv"))
    assert e.value.code == "io"


def test_lower_level_api(tmp_path, data_dir):
    t = tmlp.read_csv(os.path.join(data_dir, "iris.csv"))
    assert t.n_rows == 150 and t.kinds["target_species"] == "numeric"
    x = np.stack([t.column(c) for c in t.columns[:-1]], axis=1)
    y = t.column("target_species").reshape(-1, 1)
    m = tmlp.Model.create({"n_inputs": 4, "layers": [{"units": 32, "activation": "tanh"},
                                                    {"units": 3, "activation": "identity"}],
                           "loss": "ce", "seed": 0})
    report = tmlp.Trainer(optimizer="adam", lr=0.01, epochs=60, batch_size=16).fit(m, x, y)
    assert report["status"] == "completed" and len(report["epochs"]) == 60
    accuracy = np.mean(np.argmax(m.predict(x), axis=1) == y.ravel())
    assert accuracy > 0.9, accuracy
    path = str(tmp_path / "iris.tmlp")
    tmlp.save(m, path, metadata={"note": "from the tests"})
    back = tmlp.load(path)
    assert back.metadata == {"note": "from the tests"}
    assert np.array_equal(back.predict(x), m.predict(x))
    assert tmlp.system()["simd"] in tmlp.system()["simd_available"]
    assert tmlp.system()["gemm"].split(" ")[0] in ("openblas", "libxsmm")
    with pytest.raises(tmlp.Error, match="unknown key 'unit'"):
        tmlp.Model.create({"n_inputs": 4, "layers": [{"unit": 3}], "loss": "ce"})


def test_fit_from_a_tmlpd_file(tmp_path, data_dir, tmlp_cli):
    data = str(tmp_path / "wine.tmlpd")
    subprocess.run([tmlp_cli, "convert", os.path.join(data_dir, "wine.csv"), data, "-q"],
                   check=True)
    clf = tmlp.MLPClassifier(verbose=0, epochs=40).fit(data, "target_cultivar")
    assert clf.n_features_in_ == 13
    assert clf.score(data, np.asarray(clf.predict(data))) == 1.0
    frame = pd.read_csv(os.path.join(data_dir, "wine.csv"))
    truth = frame["target_cultivar"].astype(str).to_numpy()
    assert np.mean(clf.predict(frame.drop(columns="target_cultivar")) == truth) > 0.9


def test_on_epoch_sees_each_report_and_can_stop_training(data_dir):
    frame = pd.read_csv(os.path.join(data_dir, "wine.csv"))
    seen = []

    def on_epoch(report):
        seen.append(report)
        return report["epoch"] < 3

    est = tmlp.MLPClassifier(verbose=0, epochs=50, early_stop=0)
    est.fit(frame.drop(columns="target_cultivar"), frame["target_cultivar"], on_epoch=on_epoch)
    assert [r["epoch"] for r in seen] == [1, 2, 3]
    assert est.status_ == "stopped_by_callback" and len(est.history_) == 3
    assert seen[0]["metric_name"] == "accuracy" and seen[0]["valid_loss"] is not None


def test_frames_with_pandas_dtypes_are_typed_as_the_csv_reader_types_them():
    frame = pd.DataFrame({
        "a": pd.array([1, None, 3], dtype="Int64"),
        "b": pd.array([True, None, False], dtype="boolean"),
        "c": pd.Categorical(["x", "y", None]),
        "d": ["1.5", "2", None],            # numbers as text: numeric, as in a CSV file
        "e": pd.array(["p", None, "q"], dtype="string"),
        "f": ["yes", "no", "NA"],           # boolean words; NA is a missing value
    })
    t = tmlp.Table.from_frame(frame)
    assert t.kinds == {"a": "numeric", "b": "boolean", "c": "categorical", "d": "numeric",
                       "e": "categorical", "f": "boolean"}
    assert np.array_equal(t.column("a"), [1, np.nan, 3], equal_nan=True)
    assert np.array_equal(t.column("f"), [1, 0, np.nan], equal_nan=True)
    codes, levels = t.column("c")
    assert list(codes) == [0, 1, -1] and levels == ["x", "y"]


def test_tmlpd_file_with_categorical_columns_trains_and_predicts(tmp_path, data_dir, tmlp_cli):
    data = str(tmp_path / "telco.tmlpd")
    subprocess.run([tmlp_cli, "convert", os.path.join(data_dir, "telco_churn.csv"), data, "-q"],
                   check=True)
    clf = tmlp.MLPClassifier(verbose=0, epochs=3).fit(data, "target_churn")
    assert tmlp.open_data(data).mapped and clf.predictor_.categorical_columns
    from_file = clf.predict_proba(data)
    frame = pd.read_csv(os.path.join(data_dir, "telco_churn.csv"))
    from_frame = clf.predict_proba(frame.drop(columns="target_churn"))
    assert np.array_equal(from_file, from_frame)


def test_verbose_shows_a_tqdm_bar_or_epoch_lines_and_zero_nothing(data_dir, capfd):
    frame = pd.read_csv(os.path.join(data_dir, "wine.csv"))
    X, y = frame.drop(columns="target_cultivar"), frame["target_cultivar"]
    tmlp.MLPClassifier(verbose=0, epochs=3).fit(X, y)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    tmlp.MLPClassifier(verbose=2, epochs=3, early_stop=0).fit(X, y)
    out, err = capfd.readouterr()
    assert err.count("epoch ") == 3 and "valid loss" in err
    pytest.importorskip("tqdm")
    tmlp.MLPClassifier(verbose=1, epochs=3, early_stop=0).fit(X, y)
    out, err = capfd.readouterr()
    assert "3/3" in err and "epoch" in err, err


def test_trainer_takes_training_options_only_with_the_library_defaults():
    with pytest.raises(tmlp.Error, match="Trainer: 'layers' is not a training option"):
        tmlp.Trainer(layers="8")
    x, y = big_problem(rows=2000)
    report = tmlp.Trainer(batch_size=500).fit(binary_model(cols=28, width=8), x, y)
    # train_config's defaults, not tmlp train's: 10 epochs, no validation, no early stopping.
    assert len(report["epochs"]) == 10 and report["epochs"][0]["valid_loss"] is None
