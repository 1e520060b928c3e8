"""The numerical Lagrangian of a composite H: a 1-D solve for radial trees, a convex program otherwise.

Radial (H(p) = h(|p|_2), h convex non-decreasing): L(v) = h*(|v|) = sup_{r ≥ 0} r·s − h(r) at
s = |v|. The maximiser is r* = inf{r : h'(r) ≥ s} (h' the right derivative, non-decreasing), found
by a fixed number of vectorised steps that run the same in numpy and under jax.jit: an integer
bisection on the binary exponent k ∈ [−1075, 1023] of the bracket [2^(k−1), 2^k] (12 steps cover
every float), then BISECT_STEPS arithmetic bisections of that bracket (down to an ulp of r*, so
even a kink of h — where r·s − h(r) is linear in the error of r — costs only round-off). No data-dependent loop, so it traces, vectorises and
differentiates.

Other trees: one batched cvxpy program whose rows are the v's (the rows are separable, so the
sum of the row objectives is minimised by minimising each), from the tree's perspective form
with λ = 1.
"""

from __future__ import annotations

import numpy as np

EXPONENT_STEPS = 12  # 2^12 > 1023 + 1075 + 1: the integer bisection brackets any float
BISECT_STEPS = 54  # the bracket [2^(k−1), 2^k] to one ulp of r*: more steps change nothing
SOLVER_TOL = 1e-10
SCALAR_BYTES = 4096  # cvxpy's canonicalisation per scalar of the program, measured generously


def radial_conjugate(parts, s, xp=np):
    """h*(s) = sup_{r ≥ 0} r·s − h(r) for s ≥ 0 below the asymptotic slope of h (elementwise).

    parts(r, xp) → (h(r), h'(r), e(r)) with e = r·h' − h; the value is r·(s − h'(r)) + e(r),
    which has no cancellation where r·s and h(r) are both large (s near the slope of h).

    >>> float(radial_conjugate(lambda r, xp: (r * r, 2 * r, r * r), np.array(3.0)))
    2.25
    """
    s = xp.asarray(s, dtype=np.float64)
    lo_k = xp.full(s.shape, -1075, dtype=xp.int64)
    hi_k = xp.full(s.shape, 1023, dtype=xp.int64)
    one = xp.ones_like(s)
    for _ in range(EXPONENT_STEPS):  # invariant: h'(2^hi_k) ≥ s; h'(2^lo_k) < s or lo_k = −1075
        mid = (lo_k + hi_k) // 2
        up = parts(xp.ldexp(one, mid), xp)[1] >= s
        hi_k = xp.where(up, mid, hi_k)
        lo_k = xp.where(up, lo_k, mid)
    lo = xp.ldexp(one, lo_k)  # 2^−1075 rounds to 0: r* may be 0
    hi = xp.ldexp(one, hi_k)
    for _ in range(BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        up = parts(mid, xp)[1] >= s
        hi = xp.where(up, mid, hi)
        lo = xp.where(up, lo, mid)

    def value(r):
        _, slope, e = parts(r, xp)
        return r * (s - slope) + e

    # both ends are feasible r: the larger value is the nearer to the sup (a lower bound of it)
    return xp.maximum(value(lo), value(hi))


def program_lagrangian(persp, v: np.ndarray) -> np.ndarray:
    """L(v_i) for rows v (n, d) inside dom L, by one cvxpy program; persp(w, λ) → (values, cons)."""
    import cvxpy as cp

    v = np.asarray(v, dtype=np.float64)
    n = v.shape[0]
    if n == 0:
        return np.zeros(0)
    values, cons = persp(cp.Constant(v), np.ones(n))
    problem = cp.Problem(cp.Minimize(cp.sum(values)), cons)
    _solve(problem, "the convex program for L = H*")
    found = values if isinstance(values, np.ndarray) else values.value  # all-indicator trees: 0
    return np.asarray(found, dtype=np.float64).reshape(n)


def program_gauge(persp, v: np.ndarray) -> np.ndarray:
    """The gauge of dom L at rows v: min λ ≥ 0 with v/λ ∈ dom L (≤ 1 inside), one program."""
    import cvxpy as cp

    v = np.asarray(v, dtype=np.float64)
    n = v.shape[0]
    if n == 0:
        return np.zeros(0)
    lam = cp.Variable(n, nonneg=True)
    _, cons = persp(cp.Constant(v), lam)
    problem = cp.Problem(cp.Minimize(cp.sum(lam)), cons)
    _solve(problem, "the convex program for the domain of L")
    return np.asarray(lam.value, dtype=np.float64)


def _solve(problem, what: str) -> None:
    """Solve with Clarabel at SOLVER_TOL; by hjdsl's one rule (solver_status.py) only a clean
    `optimal` is taken, since these programs carry no certificate of their own."""
    import cvxpy as cp

    from hjdsl.errors import run_error
    from hjdsl.solver_status import judge

    try:
        problem.solve(solver=cp.CLARABEL, tol_gap_abs=SOLVER_TOL, tol_gap_rel=SOLVER_TOL,
                      tol_feas=SOLVER_TOL)
        status = str(problem.status)
    except (cp.SolverError, ValueError, ArithmeticError) as exc:
        raise run_error(f"{what} failed: {exc}") from None
    ok, verdict = judge(status, "CLARABEL", None, primary=True)
    if not ok:
        raise run_error(f"{what} ended {verdict}")


def program_bytes(rows: int, dim: int, nodes: int) -> int:
    """A generous estimate of the memory one batched program over `rows` points takes."""
    return rows * (dim + 2) * max(nodes, 1) * 2 * SCALAR_BYTES
