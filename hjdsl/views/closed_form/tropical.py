"""The tropical view (ε = 0): f_0 = max_j z_j, Hopf–Lax u_0 = min_j c_j, the active atom."""

from __future__ import annotations

import functools

import numpy as np

from hjdsl.views.closed_form.hopf_cole import costs, kernel_metric, quadratic_costs, reach_costs
from hjdsl.views.closed_form.lse import _jnp, chunk_size, map_chunks
from hjdsl.views.closed_form.network import logits


def max_plus(x, W, b):
    """f_0(x) = max_j (W_j·x + b_j): a max-plus (tropical) polynomial.

    >>> W, b = np.array([[1.0], [0.0]]), np.zeros(2)   # ReLU(x) = max(x, 0)
    >>> float(max_plus(np.array([-2.0]), W, b)), float(max_plus(np.array([3.0]), W, b))
    (0.0, 3.0)
    """
    return _jnp().max(logits(x, W, b), axis=-1)


def hopf_lax(x, y, g, t: float, hamiltonian):
    """u_0(x) = min_j {g_j + t·L((x − y_j)/t)}; +inf where no atom reaches x (norm H)."""
    return _jnp().min(costs(x, y, g, t, hamiltonian), axis=-1)


@functools.lru_cache(maxsize=None)
def _tropical_kernel(kind: str):
    """The jitted per-chunk function for one Hamiltonian family (arrays are arguments)."""
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    jnp = _jnp()

    def run(points, y, g, t, metric, W, b):
        if kind == "quadratic":
            c = quadratic_costs(points, y, g, t, metric)
        else:
            c = reach_costs(points, y, g, kind, metric)
        u0 = jnp.min(c, axis=-1)
        # Δ: the gap between the two smallest costs = between the two largest logits.
        if c.shape[-1] > 1:
            two = -jax.lax.top_k(-c, 2)[0]
        else:
            two = jnp.concatenate([c, c + jnp.inf], axis=-1)
        out = {
            "u0": u0,
            "gap": jnp.where(jnp.isfinite(two[..., 1]), two[..., 1] - two[..., 0], jnp.inf),
            "active": jnp.where(jnp.isfinite(u0), jnp.argmin(c, axis=-1), -1),
            "reachable": jnp.sum(jnp.isfinite(c), axis=-1),
        }
        if kind == "quadratic":
            out["f0"] = max_plus(points, W, b)
        return out

    return jax.jit(run)


def tropical_view(model, x) -> dict:
    """The ε = 0 views at points x (n, d), as numpy arrays.

    Returns u0 (n,) (+inf where no atom reaches), active (n,) (the index of the minimising atom,
    −1 where none reaches), reachable (n,) (how many atoms reach), gap (n,) (Δ, the margin of the
    active atom over the runner-up; +inf with one reachable atom), and for quadratic H f0 (n,).
    For norm Hamiltonians there is no LSE layer (the weight map needs quadratic H), so no f0.
    """
    ham, t = model.hamiltonian, float(model.t)
    kernel = _tropical_kernel(ham.kind)
    W, b = model.weights() if ham.kind == "quadratic" else (np.zeros((1, 1)), np.zeros(1))
    y, g, metric = np.asarray(model.y), np.asarray(model.g), kernel_metric(ham, t)
    chunk = chunk_size(model.n_atoms, model.dim)
    return map_chunks(lambda block: kernel(block, y, g, t, metric, W, b),
                      np.asarray(x, dtype=np.float64), chunk)
