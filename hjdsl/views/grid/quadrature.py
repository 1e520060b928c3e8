"""Reference values for continuous initial data g: Hopf–Lax by brute-force search, Hopf–Cole by quadrature.

Both minimise or integrate over the displacement v = x − y of Φ = g(x − v) + t·L(v/t), asking the
Hamiltonian for L (`lagrangian`, +inf outside dom L) and dom L (`domain`). The search runs on a
parameter box s: v = R·s when dom L = ℝᵈ (R grown until the minimiser is interior), v = r·t·φ(s)
when dom L is exactly a dual-norm ball of radius r, where φ maps the box onto the unit ball with
its boundary sampled exactly (square for |p|_1, rotated square for |p|_inf, polar (r, θ) for
|p|_2), and v = r·t·s (the square covering the ball) when dom L is only contained in one. A coarse
grid finds the basin; zoom levels (each 5× finer around the best node) make the minimum accurate
to O(spacing²). The Hopf–Cole quadrature is a reference only where the Hamiltonian labels it
exact (quadratic H), and only there does it use the matrix A.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import numpy as np

from hjdsl.views.grid.solver import call_g
from hjdsl.views.grid.kinks import Kinks

COARSE = {1: 401, 2: 61}   # coarse nodes per axis of the parameter box
ZOOM_NODES, ZOOM_LEVELS = 11, 5
TAIL = 36.0                # Hopf–Cole integrand below e^{-36} of its peak is left out
DOMAIN_TAIL = 20.0         # grid domain: y whose weight is below e^{-20} of the peak may be cut
CHUNK = 1_000_000          # (point × node) entries per block
GAUSS = 12                 # Gauss–Legendre nodes per panel and axis in the Hopf–Cole quadrature
ROUNDING = 16 * np.finfo(float).eps  # round-off of a Hopf–Cole value, per unit of its terms


@dataclass(frozen=True)
class _Search:
    """Parameter box [lo, hi] (θ periodic for the disc) and the map s ↦ (v, t·L(v/t))."""

    lo: np.ndarray
    hi: np.ndarray
    periodic: np.ndarray
    to_v: Callable[[np.ndarray], np.ndarray]
    cost: Callable[[np.ndarray], np.ndarray]
    radius: float = 0.0


def _search(ham, d: int, t: float, radius: float = 1.0) -> _Search:
    """The parameter box and map s ↦ v for the search over displacements, from dom L."""
    ones, flat = np.ones(d), np.zeros(d, dtype=bool)
    domain = ham.domain
    if domain is None:  # dom L = ℝᵈ: a box of half-width R that coarse_search grows
        return _Search(-ones, ones, flat, lambda s: radius * s, partial(_cost, ham, t, 1.0), radius)
    q, r, exact = domain
    reach = float(r) * t
    # nodes on the boundary of an exact dom L must stay inside it despite rounding
    cost = partial(_cost, ham, t, 1.0 - 8.0 * np.finfo(float).eps if exact else 1.0)
    if d == 1 or q == "l1" or not exact:  # the |·|_inf square: dual ball of |·|_1, covers every ball
        return _Search(-ones, ones, flat, lambda s: reach * s, cost)
    if q == "linf":  # the |·|_1 diamond is the square rotated by 45°
        rot = np.array([[0.5, 0.5], [0.5, -0.5]])
        return _Search(-ones, ones, flat, lambda s: reach * s @ rot.T, cost)
    polar = lambda s: reach * s[..., :1] * np.stack([np.cos(s[..., 1]), np.sin(s[..., 1])], -1)  # noqa: E731
    return _Search(np.array([0.0, -np.pi]), np.array([1.0, np.pi]), np.array([False, True]), polar, cost)


def _cost(ham, t: float, shrink: float, v: np.ndarray) -> np.ndarray:
    """t·L(v/t) over the last axis (+inf outside dom L); `shrink` pulls v inside by a few ulps."""
    return t * np.asarray(ham.lagrangian(v * (shrink / t)), dtype=float)


def _metric(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """vᵀMv over the last axis (d = 1 or 2), written out."""
    if m.shape[0] == 1:
        return m[0, 0] * v[..., 0] ** 2
    v0, v1 = v[..., 0], v[..., 1]
    return m[0, 0] * v0 * v0 + 2.0 * m[0, 1] * v0 * v1 + m[1, 1] * v1 * v1


def _growth(ham, d: int) -> float:
    """λ with H(p) ≈ λ|p|² at unit slopes, which sets the first search radius when dom L = ℝᵈ:
    the largest eigenvalue of A where the Hopf–Cole quadrature applies (it needs A anyway), else
    half the largest gradient bound on the unit box (the same λ for a|p|²)."""
    if ham.exactness("hopf_cole").label == "exact":
        return float(ham.largest_eigenvalue)
    return 0.5 * float(np.max(ham.gradient_bound(np.ones((d, 1)))))


def _box_nodes(lo, hi, n: int) -> np.ndarray:
    axes = [np.linspace(a, b, n) for a, b in zip(lo, hi)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))


def _objective(g, x: np.ndarray, search: _Search, s: np.ndarray) -> np.ndarray:
    """Φ = g(x − v(s)) + t·L(v/t) for points x (n, d) and parameters s (n or 1, m, d); chunked."""
    out = np.empty((x.shape[0], s.shape[1]))
    step = max(1, CHUNK // s.shape[1])
    for a in range(0, x.shape[0], step):
        sb = s if s.shape[0] == 1 else s[a:a + step]
        v = search.to_v(sb)
        out[a:a + step] = call_g(g, x[a:a + step, None, :] - v) + search.cost(v)
    return out


@dataclass(frozen=True)
class Coarse:
    """The coarse search of every point: Φ (points, nodes) on the parameter-box nodes."""

    search: _Search
    nodes: np.ndarray
    phi: np.ndarray
    threshold: float

    def near(self, threshold: float) -> np.ndarray:
        """(points, nodes) mask of nodes within `threshold` of each point's coarse minimum."""
        return self.phi - np.min(self.phi, axis=1, keepdims=True) <= threshold

    def subset(self, index: np.ndarray) -> "Coarse":
        """The same search restricted to some of the points."""
        return Coarse(self.search, self.nodes, self.phi[index], self.threshold)

    @property
    def spacing(self) -> np.ndarray:
        return (self.search.hi - self.search.lo) / (COARSE[self.nodes.shape[1]] - 1)


def coarse_search(g, ham, t: float, x, threshold: float) -> Coarse:
    """Φ on a coarse parameter grid, growing R (quadratic H) until every node within `threshold`
    of a point's minimum is interior (dom L = ℝᵈ). One search serves every smaller threshold."""
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    d = x.shape[1]
    _require_lagrangian(ham, d)
    if ham.domain is not None:  # the search box covers dom L: nothing to grow
        search = _search(ham, d, t)
        nodes = _box_nodes(search.lo, search.hi, COARSE[d])
        return Coarse(search, nodes, _objective(g, x, search, nodes[None]), threshold)
    lam = _growth(ham, d)
    radius = max(1.0, 2.0 * np.sqrt(t * lam)) + np.sqrt(4.0 * t * lam * threshold)
    for _ in range(12):
        search = _search(ham, d, t, radius)
        nodes = _box_nodes(search.lo, search.hi, COARSE[d])
        found = Coarse(search, nodes, _objective(g, x, search, nodes[None]), threshold)
        edge = np.any(np.abs(nodes) >= 1.0, axis=1)
        if not np.any(found.near(threshold)[:, edge]):
            return found
        radius *= 2.0
    raise ValueError("the Hopf–Lax search did not find bounded minimisers; is g bounded below "
                     "by a quadratic the Hamiltonian can dominate?")


def hopf_lax(g, ham, t: float, x, *, return_argmin: bool = False, coarse: Coarse | None = None):
    """u_0(x) = min_y g(y) + t·L((x − y)/t) by a coarse grid search plus zoom refinement.

    >>> from hjdsl.hamiltonians import quadratic
    >>> ham = quadratic(np.eye(1))
    >>> u = hopf_lax(lambda y: 0.5 * y**2, ham, 1.0, np.array([[1.5]]))   # |x|²/(2(1+2t))
    >>> abs(float(u[0]) - 1.5**2 / 6) < 1e-12
    True
    """
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    coarse = coarse or coarse_search(g, ham, t, x, 0.0)
    search, nodes, phi = coarse.search, coarse.nodes, coarse.phi
    best = np.argmin(phi, axis=1)
    s, value = nodes[best], phi[np.arange(len(x)), best]
    # the local grid contains its centre, so the value never increases from level to level
    offsets = _box_nodes(-coarse.spacing, coarse.spacing, ZOOM_NODES)
    for _ in range(ZOOM_LEVELS):
        local = s[:, None, :] + offsets[None]
        local = np.where(search.periodic, local, np.clip(local, search.lo, search.hi))
        phi = _objective(g, x, search, local)
        best = np.argmin(phi, axis=1)
        s, value = local[np.arange(len(x)), best], phi[np.arange(len(x)), best]
        offsets = offsets / ((ZOOM_NODES - 1) / 2)
    return (value, x - search.to_v(s)) if return_argmin else value


def hopf_cole(g, ham, t: float, eps: float, x, *, tol: float = 1e-10, max_nodes: int | None = None,
              coarse: Coarse | None = None, kinks: Kinks | None = None):
    """u_ε(x) = −ε log ∫ (4πεt)^{-d/2} det(A)^{-1/2} exp(−[g(y) + (x−y)ᵀA⁻¹(x−y)/(4t)]/ε) dy.

    Composite Gauss–Legendre rule on a per-point window that holds every y whose exponent is
    within 36ε of its minimum (min-shifted, so tiny ε does not underflow). The window is cut at
    the kink lines of g (`kinks`, a `views.grid.kinks.Kinks`; None: g is smooth), so each piece is
    smooth and the rule converges fast there. The panels of every piece double until the last
    two changes of a point are both below `tol` (relative to max(1, |u|)) or the nodes per axis
    would pass `max_nodes`. Returns (values, error estimate = the largest last change, at least
    the round-off of the sum). Only where `ham.exactness("hopf_cole")` is exact. `coarse` may pass a `coarse_search` of the same
    points made with a threshold ≥ 36ε (it is reused, not recomputed).

    >>> from hjdsl.hamiltonians import quadratic
    >>> ham = quadratic(np.eye(1))
    >>> u, err = hopf_cole(lambda y: 0.0 * y, ham, 1.0, 0.3, np.array([[0.4]]))   # g = 0 ⇒ u = 0
    >>> abs(float(u[0])) < 1e-12
    True
    """
    exactness = ham.exactness("hopf_cole")
    if exactness.label != "exact":
        raise ham.unsupported("the Hopf–Cole quadrature reference",
                              exactness.reason or "it is exact only for quadratic H")
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    d = x.shape[1]
    coarse = _reuse(coarse, TAIL * eps) or coarse_search(g, ham, t, x, TAIL * eps)
    near, nodes = coarse.near(TAIL * eps), coarse.nodes
    # the integrand's metric A⁻¹ written out: a sum over an axis of length 1 or 2 is slow, and
    # the quadrature evaluates it at up to 10⁶ nodes a block (same values as t·L(v/t))
    search = replace(coarse.search, cost=partial(_metric, ham.inverse / (4.0 * t)))
    pad = 2.0 * coarse.spacing
    lo = np.min(np.where(near[..., None], nodes[None], np.inf), axis=1) - pad
    hi = np.max(np.where(near[..., None], nodes[None], -np.inf), axis=1) + pad
    cuts = _cuts(kinks, x, search.radius, lo, hi)
    # det(A)^{-1/2} = |det L| for the triangular factor L·Lᵀ = A⁻¹
    log_norm = -0.5 * d * np.log(4.0 * np.pi * eps * t) + np.sum(np.log(np.abs(np.diag(ham.factor))))
    cap = max_nodes or {1: 16384, 2: 512}[d]
    per_panel = GAUSS * max(c.shape[1] - 1 for c in cuts)  # nodes per axis for one panel a piece
    u = _gauss(g, x, search, cuts, 1, eps) - eps * log_norm
    change, previous = np.full(len(x), np.inf), np.full(len(x), np.inf)
    active, panels = np.ones(len(x), dtype=bool), 2
    while panels * per_panel <= cap and np.any(active):  # refine only the points still moving
        idx = np.flatnonzero(active)
        new = _gauss(g, x[idx], search, [c[idx] for c in cuts], panels, eps) - eps * log_norm
        previous[idx], change[idx] = change[idx], np.abs(new - u[idx])
        u[idx] = new
        # two small changes in a row: one can be a chance agreement of two unresolved levels
        limit = tol * np.maximum(1.0, np.abs(new))
        active[idx] = (change[idx] > limit) | (previous[idx] > limit)
        panels *= 2
    # below the rounding of u = Φ_min − ε log(Σ) − ε log(norm) a change says nothing
    terms = abs(log_norm) + d * abs(np.log(search.radius)) + TAIL
    rounding = ROUNDING * (1.0 + np.abs(u) + eps * terms)
    return u, float(np.max(np.maximum(change, rounding)))


def _cuts(kinks, x, radius: float, lo, hi) -> list[np.ndarray]:
    """Per axis, (points, pieces + 1) breakpoints in s: each window's edges and the kinks inside
    it (y = x − R·s); points with fewer kinks are padded with empty pieces at the upper edge."""
    d = x.shape[1]
    lines = [()] * d
    if kinks is not None:  # every window's kinks at once: the union of the windows in y
        lines = kinks.lines(np.min(x - radius * hi, 0), np.max(x - radius * lo, 0)).axes
    out = []
    for k in range(d):
        a, b = lo[:, k:k + 1], hi[:, k:k + 1]
        s = (x[:, k:k + 1] - np.asarray(lines[k], dtype=float)[None]) / radius
        inside = (s > a) & (s < b)
        s = np.sort(np.where(inside, s, b), axis=1)[:, :int(np.max(inside.sum(1), initial=0))]
        out.append(np.concatenate([a, s, b], axis=1))
    return out


def _composite(cuts: np.ndarray, panels: int):
    """Nodes and weights (points, pieces·panels·GAUSS) of Gauss–Legendre on equal panels of
    τ ∈ [0, 1], mapped onto each piece by y = a + (b − a)·τ²/(τ² + (1 − τ)²).

    The map's Jacobian vanishes at both ends, so a kink, an infinite slope (sqrt(|y|)) or the
    vertex of a cone at a cut is integrated as a smooth function: without it a sqrt end point
    converges like h^1.5 and the 2-D cone like h^3.
    """
    xi, w = np.polynomial.legendre.leggauss(GAUSS)
    tau = ((np.arange(panels)[:, None] + (xi + 1.0) / 2.0) / panels).ravel()
    den = tau ** 2 + (1.0 - tau) ** 2
    phi, jac = tau ** 2 / den, 2.0 * tau * (1.0 - tau) / den ** 2
    wt = np.tile(w / (2.0 * panels), panels) * jac
    a, width = cuts[:, :-1], np.diff(cuts, axis=1)
    nodes = a[..., None] + width[..., None] * phi
    return nodes.reshape(len(cuts), -1), (width[..., None] * wt).reshape(len(cuts), -1)


def _gauss(g, x, search, cuts, panels: int, eps: float) -> np.ndarray:
    """−ε log of the tensor-product Gauss sum of exp(−Φ/ε) dv on each point's window (without
    log_norm); empty pieces have zero weight. Nodes are built one block of points at a time."""
    parts = [_composite(c, panels) for c in cuts]
    size = int(np.prod([p[0].shape[1] for p in parts]))
    out = np.empty(x.shape[0])
    step = max(1, CHUNK // size)
    for a in range(0, x.shape[0], step):
        s, w = _tensor([(nodes[a:a + step], weights[a:a + step]) for nodes, weights in parts])
        phi = _objective(g, x[a:a + step], search, s)
        m = np.min(phi, axis=1, keepdims=True)
        total = np.sum(w * np.exp(-(phi - m) / eps), axis=1)
        out[a:a + step] = m[:, 0] - eps * (np.log(total) + x.shape[1] * np.log(search.radius))
    return out


def _tensor(parts):
    """Per point, the product of the axes' rules: nodes (points, m, d) and weights (points, m)."""
    if len(parts) == 1:
        return parts[0][0][..., None], parts[0][1]
    (n0, w0), (n1, w1) = parts
    s = np.stack(np.broadcast_arrays(n0[:, :, None], n1[:, None, :]), -1)
    return s.reshape(len(n0), -1, 2), (w0[:, :, None] * w1[:, None, :]).reshape(len(n0), -1)


def dependence_box(g, ham, t: float, eps: float, x, *, coarse: Coarse | None = None):
    """(lo, hi, reach): a box holding every y that influences u(x, t) for x in `x` (to e^{-20}
    for ε > 0), and the largest |x − y| over those y (the distance information travels).

    dom L = ℝᵈ: the y within 20ε of the Hopf–Lax minimum (at ε = 0: the minimisers, padded by
    two coarse cells). dom L inside a dual-norm ball of radius r (speeds |∂H/∂p_k| ≤ r):
    x ± r·t plus √(80εtλ_D) (the e^{-20} tail of the heat kernel of ε tr(D∇²), λ_D = max eig D).
    """
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    if ham.domain is not None:
        lam_d = float(np.max(np.linalg.eigvalsh(np.atleast_2d(ham.diffusion(x.shape[1])))))
        reach = float(ham.domain[1]) * t + np.sqrt(2.0 * DOMAIN_TAIL * 2.0 * eps * t * lam_d)
        return x.min(axis=0) - reach, x.max(axis=0) + reach, reach
    coarse = _reuse(coarse, DOMAIN_TAIL * eps) or coarse_search(g, ham, t, x, DOMAIN_TAIL * eps)
    near = coarse.near(DOMAIN_TAIL * eps)
    pad = 2.0 * coarse.search.radius * coarse.spacing
    v = coarse.search.to_v(coarse.nodes)
    feet = (x[:, None, :] - v[None])[near]
    lo = np.minimum(feet.min(axis=0) - pad, x.min(axis=0))
    hi = np.maximum(feet.max(axis=0) + pad, x.max(axis=0))
    reach = float(np.max(np.linalg.norm(v, axis=1)[np.any(near, axis=0)])) + float(np.max(pad))
    return lo, hi, reach


def _require_lagrangian(ham, d: int) -> None:
    """NotSupported unless the Hamiltonian states L = H* (the search minimises g + t·L)."""
    try:
        ham.lagrangian(np.zeros((1, d)))
    except NotImplementedError:
        raise ham.unsupported("the brute-force Hopf–Lax reference",
                              "the Hamiltonian states no Lagrangian L = H*") from None


def _reuse(coarse: Coarse | None, threshold: float) -> Coarse | None:
    return coarse if coarse is not None and coarse.threshold >= threshold else None
