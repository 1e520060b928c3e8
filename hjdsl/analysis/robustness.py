"""Robustness certificates of an LSE layer: curvature bounds, certified radii and the ε-sweep."""

from __future__ import annotations

import numpy as np


def curvature_bounds(W, eps) -> tuple[np.ndarray, np.ndarray]:
    """The two uniform bounds on ‖∇²f_ε(x)‖₂ for every ε: max_j|W_j|²/ε and (max_{j,k}|W_j − W_k|)²/(4ε).

    The second is Popoviciu's variance bound: a distribution supported in a set of diameter D
    has covariance norm at most D²/4.

    >>> b1, b2 = curvature_bounds([[-0.75], [-0.25], [0.25], [0.75]], [0.1, 1.0])
    >>> b1.tolist(), b2.tolist()
    ([5.625, 0.5625], [5.625, 0.5625])
    """
    W = np.asarray(W, dtype=float)
    eps = np.asarray(eps, dtype=float)
    max_norm = float(np.max(np.einsum("jd,jd->j", W, W)))
    return max_norm / eps, diameter(W) ** 2 / (4.0 * eps)


EXACT_DIAMETER_ATOMS = 20_000  # above this (d ≥ 2) the N² pair search gives way to a bound


def diameter(W, block_elements: int = 1 << 22) -> float:
    """max_{j,k} |W_j − W_k| (or, for more than EXACT_DIAMETER_ATOMS atoms in d ≥ 2, the
    bounding box's diagonal: an upper bound, so Popoviciu's bound stays a bound).

    The pair search runs over row blocks, so memory stays at `block_elements` floats, not N²·d.

    >>> diameter(np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]]), block_elements=4)
    5.0
    """
    W = np.asarray(W, dtype=float)
    n, d = W.shape
    if d == 1:  # on a line the farthest pair is the two ends
        return float(np.max(W) - np.min(W))
    if n > EXACT_DIAMETER_ATOMS:
        return float(np.linalg.norm(np.max(W, axis=0) - np.min(W, axis=0)))
    rows = max(1, block_elements // max(n * d, 1))
    best = 0.0
    for start in range(0, n, rows):
        diffs = W[start:start + rows, None, :] - W[None, :, :]  # differences: no cancellation
        best = max(best, float(np.max(np.einsum("jkd,jkd->jk", diffs, diffs))))
    return float(np.sqrt(best))


def lipschitz_constant(W) -> float:
    """max_j |W_j|: ∇f = E_π[W] lies in the convex hull of the W_j, so f is that Lipschitz."""
    W = np.asarray(W, dtype=float)
    return float(np.sqrt(np.max(np.einsum("jd,jd->j", W, W))))


def certified_radius(grad_norm, curvature_bound, lipschitz, delta_f):
    """The largest r with |f(x+δ) − f(x)| ≤ δf guaranteed for every |δ| ≤ r.

    Two certificates hold for every δ; the radius is the larger of the two:
    the quadratic one |f(x+δ) − f(x)| ≤ G·r + (M/2)·r² (G = |∇f(x)|, M the curvature bound),
    solved as r = 2δf / (G + √(G² + 2Mδf)) (the cancellation-free root), and the Lipschitz one
    |f(x+δ) − f(x)| ≤ L·r, r = δf/L.

    >>> round(float(certified_radius(0.0, 2.0, 1.0, 0.01)), 6)
    0.1
    >>> round(float(certified_radius(1.0, 0.0, 1.0, 0.5)), 6)
    0.5
    """
    G = np.asarray(grad_norm, dtype=float)
    M = np.asarray(curvature_bound, dtype=float)
    quadratic = 2.0 * delta_f / (G + np.sqrt(G**2 + 2.0 * M * delta_f))
    linear = delta_f / lipschitz if lipschitz > 0 else np.inf
    return np.maximum(quadratic, linear)


def robustness_sweep(ds):
    """Per ε: measured max over points of ‖∇²f‖₂ against both bounds (from an attribution Dataset).

    Returns a Dataset over `eps` with `measured`, `bound_max_norm`, `bound_diameter`, `ratio`
    (measured / the tighter bound) and `holds` (measured ≤ tighter bound, up to round-off).
    """
    import xarray as xr

    measured = ds["hessian_norm"].max("point")
    tight = np.minimum(ds["bound_max_norm"], ds["bound_diameter"])
    out = xr.Dataset({
        "measured": measured,
        "bound_max_norm": ds["bound_max_norm"],
        "bound_diameter": ds["bound_diameter"],
        "ratio": measured / tight,
        "holds": (measured <= tight * (1 + 1e-12)).astype("int8"),
    })
    out.attrs.update(ds.attrs)
    return out


def format_sweep(sweep) -> str:
    """The ε-sweep as a plain-text table."""
    rows = [f"{'eps':>8}  {'max ||Hess f||':>14}  {'max|W|^2/eps':>13}  {'diam^2/(4eps)':>13}  "
            f"{'ratio':>6}  holds"]
    for i, e in enumerate(sweep["eps"].values):
        rows.append(f"{e:8.4g}  {float(sweep['measured'][i]):14.6g}  "
                    f"{float(sweep['bound_max_norm'][i]):13.6g}  {float(sweep['bound_diameter'][i]):13.6g}  "
                    f"{float(sweep['ratio'][i]):6.3f}  {'yes' if sweep['holds'][i] else 'NO'}")
    return "\n".join(rows)
