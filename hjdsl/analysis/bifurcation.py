"""Bifurcations of the entropy landscape in ε: counts, critical points per ε and events (a Dataset)."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Diagnostic, UsageError
from hjdsl.model.limits import MAX_EPS, over_memory

DEFAULT_LEVELS = 41
MIN_TOL_RELATIVE = 1e-12  # the finest bisection tolerance, relative to the largest ε


def default_box(model) -> tuple[float, float]:
    """The atoms' coordinate range widened by half of it on each side (the same on every axis)."""
    lo, hi = float(np.min(model.y)), float(np.max(model.y))
    pad = 0.5 * max(hi - lo, 1e-6)
    return lo - pad, hi + pad


def _usage(message: str, code: str = "U030") -> UsageError:
    return UsageError((Diagnostic("error", message, code=code),))


def eps_levels(model, eps_range=None) -> np.ndarray:
    """The ε grid: linspace(LO, HI, N) from (LO, HI[, N]); default ε*/4 .. 4ε* (41 levels).

    N is a whole number from 2 to MAX_EPS (the limit of one ε sweep, as in a spec).
    """
    if eps_range is None:
        star = model.n_atoms ** (-1.0 / model.dim)
        eps_range = (star / 4, 4 * star)
    values = [float(v) for v in eps_range]
    if len(values) not in (2, 3) or not np.all(np.isfinite(values)) or not 0 < values[0] < values[1]:
        raise _usage(f"--eps-range needs LO,HI[,N] with 0 < LO < HI, got {values}")
    count = values[2] if len(values) == 3 else DEFAULT_LEVELS
    if count != int(count) or count < 2:
        raise _usage(f"--eps-range needs a whole number of levels N ≥ 2, got {count:g}")
    if count > MAX_EPS:
        raise _usage(f"--eps-range asks for {int(count):,} levels; the limit is {MAX_EPS:,} (that "
                     "of one ε sweep). Split the range into several runs to go past it")
    return np.linspace(values[0], values[1], int(count))


def check_tol(tol, levels: np.ndarray) -> float:
    """The bisection tolerance in ε: finite, > 0 and no finer than MIN_TOL_RELATIVE·max ε.

    Below that, bisection cannot tell the end of a branch any better (the track itself is only
    this accurate), and next to float64's resolution it could not end at all.
    """
    try:
        value = float(tol)
    except (TypeError, ValueError):
        raise _usage(f"--tol must be a number, got {tol!r}") from None
    floor = MIN_TOL_RELATIVE * float(np.max(levels))
    if not np.isfinite(value) or value <= 0:
        raise _usage(f"--tol must be a finite number > 0, got {value:g}")
    if value < floor:
        raise _usage(f"--tol {value:g} is finer than the bisection can resolve: it must be ≥ "
                     f"{MIN_TOL_RELATIVE:g}·(largest ε) = {floor:.3g}")
    return value


def check_box(box, model) -> tuple[float, float]:
    """The analysis box (LO, HI), finite with LO < HI (default: `default_box`)."""
    if box is None:
        return default_box(model)
    values = tuple(float(v) for v in np.ravel(box))
    if len(values) != 2 or not np.all(np.isfinite(values)) or not values[0] < values[1]:
        raise _usage(f"--box needs LO,HI with LO < HI (finite), got {values}", code="U031")
    return values


def _seed_count(n: int, d: int) -> int:
    return n * (1 + min(n - 1, 2 * d)) + 1 + {1: 41, 2: 225, 3: 343}.get(d, 0)


def bifurcate_seconds(n_atoms: int, d: int, n_levels: int) -> float:
    """Rough seconds of the sweep: Newton from every seed at every level (events add more).

    Calibrated on examples/paper/two_clusters.hj (16 atoms, d = 2: ~0.4 s per level); a guess
    that only decides whether to warn.
    """
    return 9e-5 * n_levels * _seed_count(int(n_atoms), int(d)) * int(n_atoms) * max(1, d - 1) ** 2


def bifurcate_memory(n_atoms: int, d: int) -> int:
    """Bytes the critical-point search needs at its peak: pairwise atom distances (N² d) and the
    Newton Hessians of every seed (seeds × N × d², seeds ≈ N(1 + 2d), padded up to 4×)."""
    n, d = int(n_atoms), int(d)
    seeds = _seed_count(n, d)
    return 8 * (2 * n * n * d + 4 * seeds * n * (d + 1) * d * 6)


def bifurcate(model, eps_range=None, box=None, tol: float = 1e-3, quiet: bool = True, eps=None):
    """Critical points of x ↦ Ent(π(x; ε)) in the box [lo, hi]^d for every ε level, and events.

    `eps_range` is (LO, HI[, N]) for linspace levels; `eps` an explicit increasing list instead.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> ds = bifurcate(m, eps_range=(0.1, 1.0, 10), box=(-3, 3))
    >>> ds.n_min.values.tolist()[:2], ds.n_max.values.tolist()[-1], ds.event_kind.values.tolist()
    ([2, 2], 1, ['fold', 'fold'])
    """
    from hjdsl.analysis.gibbs import layer_weights

    levels = eps_levels(model, eps_range) if eps is None else np.asarray(eps, dtype=float)
    if (levels.ndim != 1 or levels.size < 2 or not np.all(np.isfinite(levels))
            or np.any(np.diff(levels) <= 0) or levels[0] <= 0):
        raise _usage("ε levels must be finite, positive and increasing (at least 2)")
    if levels.size > MAX_EPS:
        raise _usage(f"{levels.size:,} ε levels exceed the limit of {MAX_EPS:,}; split them into "
                     "several runs")
    tol = check_tol(tol, levels)
    box = check_box(box, model)
    too_big = over_memory(bifurcate_memory(model.n_atoms, model.dim),
                          f"the critical-point search ({model.n_atoms:,} atoms, d = {model.dim})")
    if too_big:
        raise _usage(too_big, code="U032")
    W, b = layer_weights(model)  # after the checks: it also factors A

    import xarray as xr

    from hjdsl.analysis.continuation import events, sweep
    from hjdsl.analysis.critical_points import DEDUP_TOL, Landscape
    from hjdsl.progress import progress
    from hjdsl.results import stamp

    land = Landscape(W, b, box, t=model.t)
    with progress("critical points", len(levels), enabled=not quiet) as advance:
        sets = sweep(land, levels, advance)
    branch, found = events(land, sets, tol)

    d = model.dim
    width = max(1, max(len(s) for s in sets))
    xs = np.full((len(levels), width, d), np.nan)
    ent = np.full((len(levels), width), np.nan)
    index = np.full((len(levels), width), np.nan)
    ids = np.full((len(levels), width), np.nan)
    for k, s in enumerate(sets):
        xs[k, : len(s)] = s.x
        ent[k, : len(s)] = s.entropy
        index[k, : len(s)] = s.index
        ids[k, : len(s)] = branch[k]
    counts = np.array([[np.sum(s.index == 0), np.sum((s.index > 0) & (s.index < d)), np.sum(s.index == d)]
                       for s in sets], dtype=np.int64)
    ev_x = np.array([e.x for e in found]).reshape(-1, d)
    ds = xr.Dataset(
        {
            "n_min": (("eps",), counts[:, 0]),
            "n_saddle": (("eps",), counts[:, 1]),
            "n_max": (("eps",), counts[:, 2]),
            "crit_x": (("eps", "crit", "dim"), xs),
            "crit_entropy": (("eps", "crit"), ent),
            "crit_index": (("eps", "crit"), index),
            "crit_branch": (("eps", "crit"), ids),
            "event_eps": (("event",), np.array([e.eps for e in found], dtype=float)),
            "event_kind": (("event",), np.array([e.kind for e in found], dtype=str)),
            "event_x": (("event", "dim"), ev_x),
            "event_entropy": (("event",), np.array([e.entropy for e in found], dtype=float)),
            "event_detail": (("event",), np.array([e.detail for e in found], dtype=str)),
            "event_min_abs_eig": (("event",), np.array([e.min_abs_eig for e in found], dtype=float)),
            "y": (("particle", "dim"), np.asarray(model.y, dtype=float)),
            "g": (("particle",), np.asarray(model.g, dtype=float)),
        },
        coords={"eps": levels, "crit": np.arange(width), "dim": np.arange(d),
                "event": np.arange(len(found)), "particle": np.arange(model.n_atoms)},
    )
    ds["crit_index"].attrs["meaning"] = "Morse index: 0 minimum, d maximum, else saddle; NaN padding"
    ds["event_min_abs_eig"].attrs["meaning"] = ("smallest |Hessian eigenvalue| at the last accepted "
                                                "point (for a fold: of both partners, the larger)")
    return stamp(ds, model, analysis="bifurcation", box_lo=box[0], box_hi=box[1],
                 eps_star=float(model.n_atoms ** (-1.0 / d)), length_scale=land.scale,
                 dedup_tol=DEDUP_TOL * land.scale, bisection_tol=float(tol))


def format_report(ds) -> str:
    """The count table (one line per change of counts) and the events."""
    lines = [f"{ds.attrs['model']}: critical points of Ent(pi(x; eps)) in the box "
             f"[{ds.attrs['box_lo']:g}, {ds.attrs['box_hi']:g}]^{ds.sizes['dim']}, "
             f"eps* = {ds.attrs['eps_star']:.4g}",
             f"{'eps from':>10} {'eps to':>10}  {'min':>4} {'saddle':>6} {'max':>4}"]
    counts = np.stack([ds.n_min.values, ds.n_saddle.values, ds.n_max.values], axis=1)
    eps = ds.eps.values
    start = 0
    for k in range(1, len(eps) + 1):
        if k == len(eps) or np.any(counts[k] != counts[start]):
            c = counts[start]
            lines.append(f"{eps[start]:10.4g} {eps[k - 1]:10.4g}  {c[0]:4d} {c[1]:6d} {c[2]:4d}")
            start = k
    lines.append(f"\nevents ({ds.sizes['event']}, eps refined by bisection to {ds.attrs['bisection_tol']:g}):")
    for i in range(ds.sizes["event"]):
        x = ",".join(f"{v:.4g}" for v in ds.event_x.values[i])
        lines.append(f"  eps = {float(ds.event_eps[i]):.4f}  {str(ds.event_kind.values[i]):6s} at "
                     f"({x}), Ent = {float(ds.event_entropy[i]):.4f}, min|lambda| = "
                     f"{float(ds.event_min_abs_eig[i]):.2g}: {ds.event_detail.values[i]}")
    return "\n".join(lines)
