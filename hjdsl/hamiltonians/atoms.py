"""The atoms of a composite Hamiltonian, each with its facts in closed form.

An atom is one of |p|^2, p'Ap, |p|_1, |p|_2, |p|_inf, sqrt(c + |p|^2) and huber(|p|, δ)
(cvxpy's convention: |p|^2 inside |p|_2 ≤ δ, 2δ|p| − δ^2 outside). For each this module states:

- `value(p)` and, for the radial atoms (functions of r = |p|_2), the profile h(r), its right
  derivative h'(r) and its asymptote h(r) = slope·r − offset + o(1);
- `lagrangian(v)` L = H* (+inf outside dom L) and `lagrangian_text`;
- `persp` λ·L(w/λ) as a cvxpy form, row by row for a (n, d) expression w and λ of shape (n,);
- `domain` dom L as a dual-norm ball (kind, radius) or None (dom L = ℝᵈ);
- `gradient_bound(m)` the tight max of |∂H/∂p_k| over the box |p_l| ≤ m_l.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hjdsl.hamiltonians.reach import DUAL_ORD, dual_norm

NORMS = ("l1", "l2", "linf")
RADIAL = ("sq", "l2", "relativistic", "huber")  # plus quad with A = a·I
NAMES = {"sq": "|p|^2", "l1": "|p|_1", "l2": "|p|_2", "linf": "|p|_inf"}
DUAL_NAMES = {"l1": "|v|_inf", "l2": "|v|_2", "linf": "|v|_1"}


@dataclass(frozen=True, eq=False)
class Atom:
    """One atom of H: `name` one of sq, quad, l1, l2, linf, relativistic, huber."""

    name: str
    matrix: np.ndarray | None = None  # quad: A ≻ 0
    c: float | None = None  # relativistic: sqrt(c + |p|^2), c > 0
    delta: float | None = None  # huber: the radius of the quadratic part

    def __post_init__(self):
        if self.name not in NORMS + ("sq", "quad", "relativistic", "huber"):
            raise ValueError(f"unknown atom {self.name!r}")
        if self.name == "quad":
            A = np.array(self.matrix, dtype=np.float64)
            A.setflags(write=False)
            np.linalg.cholesky(A)  # LinAlgError (a ValueError) on a matrix that is not PD
            object.__setattr__(self, "matrix", A)
        if self.name == "relativistic" and not (self.c is not None and self.c > 0):
            raise ValueError("sqrt(c + |p|^2) needs c > 0")
        if self.name == "huber" and not (self.delta is not None and self.delta > 0):
            raise ValueError("huber(|p|, δ) needs δ > 0")

    @cached_property
    def factor(self) -> np.ndarray:
        """quad: L with L·Lᵀ = A⁻¹, on first use (its triangular solve imports scipy, which
        building H at `hjdsl check` should not pay for)."""
        from hjdsl.hamiltonians.quadratic import inverse_factor

        factor = inverse_factor(self.matrix)
        factor.setflags(write=False)
        return factor

    # --- structure ----------------------------------------------------------------------------
    @property
    def radial(self) -> bool:
        """A function of |p|_2 alone."""
        if self.name == "quad":
            A = self.matrix
            return bool(np.array_equal(A, A[0, 0] * np.eye(A.shape[0])))
        return self.name in RADIAL

    @property
    def coordinate_monotone(self) -> bool:
        if self.name == "quad":
            return bool(np.array_equal(self.matrix, np.diag(np.diag(self.matrix))))
        return True

    @property
    def key(self) -> str:
        """Canonical text with every constant as repr (the jit cache key of a tree)."""
        if self.name == "quad":
            return f"quad({self.matrix.tolist()!r})"
        if self.name == "relativistic":
            return f"relativistic({float(self.c)!r})"
        if self.name == "huber":
            return f"huber({float(self.delta)!r})"
        return self.name

    @property
    def text(self) -> str:
        if self.name == "quad":
            return "p' A p"
        if self.name == "relativistic":
            return f"sqrt({self.c:g} + |p|^2)"
        if self.name == "huber":
            return f"huber(|p|, {self.delta:g})"
        return NAMES[self.name]

    # --- H ------------------------------------------------------------------------------------
    def value(self, p, xp=np):
        p = xp.asarray(p)
        if self.name == "quad":
            return xp.sum((p @ xp.asarray(self.matrix)) * p, axis=-1)
        if self.name in ("l1", "linf"):
            a = xp.abs(p)
            return xp.sum(a, axis=-1) if self.name == "l1" else xp.max(a, axis=-1)
        return self.radial_parts(xp.sqrt(xp.sum(p * p, axis=-1)), xp)[0]

    def radial_parts(self, r, xp=np):
        """(h(r), h'(r), e(r)) with H(p) = h(|p|_2) (radial atoms), h' the right derivative and
        e(r) = r·h'(r) − h(r) = h*(h'(r)) in a form without cancellation (the 1-D solve's value)."""
        if self.name in ("sq", "quad"):
            a = 1.0 if self.name == "sq" else float(self.matrix[0, 0])
            return a * r * r, 2.0 * a * r, a * r * r
        if self.name == "l2":
            return r, xp.ones_like(r), xp.zeros_like(r)
        if self.name == "relativistic":
            hyp = xp.hypot(np.sqrt(self.c), r)  # no overflow of r² at large r
            return hyp, r / hyp, -self.c / hyp
        d = self.delta
        inner = r <= d
        return (xp.where(inner, r * r, 2.0 * d * r - d * d), 2.0 * xp.minimum(r, d),
                xp.where(inner, r * r, d * d))

    @property
    def asymptote(self) -> tuple[float, float]:
        """(slope, offset) with h(r) = slope·r − offset + o(1) as r → ∞ (slope inf: superlinear).

        slope is the radius of dom L and offset = L on its boundary."""
        if self.name in ("sq", "quad"):
            return np.inf, 0.0
        if self.name == "huber":
            return 2.0 * self.delta, self.delta ** 2
        return 1.0, 0.0  # |p|_2 and sqrt(c + |p|^2) ~ |p| + c/(2|p|)

    # --- L = H* -------------------------------------------------------------------------------
    @property
    def domain(self) -> tuple[str, float, bool] | None:
        """dom L = {‖v‖_q* ≤ r} as (q, r, True), or None for ℝᵈ."""
        if self.name in NORMS:
            return self.name, 1.0, True
        if self.name in ("relativistic", "huber"):
            return "l2", self.asymptote[0], True
        return None

    def lagrangian(self, v, xp=np, clip=False):
        """L(v) over the last axis, +inf outside dom L; with `clip`, v outside dom L counts as on
        its boundary (the caller's reach test, with its rounding slack, has decided)."""
        v = xp.asarray(v)
        if self.name == "quad":
            vl = v @ xp.asarray(self.factor)
            return xp.sum(vl * vl, axis=-1) / 4.0
        s2 = xp.sum(v * v, axis=-1)
        if self.name == "sq":
            return s2 / 4.0
        q, r, _ = self.domain
        inside = dual_norm(v, q, xp) <= (xp.inf if clip else r)
        if self.name in NORMS:
            return xp.where(inside, 0.0, xp.inf)
        if self.name == "relativistic":
            # −sqrt(c)·sqrt(1 − |v|²) with 1 − |v|² = (1 − |v|)(1 + |v|): accurate near |v| = 1
            s = xp.minimum(xp.sqrt(s2), 1.0)
            return xp.where(inside, -np.sqrt(self.c) * xp.sqrt((1.0 - s) * (1.0 + s)), xp.inf)
        return xp.where(inside, xp.minimum(s2, r * r) / 4.0, xp.inf)

    def lagrangian_text(self, a: float = 1.0) -> str:
        """L of a·atom, (a·h)*(v) = a·h*(v/a), as a formula in v."""
        over = "4" if a == 1.0 else f"(4*{a:g})"
        if self.name == "sq":
            return f"|v|^2/{over}"
        if self.name == "quad":
            return f"v' A^-1 v/{over}"
        if self.name in NORMS:
            return f"0 on {DUAL_NAMES[self.name]} <= {a:g}"
        if self.name == "relativistic":
            inner = "1" if a == 1.0 else f"{a:g}^2"
            return f"-sqrt({self.c:g})*sqrt({inner} - |v|^2) on |v|_2 <= {a:g}"
        return f"|v|^2/{over} on |v|_2 <= {2 * self.delta * a:g}"

    def persp(self, w, lam):
        """(values, constraints): the (n,) row values λ_i·L(w_i/λ_i) for w (n, d), λ (n,).

        λ_i = 0 forces w_i = 0 (the recession of L: dom H = ℝᵈ).

        λ is a numpy array (a constant: DPP-friendly sums of squares) or a cvxpy expression."""
        import cvxpy as cp

        const = isinstance(lam, np.ndarray)
        n = w.shape[0]
        if self.name in NORMS:
            return np.zeros(n), [cp.norm(w, DUAL_ORD[self.name], axis=1) <= lam]
        if self.name == "relativistic":
            # λ·L(w/λ) = −sqrt(c)·sqrt(λ² − |w|²) = −sqrt(c)·s at the largest s with ‖(s, w)‖ ≤ λ
            s = cp.Variable(n, nonneg=True)
            return -np.sqrt(self.c) * s, [
                cp.SOC(lam, cp.hstack([cp.reshape(s, (n, 1), order="C"), w]), axis=1)]
        wl = w @ self.factor if self.name == "quad" else w
        cons = [cp.norm(w, 2, axis=1) <= 2.0 * self.delta * lam] if self.name == "huber" else []
        if const:
            return cp.multiply(1.0 / (4.0 * lam), cp.sum(cp.square(wl), axis=1)), cons
        # Σ |w_i|²/(4λ_i): u_i ≥ |w_i|²/λ_i ⟺ ‖(2w_i, u_i − λ_i)‖ ≤ u_i + λ_i
        u = cp.Variable(n, nonneg=True)
        cone = cp.hstack([2.0 * wl, cp.reshape(u - lam, (n, 1), order="C")])
        return u / 4.0, cons + [cp.SOC(u + lam, cone, axis=1)]

    # --- the flux bound -----------------------------------------------------------------------
    def gradient_bound(self, m: np.ndarray) -> np.ndarray:
        """max |∂H/∂p_k| over |p_l| ≤ m_l (m of shape (d, …)), attained on the box."""
        m = np.asarray(m, dtype=float)
        if self.name == "sq":
            return 2.0 * m
        if self.name == "quad":
            return 2.0 * np.einsum("kl,l...->k...", np.abs(self.matrix), m)
        if self.name in NORMS:
            return np.ones_like(m)
        if self.name == "relativistic":
            # |p_k|/sqrt(c + |p|²) ≤ |p_k|/sqrt(c + p_k²), increasing in |p_k|
            return m / np.hypot(np.sqrt(self.c), m)
        # 2·min(|p|, δ)·|p_k|/|p| ≤ 2·min(|p_k|, δ)
        return 2.0 * np.minimum(m, self.delta)
