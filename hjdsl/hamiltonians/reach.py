"""The one reach test of norm Hamiltonians: is atom y_j within ‖x − y_j‖_q* ≤ a·t of x?

H(p) = a‖p‖_q has the Lagrangian L = indicator of the dual-norm ball of radius a, so the
Hopf–Lax cost of atom j at x is g_j inside the ball ‖x − y_j‖_q* ≤ a·t and +∞ outside. Every
view (Hopf–Cole, tropical, convex) asks this module, with numpy or jax.numpy, so they decide an
atom on the boundary the same way.

Why the slack. x, y, a and t reach us rounded (a decimal literal such as 2.2 is off by up to half
an ulp, u·|x| with u = 2⁻⁵³), and the distance is computed in float64. With x̃, ỹ, r̃ the intended
values and D the computed distance:

- each component of fl(x − y) is within u|x_i| + u|y_i| + u|x_i − y_i| ≤ 2u(|x_i| + |y_i|) of
  x̃_i − ỹ_i, so (norms are monotone in |·|) the difference vector is within 2u(‖x‖ + ‖y‖);
- evaluating the norm adds at most (d + 1)·u·D (d − 1 additions, d squarings and a square root
  for q* = 2; nothing for q* = ∞), and D ≈ r at the boundary;
- r = fl(a·t) is within 3u·r of ã·t̃ (two rounded inputs and one rounded product).

So |D − D̃| + |r − r̃| ≤ 2u(‖x‖ + ‖y‖) + (d + 4)·u·r to first order. The test allows twice that,
REACH_ULPS = 2 times the first-order bound, for the second-order terms: an atom whose intended
distance is exactly a·t is reached, and one farther out by more than a few ulp of the magnitudes
involved is not. (The old rule, a relative 1e-12, was about 4,500 ulp wide and ignored |x|, |y|.)
"""

from __future__ import annotations

import numpy as np

# ‖·‖_q* of H(p) = a‖p‖_q: the dual norm's order for each norm kind.
DUAL_ORD = {"l1": np.inf, "l2": 2, "linf": 1}
UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2.0  # u = 2⁻⁵³
REACH_ULPS = 2.0  # safety factor over the first-order rounding bound (module docstring)


def dual_norm(v, kind: str, xp=np):
    """‖v‖_q* along the last axis, written with the same elementwise operations in every backend.

    >>> float(dual_norm(np.array([3.0, -4.0]), "l2")), float(dual_norm(np.array([3.0, -4.0]), "l1"))
    (5.0, 4.0)
    """
    order = DUAL_ORD[kind]
    a = xp.abs(v)
    if order == np.inf:
        return xp.max(a, axis=-1)
    if order == 1:
        return xp.sum(a, axis=-1)
    return xp.sqrt(xp.sum(a * a, axis=-1))


def reach_slack(x_norm, y_norm, radius, dim: int):
    """The rounding allowance of the reach test (module docstring), same shape as the distances."""
    return REACH_ULPS * UNIT_ROUNDOFF * (2.0 * (x_norm + y_norm) + (dim + 4.0) * radius)


def reached(x, y, kind: str, radius, xp=np):
    """(…, N) booleans: ‖x − y_j‖_q* ≤ radius + slack for points x (…, d) and atoms y (N, d).

    radius = a·t. The slack is a few ulp of ‖x‖, ‖y_j‖ and a·t (see the module docstring).

    >>> bool(reached(np.array([2.2]), np.array([[1.2]]), "l2", 1.0)[0])  # 2.2 − 1.2 = 1 + 2e-16
    True
    >>> bool(reached(np.array([2.2]), np.array([[1.2 - 1e-9]]), "l2", 1.0)[0])
    False
    """
    x = xp.asarray(x)
    y = xp.asarray(y)
    dist = dual_norm(x[..., None, :] - y, kind, xp)
    slack = reach_slack(dual_norm(x, kind, xp)[..., None], dual_norm(y, kind, xp), radius,
                        y.shape[-1])
    return dist <= radius + slack
