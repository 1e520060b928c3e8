"""ε = 0 convex fit in any dimension: the hull cuts, with the lower envelope found point by point.

The hull cuts (convex_regression_hull.py) need the lower convex hull of the lifted points
(x_j, φ_j), which qhull cannot build beyond d ≈ 4. The cut loop only needs two facts per point,
though: whether (x_i, φ_i) lies above the lower envelope of the others, and if not, a supporting
slope s_i with φ_j ≥ φ_i + s_iᵀ(x_j − x_i) for every j. Both come from one small LP over a set of
candidate points J_i,

    max c  s.t.  c + sᵀ(x_j − x_i) ≤ φ_j − φ_i  (j ∈ J_i ∪ {i}),

whose value c ≤ 0 is the envelope of J_i at x_i minus φ_i. The envelope of J_i lies above the
envelope of all points, so c < 0 proves the point above it, and the LP's multipliers μ (at most
d + 1 of them, Σ μ_j x_j = x_i, Σ μ_j = 1) give the cut φ_i ≤ Σ μ_j φ_j for the cut QP. When c = 0
the slope is checked against all n points, the worst offenders join J_i, and so on.

Most points never need the LP: their feasible slopes form a fat polytope, and relaxed
projections onto the most violated candidate half-space (Agmon–Motzkin), run for all points at
once, land inside it. Each round then scans the unfinished pieces against all n points in tiles
(memory O(n·d + tile²)); only points whose candidate system the projections cannot solve go to
HiGHS. The final certificate is the same all-pairs scan, KKT residual and duality gap as for the
other methods.
"""

from __future__ import annotations

import numpy as np

from hjdsl.errors import run_error
from hjdsl.fit.convex_regression_cert import excess_tiles
from hjdsl.fit.convex_regression_hull import (_CUT_BELOW, _DROP_BELOW, _member, _unique_rows,
                                              solve_cut_qp)

_ROW_CHUNK = 20_000  # points per least-squares batch
_DIFF_ENTRIES = 4_000_000  # candidate differences (points × candidates × d) held at once
_PROJECTIONS = 200  # relaxed projection sweeps per round
_RELAX = 1.5  # over-relaxation of each projection (1 < r < 2 converges)
_LP_AFTER = 10  # failed scans after which a point's candidate system is solved exactly
_SPREAD = 4  # points a failed scan adds to a piece's candidates (the worst of 4 tiles)
_DONE_BELOW = 0.5  # a piece is finished when its worst violation is ≤ tol × this


def local_slopes(x, phi, cand):
    """Least-squares slopes of φ on each point's candidates (a starting point)."""
    n, d = x.shape
    out = np.empty((n, d))
    for start in range(0, n, _ROW_CHUNK):
        rows = np.arange(start, min(n, start + _ROW_CHUNK))
        diff = x[cand[rows]] - x[rows, None]
        gram = np.einsum("nkd,nke->nde", diff, diff) + 1e-9 * np.eye(d)
        rhs = np.einsum("nkd,nk->nd", diff, phi[cand[rows]] - phi[rows, None])
        out[rows] = np.linalg.solve(gram, rhs[..., None])[..., 0]
    return out


def project(x, phi, s, rows, cand):
    """Relaxed projections of s[rows] onto their candidate half-spaces; worst candidate violation.

    The half-spaces are sᵀ(x_j − x_i) ≤ φ_j − φ_i for j in cand[i]; every sweep moves each slope
    to (past) the boundary of its most violated one.
    """
    worst = np.zeros(rows.size)
    step = max(1, _DIFF_ENTRIES // (cand.shape[1] * x.shape[1]))
    for start in range(0, rows.size, step):
        part = rows[start:start + step]
        diff = x[cand[part]] - x[part, None]  # (m, k, d)
        rhs = phi[cand[part]] - phi[part, None]
        norm = np.maximum((diff ** 2).sum(2), 1e-300)
        slope = s[part]
        at = np.arange(part.size)
        for _ in range(_PROJECTIONS):
            excess = np.einsum("mkd,md->mk", diff, slope) - rhs
            k = excess.argmax(1)
            over = np.maximum(excess[at, k], 0.0)
            if not over.any():
                break
            slope = slope - (_RELAX * over / norm[at, k])[:, None] * diff[at, k]
        excess = np.einsum("mkd,md->mk", diff, slope) - rhs
        s[part] = slope
        worst[start:start + part.size] = excess.max(1)
    return worst


def scan(x, phi, s, rows, cols=None, *, above=np.inf, spread=1):
    """For each piece in `rows`: its largest violation over the points `cols` (default all), and
    (m, spread) points to add, the worst of each of its `spread` worst tiles above `above`
    (tiles are blocks of point indices, so these are far apart; the worst point comes first,
    and a row with fewer repeats it).
    """
    cols = np.arange(x.shape[0]) if cols is None else cols
    if rows.size == 0 or cols.size == 0:
        return np.full(rows.size, -np.inf), np.zeros((rows.size, 1), dtype=np.int64)
    tiles = {}  # row offset → [(worst value, its point) per tile of points, in order]
    for r0, c0, block in excess_tiles(x, phi, s, rows, cols):
        arg = block.argmax(1)
        tiles.setdefault(r0, []).append((block[np.arange(arg.size), arg], cols[c0 + arg]))
    vals = np.vstack([np.column_stack([v for v, _ in tiles[r0]]) for r0 in sorted(tiles)])
    where = np.vstack([np.column_stack([j for _, j in tiles[r0]]) for r0 in sorted(tiles)])
    order = np.argsort(-vals, axis=1)[:, :spread]
    top = np.take_along_axis(where, order, 1)
    top = np.where(np.take_along_axis(vals, order, 1) > above, top, top[:, :1])
    return vals.max(1), top


def envelope_lp(x, phi, i, cand):
    """(c, s, vertices, μ) of the envelope LP of point i over its candidates (HiGHS dual simplex)."""
    from scipy.optimize import linprog

    d = x.shape[1]
    others = np.unique(cand)
    others = others[others != i]
    diff = np.vstack([x[others] - x[i], np.zeros(d)])
    rhs = np.append(phi[others] - phi[i], 0.0)
    lhs = np.column_stack([diff, np.ones(others.size + 1)])
    cost = np.zeros(d + 1)
    cost[d] = -1.0
    res = linprog(cost, A_ub=lhs, b_ub=rhs, bounds=[(None, None)] * (d + 1), method="highs-ds",
                  options={"primal_feasibility_tolerance": 1e-10,
                           "dual_feasibility_tolerance": 1e-10})
    if res.status != 0:  # s = 0, c = min(φ_j − φ_i, 0) is always feasible and c ≤ 0 bounds it
        raise run_error(f"convex fit: the envelope LP of point {i} failed ({res.message})")
    mu = -np.asarray(res.ineqlin.marginals)[:-1]
    keep = mu > 1e-14
    return -res.fun, res.x[:d], others[keep], mu[keep]


def classify(x, phi, s, cand, *, tol, cut_above, todo=None, max_rounds=200):
    """Supporting slopes for the points on the envelope of (x, φ) and cuts for those above it.

    Only the pieces in `todo` (default all) are examined; the others must already be valid. A
    point leaves as soon as its LP shows it above the envelope of its candidates (which lies
    above the envelope of all points, so the cut is valid); every other point ends with a slope
    whose plane through (x_i, φ_i) lies below all n lifted points. s (n, d) is updated in place;
    returns (cand, cut rows (m, d + 2) = [i, j_0 … j_d], cut μ (m, d + 1)).
    """
    n, d = x.shape
    done_below = tol * _DONE_BELOW
    todo = np.arange(n) if todo is None else todo
    fails = np.zeros(n, dtype=np.int64)
    rows, mus = [], []
    for _ in range(max_rounds):
        residual = project(x, phi, s, todo, cand)
        exact = todo[(residual > done_below) | (fails[todo] >= _LP_AFTER)]
        above = []
        for i in exact:  # the few points the projections cannot settle
            c, slope, verts, mu = envelope_lp(x, phi, i, cand[i])
            if c < -cut_above:
                above.append(i)
                rows.append(np.concatenate([[i], verts, np.full(d + 1 - verts.size, verts[0])]))
                mus.append(np.r_[mu / mu.sum(), np.zeros(d + 1 - verts.size)])
            else:
                s[i] = slope
        todo = np.setdiff1d(todo, above, assume_unique=True)
        worst, add = scan(x, phi, s, todo, above=done_below, spread=_SPREAD)
        bad = worst > done_below
        todo, add = todo[bad], add[bad]
        if todo.size == 0:
            return (cand, np.array(rows, dtype=np.int64).reshape(-1, d + 2),
                    np.array(mus).reshape(-1, d + 1))
        fails[todo] += 1
        grown = np.repeat(cand[:, :1], cand.shape[1] + add.shape[1], axis=1)
        grown[:, :cand.shape[1]] = cand
        grown[todo, cand.shape[1]:] = add
        cand = grown
    raise run_error(f"convex fit: the envelope search did not settle in {max_rounds} rounds "
                    f"({todo.size} points left)")


def facet_slopes(x, phi, s, rows, lam):
    """Start each cut point from the plane through its cut's vertices (its largest-λ cut).

    After the QP a point with an active cut lies on that face, where the feasible slopes are
    thin and projections would crawl; the face's own plane is the natural candidate.
    """
    if rows.shape[0] == 0:
        return
    order = np.lexsort((-lam, rows[:, 0]))
    first = order[np.r_[True, rows[order[1:], 0] != rows[order[:-1], 0]]]
    i, verts = rows[first, 0], rows[first, 1:]
    diff = x[verts] - x[i, None]
    s[i] = np.einsum("mdk,mk->md", np.linalg.pinv(diff), phi[verts] - phi[i, None])


def solve_envelope(x, v, *, tol, max_rounds=200, neighbours=None, solver_options=None, log=None):
    """The envelope-cut loop on standardised data; returns (φ, s, λ, pairs, status, rounds, worst).

    λ are pair multipliers on `pairs` and `worst` the largest violation over all n² pairs, as
    for solve_hull.

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(80, 5))
    >>> phi, s, lam, pairs, status, rounds, worst = solve_envelope(x, (x ** 2).sum(1), tol=1e-7)
    >>> bool(worst <= 1e-7)
    True
    """
    from scipy.spatial import cKDTree

    from hjdsl.fit.max_affine import violations

    n, d = x.shape
    k = min(n - 1, neighbours or 3 * d)
    if k < 1:
        raise run_error("convex fit: the envelope cuts need at least two points")
    cand = cKDTree(x).query(x, k + 1)[1][:, 1:]
    cut_above = tol * _CUT_BELOW
    phi = v.copy()
    s = local_slopes(x, phi, cand)
    rows = np.empty((0, d + 2), dtype=np.int64)
    mu = np.empty((0, d + 1))
    lam = np.empty(0)
    status = "optimal"  # φ = v needs no QP when no point lies above the envelope
    dropped = np.empty((0, d + 2), dtype=np.int64)
    sticky = np.empty((0, d + 2), dtype=np.int64)  # dropped cuts that came back stay for good
    todo = None  # every piece
    for rounds in range(1, max_rounds + 1):
        cand, new_rows, new_mu = classify(x, phi, s, cand, tol=tol, cut_above=cut_above,
                                          todo=todo)
        if log is not None:
            log(rounds, rows.shape[0], new_rows.shape[0])
        if new_rows.shape[0] == 0:
            break
        if _member(new_rows, rows).all():
            raise run_error(f"convex fit: the envelope cuts stalled ({new_rows.shape[0]} points "
                            "above the envelope give no new cut)",
                            hint="raise tol, or use method='sparse'")
        if lam.size:
            sticky = np.concatenate([sticky, new_rows[_member(new_rows, dropped)]])
            active = lam > _DROP_BELOW * max(1.0, float(lam.max()))
            active |= _member(rows, sticky)
            dropped = np.concatenate([dropped, rows[~active]])
            rows, mu = rows[active], mu[active]
        rows, mu = _unique_rows(np.concatenate([rows, new_rows]), np.concatenate([mu, new_mu]))
        before = phi
        phi, lam, status = solve_cut_qp(v, rows, mu, solver_options=solver_options)
        # a point in no cut has (φ_i − v_i)² alone in the QP: φ_i = v_i, exactly
        free = np.ones(n, dtype=bool)
        free[rows.ravel()] = False
        phi[free] = v[free]
        facet_slopes(x, phi, s, rows, lam)
        # pieces that were valid stay valid against the points whose φ did not move
        moved = np.nonzero(phi != before)[0]
        worst, _ = scan(x, phi, s, np.arange(n), moved)
        todo = np.union1d(np.union1d(moved, rows[:, 0]),
                          np.nonzero(worst > tol * _DONE_BELOW)[0])
    else:
        raise run_error(f"convex fit: the envelope cuts did not converge in {max_rounds} rounds",
                        hint="raise max_rounds or tol, or use method='sparse'")
    pairs = np.column_stack([np.repeat(rows[:, 0], d + 1), rows[:, 1:].ravel()])
    duals = (lam[:, None] * mu).ravel() if lam.size else np.empty(0)
    worst, _ = violations(x, phi, s, per_piece=0, tol=np.inf)
    return phi, s, duals, pairs, status, rounds, worst
