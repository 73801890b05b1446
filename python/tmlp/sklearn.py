"""scikit-learn estimators over tmlp: MLPClassifier and MLPRegressor.

    from tmlp import MLPClassifier
    clf = MLPClassifier(layers="256,128", epochs=30, threads=8).fit(X_train, y_train)
    clf.predict(X_test); clf.predict_proba(X_test); clf.score(X_test, y_test)

The keyword arguments are the flags of `tmlp train` with '_' for '-' and the same defaults
(tmlp.flags() lists them), so a model fitted here on a DataFrame read from a CSV file holds the
same parameters and preprocessing as `tmlp train` on that file with the same flags and seed.
X may be a pandas DataFrame (numeric, string/object, bool and category columns, preprocessed as
the program preprocesses a CSV file's), a 2-D array, or the path of a CSV or .tmlpd file (then y
names its target column; a .tmlpd file is memory-mapped, so it may be larger than RAM).
"""
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError

from . import _tmlp
from ._frames import table_from_frame
from ._progress import progress_callback

# `tmlp train` flags that are not estimator parameters: the data files and the program's output
# (fit takes the data, pickle and save() keep the model, verbose replaces quiet).
NOT_PARAMETERS = ("target", "valid", "out", "log", "checkpoint", "checkpoint_every", "resume",
                  "quiet", "distributed", "comm_timeout")


def _is_frame(x):
    return hasattr(x, "columns") and hasattr(x, "dtypes")


class _MLPBase(BaseEstimator):
    # The flag parameters, named and defaulted as `tmlp train`'s flags (a test checks that this
    # signature is exactly tmlp.flags() less NOT_PARAMETERS), then verbose.
    def __init__(self, *, valid_fraction=0.2, numeric=None, categorical=None, ignore=None,
                 layers="128,64", activation="relu", dropout=0.0, layer_norm=False,
                 residual=False, batch_norm=False, embedding_dim=0, one_hot_max=64,
                 scale="auto", impute="mean", missing_indicators=False, ple_bins=0,
                 numeric_embedding="periodic", periodic_frequencies=16, periodic_dim=16,
                 periodic_sigma=0.1, feature_scale=False, loss="auto",
                 label_smoothing=None, class_weight="none",
                 optimizer="adam", lr=0.0, batch_size=None, epochs=100, schedule="constant",
                 l1=0.0, l2=0.0, weight_decay=None, clip_norm=0.0, clip_value=0.0,
                 early_stop=10, threads=0, shard_rows=64, precision="fp32", max_shards=16, seed=0,
                 ensemble=1, verbose=1):
        self.valid_fraction = valid_fraction
        self.numeric = numeric
        self.categorical = categorical
        self.ignore = ignore
        self.layers = layers
        self.activation = activation
        self.dropout = dropout
        self.layer_norm = layer_norm
        self.residual = residual
        self.batch_norm = batch_norm
        self.embedding_dim = embedding_dim
        self.one_hot_max = one_hot_max
        self.scale = scale
        self.impute = impute
        self.missing_indicators = missing_indicators
        self.ple_bins = ple_bins
        self.numeric_embedding = numeric_embedding
        self.periodic_frequencies = periodic_frequencies
        self.periodic_dim = periodic_dim
        self.periodic_sigma = periodic_sigma
        self.feature_scale = feature_scale
        self.loss = loss
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.schedule = schedule
        self.l1 = l1
        self.l2 = l2
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.early_stop = early_stop
        self.threads = threads
        self.shard_rows = shard_rows
        self.precision = precision
        self.max_shards = max_shards
        self.seed = seed
        self.ensemble = ensemble
        self.verbose = verbose

    # --- data --------------------------------------------------------------------------------
    def _options(self):
        params = self.get_params(deep=False)
        params.pop("verbose")
        # A dict of class weights (scikit-learn's form) becomes sample weights in fit.
        if params.get("class_weight") is None or isinstance(params.get("class_weight"), dict):
            params["class_weight"] = "none"
        return params

    def _feature_columns(self, X, fitting):
        """X's columns by name (a dict of 1-D columns) and their names; fitting records
        feature_names_in_ (DataFrames with text column names only)."""
        if isinstance(X, str):
            raise _tmlp.Error("X: a file path is given to fit() with y naming its target column")
        if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
            raise _tmlp.Error("X: sparse input is not supported; pass a dense array "
                              "(X.toarray()) or a DataFrame")
        if _is_frame(X):
            names = [str(c) for c in X.columns]
            if len(set(names)) != len(names):
                raise _tmlp.Error("X: column names repeat")
            if fitting and all(isinstance(c, str) for c in X.columns):
                self.feature_names_in_ = np.asarray(names, dtype=object)
            elif fitting and hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return {n: X[c] for n, c in zip(names, X.columns)}, names
        x = X if isinstance(X, np.ndarray) else np.asarray(X)
        if x.ndim != 2:
            raise _tmlp.Error(f"X: expected a 2-D array (rows x features), got {x.ndim} "
                              "dimension(s). Reshape your data with X.reshape(-1, 1) for a "
                              "single feature or X.reshape(1, -1) for a single row.")
        if x.dtype.kind == "c":
            raise _tmlp.Error("X: Complex data not supported")
        if x.shape[1] == 0:
            raise _tmlp.Error(f"X: 0 feature(s) (shape={x.shape}) while a minimum of 1 is "
                              "required.")
        if x.shape[0] == 0:
            raise _tmlp.Error(f"X: 0 sample(s) (shape={x.shape}) while a minimum of 1 is "
                              "required.")
        if fitting and hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        names = [f"x{j + 1}" for j in range(x.shape[1])]
        return {n: x[:, j] for j, n in enumerate(names)}, names

    def _check_features(self, X):
        if not hasattr(self, "predictor_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; call "
                                 "fit with appropriate arguments before using this estimator.")
        if self._from_file:
            if isinstance(X, str):
                return self.predictor_.open(X, self.threads)
        columns, names = self._feature_columns(X, False)
        # Read as in training: a column trained as categorical stays categorical however its
        # values look now.
        categorical = [c for c in self.predictor_.categorical_columns if c in columns]
        table = table_from_frame(_Columns(columns), (), categorical)
        if len(names) != self.n_features_in_:
            raise _tmlp.Error(f"X has {len(names)} features, but {type(self).__name__} is "
                              f"expecting {self.n_features_in_} features as input")
        if hasattr(self, "feature_names_in_") and _is_frame(X) and \
                list(self.feature_names_in_) != names:
            raise _tmlp.Error("X: the feature names differ from those seen in fit: "
                              f"{names} against {list(self.feature_names_in_)}")
        return table

    @staticmethod
    def _open(path, categorical=()):
        return _tmlp.open_data(path, categorical=list(categorical))

    def _training_table(self, X, y):
        """The training table (the features, then the target column), the target's name and
        the feature names."""
        if isinstance(X, str):
            if not isinstance(y, str):
                raise _tmlp.Error("y: with X a file path, y names its target column")
            table = self._open(X)
            self._from_file = True
            self.n_features_in_ = len(table.columns) - 1
            return table, y, None
        self._from_file = False
        if y is None:
            raise _tmlp.Error(f"{type(self).__name__} requires y to be passed, but the target "
                              "y is None")
        table, target, names = self._with_target(X, y, None, fitting=True)
        self.n_features_in_ = len(names)
        return table, target, names

    def _with_target(self, X, y, target, fitting, categorical=None):
        """X's columns and y as column `target` (None: y's name, or "target", made unique);
        categorical: the columns read as categorical (default: the parameter's)."""
        columns, names = self._feature_columns(X, fitting)
        y = self._target_values(y)
        n_rows = len(next(iter(columns.values())))
        if len(y) != n_rows:
            raise _tmlp.Error(f"X and y: {n_rows} rows against {len(y)} targets")
        if target is None:
            target = str(y.name) if getattr(y, "name", None) is not None else "target"
            while target in columns:
                target += "_"
        y_arr = np.asarray(y)
        columns[target] = y_arr
        numeric, forced = (self.numeric, self.categorical) if categorical is None else ((),
                                                                                    categorical)
        forced = list(forced or ())
        if self._target_kind(y_arr) == "categorical" and target not in forced:
            forced.append(target)  # labels, whatever they look like
        return table_from_frame(_Columns(columns), numeric, forced), target, names

    # --- fit ---------------------------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None, eval_set=None, on_epoch=None):
        """Trains on X and y as `tmlp train` does (the validation split, early stopping and
        preprocessing included). eval_set: (X_valid, y_valid) instead of valid_fraction.
        on_epoch(report): called after each epoch with its report (a dict); returning False
        stops training. Ctrl-C stops at the next batch: the estimator keeps the model trained
        so far and KeyboardInterrupt is raised."""
        table, target, names = self._training_table(X, y)
        valid = None
        if eval_set is not None:
            if isinstance(eval_set, list) and len(eval_set) == 1:
                eval_set = eval_set[0]
            # Read as the training data was: a column categorical there stays categorical
            # however its values look here (as `tmlp train --valid` reads its file).
            categorical = [c for c, k in table.kinds.items() if k == "categorical"]
            if self._from_file:
                valid = self._open(eval_set, categorical)
            else:
                xv, yv = eval_set
                valid, _, vnames = self._with_target(xv, yv, target, False, categorical)
                if vnames != names:
                    raise _tmlp.Error("eval_set: its columns differ from X's")
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=np.float32).reshape(-1)
            if weights.shape[0] != table.n_rows:
                raise _tmlp.Error(f"sample_weight: {weights.shape[0]} values for "
                                  f"{table.n_rows} rows")
        options = self._options()
        options["target"] = target
        options.update(self._forced_options())
        if valid is not None:
            options["valid"] = "<eval_set>"
        members = self.ensemble if isinstance(self.ensemble, int) else 1
        with progress_callback(self.verbose, self.epochs, on_epoch, members) as callback:
            out = _tmlp._fit_table(options, table, valid, weights, callback)
        self._set_fitted(out, table)
        if out["interrupted"]:
            raise KeyboardInterrupt
        return self

    def _set_fitted(self, out, table):
        self.model_ = out["model"]
        self.predictor_ = _tmlp.Predictor(self.model_)
        result = out["result"]
        self.history_ = result["epochs"]
        self.status_ = result["status"]
        self.best_epoch_ = result["best_epoch"]
        self.notes_ = result["notes"]
        # Epochs run by member 0 (an ensemble's history holds every member's, each with its
        # "member").
        self.n_iter_ = sum(1 for e in self.history_ if e.get("member", 0) == 0)
        self._fitted_hook(out, table)

    def save(self, path):
        """Writes the model file (`tmlp predict` and `tmlp info` read it)."""
        self._check_features_fitted()
        self.model_.save(path)

    def export_onnx(self, path, opset=17, batch="N", levels_from=None):
        """Writes the model as ONNX, preprocessing included: one input per feature column
        (named as the column; float32 [batch, 1] for numeric and boolean columns, NaN for a
        missing value; string [batch, 1] for categorical ones), outputs "label" and
        "probabilities" (a classifier) or "prediction" (a regressor), as predict and
        predict_proba give them. levels_from: the training X (a DataFrame, a dict of columns or
        a path), needed when a categorical column was hashed into buckets. What the file cannot
        express exactly is raised as a UserWarning."""
        self._check_features_fitted()
        if levels_from is not None and not isinstance(levels_from, str):
            levels_from = self._check_features(levels_from)
        notice = self.predictor_.export_onnx(path, opset, batch, levels_from)
        if notice:
            warnings.warn(notice, UserWarning, stacklevel=2)

    def _check_features_fitted(self):
        if not hasattr(self, "predictor_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet")

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("predictor_", None)  # rebuilt from the model file's bytes in model_
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "model_" in state:
            self.predictor_ = _tmlp.Predictor(self.model_)

    def _more_tags(self):
        return {
            "allow_nan": True,  # a missing value, imputed as `tmlp train` imputes it
            "X_types": ["2darray", "string"],
            # scikit-learn's estimator checks that tmlp does not pass, and why
            # (tests/python/test_sklearn.py lists them too):
            "_xfail_checks": {
                "check_class_weight_classifiers":
                    "early stopping monitors the validation loss without the class weights, so "
                    "with the check's extreme weights (1000 : 0.0001) it keeps an early epoch; "
                    "with early_stop=0 the check passes (tests/python/test_sklearn.py)",
                "check_sample_weights_invariance":
                    "a row of weight 0 still takes its place in the shuffle, the batches and "
                    "the validation split, so it is not the same as leaving the row out",
                "check_methods_sample_order_invariance":
                    "float32 GEMMs: a row's outputs can differ in the last bits with the other "
                    "rows of its chunk (OpenBLAS's edge kernels), beyond the check's 1e-7",
                "check_methods_subset_invariance":
                    "float32 GEMMs: a row's outputs can differ in the last bits with the other "
                    "rows of its chunk (OpenBLAS's edge kernels), beyond the check's 1e-7",
            },
        }


def _column_vector(y):
    """y as a 1-D array; a column vector is accepted with scikit-learn's DataConversionWarning."""
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change "
                      "the shape of y to (n_samples, ), for example using ravel().",
                      DataConversionWarning, stacklevel=3)
        y_arr = y_arr.ravel()
    return y_arr


class _Columns(dict):
    """Named 1-D columns of equal length that table_from_frame reads like a DataFrame."""
    @property
    def columns(self):
        return list(self.keys())

    def __len__(self):
        return len(next(iter(self.values()))) if dict.__len__(self) else 0


class MLPClassifier(ClassifierMixin, _MLPBase):
    """A tmlp MLP for classification (binary: sigmoid + cross-entropy; multiclass: softmax)."""

    def _target_values(self, y):
        from sklearn.utils.multiclass import check_classification_targets
        y_arr = _column_vector(y)
        if y_arr.ndim != 1:
            raise _tmlp.Error(f"y: expected one target per row, got shape {y_arr.shape}")
        if y_arr.dtype.kind == "f" and np.isnan(y_arr).any():
            raise _tmlp.Error("y: the target has missing values (NaN)")
        if y_arr.dtype.kind == "O" and any(v is None for v in y_arr):
            raise _tmlp.Error("y: the target has missing values (None)")
        check_classification_targets(y_arr)
        return y if hasattr(y, "name") and np.asarray(y).ndim == 1 else y_arr

    # The most distinct whole numbers the library reads as classes rather than a regression
    # target (max_inferred_classes in src/data/preprocess.cpp).
    MAX_NUMERIC_CLASSES = 32

    def _target_kind(self, y):
        """"categorical" when the column would read as a regression target (numbers, in an
        array or as text, with more distinct values than the library reads as classes): it is
        then read as categorical, as `tmlp train --categorical TARGET` does. Otherwise "as is":
        the CSV reader's rules, so a target column gives what `tmlp train` gives on its file."""
        y_arr = np.asarray(y)
        if len(np.unique(y_arr.astype(str) if y_arr.dtype.kind == "O" else y_arr)) \
                <= self.MAX_NUMERIC_CLASSES:
            return "as is"
        if y_arr.dtype.kind in "iubf":
            return "categorical"
        probe = table_from_frame(_Columns({"y": y_arr}))
        return "categorical" if probe.kinds["y"] == "numeric" else "as is"

    def _forced_options(self):
        return {}

    def _fitted_hook(self, out, table):
        labels = self.predictor_.class_labels
        if self._from_file:
            self.classes_ = np.asarray(labels, dtype=object)
            self._order = np.arange(len(labels))
            return
        # Each class index's original value (from the first training row with that index),
        # then scikit-learn's order: classes_ sorted, predict_proba's columns alike.
        first = {}
        for v, c in zip(self._y_fit, out["y_codes"].astype(np.int64)):
            first.setdefault(int(c), v)
        by_index = np.asarray([first[i] for i in range(len(labels))])
        self._order = np.argsort(by_index, kind="stable")
        self.classes_ = by_index[self._order]

    def fit(self, X, y=None, sample_weight=None, eval_set=None, on_epoch=None):
        """As the base class's fit; class_weight may also be a dict {class: weight} (classes
        not in it weigh 1), which multiplies sample_weight, as in scikit-learn."""
        self._y_fit = None if isinstance(X, str) or y is None else np.asarray(y).ravel()
        if isinstance(self.class_weight, dict):
            if self._y_fit is None:
                raise _tmlp.Error("class_weight: a dict needs y as values (with X a file, use "
                                  "'balanced' or sample weights)")
            w = np.asarray([self.class_weight.get(v, 1.0) for v in self._y_fit], np.float32)
            sample_weight = w if sample_weight is None else \
                w * np.asarray(sample_weight, np.float32).reshape(-1)
        try:
            return super().fit(X, y, sample_weight=sample_weight, eval_set=eval_set,
                               on_epoch=on_epoch)
        finally:
            self._y_fit = None

    def predict_proba(self, X):
        """Class probabilities, rows x classes, columns in the order of classes_."""
        table = self._check_features(X)
        p = self.predictor_.probabilities(table, self.threads)
        return p[:, self._order]

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _MLPBase):
    """A tmlp MLP for regression (the target standardized while training, MSE by default)."""

    def _target_values(self, y):
        y_arr = _column_vector(y)
        if y_arr.ndim != 1:
            raise _tmlp.Error(f"y: expected one target per row, got shape {y_arr.shape}")
        if y_arr.dtype.kind not in "iufb":
            try:
                y_arr = y_arr.astype(np.float64)
            except (TypeError, ValueError):
                raise _tmlp.Error("y: a regression target must be numbers") from None
        if not np.all(np.isfinite(y_arr.astype(np.float64))):
            raise _tmlp.Error("y: the target has missing or infinite values")
        return y if hasattr(y, "name") and np.asarray(y).ndim == 1 else y_arr

    def _target_kind(self, y):
        return "numeric"

    def _forced_options(self):
        # A numeric target whose values look like classes is still a regression here.
        return {"loss": "mse"} if self.loss == "auto" else {}

    def _fitted_hook(self, out, table):
        pass

    def predict(self, X):
        table = self._check_features(X)
        return self.predictor_.values(table, self.threads)
