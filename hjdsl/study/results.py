"""The study result Dataset: dims (swept value, seed), losses, exponents, provenance."""

from __future__ import annotations

import datetime as _dt

import numpy as np

from hjdsl.study.exponents import RULE, exponent_table
from hjdsl.study.spec import SYMBOLS

# Resolved quantities that become variables along the swept dim (when not the swept one).
RESOLVED = {"width": "atoms", "n": "n_train", "eps": "eps", "dim": "d"}
DESCRIPTIONS = {
    "train_rmse": "root mean squared error on the (noisy) training values",
    "test_rmse": "root mean squared error against the noise-free target on held-out points "
                 "(quadrature: sup error against the continuum value)",
    "best_test_rmse": "smallest test_rmse over the seeds",
    "final_loss": "final training loss (MSE) of the optimiser",
    "min_loss": "smallest training loss (MSE) along the Adam run (a late spike of Adam can "
                "leave final_loss above it)",
    "atoms": "width N (number of atoms)", "n_train": "number of training points",
    "d": "dimension d",
    "seconds": "wall time of the configuration's task (summed over its tasks when its seeds were "
               "split)", "seed": "seed of the data draw and the initialisation",
    "width": "width N (number of atoms)", "n": "number of training points",
}


def build_result(study, configs, results: dict, *, resumed: int = 0):
    """One Dataset over the swept values (dim named as the swept quantity) and the seeds."""
    import xarray as xr

    from hjdsl.results import netcdf_safe
    from hjdsl.units import describe
    from hjdsl.version import __version__

    axis = study.axis
    values = np.array([getattr(c, axis) for c in configs], dtype=float)
    rows = [results[c.key] for c in configs]
    seeds = np.asarray(configs[0].seeds[:len(rows[0]["test_rmse"])])
    per_seed = ("test_rmse",) if study.kind == "quadrature" else \
        ("train_rmse", "test_rmse", "final_loss")
    if study.kind != "quadrature" and all("min_loss" in r for r in rows):  # older stores lack it
        per_seed += ("min_loss",)
    data = {k: ((axis, "seed"), np.stack([r[k] for r in rows]).astype(float)) for k in per_seed}
    test = data["test_rmse"][1]
    data["best_test_rmse"] = ((axis,), test.min(axis=1))
    data["seconds"] = ((axis,), np.array([float(r["seconds"]) for r in rows]))
    for q, name in RESOLVED.items():
        if q != axis and not (q == "n" and study.kind == "quadrature"):
            data[name] = ((axis,), np.array([getattr(c, q) for c in configs]))
    exps = {}
    theory = study.theory_slope()
    if axis in ("width", "n") and len(values) >= 2 and np.all(test > 0):
        exps = exponent_table(values, test)
        if test.shape[1] == 1:  # one seed: the best seed is the only one
            exps = {k: v for k, v in exps.items() if not k.startswith("alpha_best")}
        for name, v in exps.items():
            data[name] = ((), v)
    ds = xr.Dataset(data, coords={axis: (axis, values if axis == "eps" else values.astype(int)),
                                  "seed": seeds})
    for name in ds.variables:
        if name in DESCRIPTIONS:
            ds[name].attrs["description"] = DESCRIPTIONS[name]
    ds["seconds"].attrs["units"] = "s"
    attrs = {
        "model": study.model_name, "study": study.name, "description": study.description,
        "study_kind": study.kind, "swept": axis, "symbol": SYMBOLS[axis],
        "spec_sha256": study.spec_sha256, "spec_path": study.path or "",
        "fingerprint": study.fingerprint, "steps": study.steps, "lr": study.lr,
        "noise": study.noise, "normalisation": study.normalise, "t": study.t,
        "configurations": len(configs), "resumed_configurations": resumed,
        "asymptotic_rule": RULE, "ci_level": 0.95,
        "hjdsl_version": __version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if theory is not None and exps:
        alpha_theory = -theory
        attrs["alpha_theory"] = alpha_theory
        for name in ("alpha", "alpha_asymptotic"):
            if f"{name}_low" in exps:
                attrs[f"{name}_covers_theory"] = bool(
                    exps[f"{name}_low"] <= alpha_theory <= exps[f"{name}_high"])
    ds.attrs.update(netcdf_safe(attrs))
    return describe(ds)
