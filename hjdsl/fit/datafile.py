"""Read observations for `solve --data PATH` (CSV with a header row, or NetCDF) by column name."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hjdsl.errors import DataError


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
    """(x (n, d), value (n,)) from a CSV or NetCDF file; a DataError for missing columns.

    >>> x, v = read_observations(model, "abs.csv")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise DataError.single(f"data file {path} does not exist", code="D003")
    x_cols, v_col = column_names(model)
    table = _read_netcdf(path) if path.suffix in (".nc", ".nc4", ".cdf") else _read_csv(path)
    missing = [c for c in x_cols + [v_col] if c not in table]
    if missing:
        raise DataError.single(
            f"{path}: missing column(s) {', '.join(missing)}",
            hint=f"the file has {', '.join(table) or 'no columns'}; the spec expects x = "
                 f"{', '.join(x_cols)} and value = {v_col}", code="D004")
    if len(x_cols) != model.dim:
        raise DataError.single(f"{path}: {len(x_cols)} x column(s) for a dim {model.dim} model",
                               code="D002")
    return np.column_stack([table[c] for c in x_cols]), np.asarray(table[v_col])


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise DataError.single(f"{path}: empty file (expected a header row)", code="D005")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    values = np.full((len(body), len(header)), np.nan)
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise DataError.single(f"{path}:{i + 2}: {len(row)} fields, the header has {len(header)}",
                                   code="D005")
        for j, cell in enumerate(row):
            cell = cell.strip()
            if cell == "":
                continue  # an empty cell is a missing value (NaN), reported by validation
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise DataError.single(f"{path}:{i + 2}: column {header[j]}: {cell!r} is not a number",
                                       code="D005") from None
    return {h: values[:, j] for j, h in enumerate(header)}


def _read_netcdf(path: Path) -> dict[str, np.ndarray]:
    import xarray as xr

    try:
        with xr.open_dataset(path) as ds:
            return {str(k): np.asarray(ds[k].values, dtype=float).ravel()
                    for k in list(ds.data_vars) + list(ds.coords)}
    except (OSError, ValueError) as exc:
        raise DataError.single(f"{path}: cannot read NetCDF: {exc}", code="D005") from None
