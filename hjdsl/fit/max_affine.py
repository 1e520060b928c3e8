"""ε = 0 convex fit: least-squares max-affine regression, by cutting planes on a working set."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from hjdsl.errors import run_error
from hjdsl.fit.convex_regression_cert import certificate, violations  # noqa: F401 (public here)
from hjdsl.fit.convex_regression_prune import prune_pieces  # noqa: F401 (public here)
from hjdsl.solver_status import ACCEPTABLE, Check, judge, normalise

# Statuses worth a certificate; which answers are accepted is hjdsl's one rule, solver_status.py.
OK_STATUSES = ACCEPTABLE


@dataclass(frozen=True)
class MaxAffine:
    """A solved max-affine regression: fitted values phi (n,), subgradients slopes (n, d)."""

    phi: np.ndarray
    slopes: np.ndarray
    status: str
    solver: str
    certificate: dict

    def pieces(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(W, b) with W_i = s_i, b_i = phi_i − s_iᵀx_i: f_0(x) = max_i W_iᵀx + b_i."""
        return self.slopes, self.phi - np.einsum("nd,nd->n", self.slopes, x)


def knn_pairs(x: np.ndarray, k: int) -> np.ndarray:
    """(m, 2) pairs (i, j): each point with its k nearest neighbours, both directions."""
    from scipy.spatial import cKDTree

    n = x.shape[0]
    k = min(k, n - 1)
    _, nbr = cKDTree(x).query(x, k=k + 1)
    i = np.repeat(np.arange(n), k)
    j = nbr[:, 1:].ravel()
    return _unique_pairs(np.concatenate([np.stack([i, j], 1), np.stack([j, i], 1)]), n)


def hull_pairs(x: np.ndarray, directions: int = 16, seed: int = 0) -> np.ndarray:
    """Pairs (i, e) for every point i and a few extreme points e of the data.

    Without them a point near the boundary has unconstrained slopes in the first round and the
    next round must add many long-range constraints; a handful of hub points bounds every slope.
    """
    n, d = x.shape
    rng = np.random.default_rng(seed)
    dirs = np.vstack([np.eye(d), -np.eye(d), rng.normal(size=(directions, d))])
    extreme = np.unique(np.argmax(x @ dirs.T, axis=0))
    i = np.repeat(np.arange(n), extreme.size)
    e = np.tile(extreme, n)
    keep = i != e
    return np.stack([i[keep], e[keep]], 1)


def all_pairs(n: int) -> np.ndarray:
    """Every ordered pair i ≠ j: the naive formulation's n(n − 1) constraints."""
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    return np.stack([i, j], 1)


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    codes = np.unique(pairs[:, 0].astype(np.int64) * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], 1)


def _constraint_matrix(x, pairs):
    """Sparse G with (G z)_k = φ_j − φ_i − s_iᵀ(x_j − x_i) for pair k = (i, j), z = [φ; vec(s)]."""
    from scipy import sparse

    n, d = x.shape
    m = pairs.shape[0]
    i, j = pairs[:, 0], pairs[:, 1]
    rows = np.arange(m)
    data = np.concatenate([np.ones(m), -np.ones(m), -(x[j] - x[i]).ravel()])
    cols = np.concatenate([j, i, n + (i[:, None] * d + np.arange(d)).ravel()])
    rows = np.concatenate([rows, rows, np.repeat(rows, d)])
    return sparse.csc_matrix((data, (rows, cols)), shape=(m, n * (d + 1)))


def _fail(solver: str, status: str):
    return run_error(f"convex fit: the solver {solver} returned status {status!r}",
                     hint="the max-affine QP is always feasible, so this is a numerical failure: "
                          "rescale the data or try another solver")


def solve_qp(x, v, pairs, *, max_slope=None, solver_options=None):
    """min Σ(φ_i − v_i)² s.t. φ_j ≥ φ_i + s_iᵀ(x_j − x_i) for (i, j) in pairs, by Clarabel.

    Called directly (not through cvxpy) because a cutting-plane round rebuilds the problem and
    cvxpy's canonicalisation would cost as much as the solve. Returns (phi, slopes, duals, status).
    """
    import clarabel
    from scipy import sparse

    n, d = x.shape
    nz = n * (d + 1)
    # Clarabel: min ½zᵀPz + qᵀz s.t. Az + slack = b, slack ∈ K; here −Gz + slack = 0, slack ≥ 0.
    P = sparse.diags(np.r_[np.full(n, 2.0), np.zeros(n * d)], format="csc")
    q = np.r_[-2.0 * v, np.zeros(n * d)]
    A = -_constraint_matrix(x, pairs)
    b = np.zeros(pairs.shape[0])
    cones = [clarabel.NonnegativeConeT(pairs.shape[0])]
    if max_slope is not None:
        box = sparse.hstack([sparse.csc_matrix((n * d, n)), sparse.identity(n * d)])
        A = sparse.vstack([A, box, -box])
        caps = np.tile(np.broadcast_to(np.asarray(max_slope, dtype=float), (d,)), n)
        b = np.r_[b, caps, caps]
        cones.append(clarabel.NonnegativeConeT(2 * n * d))
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    # tighter than the defaults (1e-8) so the fit matches the all-pairs QP to 1e-6 and better
    settings.tol_gap_abs = settings.tol_gap_rel = 1e-12
    settings.tol_feas = 1e-10
    for key, value in (solver_options or {}).items():
        setattr(settings, key, value)
    solution = clarabel.DefaultSolver(P, q, sparse.csc_matrix(A), b, cones, settings).solve()
    status = normalise(solution.status)  # `AlmostSolved` → optimal_inaccurate, judged later
    if status not in OK_STATUSES:
        raise _fail("Clarabel", status)
    z = np.asarray(solution.x)
    duals = np.maximum(np.asarray(solution.z)[: pairs.shape[0]], 0.0)
    return z[:n].copy(), z[n:].reshape(n, d).copy(), duals, status


def naive_qp(x, v, *, solver="CLARABEL", solver_options=None):
    """The same QP with all n(n − 1) constraints, written with cvxpy atoms (the reference)."""
    import cvxpy as cp

    n, d = x.shape
    phi, s = cp.Variable(n), cp.Variable((n, d))
    # row i, column j: φ_j − φ_i − s_iᵀx_j + s_iᵀx_i ≥ 0 (the diagonal is 0 ≥ 0, harmless)
    ones = np.ones((1, n))
    row = cp.reshape(phi, (1, n), order="C")
    col = cp.reshape(phi, (n, 1), order="C")
    s_dot_x = cp.reshape(cp.sum(cp.multiply(s, x), axis=1), (n, 1), order="C")
    gaps = ones.T @ row - col @ ones - s @ x.T + s_dot_x @ ones
    constraint = gaps >= 0
    problem = cp.Problem(cp.Minimize(cp.sum_squares(phi - v)), [constraint])
    try:
        problem.solve(solver=solver, **(solver_options or {}))
    except cp.SolverError as exc:
        raise run_error(f"convex fit: the solver {solver} failed: {exc}") from None
    if problem.status not in OK_STATUSES or phi.value is None:
        raise _fail(solver, problem.status)
    lam = np.maximum(np.asarray(constraint.dual_value), 0.0)
    off = ~np.eye(n, dtype=bool)
    return phi.value.copy(), s.value.copy(), lam[off], problem.status


def fit_max_affine(x, v, *, tol=1e-7, neighbours=None, per_piece=None, per_point=0,
                   max_rounds=None, max_slope=None, naive=False, solver="CLARABEL",
                   solver_options=None, method=None) -> MaxAffine:
    """Least-squares convex regression of v on x by cutting planes (or naively, all pairs).

    Data are standardised first (the problem is affine-invariant in x and v), solved, then mapped
    back; `tol` is the allowed constraint violation in standardised units. `method="auto"` (the
    default) takes the hull cuts (hjdsl/fit/convex_regression_hull.py) for d ≤ 4 without a slope
    cap, the envelope cuts (hjdsl/fit/convex_regression_envelope.py: the same cuts, the envelope
    found point by point) above that or when qhull cannot build the hull, and the sparse working
    set under a slope cap; `method="sparse"` (hjdsl/fit/convex_regression.py) keeps the working set near the active set;
    `method="cutting_planes"` (chosen too when a cut selection per_piece/per_point is given) is
    the former loop: kNN and hub pairs, and each round adds, for every violating piece, its
    `per_piece` (1) worst points (and, if per_point > 0, for every violated point its `per_point`
    worst pieces), never dropping any.

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(40, 2))
    >>> fit = fit_max_affine(x, (x ** 2).sum(1))
    >>> fit.certificate["max_violation"] < 1e-6
    True
    """
    if naive and max_slope is not None:
        raise ValueError("max_slope is not implemented for the naive reference QP")
    x = np.asarray(x, dtype=float)
    v = np.asarray(v, dtype=float)
    n, d = x.shape
    mu_x, sd_x = x.mean(0), x.std(0)
    sd_x = np.where(sd_x > 0, sd_x, 1.0)
    mu_v, sd_v = v.mean(), v.std()
    sd_v = sd_v if sd_v > 0 else 1.0
    xs, vs = (x - mu_x) / sd_x, (v - mu_v) / sd_v
    # |s_k| ≤ L in data units is |s'_k| ≤ L σ_x,k / σ_v after standardising
    slope_cap = None if max_slope is None else max_slope * sd_x / sd_v
    if method is None:
        method = "cutting_planes" if (per_piece is not None or per_point) else "auto"
    if method not in ("auto", "hull", "envelope", "sparse", "cutting_planes"):
        raise ValueError(f"unknown max-affine method {method!r} (auto, hull, envelope, sparse, "
                         "cutting_planes)")
    start = time.perf_counter()
    if method in ("auto", "hull") and not naive:
        from hjdsl.fit.convex_regression_hull import HULL_MAX_D, fit_by_hull

        if method == "hull" and slope_cap is not None:
            raise ValueError("max_slope is not implemented for method='hull'")
        # the hull cuts know no slope cap, and qhull's cost explodes above HULL_MAX_D
        found = fit_by_hull(xs, vs, tol=tol, max_rounds=max_rounds or 200,
                            solver_options=solver_options) \
            if method == "hull" or (d <= HULL_MAX_D and slope_cap is None) else None
        if found is not None:
            phi, s, duals, pairs, status, rounds, worst = found
            return _finish(xs, vs, (mu_v, sd_v, sd_x), phi, s, duals, status, pairs, rounds, worst,
                           start, tol, "Clarabel", primary=not solver_options, solver=solver)
        method = "envelope" if slope_cap is None else "sparse"
    if method == "envelope" and not naive:
        from hjdsl.fit.convex_regression_envelope import solve_envelope

        if slope_cap is not None:
            raise ValueError("max_slope is not implemented for method='envelope'")
        phi, s, duals, pairs, status, rounds, worst = solve_envelope(
            xs, vs, tol=tol, neighbours=neighbours, max_rounds=max_rounds or 200,
            solver_options=solver_options)
        return _finish(xs, vs, (mu_v, sd_v, sd_x), phi, s, duals, status, pairs, rounds, worst,
                       start, tol, "Clarabel", primary=not solver_options, solver=solver)
    if method == "sparse" and not naive:
        from hjdsl.fit.convex_regression import solve_sparse

        phi, s, duals, pairs, status, rounds, worst = solve_sparse(
            xs, vs, tol=tol, neighbours=neighbours, max_rounds=max_rounds or 500,
            slope_cap=slope_cap, solver_options=solver_options)
        return _finish(xs, vs, (mu_v, sd_v, sd_x), phi, s, duals, status, pairs, rounds, worst,
                       start, tol, "Clarabel", primary=not solver_options, solver=solver)
    per_piece = 1 if per_piece is None else per_piece
    max_rounds = 60 if max_rounds is None else max_rounds
    if naive:
        pairs = all_pairs(n)
    else:
        pairs = _unique_pairs(np.concatenate([knn_pairs(xs, neighbours or 2 * d + 4),
                                              hull_pairs(xs)]), n)
    rounds = 0
    while True:
        rounds += 1
        if naive:
            phi, s, duals, status = naive_qp(xs, vs, solver=solver, solver_options=solver_options)
        else:
            phi, s, duals, status = solve_qp(xs, vs, pairs, max_slope=slope_cap,
                                             solver_options=solver_options)
        worst, new = violations(xs, phi, s, per_piece=per_piece, per_point=per_point, tol=tol)
        if worst <= tol or naive:
            break
        if rounds >= max_rounds:
            raise run_error(f"convex fit: cutting planes did not converge in {max_rounds} rounds "
                            f"(max violation {worst:.3g} > tol {tol:.3g})",
                            hint="raise max_rounds or tol")
        pairs = _unique_pairs(np.concatenate([pairs, new]), n)
    return _finish(xs, vs, (mu_v, sd_v, sd_x), phi, s, duals, status, pairs, rounds, worst,
                   start, tol, "Clarabel" if not naive else solver,
                   primary=(not naive or solver == "CLARABEL") and not solver_options,
                   solver=solver)


def _finish(xs, vs, scales, phi, s, duals, status, pairs, rounds, worst, start, tol, name, *,
            primary, solver) -> MaxAffine:
    """Certify the standardised solution (all n² pairs) and map it back to data units."""
    mu_v, sd_v, sd_x = scales
    cert = certificate(xs, vs, phi, s, pairs, duals, worst)
    # hjdsl's one rule (solver_status.py): Clarabel's own `optimal` with hjdsl's tolerances is
    # trusted; anything else must show KKT residual and relative gap ≤ tol (standardised units)
    gap = abs(cert["duality_gap"]) / max(1.0, abs(cert["objective"]))
    ok, verdict = judge(status, name, [Check("KKT residual", cert["kkt_residual"], tol),
                                       Check("relative duality gap", gap, tol)], primary=primary)
    if not ok:
        raise run_error(f"convex fit: the answer is not certified ({verdict})",
                        hint="rescale the data, or try another solver or looser `tol`")
    # back to data units: φ = σ_v φ' + μ_v, s = σ_v s' / σ_x; objectives scale by σ_v².
    for key in ("objective", "dual_objective", "duality_gap"):
        cert[key] *= sd_v ** 2
    cert.update(rounds=float(rounds), constraints=float(pairs.shape[0]),
                seconds=time.perf_counter() - start, max_violation_data_units=worst * sd_v)
    cert = {key: float(val) for key, val in cert.items()}
    return MaxAffine(phi * sd_v + mu_v, s * sd_v / sd_x, status, solver, cert)
