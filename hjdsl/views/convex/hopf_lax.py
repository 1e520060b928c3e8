"""The continuous Hopf–Lax program u_0(x) = min_y g(y) + t·L((x − y)/t) for convex g(y)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from hjdsl.solver_status import ACCEPTABLE, judge
from hjdsl.views.convex.lower import Lowering, check_convex, environment
from hjdsl.views.convex.simplex import DEFAULT_OPTIONS, forget_solver
from hjdsl.hamiltonians.reach import DUAL_ORD  # ‖·‖_q* of H(p) = a·‖p‖_q: reach is ‖x − y‖_q* ≤ a·t



@dataclass(frozen=True)
class HopfLaxSpec:
    """Everything the program needs, picklable so worker processes can build it themselves."""

    expr: object
    dim: int
    t: float
    kind: str
    metric_inverse: np.ndarray | None = None
    scale: float = 1.0
    constants: dict = field(default_factory=dict)

    @classmethod
    def from_model(cls, model) -> "HopfLaxSpec":
        ham = model.hamiltonian
        return cls(model.initial.expr, model.dim, model.t, ham.kind,
                   ham.inverse if ham.kind == "quadratic" else None, float(ham.scale),
                   {k: np.asarray(v, float) for k, v in model.constants.items()})


class HopfLaxProgram:
    """min_y g(y) + (x−y)ᵀA⁻¹(x−y)/(4t) (quadratic H), or min g(y) s.t. ‖x − y‖_q* ≤ a·t (norms).

    y is a Variable of shape (d,), x a Parameter: the problem is DPP, compiled once and re-solved
    for every point. Building it checks that g is convex (a SpecError names the culprit).

    >>> from hjdsl.model.expr import Call, Name
    >>> spec = HopfLaxSpec(Call(None, "abs", (Name(None, "y"),)), 1, 1.0, "quadratic", np.eye(1))
    >>> value, argmin, status, solver = HopfLaxProgram(spec).solve(np.array([3.0]))
    >>> round(value, 6), round(float(argmin[0]), 6), status
    (2.0, 1.0, 'optimal')
    """

    def __init__(self, spec: HopfLaxSpec, options: dict | None = None):
        import cvxpy as cp

        self.options = {k: {**v, **(options or {}).get(k, {})} for k, v in DEFAULT_OPTIONS.items()}
        self.y = cp.Variable(spec.dim, name="y")
        self.x = cp.Parameter(spec.dim, name="x")
        lowering = Lowering(environment(self.y, spec.dim, spec.t, spec.constants))
        g = lowering.lower_root(spec.expr)
        check_convex(spec.expr, lowering)
        if spec.kind == "quadratic":
            # (x−y)ᵀA⁻¹(x−y) = ‖Rᵀ(x−y)‖² with A⁻¹ = R Rᵀ: a sum of squares of an affine map (DPP).
            root = np.linalg.cholesky(spec.metric_inverse)
            objective = g + cp.sum_squares(root.T @ (self.x - self.y)) / (4.0 * spec.t)
            constraints = []
        else:
            objective = g
            constraints = [cp.norm(self.x - self.y, DUAL_ORD[spec.kind]) <= spec.scale * spec.t]
        with warnings.catch_warnings():
            # A g(y) written as a long sum is many sub-expressions by construction; cvxpy's advice
            # to vectorise is for its own users' code, not for a spec's text.
            warnings.filterwarnings("ignore", message="Objective contains too many subexpressions")
            self.problem = cp.Problem(cp.Minimize(objective), constraints)
        if not self.problem.is_dcp(dpp=True):  # check_convex passed, so this is our own bug
            raise AssertionError("internal error: the Hopf–Lax program is not DPP")

    def solve(self, x: np.ndarray) -> tuple[float, np.ndarray, str, str]:
        """(value, argmin y*, status, solver) at one point; NaN and `failed: …` when both fail."""
        import cvxpy as cp

        self.x.value = np.asarray(x, dtype=float)
        tries, refused = [], None
        for solver in ("CLARABEL", "SCS"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    forget_solver(self.problem)
                    self.problem.solve(solver=solver, **self.options[solver])
                    status = str(self.problem.status)
                except (cp.error.SolverError, ValueError, ArithmeticError):
                    status = "solver_error"
            tries.append(f"{solver} {status}")
            if status in ACCEPTABLE and self.y.value is not None:
                # no duality certificate here: by hjdsl's one rule (solver_status.py) only the
                # primary solver's clean `optimal` is accepted; anything else is kept, flagged
                ok, verdict = judge(status, solver, None, primary=solver == "CLARABEL")
                answer = (float(self.problem.value), np.asarray(self.y.value, dtype=float),
                          verdict, solver)
                if ok:
                    return answer
                refused = refused or answer
        if refused is not None:
            return refused[:2] + (f"{refused[2]} (tried {'; '.join(tries)})", refused[3])
        nan = np.full(self.y.shape, np.nan)
        return np.nan, nan, "failed: " + "; ".join(tries), "CLARABEL+SCS"
