"""Finished configurations on disk: one NetCDF per task, written atomically, reused on resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Per-seed arrays every task returns (the layer weights are stored only when present).
PER_SEED = ("train_rmse", "test_rmse", "final_loss", "min_loss")


def task_path(folder: Path, config) -> Path:
    return Path(folder) / f"{config.key}.nc"


def write_task(folder, study, config, arrays: dict) -> Path:
    """Store one configuration's arrays with the study's fingerprint, atomically (a reader
    never sees half a file; a run killed mid-write leaves only a temp file, removed later)."""
    import xarray as xr

    from hjdsl.output import write_dataset

    seed = np.asarray(config.seeds[:len(arrays["test_rmse"])])
    data = {k: (("seed",), np.asarray(arrays[k], dtype=float)) for k in PER_SEED if k in arrays}
    data["seconds"] = ((), float(arrays["seconds"]))
    if "W" in arrays:
        data["W"] = (("seed", "atom", "dim"), np.asarray(arrays["W"]))
        data["b"] = (("seed", "atom"), np.asarray(arrays["b"]))
    ds = xr.Dataset(data, coords={"seed": seed},
                    attrs={"fingerprint": study.fingerprint, "key": config.key})
    Path(folder).mkdir(parents=True, exist_ok=True)
    return write_dataset(ds, task_path(folder, config))


def read_task(folder, study, config) -> dict | None:
    """The stored arrays of `config`, or None when absent, unreadable or from another study
    (another fingerprint: the spec's settings changed, so the stored fit no longer applies)."""
    import xarray as xr

    path = task_path(folder, config)
    if not path.is_file():
        return None
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            if ds.attrs.get("fingerprint") != study.fingerprint:
                return None
            return {k: ds[k].values.copy() for k in ds.data_vars}
    except (OSError, ValueError, KeyError):
        return None  # a damaged file is recomputed, not trusted
