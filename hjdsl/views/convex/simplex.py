"""The entropy-regularised program over the simplex and its ε = 0 LP: compiled once, re-solved."""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from hjdsl.solver_status import ACCEPTABLE, Check, judge

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
PRIMARY = ("CLARABEL", "HIGHS")  # hjdsl's first choice for each program (solver_status.py)

# When Clarabel stops short of its tolerances (`optimal_inaccurate`), this second attempt, with
# tighter iterative refinement and less regularisation, usually reaches them; SCS comes after it.
CLARABEL_RETRY = {"static_regularization_constant": 1e-13, "iterative_refinement_reltol": 1e-16,
                  "iterative_refinement_abstol": 1e-16, "iterative_refinement_max_iter": 30,
                  "iterative_refinement_stop_ratio": 2.0}

# The certificate an answer must meet unless it is a clean `optimal` of the primary solver
# (solver_status.py): the value to GAP_TOL·max(1, |u|), ten times inside the report's 1e-6, and,
# for the entropic program, π to PI_TOL, the report's own π tolerance. The objective is
# ε-strongly convex in ‖·‖₁ on the simplex, so ‖π̂ − π*‖_∞ ≤ ‖π̂ − π*‖₁/2 ≤ √(gap/(2ε)).
GAP_TOL = 1e-7
PI_TOL = 1e-5
_CACHE_BYTES = 256 << 20  # compiled programs kept per process (by support size), in cvxpy bytes


@dataclass
class SolveRecord:
    """The outcome of one (point, ε) solve, over the support it was given.

    `status` is cvxpy's for an accepted answer, `inaccurate: …` for one the certificate did not
    vouch for (its value is kept), `failed: …` when no solver gave an answer, `infeasible` when
    no atom is reachable. `gap` is the duality gap of the full program (pruned atoms included).
    """

    value: float
    pi: np.ndarray
    gap: float
    status: str
    solver: str


class SimplexPrograms:
    """The entropic program and the ε = 0 LP, compiled once per support size and re-solved.

    >>> progs = SimplexPrograms(3)
    >>> rec = progs.solve(np.array([0.0, 1.0, 2.0]), np.ones(3, bool), 0.5)
    >>> rec.status, round(rec.value, 6)
    ('optimal', -0.071466)
    """

    def __init__(self, n_atoms: int, options: dict | None = None):
        self.n_atoms = n_atoms
        self.options = {k: {**v, **(options or {}).get(k, {})} for k, v in DEFAULT_OPTIONS.items()}
        self._compiled: OrderedDict = OrderedDict()  # (kind, k) → (problem, params)
        _silence_highs_banner()

    def solve(self, costs: np.ndarray, reach: np.ndarray, eps: float) -> SolveRecord:
        """Solve at one point over all N atoms: costs (N,), reach (N,) bool, eps ≥ 0 (0 → LP)."""
        from hjdsl.views.convex.support import supports

        sup = supports(costs[None, :], reach[None, :], eps)
        rec = self.solve_support(sup.costs[0], eps, float(sup.rest[0]), float(sup.shift[0]))
        pi = np.zeros(costs.shape[0])
        pi[sup.index[0]] = rec.pi
        rec.pi = pi if sup.size[0] else np.full(costs.shape[0], np.nan)
        return rec

    def solve_support(self, shifted: np.ndarray, eps: float, rest: float = 0.0,
                      shift: float = 0.0) -> SolveRecord:
        """Solve over a support: shifted = c_j − c_min ≥ 0 of its atoms, rest = the pruned mass
        R (convex_support.py); the value returned includes the shift back to c_min."""
        if shifted.size == 0:  # no atom within reach: the infimum over an empty set is +inf
            return SolveRecord(np.inf, np.empty(0), np.nan, "infeasible", "")
        # |u| ≥ |c_min| − ε·log k: the scale the value is judged against, never overstated
        scale = max(1.0, abs(shift) - eps * np.log(shifted.size))
        if eps > 0:
            # Solve in units of min(ε, 1) (objective × 1/unit: same argmin, value × unit). The
            # solvers' tolerances are absolute for objectives below 1, so without this a tiny ε
            # would fall under them and π would be unresolved.
            unit = min(eps, 1.0)
            rec = self._solve_entropic(shifted / unit, eps / unit, rest, scale / unit)
            rec.value, rec.gap = rec.value * unit, rec.gap * unit
        else:
            rec = self._solve_lp(shifted, scale)
        rec.value += shift
        return rec

    # --- the two programs --------------------------------------------------------------------
    def _program(self, kind: str, k: int):
        key = (kind, k)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        if kind == "entropic":
            from hjdsl.views.convex.support import check_program_memory

            check_program_memory(k, self.n_atoms)
            built = entropic_problem(k)
        else:
            built = _lp_problem(k)
        self._compiled[key] = built
        # evict the least recently used programs beyond the cache budget (always keep this one)
        while len(self._compiled) > 1 and sum(
                _bytes(name, size) for name, size in self._compiled) > _CACHE_BYTES:
            self._compiled.popitem(last=False)
        return built

    def _solve_entropic(self, shifted, eps, rest, scale) -> SolveRecord:
        def setup(delta):
            """The program over the atoms within ε·log(N/δ) (δ None: all given), certificate."""
            keep = np.ones(shifted.size, bool) if delta is None else \
                shifted <= eps * np.log(self.n_atoms / delta)
            with np.errstate(under="ignore"):
                pruned_mass = rest + float(np.exp(-shifted[~keep] / eps).sum())
            problem, params = self._program("entropic", int(keep.sum()))
            params["costs"].value, params["eps"].value = shifted[keep], eps

            def certificate():
                pi = np.zeros(shifted.size)
                pi[keep] = np.asarray(params["pi"].value, dtype=float)
                lam = -float(problem.constraints[0].dual_value)  # cvxpy's ν enters as +ν·h
                # the dual of the FULL program: each pruned atom adds ε·e^{(λ − c_j)/ε − 1}, in
                # all ε·e^{λ/ε − 1}·R (R the pruned mass relative to the cheapest atom)
                pruned = eps * np.exp(min(lam / eps - 1.0, 700.0)) * pruned_mass
                gap = _entropic_primal(pi, shifted, eps) - (_entropic_dual(lam, shifted[keep], eps)
                                                             - pruned)
                checks = [Check("duality gap", gap, GAP_TOL * scale),
                          Check("pi bound", np.sqrt(max(gap, 0.0) / (2.0 * eps)), PI_TOL)]
                return float(problem.value), pi, gap, checks

            return problem, certificate

        # A third attempt drops the atoms below δ ≈ 1e-8 of the cheapest one's weight (their mass
        # stays in the certificate, and moves the value by ≤ 1e-9·scale): the tiny weights are
        # what makes an interior-point method stall short of its tolerances.
        smaller = min(1e-8, 1e-9 * scale / eps)
        attempts = (("CLARABEL", {}, None), ("CLARABEL", CLARABEL_RETRY, None),
                    ("CLARABEL", {}, smaller), ("SCS", {}, None))
        return self._attempt(attempts, setup, shifted.size)

    def _solve_lp(self, shifted, scale) -> SolveRecord:
        def setup(_):
            problem, params = self._program("lp", shifted.size)
            params["costs"].value = shifted

            def certificate():
                pi = np.asarray(params["pi"].value, dtype=float)
                lam = -float(problem.constraints[0].dual_value)
                # Lagrangian dual of the LP over the simplex: D(λ) = λ + Σ_j min(0, c_j − λ) ≤ u_0
                dual = lam + np.minimum(0.0, shifted - lam).sum()
                gap = float(_project(pi) @ shifted - dual)
                return float(problem.value), pi, gap, [Check("duality gap", gap, GAP_TOL * scale)]

            return problem, certificate

        return self._attempt((("HIGHS", {}, None), ("CLARABEL", {}, None)), setup, shifted.size)

    def _attempt(self, attempts, setup, size: int) -> SolveRecord:
        """Try (solver, options, support) in turn; keep the first answer solver_status accepts."""
        tries, refused = [], None
        for solver, extra, support in attempts:
            problem, certificate = setup(support)
            status = _run(problem, solver, {**self.options[solver], **extra})
            if status in ACCEPTABLE and problem.constraints[0].dual_value is not None \
                    and problem.value is not None:
                # (a fallback solver makes cvxpy canonicalise once more for it; rare, so accepted)
                value, pi, gap, checks = certificate()
                ok, verdict = judge(status, solver, checks, primary=solver in PRIMARY)
                if ok:
                    return SolveRecord(value, pi, gap, verdict, solver)
                if refused is None or not gap >= refused.gap:
                    refused = SolveRecord(value, pi, gap, verdict, solver)
            tries.append(f"{solver} {status}")
        if refused is not None:  # an answer no certificate vouches for: kept, and said so
            refused.status += f" (tried {'; '.join(tries)})"
            return refused
        return SolveRecord(np.nan, np.full(size, np.nan), np.nan, "failed: " + "; ".join(tries),
                           "+".join(dict.fromkeys(solver for solver, _, _ in attempts)))


def _bytes(kind: str, size: int) -> int:
    """Bytes a compiled program of this size holds (quadratic in k for the entropic one)."""
    from hjdsl.views.convex.support import PROGRAM_BYTES_PER_ATOM_PAIR

    return PROGRAM_BYTES_PER_ATOM_PAIR * size * (size if kind == "entropic" else 1)


def _lp_problem(n_atoms: int):
    """min_π c·π s.t. Σπ = 1, π ≥ 0 over the reachable atoms (HiGHS solves it exactly)."""
    import cvxpy as cp

    pi = cp.Variable(n_atoms, nonneg=True, name="pi")
    costs = cp.Parameter(n_atoms, name="costs")
    return cp.Problem(cp.Minimize(costs @ pi), [cp.sum(pi) == 1]), {"costs": costs, "pi": pi}


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


def forget_solver(problem) -> None:
    """Make the next solve build a new solver object rather than update the last one's data.

    cvxpy keeps the Clarabel solver of a problem and, on a re-solve, only updates its data; the
    updated solver then stops short (`optimal_inaccurate`, π off by up to 3e-5) on some solves a
    fresh one finishes (10 of 1,271 at aniso_2d, ε = 0.316: all `optimal` when fresh), and costs
    no less CPU (measured, 300 solves at N = 96). The compiled problem itself is kept.
    """
    cache = getattr(problem, "_solver_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def _run(problem, solver: str, options: dict) -> str:
    """Solve; return cvxpy's status, or `solver_error` when the solver raised."""
    import cvxpy as cp

    forget_solver(problem)
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
