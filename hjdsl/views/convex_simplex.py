"""The entropy-regularised program over the simplex and its ε = 0 LP: compiled once, re-solved."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

# Shifted costs c_j − c_min are capped at COST_CAP·ε before an entropic solve. An atom at the cap
# has Gibbs weight ≤ e^-60 ≈ 1e-26 (zero in float64) and moves the value by ≤ ε·N·e^-60, far below
# solver tolerance; the cap keeps the problem well scaled for |x| → ∞ or ε → 0, and is how atoms a
# norm Hamiltonian cannot reach are given weight zero without recompiling the problem.
COST_CAP = 60.0

DEFAULT_OPTIONS = {
    # Default tolerances (1e-8) leave π off by ~3e-5: the optimal π is only ~√(gap/ε)-determined.
    # These give |Δπ| ~1e-6, |Δu| ~1e-10 (measured); the smaller static regularisation keeps
    # Clarabel reporting `optimal` rather than `optimal_inaccurate` at that accuracy.
    "CLARABEL": {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11,
                 "static_regularization_constant": 1e-12},
    # The fallback must still meet the 1e-6 contract, hence tolerances far below SCS's defaults.
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000},
    "HIGHS": {},
}

# When Clarabel stops short of its tolerances (`optimal_inaccurate`, a few % of solves at
# N ~ 100), this second attempt, with tighter iterative refinement and less regularisation,
# usually reaches them; SCS comes after it.
CLARABEL_RETRY = {"static_regularization_constant": 1e-13, "iterative_refinement_reltol": 1e-16,
                  "iterative_refinement_abstol": 1e-16, "iterative_refinement_max_iter": 30,
                  "iterative_refinement_stop_ratio": 2.0}

_ACCEPTED = ("optimal", "optimal_inaccurate")
# An `optimal_inaccurate` answer is kept only when its duality gap certifies it: the value to
# GAP_TOL (relative), and, for the entropic program, π to PI_TOL. The objective is ε-strongly
# convex in ‖·‖₁ on the simplex, so ‖π̂ − π*‖_∞ ≤ ‖π̂ − π*‖₁/2 ≤ √(gap/(2ε)).
GAP_TOL = 1e-7
PI_TOL = 1e-5


@dataclass
class SolveRecord:
    """The outcome of one (point, ε) solve; `status` is cvxpy's, or `failed: …`."""

    value: float
    pi: np.ndarray
    gap: float
    status: str
    solver: str


class SimplexPrograms:
    """The entropic program and the ε = 0 LP for N atoms, each canonicalised once.

    >>> progs = SimplexPrograms(3)
    >>> rec = progs.solve(np.array([0.0, 1.0, 2.0]), np.ones(3, bool), 0.5)
    >>> rec.status, round(rec.value, 6)
    ('optimal', -0.071466)
    """

    def __init__(self, n_atoms: int, options: dict | None = None):
        import cvxpy as cp

        self.n_atoms = n_atoms
        self.options = {k: {**v, **(options or {}).get(k, {})} for k, v in DEFAULT_OPTIONS.items()}
        self.entropic, self.params = entropic_problem(n_atoms)
        self.simplex = self.entropic.constraints[0]
        # The LP keeps atoms out of reach at zero with an explicit bound; HiGHS solves that exactly.
        self.lp_pi = cp.Variable(n_atoms, nonneg=True, name="pi")
        self.lp_costs = cp.Parameter(n_atoms, name="costs")
        self.lp_reach = cp.Parameter(n_atoms, nonneg=True, name="reach")
        self.lp_simplex = cp.sum(self.lp_pi) == 1
        self.lp = cp.Problem(cp.Minimize(self.lp_costs @ self.lp_pi),
                             [self.lp_simplex, self.lp_pi <= self.lp_reach])
        _silence_highs_banner()

    def solve(self, costs: np.ndarray, reach: np.ndarray, eps: float) -> SolveRecord:
        """Solve at one point: costs (N,), reach (N,) bool, eps ≥ 0 (0 → the LP)."""
        if not reach.any():  # no atom within reach: the infimum over an empty set is +inf
            return SolveRecord(np.inf, np.full(self.n_atoms, np.nan), np.nan, "infeasible", "")
        shift = float(costs[reach].min())
        shifted = np.where(reach, costs - shift, 0.0)
        if eps > 0:
            # Solve in units of min(ε, 1) (objective × 1/unit: same argmin, value × unit). The
            # solvers' tolerances are absolute for objectives below 1, so without this a tiny ε
            # would fall under them and π would be unresolved.
            unit = min(eps, 1.0)
            capped = np.where(reach, np.minimum(shifted, COST_CAP * eps), COST_CAP * eps)
            rec = self._solve_entropic(capped / unit, eps / unit)
            rec.value, rec.gap = rec.value * unit, rec.gap * unit
        else:
            rec = self._solve_lp(shifted, reach)
        rec.value += shift
        return rec

    # --- the two programs --------------------------------------------------------------------
    def _solve_entropic(self, shifted: np.ndarray, eps: float) -> SolveRecord:
        self.params["costs"].value = shifted
        self.params["eps"].value = eps

        def certificate():
            pi = np.asarray(self.params["pi"].value, dtype=float)
            lam = -float(self.simplex.dual_value)  # cvxpy's multiplier enters as +ν·h
            gap = _entropic_primal(pi, shifted, eps) - _entropic_dual(lam, shifted, eps)
            return float(self.entropic.value), pi, gap, gap <= 2.0 * eps * PI_TOL**2

        attempts = (("CLARABEL", {}), ("CLARABEL", CLARABEL_RETRY), ("SCS", {}))
        return self._attempt(self.entropic, attempts, certificate)

    def _solve_lp(self, shifted: np.ndarray, reach: np.ndarray) -> SolveRecord:
        self.lp_costs.value = shifted
        self.lp_reach.value = reach.astype(float)

        def certificate():
            pi = np.asarray(self.lp_pi.value, dtype=float)
            lam = -float(self.lp_simplex.dual_value)
            # Box-constrained Lagrangian dual: D(λ) = λ + Σ_{reachable} min(0, c_j − λ) ≤ u_0.
            dual = lam + np.minimum(0.0, shifted - lam)[reach].sum()
            return float(self.lp.value), pi, float(_project(pi * reach) @ shifted - dual), True

        return self._attempt(self.lp, (("HIGHS", {}), ("CLARABEL", {})), certificate)

    def _attempt(self, problem, solvers, certificate) -> SolveRecord:
        """Try (solver, options) in turn; accept `optimal`, or `optimal_inaccurate` if certified."""
        tries = []
        for solver, extra in solvers:
            status = _run(problem, solver, {**self.options[solver], **extra})
            tries.append((solver, status))
            # (a fallback solver makes cvxpy canonicalise once more for it; rare, so accepted)
            if status in _ACCEPTED and problem.constraints[0].dual_value is not None \
                    and problem.value is not None:
                value, pi, gap, pi_certified = certificate()
                certified = pi_certified and gap <= GAP_TOL * max(1.0, abs(value))
                if status == "optimal" or certified:
                    return SolveRecord(value, pi, gap, status, solver)
                tries[-1] = (solver, f"{status} (duality gap {gap:.1e})")
        what = "; ".join(f"{solver} {status}" for solver, status in tries)
        return SolveRecord(np.nan, np.full(self.n_atoms, np.nan), np.nan, f"failed: {what}",
                           "+".join(dict.fromkeys(solver for solver, _ in tries)))


def entropic_problem(n_atoms: int, with_reach: bool = False):
    """min_π c·π − ε·Σ entr(π) s.t. Σπ = 1 (π ≥ 0 is the domain of entr); DPP in (c, ε).

    with_reach adds a Parameter `reach` ∈ {0, 1}^N and π ≤ reach (atoms out of reach get π = 0).
    """
    import cvxpy as cp

    pi = cp.Variable(n_atoms, nonneg=True, name="pi")
    costs = cp.Parameter(n_atoms, name="costs")
    eps = cp.Parameter(nonneg=True, name="eps")
    params = {"costs": costs, "eps": eps, "pi": pi}
    constraints = [cp.sum(pi) == 1]
    if with_reach:
        params["reach"] = cp.Parameter(n_atoms, nonneg=True, name="reach")
        constraints.append(pi <= params["reach"])
    problem = cp.Problem(cp.Minimize(costs @ pi - eps * cp.sum(cp.entr(pi))), constraints)
    return problem, params


def _run(problem, solver: str, options: dict) -> str:
    """Solve; return cvxpy's status, or `solver_error` when the solver raised."""
    import cvxpy as cp

    with warnings.catch_warnings():
        # cvxpy warns on inaccurate solutions; the status string records that instead.
        warnings.simplefilter("ignore")
        try:
            problem.solve(solver=solver, **options)
        except (cp.error.SolverError, ValueError, ArithmeticError):
            return "solver_error"
    return str(problem.status)


def _project(pi: np.ndarray) -> np.ndarray:
    """Clip solver round-off to the simplex so the primal bound below is evaluated feasibly."""
    p = np.clip(pi, 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):  # an all-zero π gives NaN, reported
        return p / p.sum()


def _entropic_primal(pi: np.ndarray, costs: np.ndarray, eps: float) -> float:
    from scipy.special import xlogy

    p = _project(pi)
    return float(p @ costs + eps * xlogy(p, p).sum())


def _entropic_dual(lam: float, costs: np.ndarray, eps: float) -> float:
    """D(λ) = λ − ε Σ_j exp((λ − c_j)/ε − 1): the Lagrangian dual, ≤ u_ε for every λ."""
    with np.errstate(over="ignore"):
        return float(lam - eps * np.exp((lam - costs) / eps - 1.0).sum())


def _silence_highs_banner() -> None:
    """HiGHS prints a copyright banner on stdout the first time a solver is made; swallow it."""
    import highspy

    if getattr(_silence_highs_banner, "done", False):
        return
    import sys

    sys.stdout.flush()
    try:
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no usable stdout: nothing to protect
        return
    try:
        os.dup2(null, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    _silence_highs_banner.done = True
