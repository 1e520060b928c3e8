"""Attribution at query points: Gibbs weights, entropy, regime, hallucination and certificates."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Diagnostic, UsageError
from hjdsl.model.limits import over_memory

# Ent/log N below PARTICLE: one atom dominates; above WAVE: weights spread (the page's thresholds).
PARTICLE, WAVE = 0.33, 0.66
REGIMES = ("particle", "mixed", "wave")


def _usage(message: str, code: str = "U012") -> UsageError:
    return UsageError((Diagnostic("error", message, code=code),))


def query_points(model, at) -> np.ndarray:
    """`at` as an (P, d) array; a usage error if a point has the wrong number of coordinates."""
    pts = np.asarray(model.evaluate if at is None else at, dtype=float)
    if pts.ndim <= 1 and model.dim > 1 and pts.size == model.dim:
        pts = pts.reshape(1, -1)
    if pts.ndim <= 1 and model.dim == 1:
        pts = pts.reshape(-1, 1)
    if pts.ndim != 2 or pts.shape[1] != model.dim:
        raise UsageError((Diagnostic(
            "error", f"a query point needs {model.dim} coordinate(s) (the model has dim "
            f"{model.dim}), got shape {pts.shape}", code="U011"),))
    if not np.all(np.isfinite(pts)):
        raise UsageError((Diagnostic("error", "query points must be finite", code="U011"),))
    return pts


def positive_eps(model, eps) -> np.ndarray:
    """ε values to analyse: the given ones (all must be > 0) or the model's positive ones."""
    if eps is None:
        values = np.asarray(model.eps, dtype=float)
        values = values[values > 0]
        if values.size == 0:
            raise UsageError((Diagnostic("error", "the model has no ε > 0; pass --eps",
                                         code="U012"),))
        return values
    values = np.atleast_1d(np.asarray(eps, dtype=float))
    if values.size == 0 or np.any(~np.isfinite(values)) or np.any(values <= 0):
        raise UsageError((Diagnostic(
            "error", f"attribution needs finite ε > 0 (at ε = 0 the weights are an argmax), got "
            f"{values.tolist()}", code="U012"),))
    return values


def check_options(top, delta_f) -> tuple[int, float]:
    """`top` a whole number ≥ 1 and `delta_f` a finite number > 0 (the output change guarded)."""
    try:
        top_value, df = float(top), float(delta_f)
    except (TypeError, ValueError):
        raise _usage(f"top and delta_f must be numbers, got {top!r} and {delta_f!r}") from None
    if not np.isfinite(top_value) or top_value != int(top_value) or top_value < 1:
        raise _usage(f"--top must be a whole number ≥ 1, got {top}")
    if not np.isfinite(df) or df <= 0:
        raise _usage(f"--delta-f must be a finite number > 0, got {delta_f}")
    return int(top_value), df


def attribution_memory(n_eps: int, n_points: int, n_atoms: int, d: int) -> int:
    """Bytes of one attribution run: π and its transients (ε × points × atoms, about 6 copies),
    ∂f/∂W (ε × points × atoms × d), the Hessians (ε × points × d², 3 copies) and the logits.

    >>> attribution_memory(1, 1, 1, 1)
    88
    """
    epn = int(n_eps) * int(n_points) * int(n_atoms)
    return 8 * (epn * (6 + int(d)) + 3 * int(n_eps) * int(n_points) * int(d) ** 2
                + int(n_points) * int(n_atoms))


def regime(normalised_entropy) -> np.ndarray:
    """'particle' / 'mixed' / 'wave' from Ent/log N with the thresholds 0.33 and 0.66."""
    r = np.asarray(normalised_entropy)
    return np.asarray(REGIMES, dtype=object)[(r >= PARTICLE).astype(int) + (r > WAVE).astype(int)]


def attribute(model, at=None, eps=None, *, top=3, delta_f=0.1, sparse=None, prune_delta=None):
    """Attribution, entropy, regime, hallucination indicator and robustness at points, for every ε.

    `at` is (P, d) (default: the model's evaluation points); `eps` a list of ε > 0 (default:
    the model's); `top` how many atoms to rank; `delta_f` the output change the certified
    radius guards against. Returns an xarray.Dataset over eps, point, particle, dim, rank.
    `sparse` (default: only when the dense ε × points × atoms arrays would exceed the memory
    budget) evaluates each point on its certified support instead (attribution_sparse.py, δ =
    `prune_delta`): no dense attribution arrays, and a `remainder` beside the top atoms.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> ds = attribute(m, [[0.7]], eps=[0.1])
    >>> round(float(ds.entropy[0, 0]), 6), str(ds.regime.values[0, 0])
    (0.134199, 'particle')
    """
    from hjdsl.analysis.gibbs import layer_weights

    top, delta_f = check_options(top, delta_f)  # every check before the heavy imports and work
    x = query_points(model, at)
    eps = positive_eps(model, eps)
    n, d = model.n_atoms, model.dim
    from hjdsl.views.closed_form.prune import pruning_options

    delta = pruning_options(prune_delta).delta
    if sparse not in (None, True, False):
        raise _usage(f"sparse must be True, False or None (automatic), got {sparse!r}")
    too_big = over_memory(attribution_memory(eps.size, x.shape[0], n, d),
                          f"attribution of {x.shape[0]:,} point(s) × {eps.size:,} ε × {n:,} atoms "
                          f"(d = {d})")
    automatic = sparse is None
    sparse = bool(too_big) if automatic else sparse
    if too_big and not sparse:
        raise _usage(too_big + "; use fewer points or ε values (or the sparse output)",
                     code="U013")
    if sparse:  # worst case: a support of every atom (large ε), one ε at a time
        from hjdsl.analysis.attribution_sparse import sparse_memory

        sparse_big = over_memory(sparse_memory(eps.size, x.shape[0], d, min(int(top), n), n),
                                 f"sparse attribution of {x.shape[0]:,} point(s) × {eps.size:,} ε "
                                 f"over up to {n:,} atoms (d = {d})")
        if sparse_big and automatic:  # the dense request, as asked, is what the user must shrink
            raise _usage(f"{too_big}; the sparse output, tried instead, does not fit either: "
                         f"{sparse_big.split(' (set ')[0]}; use fewer points or ε values",
                         code="U013")
        if sparse_big:
            raise _usage(sparse_big + "; use fewer points", code="U013")
    W, b = layer_weights(model)

    import xarray as xr

    from hjdsl.analysis.gibbs import curvature, gibbs
    from hjdsl.analysis.robustness import (EXACT_DIAMETER_ATOMS, certified_radius,
                                           curvature_bounds, lipschitz_constant)
    from hjdsl.results import stamp
    top = min(top, n)  # asking for more atoms than there are lists them all
    if sparse:
        from hjdsl.analysis.attribution_sparse import nearest_distance, sparse_gibbs

        sp = sparse_gibbs(W, b, model.g, x, eps, top, delta)
        f, ent, grad, hess, gap = sp["f"], sp["entropy"], sp["grad"], sp["hessian"], sp["gap"]
        hess_norm = np.maximum(np.linalg.eigvalsh(hess)[..., -1], 0.0)
        ranked, top_weight, soft = sp["top_atom"], sp["top_weight"], sp["soft"]
        dist = nearest_distance(model.y, x)
    else:
        z, pi, f, ent = (np.asarray(a) for a in gibbs(W, b, x, eps))
        grad, hess, hess_norm = (np.asarray(a) for a in curvature(W, pi, eps))
        ranked = np.argsort(-pi, axis=-1, kind="stable")[..., :top]
        top_weight = np.take_along_axis(pi, ranked, axis=-1)
        sorted_z = np.sort(z, axis=-1)
        gap = sorted_z[:, -1] - sorted_z[:, -2]
        soft = pi @ np.asarray(model.g, dtype=float)
        dist = np.sqrt(np.min(np.sum((x[:, None, :] - model.y[None, :, :]) ** 2, axis=-1),
                              axis=1))

    log_n = np.log(n)
    normalised = ent / log_n
    e = eps[:, None]
    rho = gap[None, :] / (e * log_n)
    drift = e * np.log1p((n - 1) * np.exp(-gap[None, :] / e))
    radius = np.sqrt(2.0 * eps * model.t)
    bound_norm, bound_diam = curvature_bounds(W, eps)
    grad_norm = np.linalg.norm(grad, axis=-1)
    tight = np.minimum(bound_norm, bound_diam)[:, None]
    cert = certified_radius(grad_norm, tight, lipschitz_constant(W), delta_f)

    ep, pt, pa = ("eps", "point", "particle")
    ds = xr.Dataset(
        {
            "x": (("point", "dim"), x),
            "y": (("particle", "dim"), np.asarray(model.y, dtype=float)),
            "g": ((pa,), np.asarray(model.g, dtype=float)),
            "W": (("particle", "dim"), W),
            "b": ((pa,), b),
            **({} if sparse else {
                "logits": ((pt, pa), z),
                "attribution": ((ep, pt, pa), pi),
                "df_db": ((ep, pt, pa), pi),
                "df_dW": ((ep, pt, pa, "dim"), pi[..., None] * x[None, :, None, :])}),
            **(sparse_variables(sp) if sparse else {}),
            "network": ((ep, pt), f),
            "soft_prediction": ((ep, pt), soft),
            "entropy": ((ep, pt), ent),
            "entropy_normalised": ((ep, pt), normalised),
            "regime": ((ep, pt), regime(normalised).astype(str)),
            "top_atom": ((ep, pt, "rank"), ranked.astype(np.int64)),
            "top_weight": ((ep, pt, "rank"), top_weight),
            "logit_gap": ((pt,), gap),
            "rho": ((ep, pt), rho),
            "drift_bound": ((ep, pt), drift),
            "nearest_atom_distance": ((pt,), dist),
            "diffusion_radius": ((ep,), radius),
            "in_distribution": ((ep, pt), (dist[None, :] <= radius[:, None]).astype("int8")),
            "grad": ((ep, pt, "dim"), grad),
            "grad_norm": ((ep, pt), grad_norm),
            "hessian": ((ep, pt, "dim", "dim2"), hess),
            "hessian_norm": ((ep, pt), hess_norm),
            "bound_max_norm": ((ep,), bound_norm),
            "bound_diameter": ((ep,), bound_diam),
            "certified_radius": ((ep, pt), cert),
        },
        coords={"eps": eps, "point": np.arange(x.shape[0]), "particle": np.arange(n),
                "dim": np.arange(d), "dim2": np.arange(d), "rank": np.arange(1, top + 1)},
    )
    ds["in_distribution"].attrs["meaning"] = "1 if min_j |x - y_j| <= sqrt(2 eps t)"
    ds["regime"].attrs["thresholds"] = f"particle if Ent/log N < {PARTICLE}, wave if > {WAVE}"
    ds["certified_radius"].attrs["delta_f"] = float(delta_f)
    return stamp(ds, model, analysis="attribution", eps_star=float(n ** (-1.0 / d)),
                 log_n=float(log_n), delta_f=float(delta_f), regime_particle=PARTICLE,
                 regime_wave=WAVE, diameter=("exact" if d == 1 or n <= EXACT_DIAMETER_ATOMS
                                             else "bounding-box diagonal (an upper bound)"),
                 attribution_output=("sparse: top atoms and remainder on each point's certified "
                                     "support" if sparse else "dense"),
                 prune_delta=float(delta) if sparse else 0.0)


def sparse_variables(sp: dict) -> dict:
    """The sparse output's own variables: the remainder and the support's certificate."""
    ep = ("eps", "point")
    return {
        "remainder": (ep, sp["remainder"], {"long_name": "weight of the support's atoms outside "
                                            "the top ones (add prune_neglected for all others)"}),
        "prune_neglected": (ep, sp["neglected"], {"long_name": "certified bound on the weight "
                                                  "of every atom outside the support"}),
        "entropy_bound": (ep, sp["entropy_bound"], {"long_name": "certified bound on |entropy "
                                                    "- entropy over all atoms|"}),
        "prune_support": (ep, sp["support"], {"long_name": "atoms evaluated at the point"}),
    }


def to_records(ds) -> list[dict]:
    """One JSON-ready record per (ε, point): the quantities a user reads off the table."""
    from hjdsl.results import points

    records, xs = [], points(ds)
    for i, e in enumerate(ds["eps"].values):
        for p in ds["point"].values:
            top = []
            for r in range(ds.sizes["rank"]):
                j = int(ds["top_atom"].values[i, p, r])
                top.append({"atom": j, "y": ds["y"].values[j].tolist(), "g": float(ds["g"].values[j]),
                            "weight": float(ds["top_weight"].values[i, p, r])})
            sel = ds.isel(eps=i, point=p)
            records.append({
                "eps": float(e), "x": xs[p].tolist(),
                "entropy": float(sel["entropy"]), "entropy_normalised": float(sel["entropy_normalised"]),
                "regime": str(sel["regime"].values), "f": float(sel["network"]),
                "soft_prediction": float(sel["soft_prediction"]),
                "rho": float(sel["rho"]), "drift_bound": float(sel["drift_bound"]),
                "in_distribution": bool(sel["in_distribution"]),
                "nearest_atom_distance": float(sel["nearest_atom_distance"]),
                "diffusion_radius": float(sel["diffusion_radius"]),
                "grad": sel["grad"].values.tolist(), "hessian_norm": float(sel["hessian_norm"]),
                "certified_radius": float(sel["certified_radius"]),
                **({"attribution": sel["attribution"].values.tolist()} if "attribution" in ds
                   else {"remainder": float(sel["remainder"]),
                         "neglected": float(sel["prune_neglected"])}),
                "top": top,
            })
    return records
