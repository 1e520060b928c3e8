"""Pontryagin's recursions for x_{k+1} = x_k + h·F(x_k, θ_k, u_k): state, co-state, ∂_θℋ, ℋ."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from hjdsl.networks.cells import Cell


@dataclass(frozen=True)
class Net:
    """A network to run: cell, parameters, inputs and targets (float64 numpy arrays).

    `theta` holds the controls, with a leading step axis for a residual net (θ_k) and without
    one for a recurrent net (one θ shared by every step); `extra` the readout's parameters.
    `x0` is (n, d); `u` is (K, n) for a recurrent net (None for a residual one); `v` is (n,).
    """

    cell: Cell
    theta: dict
    x0: np.ndarray
    u: np.ndarray | None
    v: np.ndarray
    h: float
    steps: int
    eps: float = 1.0
    extra: dict | None = None

    def theta_at(self, k: int) -> dict:
        return {n: a[k] for n, a in self.theta.items()} if self.cell.kind == "residual" \
            else self.theta

    def u_at(self, k: int):
        return None if self.u is None else self.u[k]

    @property
    def readout(self) -> np.ndarray:
        return self.cell.readout(self.x0.shape[1], {**self.theta, **(self.extra or {})})

    def loss(self, x_final) -> float:
        return float(np.mean((np.asarray(x_final) @ self.readout - self.v) ** 2))


@dataclass(frozen=True)
class Pmp:
    """The recursions' output: x_k, p_k (K+1, n, d), ℋ_k per sample (K, n), ∂_θℋ summed over
    samples per step ({name: (K, ...)}), and the terminal loss."""

    states: np.ndarray
    costates: np.ndarray
    hamiltonian: np.ndarray
    dtheta_h: dict
    loss: float


def pmp(net: Net) -> Pmp:
    """Run the state recursion forward and the co-state recursion backward.

    p_K = −∇Φ(x_K) with Φ = mean_i (r·x_K^i − v_i)²; p_k = p_{k+1} + h·∂_xℋ(x_k, p_{k+1}, θ_k),
    ℋ(x, p, θ) = p·F(x, θ). The weight gradient is ∂Loss/∂θ_k = −h·Σ_i ∂_θℋ(x_k^i, p_{k+1}^i, θ_k)
    (this sign convention: p is the negative gradient, so ℋ is maximised along the optimum).
    """
    from hjdsl.jaxsetup import jax_x64

    jax_x64()  # every call: the cached functions run in the caller's float64 scope
    h = net.h
    F, ham_grad = compiled(net.cell, net.eps)
    xs = [np.asarray(net.x0)]
    for k in range(net.steps):
        xs.append(xs[-1] + h * np.asarray(F(xs[-1], net.theta_at(k), net.u_at(k))))
    r = net.readout
    residual = np.asarray(xs[-1]) @ r - net.v
    p = -(2.0 / net.v.size) * residual[:, None] * r[None, :]
    ps, grads, hams = [p], [], []
    for k in reversed(range(net.steps)):
        th, u = net.theta_at(k), net.u_at(k)
        hams.append(np.sum(p * np.asarray(F(xs[k], th, u)), axis=1))
        dx, dth = ham_grad(xs[k], p, th, u)
        grads.append({n: np.asarray(a) for n, a in dth.items()})
        p = p + h * np.asarray(dx)
        ps.append(p)
    grads.reverse()
    dtheta = {n: np.stack([g[n] for g in grads]) for n in net.theta}
    return Pmp(np.stack(xs), np.stack(ps[::-1]), np.stack(hams[::-1]), dtheta, net.loss(xs[-1]))


@functools.lru_cache(maxsize=32)
def compiled(cell: Cell, eps: float):
    """The jitted F and (∂_xℋ, ∂_θℋ) of a cell, compiled once per cell and ε (an Adam fit or a
    refinement calls them thousands of times)."""
    from hjdsl.jaxsetup import jax_x64, jit64

    jax = jax_x64()
    import jax.numpy as jnp

    F = jit64(lambda x, th, u: cell.F(x, th, u, eps))
    ham_grad = jit64(jax.grad(lambda x, p, th, u: jnp.sum(p * cell.F(x, th, u, eps)),
                                argnums=(0, 2)))
    return F, ham_grad


def autodiff(net: Net) -> tuple[np.ndarray, dict]:
    """∂Loss/∂x_k (K+1, n, d) and ∂Loss/∂θ by jax.grad of the whole unrolled loss.

    A zero perturbation δ_k added to each state makes ∂Loss/∂δ_k = ∂Loss/∂x_k in one reverse
    pass; this is the reference the co-state recursion is checked against.
    """
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    import jax.numpy as jnp

    cell, h, eps = net.cell, net.h, net.eps
    recurrent = cell.kind == "recurrent"
    r = jnp.asarray(net.readout)
    # a scan, not an unrolled loop: compile time does not grow with the number of steps
    u = jnp.asarray(net.u) if recurrent else jnp.zeros((net.steps, 0))

    def loss(theta, deltas):
        def step(x, per_step):
            th_k, delta, u_k = per_step
            x = x + delta
            th = theta if recurrent else th_k
            return x + h * cell.F(x, th, u_k if recurrent else None, eps), None

        stacked = {} if recurrent else theta
        x, _ = jax.lax.scan(step, jnp.asarray(net.x0), (stacked, deltas[:-1], u))
        x = x + deltas[-1]
        return jnp.mean((x @ r - net.v) ** 2)

    theta = {n: jnp.asarray(a) for n, a in net.theta.items()}
    deltas = jnp.zeros((net.steps + 1, *net.x0.shape))
    d_theta, d_x = jax.jit(jax.grad(loss, argnums=(0, 1)))(theta, deltas)
    return np.asarray(d_x), {n: np.asarray(a) for n, a in d_theta.items()}


def relative_error(a: np.ndarray, b: np.ndarray, axis) -> np.ndarray:
    """max |a − b| / max |b| over `axis` (norm-wise: a tiny entry of a large gradient is judged
    against the gradient's size, not its own)."""
    scale = np.max(np.abs(b), axis=axis)
    err = np.max(np.abs(a - b), axis=axis)
    return np.where(scale > 0, err / np.where(scale > 0, scale, 1.0), err)
