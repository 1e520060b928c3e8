"""The exact maps between HJ initial data (y, g, t, H) and LSE weights (W, b), asked of H.

Thin wrappers over the Hamiltonian's own facts (`weights`, `atoms_from_weights`,
`quadratic_term`): a Hamiltonian without an exact LSE layer raises `NotSupported` (a
ValueError) saying so. For quadratic H every use of A⁻¹ derives from its one factor L
(L·Lᵀ = A⁻¹), so f_ε + u_ε = xᵀA⁻¹x/(4t) holds to round-off with no cond(A) factor.
"""

from __future__ import annotations

import numpy as np


def atoms_to_weights(y, g, t: float, hamiltonian):
    """W_j = A⁻¹y_j/(2t), b_j = −g_j − y_jᵀA⁻¹y_j/(4t) for quadratic H (`hamiltonian.weights`).

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> W, b = m.weights()
    >>> W.ravel().tolist(), b.round(4).tolist()
    ([-0.75, -0.25, 0.25, 0.75], [-1.5625, -0.3625, -0.3625, -1.5625])
    """
    return hamiltonian.weights(y, g, t)


def weights_to_atoms(W, b, t: float, hamiltonian):
    """y_j = 2t·A·W_j, g_j = −b_j − t·W_jᵀAW_j (inverse of `atoms_to_weights`)."""
    return hamiltonian.atoms_from_weights(W, b, t)


def quadratic_term(x, t: float, hamiltonian) -> np.ndarray:
    """xᵀA⁻¹x/(4t): the term with f_ε + u_ε = xᵀA⁻¹x/(4t) for every ε."""
    return hamiltonian.quadratic_term(x, t)
