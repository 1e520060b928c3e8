"""A residual net as explicit Euler: refine h with K·h fixed and measure the order against the ODE."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hjdsl.networks.costate import Net, pmp

REFINEMENTS = 4     # h, h/2, h/4, h/8
ODE_TOL = 1e-12     # solve_ivp rtol = atol: far below the finest Euler error (~h/16)


@dataclass(frozen=True)
class Convergence:
    """Euler at h/2^r (r = 0…R−1, K·2^r steps, θ_k held on its interval) against the ODE."""

    h: np.ndarray            # (R,) step sizes
    error: np.ndarray        # (R,) max_i |x_K^i(h) − x^i(T)|
    order: np.ndarray        # (R,) log2(e_{r−1}/e_r); NaN at r = 0
    hamiltonian: np.ndarray  # (R, K) mean over samples of ℋ at the coarse times s = k·h

    @property
    def observed_order(self) -> float:
        """The order between the two finest step sizes."""
        return float(self.order[-1])


def refined(net: Net, r: int) -> Net:
    """The same flow with each step split into 2^r Euler steps (θ_k piecewise constant in s)."""
    split = 2 ** r
    theta = {n: np.repeat(a, split, axis=0) for n, a in net.theta.items()}
    return replace(net, theta=theta, h=net.h / split, steps=net.steps * split)


def ode_solution(net: Net) -> np.ndarray:
    """x(T) of ẋ = F(x, θ(s)) with θ(s) = θ_k on [k·h, (k+1)·h], by DOP853 at tight tolerance."""
    from scipy.integrate import solve_ivp

    from hjdsl.jaxsetup import jax_x64
    from hjdsl.networks.costate import compiled

    jax_x64()
    F = compiled(net.cell, net.eps)[0]
    shape = net.x0.shape
    x = net.x0.reshape(-1)
    for k in range(net.steps):
        th = net.theta_at(k)
        sol = solve_ivp(lambda s, z: np.asarray(F(z.reshape(shape), th, None)).reshape(-1),
                        (0.0, net.h), x, method="DOP853", rtol=ODE_TOL, atol=ODE_TOL)
        if not sol.success:
            from hjdsl.errors import RunError

            raise RunError.single(f"the ODE reference solver failed on step {k}: {sol.message}",
                                  code="R721")
        x = sol.y[:, -1]
    return x.reshape(shape)


def convergence(net: Net, refinements: int = REFINEMENTS) -> Convergence:
    """Observed order of Euler as h halves with K·h fixed, and ℋ along each trajectory.

    >>> # convergence(net).observed_order is close to 1 for a smooth F
    """
    reference = ode_solution(net)
    hs, errors, hams = [], [], []
    for r in range(refinements):
        fine = refined(net, r)
        run = pmp(fine)
        hs.append(fine.h)
        errors.append(float(np.max(np.abs(run.states[-1] - reference))))
        hams.append(run.hamiltonian[:: 2 ** r].mean(axis=1))
    errors = np.asarray(errors)
    order = np.full(refinements, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        order[1:] = np.log2(errors[:-1] / errors[1:])
    return Convergence(np.asarray(hs), errors, order, np.stack(hams))
