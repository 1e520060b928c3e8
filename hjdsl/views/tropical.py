"""The tropical view (ε = 0): f_0 = max_j z_j, the Hopf–Lax value u_0 = min_j c_j, the active atom."""

from __future__ import annotations

import numpy as np

from hjdsl.views.hopf_cole import costs
from hjdsl.views.network import _jnp, chunk_size, logits, map_chunks


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


def _tropical_chunk(model):
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    jnp = _jnp()
    ham = model.hamiltonian
    y, g, t = jnp.asarray(model.y), jnp.asarray(model.g), float(model.t)
    W, b = model.weights() if ham.kind == "quadratic" else (None, None)

    @jax.jit
    def run(points):
        c = costs(points, y, g, t, ham)
        u0 = jnp.min(c, axis=-1)
        reached = jnp.isfinite(u0)
        # Δ: the gap between the two smallest costs = between the two largest logits.
        two = -jax.lax.top_k(-c, 2)[0] if c.shape[-1] > 1 else jnp.concatenate([c, c + jnp.inf], -1)
        gap = jnp.where(jnp.isfinite(two[..., 1]), two[..., 1] - two[..., 0], jnp.inf)
        out = {
            "u0": u0,
            "gap": gap,
            "active": jnp.where(reached, jnp.argmin(c, axis=-1), -1),
            "reachable": jnp.sum(jnp.isfinite(c), axis=-1),
        }
        if W is not None:
            out["f0"] = max_plus(points, W, b)
        return out

    return run


def tropical_view(model, x) -> dict:
    """The ε = 0 views at points x (n, d), as numpy arrays.

    Returns u0 (n,) (+inf where no atom reaches), active (n,) (the index of the minimising atom,
    −1 where none reaches), reachable (n,) (how many atoms reach), gap (n,) (Δ, the margin of the
    active atom over the runner-up; +inf with one reachable atom), and for quadratic H f0 (n,).
    For norm Hamiltonians there is no LSE layer (the weight map needs quadratic H), so no f0.
    """
    chunk = chunk_size(model.n_atoms, model.dim)
    return map_chunks(_tropical_chunk(model), np.asarray(x, dtype=np.float64), chunk)
