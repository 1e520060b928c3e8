"""The continuous Hopf–Lax program u_0(x) = min_y g(y) + t·L((x − y)/t) for convex g(y)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from hjdsl.hamiltonians.base import NotSupported
from hjdsl.solver_status import ACCEPTABLE, judge
from hjdsl.views.convex.lower import Lowering, check_convex, environment
from hjdsl.views.convex.simplex import DEFAULT_OPTIONS, forget_solver
from hjdsl.views.unsupported import as_error


@dataclass(frozen=True)
class HopfLaxSpec:
    """Everything the program needs, picklable so worker processes can build it themselves.

    `hamiltonian` is the Hamiltonian object itself (the families are frozen dataclasses of plain
    numbers, strings and arrays, so it pickles); the program asks it for t·L(w/t) in cvxpy form.
    """

    expr: object
    dim: int
    t: float
    hamiltonian: object
    constants: dict = field(default_factory=dict)

    @classmethod
    def from_model(cls, model) -> "HopfLaxSpec":
        return cls(model.initial.expr, model.dim, model.t, model.hamiltonian,
                   {k: np.asarray(v, float) for k, v in model.constants.items()})

    def cache_key(self) -> tuple:
        """What identifies the program: the spec with the Hamiltonian's public fields only
        (its private entries are caches, e.g. a factor computed on first use, and must not make
        one program look like two)."""
        ham = self.hamiltonian
        public = {k: v for k, v in vars(ham).items() if not k.startswith("_")}
        return (self.expr, self.dim, self.t, type(ham).__qualname__, public, self.constants)


class HopfLaxProgram:
    """min_y g(y) + t·L((x − y)/t), with t·L(w/t) and its constraints from `ham.cvxpy_cost`.

    For quadratic H that is (x−y)ᵀA⁻¹(x−y)/(4t); for a|p|_q it is 0 subject to ‖x − y‖_q* ≤ a·t.
    y is a Variable of shape (d,), x a Parameter: the problem is DPP, compiled once and re-solved
    for every point. Building it checks that g is convex (a SpecError names the culprit) and
    that the Hamiltonian has a cvxpy form of its Lagrangian (a SpecError says why not).

    >>> from hjdsl.model.expr import Call, Name
    >>> from hjdsl.hamiltonians import quadratic
    >>> spec = HopfLaxSpec(Call(None, "abs", (Name(None, "y"),)), 1, 1.0, quadratic(np.eye(1)))
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
        try:
            cost, constraints = spec.hamiltonian.cvxpy_cost(self.x - self.y, spec.t)
        except NotSupported as exc:
            raise as_error(exc, "the continuous Hopf–Lax program", spec=True) from None
        objective = g + cost
        constraints = list(constraints)
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
