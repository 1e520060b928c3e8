"""ε = 0 convex fit in low dimension: a QP in the fitted values alone, cut by their lower hull.

The pairwise QP's slopes carry no cost, so an interior-point solve on a working set returns
central slopes that violate pairs outside it (at n = 2,000, d = 3 the sparse working set needed 52
rounds with violations up to 1e5). Here the slopes leave the problem: φ extends to a convex
function iff no point lies above the lower convex hull of the lifted points (x_j, φ_j), and a
point above it is cut by the facet beneath it, φ_i ≤ Σ_k μ_k φ_{j_k} with x_i = Σ_k μ_k x_{j_k}
(μ ≥ 0, Σ μ = 1). Any such cut is implied by the pairwise constraints (sum them with weights μ_k),
so the cut QP is a relaxation; once the hull test passes, φ is feasible and hence optimal, the
slopes are those of the facets through each point, and a cut's multiplier λ splits into pair
multipliers λ μ_k that satisfy stationarity in s exactly (Σ_k λ μ_k (x_{j_k} − x_i) = 0).
qhull (scipy.spatial.ConvexHull) builds the (d + 1)-dimensional hull in milliseconds for d ≤ 4
at n = 10⁴ but its cost explodes with dimension, so higher d finds the same cuts point by point
(convex_regression_envelope.py).
"""

from __future__ import annotations

import numpy as np

from hjdsl.errors import run_error

HULL_MAX_D = 4  # qhull's hull of n points in d + 1 dimensions stays cheap up to here
_CHUNK = 2_000_000  # entries of the (points × facets) block held at once
_DROP_BELOW = 1e-9  # a cut whose multiplier is below this × max(1, max λ) leaves the QP
# Cut every point more than tol × _CUT_BELOW above the hull: a gap just under tol still moves φ
# by about tol (two twins at one x ended 3.6e-8 apart with tol = 1e-7), and cuts are always valid.
_CUT_BELOW = 1e-2


class HullUnavailable(Exception):
    """qhull cannot build the lifted hull (too few or affinely dependent points)."""


def lower_hull(x: np.ndarray, phi: np.ndarray):
    """(gap, facet, simplices, slopes, offsets) of the lower hull of the lifted points.

    gap_i = φ_i − (lower envelope at x_i) ≥ 0 up to round-off; facet_i is a lower facet whose
    plane attains the envelope at x_i (one through i when i is a vertex), slopes/offsets are the
    facets' planes y = sᵀx + c. Memory is O(n·d + _CHUNK).
    """
    from scipy.spatial import ConvexHull, QhullError

    n, d = x.shape
    lifted = np.column_stack([x, phi])
    try:
        hull = ConvexHull(lifted)
    except (QhullError, ValueError):
        # many points on one piece are coplanar to round-off and can defeat qhull's merging;
        # joggling the input by ~1e-11 (QJ) always gives a simplicial hull, whose planes are
        # then off by about that much, far below any tol: the certificate is exact regardless
        try:
            hull = ConvexHull(lifted, qhull_options="QJ")
        except (QhullError, ValueError) as exc:
            raise HullUnavailable(str(exc).splitlines()[0]) from None
    eq = hull.equations  # outward unit normals (a, c) and offset: aᵀx + c y + off ≤ 0 inside
    low = eq[:, d] < -1e-12  # facets facing down; vertical ones bound no point from below
    if not low.any():
        raise HullUnavailable("the lifted hull has no lower facet")
    simplices = hull.simplices[low]
    slopes = -eq[low, :d] / eq[low, d, None]
    offsets = -eq[low, d + 1] / eq[low, d]
    gap = np.zeros(n)
    facet = np.full(n, -1, dtype=np.int64)
    facet[simplices.ravel()] = np.repeat(np.arange(simplices.shape[0]), d + 1)
    rest = np.nonzero(facet < 0)[0]  # not a lower vertex: locate the facet beneath
    rows = max(1, _CHUNK // simplices.shape[0])
    for start in range(0, rest.size, rows):
        idx = rest[start:start + rows]
        planes = x[idx] @ slopes.T + offsets
        facet[idx] = planes.argmax(1)
        gap[idx] = phi[idx] - planes.max(1)
    return gap, facet, simplices, slopes, offsets


def hull_cuts(x, points, facet, simplices):
    """(rows (m, d + 2) = [i, j_0 … j_d], μ (m, d + 1)): each point under its facet's vertices."""
    d = x.shape[1]
    verts = simplices[facet[points]]
    # barycentric coordinates: [x_j; 1] μ = [x_i; 1]
    lhs = np.concatenate([x[verts].transpose(0, 2, 1), np.ones((points.size, 1, d + 1))], 1)
    rhs = np.concatenate([x[points], np.ones((points.size, 1))], 1)[..., None]
    try:
        mu = np.linalg.solve(lhs, rhs)[..., 0]
    except np.linalg.LinAlgError:
        raise HullUnavailable("a lower facet is degenerate") from None
    # a point outside its facet's simplex (round-off at an edge) would give an invalid cut
    ok = (mu > -1e-9).all(1) & (verts != points[:, None]).all(1)
    return np.column_stack([points[ok], verts[ok]]), np.clip(mu[ok], 0.0, None)


def solve_cut_qp(v, rows, mu, *, solver_options=None):
    """min Σ(φ_i − v_i)² s.t. φ_i ≤ Σ_k μ_k φ_{j_k} for every cut, by Clarabel; (φ, λ, status)."""
    import clarabel
    from scipy import sparse

    from hjdsl.fit.max_affine import OK_STATUSES, _fail
    from hjdsl.solver_status import normalise

    n, m = v.size, rows.shape[0]
    data = np.column_stack([np.ones(m), -mu]).ravel()
    A = sparse.csc_matrix((data, (np.repeat(np.arange(m), rows.shape[1]), rows.ravel())),
                          shape=(m, n))
    P = sparse.diags(np.full(n, 2.0), format="csc")
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = 1e-12  # as the pairwise QP (max_affine.py)
    settings.tol_feas = 1e-10
    for key, value in (solver_options or {}).items():
        setattr(settings, key, value)
    cones = [clarabel.NonnegativeConeT(m)]
    solution = clarabel.DefaultSolver(P, -2.0 * v, A, np.zeros(m), cones, settings).solve()
    status = normalise(solution.status)
    if status not in OK_STATUSES:
        raise _fail("Clarabel", status)
    return np.asarray(solution.x), np.maximum(np.asarray(solution.z), 0.0), status


def _unique_rows(rows, mu):
    keep = np.unique(rows, axis=0, return_index=True)[1]
    return rows[keep], mu[keep]


def _member(rows, table):
    """Which of `rows` occur in `table` (exact row match)."""
    if table.shape[0] == 0 or rows.shape[0] == 0:
        return np.zeros(rows.shape[0], dtype=bool)
    both = np.concatenate([table, rows])
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    return np.isin(inverse.ravel()[table.shape[0]:], inverse.ravel()[:table.shape[0]])


def solve_hull(x, v, *, tol, max_rounds=200, solver_options=None, log=None):
    """The hull-cut loop on standardised data; returns (φ, s, λ, pairs, status, rounds, worst).

    λ are pair multipliers on `pairs` (duals zero elsewhere) and `worst` the largest violation
    over all n² pairs, for max_affine.certificate. Raises HullUnavailable when qhull cannot.

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(60, 2))
    >>> phi, s, lam, pairs, status, rounds, worst = solve_hull(x, (x ** 2).sum(1), tol=1e-7)
    >>> bool(worst <= 1e-7)
    True
    """
    from hjdsl.fit.max_affine import violations

    n, d = x.shape
    if n < d + 2:
        raise HullUnavailable(f"{n} points cannot span a hull in {d + 1} dimensions")
    spread = np.linalg.svd(x - x.mean(0), compute_uv=False)
    if spread.min() <= 1e-10 * spread.max():  # flat data: every lower facet would be vertical
        raise HullUnavailable("the points lie in a lower-dimensional affine subspace")
    cut_above = tol * _CUT_BELOW
    gap, facet, simplices, _, _ = lower_hull(x, v)
    rows, mu = hull_cuts(x, np.nonzero(gap > cut_above)[0], facet, simplices)
    dropped = np.empty((0, d + 2), dtype=rows.dtype)
    sticky = np.empty((0, d + 2), dtype=rows.dtype)  # dropped cuts that came back stay for good
    for rounds in range(1, max_rounds + 1):
        phi, lam, status = solve_cut_qp(v, rows, mu, solver_options=solver_options)
        gap, facet, simplices, slopes, _ = lower_hull(x, phi)
        bad = np.nonzero(gap > cut_above)[0]
        if log is not None:
            log(rounds, rows.shape[0], float(gap.max()), bad.size)
        if bad.size == 0:
            break
        new_rows, new_mu = hull_cuts(x, bad, facet, simplices)
        if _member(new_rows, rows).all():  # nothing new (round-off at facet edges): stalled
            raise HullUnavailable(f"no new cut for {bad.size} points above the hull")
        sticky = np.concatenate([sticky, new_rows[_member(new_rows, dropped)]])
        active = (lam > _DROP_BELOW * max(1.0, float(lam.max(initial=0.0))))
        active |= _member(rows, sticky)
        dropped = np.concatenate([dropped, rows[~active]])
        rows, mu = _unique_rows(np.concatenate([rows[active], new_rows]),
                                np.concatenate([mu[active], new_mu]))
    else:
        raise run_error(f"convex fit: the hull cuts did not converge in {max_rounds} rounds "
                        f"(a point {gap.max():.3g} above the hull; cuts from {cut_above:.3g})",
                        hint="raise max_rounds or tol, or use method='sparse'")
    s = slopes[facet]  # the plane of a lower facet is below every lifted point: a subgradient
    i = np.repeat(rows[:, 0], d + 1)
    duals = (lam[:, None] * mu).ravel()
    pairs = np.column_stack([i, rows[:, 1:].ravel()])
    worst, _ = violations(x, phi, s, per_piece=0, tol=np.inf)
    return phi, s, duals, pairs, status, rounds, worst


def fit_by_hull(x, v, **options):
    """solve_hull's answer when it is certified over all n² pairs, else None (use the pairs)."""
    try:
        found = solve_hull(x, v, **options)
    except HullUnavailable:  # e.g. affinely dependent x, too few points, or stalled cuts
        return None
    return found if found[-1] <= options["tol"] else None
