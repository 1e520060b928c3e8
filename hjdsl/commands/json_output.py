"""`--json` output of compare and solve: the summaries as portable JSON (no NaN, no Infinity)."""

from __future__ import annotations

import json
import math

import numpy as np

# JSON has no NaN or infinity (Python's json writes `NaN`, which strict parsers reject):
# NaN ("no value") becomes null and ±inf ("not finite where a finite value was expected")
# becomes the string "inf" / "-inf", so every parser reads the output and no case is lost.
INF, NEG_INF = "inf", "-inf"


def portable(value):
    """`value` with numpy scalars and arrays as Python values, NaN as None and ±inf as strings.

    >>> portable({"a": float("nan"), "b": [np.float64(1.5), -np.inf], "c": np.int64(3)})
    {'a': None, 'b': [1.5, '-inf'], 'c': 3}
    """
    if isinstance(value, dict):
        return {str(k): portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [portable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return INF if v > 0 else NEG_INF
        return v
    return value


def dumps(summary: dict) -> str:
    """The summary as indented JSON; allow_nan=False makes a missed NaN an error, not bad JSON."""
    return json.dumps(portable(summary), indent=2, ensure_ascii=False, allow_nan=False)


def warning(message: str, code: str | None = None) -> dict:
    """A warning entry shaped like a diagnostic's `to_json()` (severity, code, message)."""
    return {"severity": "warning", **({"code": code} if code else {}), "message": message}


def compare_summary(ds, rows, *, warnings=(), outputs=None) -> dict:
    """The diagram report of `hjdsl compare` from the rows its table prints (diagram_rows)."""
    from hjdsl.views.report import failures

    failed = failures(rows)
    notes = [ds.attrs["convex_hopf_lax_note"]] if ds.attrs.get("convex_hopf_lax_note") else []
    return {
        "model": {"name": ds.attrs.get("model", ""), "hamiltonian": ds.attrs.get("hamiltonian", ""),
                  "t": ds.attrs.get("t"), "atoms": ds.sizes["particle"], "dim": ds.sizes["dim"],
                  "points": ds.sizes["point"], "fit_file": ds.attrs.get("fit_file") or None},
        "eps": ds.eps.values,
        "rows": [{"eps": r.eps, "arrow": r.arrow, "kind": r.kind, "value": r.value,
                  "bound": r.bound, "status": r.status, "detail": r.detail,
                  "fails_run": r.fails_run} for r in rows],
        "all_exact_hold": not failed,
        "failures": [{"eps": r.eps, "arrow": r.arrow, "reason": r.reason} for r in failed],
        "notes": notes,
        "warnings": list(warnings),
        "outputs": {"dataset": None, "plot": None, **(outputs or {})},
    }


# The fit metrics `hjdsl solve` prints, by their result attribute (each present when it applies).
METRICS = ("final_loss", "fit_mse", "fit_rmse", "noise_level", "likelihood_sd", "heldout_mse",
           "deviation")
SAMPLING = ("max_r_hat", "min_ess", "min_ess_tail", "divergences")  # min_ess_tail: newer results


def fit_summary(root, *, warnings=(), outputs=None) -> dict:
    """The fit summary of `hjdsl solve` from the attributes its table prints."""
    a = root.attrs
    g = root["g_hat"].values
    out = {
        "model": a.get("model", ""), "method": a["method"], "eps": a["eps"],
        "data": {"source": a.get("data_source", ""), "points": a["n_data"], "train": a["n_train"]},
        "metrics": {k: a[k] for k in METRICS if k in a},
        "fitted": {name: float(root[f"{name}_hat"]) for name in ("sigma", "nu", "eps")
                   if f"{name}_hat" in root},
        "atoms": {"count": len(g), "g_min": g.min(), "g_mean": g.mean(), "g_max": g.max()},
    }
    if "atoms_used" in a:
        out["atoms"].update(used=a["atoms_used"], collapsed=a["collapsed_atoms"],
                            uninfluential=a["uninfluential_atoms"])
    if "max_r_hat" in a:
        out["sampling"] = {k: a[k] for k in SAMPLING if k in a}
    if "status" in a:
        out["solver"] = {"name": a.get("solver", ""), "status": a["status"],
                         "formulation": str(a.get("formulation", "")),
                         "certificate": {k.removeprefix("certificate_"): v for k, v in a.items()
                                         if k.startswith("certificate_")}}
    out["warnings"] = list(warnings)
    out["outputs"] = {"result": None, "plot": None, **(outputs or {})}
    return out
