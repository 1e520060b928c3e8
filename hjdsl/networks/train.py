"""A short Adam fit of a residual or recurrent net, with the co-state recursion as its gradient."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hjdsl.networks.costate import Net, pmp

BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def weight_gradient(net: Net, run=None) -> dict:
    """∂Loss/∂θ from Pontryagin: −h Σ_i ∂_θℋ per step (residual), summed over steps (recurrent)."""
    run = run or pmp(net)
    if net.cell.kind == "recurrent":
        return {n: -net.h * g.sum(axis=0) for n, g in run.dtheta_h.items()}
    return {n: -net.h * g for n, g in run.dtheta_h.items()}


def adam(net: Net, steps: int, lr: float, progress=None) -> tuple[Net, np.ndarray]:
    """`steps` Adam updates of θ (the readout stays fixed); the trained net and the loss curve.

    >>> # trained, losses = adam(net, 200, 0.01); losses[-1] < losses[0]
    """
    theta = {n: a.copy() for n, a in net.theta.items()}
    m = {n: np.zeros_like(a) for n, a in theta.items()}
    v = {n: np.zeros_like(a) for n, a in theta.items()}
    losses = np.empty(steps)
    for i in range(steps):
        current = replace(net, theta=theta)
        run = pmp(current)
        losses[i] = run.loss
        if not np.isfinite(run.loss):
            from hjdsl.errors import RunError

            raise RunError.single(f"the Adam fit diverged at step {i} (loss {run.loss})",
                                  hint="use a smaller lr or scale", code="R722")
        for n, g in weight_gradient(current, run).items():
            m[n] = BETAS[0] * m[n] + (1 - BETAS[0]) * g
            v[n] = BETAS[1] * v[n] + (1 - BETAS[1]) * g * g
            m_hat = m[n] / (1 - BETAS[0] ** (i + 1))
            v_hat = v[n] / (1 - BETAS[1] ** (i + 1))
            theta[n] = theta[n] - lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)
        if progress is not None:
            progress()
    return replace(net, theta=theta), losses
