"""pandas DataFrames and NumPy arrays into tmlp.Table, typed as `tmlp train` types a CSV column.

Numeric dtypes become numeric columns (float32), bool becomes boolean, and everything else
(object, string, category) goes through the CSV reader's own rules on the text of each value:
missing tokens (empty, NA, NaN, null, ?) and None/NaN are missing, a column of numbers is
numeric, of yes/no/true/false words boolean, anything else categorical with its levels in order
of first appearance. A DataFrame read from a CSV file therefore gives the same table, and so the
same preprocessing and model, as `tmlp train` on that file.
"""
import math

import numpy as np

from . import _tmlp


def _text(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return value
    try:
        import pandas as pd
        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:
        pass
    return str(value)


def _number_kind(values):
    """"boolean", "numeric" or None (text) for a column's dtype; pandas' nullable dtypes
    (Int64, Float64, boolean) count as their NumPy kinds, category as text."""
    dtype = getattr(values, "dtype", None)
    if dtype is None or hasattr(dtype, "categories"):
        return None
    try:
        import pandas as pd
        if pd.api.types.is_bool_dtype(dtype):
            return "boolean"
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
            return "numeric"
        return None
    except ImportError:
        kind = np.dtype(dtype).kind
        return "boolean" if kind == "b" else "numeric" if kind in "iuf" else None


def _floats(values):
    """A column as float32, missing values (None, pd.NA) as NaN."""
    if hasattr(values, "to_numpy"):
        return values.to_numpy(dtype=np.float32, na_value=np.nan)
    return np.asarray(values, dtype=np.float32)


def _column(name, values, forced):
    """(name, kind, data, forced) for one column; values: a pandas Series or a 1-D array."""
    if forced != "categorical":
        kind = _number_kind(values)
        if kind is not None:
            return (name, kind, _floats(values), "")
    if hasattr(values, "cat"):  # a category column: the text of each row's category
        values = values.astype(object)
    return (name, "text", [_text(v) for v in np.asarray(values, dtype=object)], forced or "")


def table_from_frame(frame, numeric=(), categorical=(), source="<DataFrame>"):
    """A tmlp.Table from a pandas DataFrame (or a dict of columns)."""
    numeric, categorical = set(numeric or ()), set(categorical or ())
    names = [str(c) for c in frame.columns] if hasattr(frame, "columns") else list(frame)
    for forced in (numeric | categorical):
        if forced not in names:
            raise _tmlp.Error(f"{source}: no column '{forced}' (forced "
                              f"{'numeric' if forced in numeric else 'categorical'})")
    columns = []
    for key, name in zip(frame.columns if hasattr(frame, "columns") else frame, names):
        forced = "numeric" if name in numeric else "categorical" if name in categorical else ""
        columns.append(_column(name, frame[key], forced))
    n_rows = len(frame) if hasattr(frame, "columns") else len(columns[0][2]) if columns else 0
    return _tmlp.Table._from_columns(columns, n_rows, source)


def table_from_array(x, names, source="<array>"):
    """A tmlp.Table of numeric columns from a 2-D array (float32 conversion once)."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise _tmlp.Error(f"{source}: expected a 2-D array, got {x.ndim} dimensions")
    if x.dtype.kind not in "biuf":
        return _table_from_object_array(x, names, source)
    cols = [(n, "numeric", np.ascontiguousarray(x[:, j], dtype=np.float32), "")
            for j, n in enumerate(names)]
    return _tmlp.Table._from_columns(cols, x.shape[0], source)


def _table_from_object_array(x, names, source):
    cols = [_column(n, x[:, j], "") for j, n in enumerate(names)]
    return _tmlp.Table._from_columns(cols, x.shape[0], source)
