"""The one place that stamps provenance on result Datasets (netCDF-safe attributes only)."""

from __future__ import annotations

import datetime as _dt

import numpy as np

from hjdsl.version import __version__


def provenance(model) -> dict:
    """Attributes every result carries: what produced it, from which spec, when."""
    ham = model.hamiltonian
    return {
        "model": model.name,
        "description": model.description,
        "t": float(model.t),
        "dim_d": int(model.dim),
        "hamiltonian": ham.text,
        "hamiltonian_kind": ham.kind,
        "spec_sha256": model.spec_sha256,
        "spec_path": model.path or "",
        "hjdsl_version": __version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def netcdf_safe(attrs: dict) -> dict:
    """Keep attributes netCDF can store: str, int, float, bool→int, lists of numbers."""
    out = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)):
            out[key] = int(value)
        elif isinstance(value, (str, int, float, np.integer, np.floating)):
            out[key] = value
        elif isinstance(value, (list, tuple, np.ndarray)) and all(
            isinstance(v, (int, float, np.integer, np.floating)) for v in np.ravel(value)
        ):
            out[key] = np.asarray(value)
        else:
            out[key] = str(value)
    return out


def stamp(ds, model, **extra):
    """Return `ds` with provenance attributes (and `extra`) added, netCDF-safe."""
    ds.attrs.update(netcdf_safe({**provenance(model), **extra}))
    return ds
