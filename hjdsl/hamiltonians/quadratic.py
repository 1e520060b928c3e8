"""Quadratic Hamiltonians H(p) = pᵀAp, A ≻ 0 (A = a·I for `a*|p|^2`): every view is exact.

L(v) = vᵀA⁻¹v/4, so c_j(x) = g_j + (x − y_j)ᵀA⁻¹(x − y_j)/(4t), and the LSE layer with
W_j = A⁻¹y_j/(2t), b_j = −g_j − y_jᵀA⁻¹y_j/(4t) satisfies f_ε + u_ε = xᵀA⁻¹x/(4t) for every ε.
Every use of A⁻¹ derives from one factor L with L·Lᵀ = A⁻¹ (`factor`), so the views agree with
each other to round-off however ill-conditioned A is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.hamiltonians.base import EXACT, Exactness, Hamiltonian


@dataclass(frozen=True, eq=False)
class Quadratic(Hamiltonian):
    """H(p) = pᵀAp. `text` is the form as written; `isotropic` when A = a·I."""

    text: str
    matrix: np.ndarray
    isotropic: bool = True
    kind: str = "quadratic"

    # --- facts --------------------------------------------------------------------------------
    def value(self, p, xp=np):
        p = xp.asarray(p)
        d = p.shape[-1]
        if d <= 3:
            # Written out over the components: the grid solver calls this every time step on
            # (nodes, d) views, where a matrix product and a sum over an axis of length ≤ 3
            # cost several times more than these few elementwise products.
            A = self.matrix
            out = float(A[0, 0]) * p[..., 0] * p[..., 0]
            for k in range(d):
                for m in range(k, d):
                    if (k, m) != (0, 0) and A[k, m] != 0.0:
                        out = out + (1.0 if k == m else 2.0) * float(A[k, m]) * p[..., k] * p[..., m]
            return out
        return xp.sum((p @ xp.asarray(self.matrix)) * p, axis=-1)

    def grad(self, p):
        return 2.0 * np.asarray(p, dtype=float) @ self.matrix

    def lagrangian(self, v, xp=np):
        vl = xp.asarray(v) @ xp.asarray(self.factor)
        return xp.sum(vl * vl, axis=-1) / 4.0

    @property
    def lagrangian_text(self) -> str:
        if self.isotropic:
            a = float(self.matrix[0, 0])
            return "|v|^2/4" if a == 1.0 else f"|v|^2/(4*{a:g})"
        return "v' A^-1 v/4"

    def costs(self, x, y, g, t: float, xp=np):
        return self.kernel_costs(x, y, g, t, self.factor, xp)

    def kernel_args(self, t: float):
        return self.factor

    def kernel_costs(self, x, y, g, t, factor, xp):
        """From differences of the factored points (accurate at large |x|)."""
        xs = xp.asarray(x) @ factor
        ys = xp.asarray(y) @ factor
        if ys.shape[-1] <= 8:
            # Written out over the components: XLA's CPU reduction over a minor axis of length
            # ≤ 8 of the (points, atoms, d) differences cost 3–10× these elementwise products.
            sq = 0.0
            for k in range(ys.shape[-1]):
                dk = xs[..., k, None] - ys[:, k]
                sq = sq + dk * dk
            return xp.asarray(g) + sq / (4.0 * t)
        diff = xs[..., None, :] - ys
        return xp.asarray(g) + xp.sum(diff * diff, axis=-1) / (4.0 * t)

    def cvxpy_cost(self, w, t: float):
        import cvxpy as cp

        # (w)ᵀA⁻¹w = ‖Lᵀw‖² with A⁻¹ = L·Lᵀ: a sum of squares of an affine map (DPP)
        return cp.sum_squares(self.factor.T @ w) / (4.0 * t), []

    def gradient_bound(self, m: np.ndarray) -> np.ndarray:
        """|∂H/∂p_k| = 2|Σ_l A_kl p_l| ≤ 2 Σ_l |A_kl| m_l on the box."""
        m = np.asarray(m, dtype=float)
        if m.ndim == 1:  # per-axis maxima, once per grid step
            return 2.0 * (np.abs(self.matrix) @ m)
        return 2.0 * np.einsum("kl,l...->k...", np.abs(self.matrix), m)

    @property
    def coordinate_monotone(self) -> bool:
        """H depends on |p_1|, …, |p_d| only, non-decreasingly (the upwind flux applies): diagonal A."""
        return bool(np.all(self.matrix == np.diag(np.diag(self.matrix))))

    def weights(self, y, g, t: float):
        """W_j = A⁻¹y_j/(2t), b_j = −g_j − y_jᵀA⁻¹y_j/(4t), both from the one factor."""
        y = np.asarray(y, dtype=float)
        factor = self.factor
        yl = y @ factor
        W = yl @ factor.T / (2.0 * t)
        b = -np.asarray(g, dtype=float) - np.einsum("jd,jd->j", yl, yl) / (4.0 * t)
        return W, b

    def atoms_from_weights(self, W, b, t: float):
        """y_j = 2t·A·W_j, g_j = −b_j − t·W_jᵀAW_j (the inverse of `weights`)."""
        W = np.asarray(W, dtype=float)
        aw = W @ self.matrix
        return 2.0 * t * aw, -np.asarray(b, dtype=float) - t * np.einsum("jd,jd->j", W, aw)

    def quadratic_term(self, x, t: float) -> np.ndarray:
        """xᵀA⁻¹x/(4t): f_ε + u_ε equals it for every ε."""
        xl = np.asarray(x, dtype=float) @ self.factor
        return np.einsum("nd,nd->n", xl, xl) / (4.0 * t)

    def diffusion(self, d: int) -> np.ndarray:
        return np.asarray(self.matrix, dtype=float)

    def exactness(self, view: str) -> Exactness:
        return EXACT

    @property
    def kernel_key(self):
        return ("quadratic",)

    # --- the one factorisation ----------------------------------------------------------------
    @property
    def factor(self) -> np.ndarray:
        """L with L·Lᵀ = A⁻¹: the one factorisation every use of A⁻¹ derives from (cached)."""
        cached = self.__dict__.get("_factor")
        if cached is None:
            cached = inverse_factor(self.matrix)
            cached.setflags(write=False)
            object.__setattr__(self, "_factor", cached)
        return cached

    @property
    def inverse(self) -> np.ndarray:
        """A⁻¹ = L·Lᵀ (the metric of the cost c_j), from `factor`."""
        m = self.factor @ self.factor.T
        return 0.5 * (m + m.T)

    @property
    def largest_eigenvalue(self) -> float:
        return float(np.max(np.linalg.eigvalsh(self.matrix)))

    @property
    def condition(self) -> float:
        lam = np.linalg.eigvalsh(self.matrix)
        return float(lam[-1] / lam[0])


def inverse_factor(matrix) -> np.ndarray:
    """L = R⁻ᵀ for A = R·Rᵀ (Cholesky): upper triangular, L·Lᵀ = A⁻¹, by triangular solves.

    >>> L = inverse_factor(np.array([[4.0, 0.0], [0.0, 0.25]]))
    >>> (L @ L.T).tolist()
    [[0.25, 0.0], [0.0, 4.0]]
    """
    from scipy.linalg import solve_triangular

    R = np.linalg.cholesky(np.asarray(matrix, dtype=np.float64))
    return solve_triangular(R, np.eye(R.shape[0]), lower=True).T
