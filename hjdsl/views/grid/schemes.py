"""Monotone finite-difference pieces: numerical Hamiltonians, the diffusion stencil, the stable step.

The PDE on the grid is u_t + H(∇u) = ε tr(D ∇²u) with D = `ham.diffusion(d)` (A for quadratic
H(p) = pᵀAp, the equation whose Hopf–Cole solution the LSE layer computes; I otherwise). The
fluxes ask the Hamiltonian for H (`value`), a bound on |∂H/∂p_k| over a box (`gradient_bound`) and
whether the upwind flux applies (`coordinate_monotone`), never which family it is. The grid holds
slopes with the axis first, shape (d, …); the protocol takes it last, hence the `moveaxis`.
Every function here acts on a padded array U (one ghost layer per side) and returns values at the
interior nodes, so the time loop in `grid_solver` stays a few lines.
"""

from __future__ import annotations

import numpy as np

def _view(U: np.ndarray, offsets) -> np.ndarray:
    """The interior of the padded array U shifted by `offsets` nodes (one int per axis)."""
    return U[tuple(slice(1 + o, U.shape[k] - 1 + o) for k, o in enumerate(offsets))]


def _unit(d: int, k: int, s: int = 1) -> tuple[int, ...]:
    return tuple(s if j == k else 0 for j in range(d))


def pad_linear(u: np.ndarray) -> np.ndarray:
    """One ghost layer per side by linear extrapolation, u_{-1} = 2u_0 − u_1.

    Axes are filled in order, so a 2-D corner is the extrapolation of extrapolated ghosts.

    >>> pad_linear(np.array([1.0, 2.0, 4.0])).tolist()
    [0.0, 1.0, 2.0, 4.0, 6.0]
    """
    U = np.empty(tuple(n + 2 for n in u.shape))
    U[(slice(1, -1),) * u.ndim] = u
    for k in range(u.ndim):
        lead = (slice(None),) * k
        U[lead + (0,)] = 2.0 * U[lead + (1,)] - U[lead + (2,)]
        U[lead + (-1,)] = 2.0 * U[lead + (-2,)] - U[lead + (-3,)]
    return U


def one_sided(U: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward and forward differences p⁻, p⁺, each of shape (d, *interior)."""
    if U.ndim == 1:  # the common 1-D case without the stacking overhead
        slope = np.diff(U) / h[0]
        return slope[None, :-1], slope[None, 1:]
    d = U.ndim
    centre = _view(U, (0,) * d)
    pm = np.stack([(centre - _view(U, _unit(d, k, -1))) / h[k] for k in range(d)])
    pp = np.stack([(_view(U, _unit(d, k, 1)) - centre) / h[k] for k in range(d)])
    return pm, pp


def diffusion_matrix(ham, d: int) -> np.ndarray:
    """D in ε tr(D∇²u), as the Hamiltonian states it (A for quadratic H, I by default)."""
    return np.asarray(ham.diffusion(d), dtype=float).reshape(d, d)


def spacing_ratio(D: np.ndarray) -> np.ndarray:
    """Relative spacings h_k ∝ √D_kk: with them the 7-point mixed stencil is monotone for every SPD D.

    The axial neighbour weight D_kk/h_k² − |D_01|/(h_0h_1) is ≥ 0 for both axes exactly when
    |D_01| ≤ √(D_00 D_11) when h_0/h_1 = √(D_00/D_11), which positive definiteness guarantees.
    """
    return np.sqrt(np.diag(D) / np.max(np.diag(D)))


def diffusion(U: np.ndarray, h: np.ndarray, D: np.ndarray) -> np.ndarray:
    """tr(D∇²u) with central second differences and, in 2-D, the 7-point mixed-derivative stencil.

    For D_01 ≥ 0 the stencil uses the (+,+)/(−,−) diagonal, for D_01 < 0 the (+,−)/(−,+) one, so
    every neighbour weight is non-negative on a grid from `spacing_ratio` (second-order accurate).
    """
    d = U.ndim
    if d == 1:
        return D[0, 0] * np.diff(U, 2) / h[0] ** 2
    centre = _view(U, (0,) * d)
    axial = [_view(U, _unit(d, k, 1)) + _view(U, _unit(d, k, -1)) - 2.0 * centre for k in range(d)]
    out = sum(D[k, k] * axial[k] / h[k] ** 2 for k in range(d))
    if d == 2 and D[0, 1] != 0.0:
        s = 1 if D[0, 1] > 0 else -1
        diag = _view(U, (1, s)) + _view(U, (-1, -s)) - 2.0 * centre
        # diag − axial_0 − axial_1 = 2 s h_0 h_1 u_01 + O(h⁴)
        out = out + abs(D[0, 1]) * (diag - axial[0] - axial[1]) / (h[0] * h[1])
    return out


def diffusion_rate(h: np.ndarray, D: np.ndarray) -> float:
    """Minus the centre weight of `diffusion`: 2Σ D_kk/h_k² − 2|D_01|/(h_0h_1)."""
    rate = 2.0 * float(np.sum(np.diag(D) / h**2))
    if D.shape[0] == 2:
        rate -= 2.0 * abs(D[0, 1]) / (h[0] * h[1])
    return rate


def diffusion_is_monotone(h: np.ndarray, D: np.ndarray) -> bool:
    """Every neighbour weight of the diffusion stencil is non-negative."""
    if D.shape[0] < 2:
        return True
    c = abs(D[0, 1]) / (h[0] * h[1])
    return bool(D[0, 0] / h[0] ** 2 >= c * (1 - 1e-12) and D[1, 1] / h[1] ** 2 >= c * (1 - 1e-12))


def require_facts(ham, d: int) -> None:
    """Raise NotSupported naming the missing fact unless `ham` states what the grid solver asks
    (H, a gradient bound, D). Probed once per solve, not inside the time loop."""
    probes = (
        ("H(p) (`value`), which the numerical flux evaluates", lambda: ham.value(np.zeros((1, d)))),
        ("bound on |dH/dp_k| over a box (`gradient_bound`), which sets the Lax-Friedrichs "
         "dissipation and the stable step", lambda: ham.gradient_bound(np.ones((d, 1)))),
        ("diffusion matrix D (`diffusion`) of the viscous term", lambda: ham.diffusion(d)),
    )
    for fact, probe in probes:
        try:
            probe()
        except NotImplementedError:
            raise ham.unsupported("the grid PDE solver", f"the Hamiltonian states no {fact}") from None


def hamiltonian(ham, p: np.ndarray) -> np.ndarray:
    """H(p) for slopes p of shape (d, ...) (the axis first, as the grid holds them).

    >>> from hjdsl.hamiltonians import norm
    >>> float(hamiltonian(norm("l1", 2.0), np.array([3.0, -4.0])))
    14.0
    """
    # a transposed view, not np.moveaxis: this runs every time step and its checks cost more
    return ham.value(p.transpose(tuple(range(1, p.ndim)) + (0,)))


def godunov_applies(ham) -> bool:
    """The upwind flux needs H(p) = F(|p_1|, …, |p_d|) with F non-decreasing (diagonal A, a norm,
    sums and maxima of such terms): the Hamiltonian says so with `coordinate_monotone`."""
    return bool(ham.coordinate_monotone)


def godunov(ham, pm: np.ndarray, pp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upwind flux F(q) = H(q), q_k = max(p⁻_k, −p⁺_k, 0); returns (flux, α), α_k ≥ max |∂F/∂q_k|.

    In 1-D (and for separable H in any d) this is the Godunov flux of a convex even H; for the
    2-norm and ∞-norm it is the Osher–Sethian upwind flux. It is non-decreasing in p⁻ and
    non-increasing in p⁺, which makes the explicit step monotone under `stable_step`. Every q
    lies in the box 0 ≤ q_k ≤ max q_k, so the gradient bound over that box bounds ∂F/∂q.
    """
    q = np.maximum(pm, -pp)
    np.maximum(q, 0.0, out=q)
    q_max = np.max(q.reshape(q.shape[0], -1), axis=1)
    return hamiltonian(ham, q), ham.gradient_bound(q_max)


def lax_friedrichs(ham, pm: np.ndarray, pp: np.ndarray, *, local: bool = True):
    """H(p̄) − Σ_k α_k (p⁺_k − p⁻_k)/2 with α_k ≥ max |∂H/∂p_k| over the box spanned by p⁻, p⁺
    (`ham.gradient_bound` over |p_l| ≤ max(|p⁻_l|, |p⁺_l|), which contains it).

    `local=False` takes each α_k as its maximum over the grid (global Lax–Friedrichs). Returns
    (flux, per-axis maximum of α).
    """
    pbar = 0.5 * (pm + pp)
    shape = pm.shape[:1] + (1,) * (pm.ndim - 1)
    alpha = np.asarray(ham.gradient_bound(np.maximum(np.abs(pm), np.abs(pp))), dtype=float)
    alpha = np.broadcast_to(alpha, pm.shape)
    alpha_max = np.max(alpha.reshape(alpha.shape[0], -1), axis=1)
    if not local:
        alpha = alpha_max.reshape(shape)
    flux = hamiltonian(ham, pbar) - 0.5 * np.sum(alpha * (pp - pm), axis=0)
    return flux, alpha_max


FLUXES = {
    "godunov": godunov,
    "llf": lambda ham, pm, pp: lax_friedrichs(ham, pm, pp, local=True),
    "lf": lambda ham, pm, pp: lax_friedrichs(ham, pm, pp, local=False),
}


def flux(scheme: str, ham, pm: np.ndarray, pp: np.ndarray):
    """(Ĥ, per-axis max α) of the numerical Hamiltonian named `scheme` (a key of FLUXES)."""
    return FLUXES[scheme](ham, pm, pp)


def stable_step(alpha: np.ndarray, h: np.ndarray, diffusive: float, cfl: float) -> float:
    """The largest monotone explicit step times `cfl`: dt·(Σ_k α_k/h_k + ε·rate_D) ≤ cfl.

    `alpha` holds the per-axis maxima of the flux's Lipschitz bounds and `diffusive` is
    ε·`diffusion_rate(h, D)`. The centre coefficient of u_i in u_i − dt[Ĥ − ε tr(D∇²u)] is
    1 − dt(Σ_k α_k/h_k + ε·rate_D) = 1 − cfl: the step is monotone for cfl ≤ 1. inf when nothing
    moves (constant data, ε = 0).

    >>> stable_step(np.array([2.0]), np.array([0.1]), 0.0, 0.9)   # dt = 0.9·h/α
    0.045
    """
    rate = float(np.sum(alpha / h)) + diffusive
    return np.inf if rate <= 0.0 else cfl / rate
