"""Read observations for `solve --data PATH` with the same reader and rules as `check`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hjdsl.data_files import read_table
from hjdsl.errors import DataError, UsageError


def column_names(model) -> tuple[list[str], str]:
    """The x columns and the value column: the spec's mapping, else x (d = 1) / x1..xd and value."""
    columns = dict(model.data.columns) if model.data is not None else {}
    x_cols = columns.get("x")
    if x_cols is None:
        x_cols = ["x"] if model.dim == 1 else [f"x{i + 1}" for i in range(model.dim)]
    elif isinstance(x_cols, str):
        x_cols = [x_cols]
    return [str(c) for c in x_cols], str(columns.get("value", "value"))


def read_observations(model, path) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, d), value (n,)) from a CSV or NetCDF file; a DataError naming the file otherwise.

    The path is the caller's own choice (a command-line argument or an API call), so unlike a
    spec's `data` it may lie outside the spec's folder; it is relative to the current folder.

    >>> x, v = read_observations(model, "abs.csv")  # doctest: +SKIP
    """
    try:
        name = os.fsdecode(path)
    except TypeError:
        raise UsageError.single(f"data must be a file path or an (x, value) pair, not "
                                f"{type(path).__name__}", code="U108") from None
    x_cols, v_col = column_names(model)
    if len(x_cols) != model.dim:
        raise DataError.single(f"the spec maps {len(x_cols)} x column(s) for a dim {model.dim} "
                               "model", code="D006")
    return read_table(name, Path.cwd(), x_cols, v_col, confined=False)
