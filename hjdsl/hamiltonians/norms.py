"""Norm Hamiltonians H(p) = a·‖p‖_q, q ∈ {1, 2, ∞}: exact at ε = 0, structural for ε > 0.

L = H* is the indicator of the dual-norm ball of radius a (0 inside, +∞ outside), so the Hopf–Lax
cost of atom j at x is g_j when ‖x − y_j‖_q* ≤ a·t and +∞ otherwise (the reach test of
`hamiltonians/reach.py`, with its rounding slack). There is no LSE layer: the weight map needs a
quadratic H.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.hamiltonians.base import EXACT, LSE_ONLY_QUADRATIC, Exactness, Hamiltonian, as_scalar
from hjdsl.hamiltonians.reach import DUAL_ORD, dual_norm, reached

NAMES = {"l1": "|p|_1", "l2": "|p|_2", "linf": "|p|_inf"}
DUAL_NAMES = {"l1": "|v|_inf", "l2": "|v|_2", "linf": "|v|_1"}

_NO_LAYER = "the weight map to an LSE layer needs a quadratic H"
_NOT_SMOOTH = ("at ε > 0 the LSE model is only a structural analogue of the viscous solution for "
               "this H, so there is no smooth viscous solution to differentiate; the ε = 0 "
               "Hopf–Lax value has its own residual row")
_NO_LIKELIHOOD = ("the LSE model at ε > 0 is only a structural analogue of the viscous solution "
                  "for this H, so map, svi and nuts would fit the wrong model")
_NOT_CONVEX_FIT = ("the convex method's programs are the quadratic LSE layer's (max-affine at "
                   "ε = 0, Hopf–Cole at ε > 0) and need a quadratic H, while here the Hopf–Lax "
                   "value is a minimum of g_j, piecewise constant in x; --method hopf_lax fits "
                   "this H at ε = 0 with fixed atoms")


@dataclass(frozen=True, eq=False)
class Norm(Hamiltonian):
    """H(p) = scale·‖p‖_q with kind l1, l2 or linf."""

    kind: str
    text: str
    scale: float = 1.0

    def value(self, p, xp=np):
        a = xp.abs(xp.asarray(p))
        if self.kind == "l1":  # the family's own parameter, not a dispatch on families
            n = xp.sum(a, axis=-1)
        elif self.kind == "linf":
            n = xp.max(a, axis=-1)
        else:
            n = xp.sqrt(xp.sum(a * a, axis=-1))
        return self.scale * n

    def lagrangian(self, v, xp=np):
        inside = dual_norm(xp.asarray(v), self.kind, xp) <= self.scale
        return xp.where(inside, 0.0, xp.inf)

    @property
    def lagrangian_text(self) -> str:
        return f"0 if {DUAL_NAMES[self.kind]} <= {self.scale:g}, +inf otherwise"

    @property
    def dual_order(self):
        """The order q* of the dual norm: the reach set is ‖x − y‖_q* ≤ a·t."""
        return DUAL_ORD[self.kind]

    def reached(self, x, y, t: float, xp=np):
        return reached(x, y, self.kind, self.scale * t, xp=xp)

    def costs(self, x, y, g, t: float, xp=np):
        return self.kernel_costs(x, y, g, t, np.float64(self.scale * t), xp)

    def kernel_args(self, t: float):
        return as_scalar(self.scale * t)

    def kernel_costs(self, x, y, g, t, reach, xp):
        return xp.where(reached(x, y, self.kind, reach, xp=xp), xp.asarray(g), xp.inf)

    @property
    def kernel_key(self):
        return ("norm", self.kind)

    def cvxpy_cost(self, w, t: float):
        import cvxpy as cp

        return 0.0, [cp.norm(w, self.dual_order) <= self.scale * t]

    def gradient_bound(self, m: np.ndarray) -> np.ndarray:
        """|∂H/∂p_k| ≤ a for each of the three norms (a subgradient of ‖·‖_q has ‖·‖_q* ≤ 1)."""
        return np.full(np.shape(m), self.scale)

    @property
    def coordinate_monotone(self) -> bool:
        return True

    @property
    def domain(self):
        """dom L is exactly the ‖·‖_q* ball of radius a."""
        return self.kind, self.scale, True

    def exactness(self, view: str) -> Exactness:
        if view in ("hopf_lax", "convex_lp", "hopf_lax_program", "grid", "fit_hopf_lax",
                    "pde_residual_hopf_lax"):
            return EXACT
        if view in ("hopf_cole", "convex_entropic"):
            return Exactness("structural", LSE_ONLY_QUADRATIC)
        return Exactness("none", {"network": _NO_LAYER, "pde_residual": _NOT_SMOOTH,
                                  "fit_probabilistic": _NO_LIKELIHOOD,
                                  "fit_convex": _NOT_CONVEX_FIT}.get(view, _NO_LAYER))
