"""Derived round-off tolerances of the diagram report: a few ulp × the size of what cancels.

Every exact arrow compares two float64 computations of the same number, so its tolerance is the
round-off those computations can make: ULP (2.2e-16) × an operation count × the magnitudes of
the terms that cancel on the way (never the size of the result, which may be 0).

- identity f_ε + u_ε − xᵀA⁻¹x/(4t): logits z_j = W_j·x + b_j, costs c_j = g_j + |(x − y_j)L|²/(4t)
  and the quadratic term all come from one factor L (L·Lᵀ = A⁻¹). Each is a sum of about d + 2
  products, each product bounded by T_ij = |g_j| + (|x_i| + |y_j|)ᵀ|L||L|ᵀ(|x_i| + |y_j|)/(4t)
  (elementwise absolute values: this is where an ill-conditioned A shows, as |L||L|ᵀ ≫ |A⁻¹|).
  The LSE passes a perturbation of z through with weights π, so the residual at point i is
  bounded by IDENTITY_ULPS(d)·ULP·S_i, S_i = Σ_j π_ij T_ij + T_i,active + |f| + |u| + |q|.
- bounds (f_ε − f_0, u_0 − u_ε in [0, ε log N]): both sides come from the same logits or costs,
  so the slack is the identity tolerance at the worst point, max_i IDENTITY_ULPS(d)·ULP·S_i
  (for norm H, whose costs are the g_j themselves, BOUND_ULPS·ULP·max |u|).
- PDE residual u_t + ∇uᵀA∇u − ε tr(A∇²u) + εd/(2t): ∇u comes from A⁻¹ (through L) and is
  squared against A itself, so L·Lᵀ·A − I ~ cond(A)·ULP enters once: the residual is bounded by
  PDE_ULPS(d)·ULP·cond(A)·(|u_t| + |H(∇u)| + ε|Σπ tr(A∇²c)| + tr(A Cov_π ∇c) + εd/(2t)
  + Σπ_j (|xL| + |y_jL|)·|(x − y_j)L|/(2t²)); the last term is the round-off of x − y_j itself,
  which dominates near an atom, where u_t and H(∇u) are both O(|x − y_j|²).
- PDE residual of u_0 for any other H (ε = 0, views/closed_form/pde.py): r = ∂_t c_a + H(∇c_a)
  for the active atom's cost c_a = g_a + t·L(v), v = (x − y_a)/t, by autodiff. Every derivative
  is taken at the computed v, so Fenchel–Young (H(∇L(v)) = v·∇L(v) − L(v)) holds there exactly
  and r is the rounding of three terms: u_t = L(v) − v·∇L(v), v·∇L(v) and H(∇u), bounded by
  S = |u_t| + |v|·|∇u| + |H(∇u)|. Along the chain: v (2 roundings), |v| and |∇u| (d + 1 each),
  the chain rule through |v| and the product t·L (4), the atom's formula for L and for H (≤ 6
  each, a sum of radial atoms one more per atom, counted in the 6). A radial composite's L is
  the 1-D solve of hamiltonians/conjugate.py, bisected to one ulp of r*: jax differentiates the
  solve's value at that fixed r̃ (its branches are constant in v), so u_t and ∇u both belong to
  r̃ and Fenchel–Young holds at r̃; the one-ulp error of r̃ moves ∇u by an ulp and H(∇u) by
  ULP·|v|·|∇u| (∇H(∇u) = v), one rounding more. That is 2d + 21 roundings of the terms of S, and
  the tolerance is twice that (second-order terms, as the reach test's slack): hopf_lax_pde_ulps.
"""

from __future__ import annotations

import numpy as np

ULP = float(np.finfo(np.float64).eps)
BOUND_ULPS = 8.0
# At ε = 0, u_0 has kinks where two atoms tie; the residual is only defined off them.
KINK_RTOL = 1e-9


def identity_ulps(d: int) -> float:
    """Operations per term of the identity (dot products of length d, the shift, the log)."""
    return 4.0 * (d + 2)


def pde_ulps(d: int) -> float:
    """Operations per term of the PDE residual (jacobian, Hessian trace, d×d quadratic forms)."""
    return 8.0 * (d + 2)


def hopf_lax_pde_ulps(d: int) -> float:
    """Roundings per term of S of the ε = 0 residual of a non-quadratic H (module docstring)."""
    return 2.0 * (2 * d + 21)


def term_sizes(model, x) -> np.ndarray:
    """T_ij (points × atoms): a bound on every product in z_j(x_i), c_j(x_i) and q(x_i)."""
    L = np.abs(model.hamiltonian.factor)
    metric = L @ L.T
    total = np.abs(np.asarray(x))[:, None, :] + np.abs(np.asarray(model.y))[None, :, :]
    # (total·metric)·total summed over d: one matrix product, not a three-operand einsum loop
    quad = np.sum((total @ metric) * total, axis=-1) / (4.0 * float(model.t))
    return np.abs(np.asarray(model.g))[None, :] + quad


def identity_scale(model, x, pi, f, u, quad, active) -> np.ndarray:
    """S (eps × points): the size of the terms that cancel in f_ε + u_ε − xᵀA⁻¹x/(4t)."""
    T = term_sizes(model, x)
    at_active = np.take_along_axis(T, np.maximum(active, 0)[:, None], axis=1)[:, 0]
    weighted = np.einsum("epn,pn->ep", np.nan_to_num(pi), T)
    return weighted + at_active[None, :] + np.abs(f) + np.abs(u) + np.abs(quad)[None, :]


def kink_points(gap, u0) -> np.ndarray:
    """Points where the two best atoms tie (to KINK_RTOL): u_0 is not differentiable there."""
    return np.asarray(gap) <= KINK_RTOL * np.maximum(1.0, np.abs(np.asarray(u0)))
