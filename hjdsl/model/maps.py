"""The exact maps between HJ initial data (y, g, t, A) and LSE weights (W, b)."""

from __future__ import annotations

import numpy as np


def _metric_factor(hamiltonian) -> np.ndarray:
    """L with L·Lᵀ = A⁻¹: the same factor the cost kernels use, so f_ε + u_ε = xᵀA⁻¹x/(4t)
    holds to round-off with no cond(A) factor (two different inverses would differ by one)."""
    if hamiltonian.kind != "quadratic":
        raise ValueError(f"the weight map needs a quadratic Hamiltonian, not {hamiltonian.text}")
    return hamiltonian.factor


def atoms_to_weights(y, g, t: float, hamiltonian):
    """W_j = A⁻¹y_j/(2t), b_j = −g_j − y_jᵀA⁻¹y_j/(4t).

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> W, b = m.weights()
    >>> W.ravel().tolist(), b.round(4).tolist()
    ([-0.75, -0.25, 0.25, 0.75], [-1.5625, -0.3625, -0.3625, -1.5625])
    """
    y = np.asarray(y, dtype=float)
    factor = _metric_factor(hamiltonian)
    yl = y @ factor  # A⁻¹y = L·(Lᵀy) and yᵀA⁻¹y = |Lᵀy|², both from the one factor
    W = yl @ factor.T / (2.0 * t)
    b = -np.asarray(g, dtype=float) - np.einsum("jd,jd->j", yl, yl) / (4.0 * t)
    return W, b


def weights_to_atoms(W, b, t: float, hamiltonian):
    """y_j = 2t·A·W_j, g_j = −b_j − t·W_jᵀAW_j (inverse of `atoms_to_weights`)."""
    W = np.asarray(W, dtype=float)
    _metric_factor(hamiltonian)
    aw = W @ hamiltonian.matrix
    y = 2.0 * t * aw
    g = -np.asarray(b, dtype=float) - t * np.einsum("jd,jd->j", W, aw)
    return y, g


def quadratic_term(x, t: float, hamiltonian) -> np.ndarray:
    """xᵀA⁻¹x/(4t): the term with f_ε + u_ε = xᵀA⁻¹x/(4t) for every ε."""
    xl = np.asarray(x, dtype=float) @ _metric_factor(hamiltonian)
    return np.einsum("nd,nd->n", xl, xl) / (4.0 * t)
