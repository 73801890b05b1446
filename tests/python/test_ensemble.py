"""Ensembles from Python (ensemble= on the estimators): the members' mean is the prediction, in
probabilities and in the target's units; tmlp.Model and Predictor keep every member through
pickling and files; raw outputs and a Trainer on an ensemble are one-line errors."""
import pickle

import numpy as np
import pandas as pd
import pytest

import tmlp


def _digits(data_dir):
    frame = pd.read_csv(f"{data_dir}/digits.csv")
    y = frame.pop(frame.columns[-1])
    return frame.iloc[:1200], frame.iloc[1200:], y.iloc[:1200], y.iloc[1200:]


def _member_seeds(est):
    return [m["seed"] for m in est.model_.metadata["training"]["members"]]


# No validation rows, so that a model's seed changes nothing but its own parameters.
COMMON = dict(verbose=0, epochs=3, layers="32", valid_fraction=0.0, early_stop=0, threads=2)


def test_classifier_ensemble_is_the_mean_of_its_members(data_dir):
    X, X_test, y, _ = _digits(data_dir)
    est = tmlp.MLPClassifier(ensemble=3, seed=9, **COMMON).fit(X, y)
    assert est.model_.n_members == 3
    assert est.predictor_.model.n_members == 3
    seeds = _member_seeds(est)
    assert seeds[0] == 9 and len(set(seeds)) == 3
    alone = [tmlp.MLPClassifier(seed=s, **COMMON).fit(X, y) for s in seeds]
    mean = sum(a.predict_proba(X_test).astype(np.float64) for a in alone) / 3
    assert np.array_equal(est.predict_proba(X_test), mean.astype(np.float32))
    assert np.array_equal(est.predict(X_test), est.classes_[np.argmax(mean.astype(np.float32), 1)])
    assert alone[0].model_.to_bytes() == \
        tmlp.MLPClassifier(seed=9, ensemble=1, **COMMON).fit(X, y).model_.to_bytes()
    assert est.n_iter_ == 3 and len(est.history_) == 9
    assert sorted({e["member"] for e in est.history_}) == [0, 1, 2]


def test_regressor_ensemble_is_the_mean_in_target_units(data_dir):
    frame = pd.read_csv(f"{data_dir}/diabetes.csv")
    y = frame.pop(frame.columns[-1])
    est = tmlp.MLPRegressor(ensemble=2, seed=3, **COMMON).fit(frame, y)
    alone = [tmlp.MLPRegressor(seed=s, **COMMON).fit(frame, y) for s in _member_seeds(est)]
    mean = (alone[0].predict(frame) + alone[1].predict(frame)) / 2
    assert np.allclose(est.predict(frame), mean, rtol=1e-5, atol=1e-4)
    assert not np.allclose(alone[0].predict(frame), alone[1].predict(frame))


def test_ensemble_pickles_saves_and_refuses_what_it_cannot_do(tmp_path, data_dir):
    X, X_test, y, _ = _digits(data_dir)
    est = tmlp.MLPClassifier(ensemble=2, **COMMON).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.predict_proba(X_test), est.predict_proba(X_test))
    path = str(tmp_path / "e.tmlp")
    est.model_.save(path)
    loaded = tmlp.load(path)
    assert loaded.n_members == 2 and loaded.to_bytes() == est.model_.to_bytes()
    p = tmlp.Predictor.load(path)
    assert p.model.n_members == 2
    features = np.zeros((2, est.model_.n_inputs), dtype=np.float32)
    assert est.model_.predict(features).shape == (2, 10)
    with pytest.raises(tmlp.Error, match="raw outputs of an ensemble"):
        est.model_.predict(features, raw=True)
    with pytest.raises(tmlp.Error, match="a Trainer fits one model"):
        tmlp.Trainer(epochs=1).fit(est.model_, features, np.zeros(2, dtype=np.float32))
    with pytest.raises(tmlp.Error, match="--ensemble: 0"):
        tmlp.MLPClassifier(ensemble=0, **COMMON).fit(X, y)
