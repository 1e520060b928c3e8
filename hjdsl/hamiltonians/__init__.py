"""Hamiltonians as objects that state their facts once (see `base.Hamiltonian`).

Families: `quadratic.Quadratic` (pᵀAp, a|p|²), `norms.Norm` (a|p|_1, a|p|_2, a|p|_inf) and
`composite.Composite` (any convex H built from the atoms of the language). The views, fits and
code generators ask an object for H, ∇H, L = H*, the atomic costs and reach set, a gradient
bound, the weight map and an exactness label, never which family it is.
"""

from __future__ import annotations

import numpy as np

from hjdsl.hamiltonians.base import VIEWS, Exactness, Hamiltonian, NotSupported  # noqa: F401
from hjdsl.hamiltonians.norms import NAMES as NORM_NAMES
from hjdsl.hamiltonians.norms import Norm
from hjdsl.hamiltonians.quadratic import Quadratic, inverse_factor  # noqa: F401
from hjdsl.hamiltonians.composite import Atom, Composite, Max, Scaled, Sum, build  # noqa: F401, E402


def _frozen(a) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def quadratic(matrix, text: str | None = None) -> Quadratic:
    """H(p) = pᵀAp; a scalar a or a d×d matrix A.

    >>> quadratic(np.eye(1)).text, quadratic(2.0 * np.eye(2)).lagrangian_text
    ('|p|^2', '|v|^2/(4*2)')
    """
    A = np.atleast_2d(np.asarray(matrix, dtype=float))
    iso = bool(np.allclose(A, A[0, 0] * np.eye(A.shape[0])))
    if text is None:
        text = "|p|^2" if iso and A[0, 0] == 1.0 else (f"{A[0, 0]:g}*|p|^2" if iso else "p' A p")
    return Quadratic(text, _frozen(A), iso)


def norm(kind: str, scale: float = 1.0, text: str | None = None) -> Norm:
    """H(p) = scale·‖p‖_q for kind l1, l2 or linf.

    >>> float(norm("l1", 2.0).value(np.array([3.0, -4.0])))
    14.0
    """
    if kind not in NORM_NAMES:
        raise ValueError(f"unknown norm {kind!r}: one of {sorted(NORM_NAMES)}")
    if text is None:
        text = NORM_NAMES[kind] if scale == 1.0 else f"{scale:g}*{NORM_NAMES[kind]}"
    return Norm(kind, text, float(scale))
