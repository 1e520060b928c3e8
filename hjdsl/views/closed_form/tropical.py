"""The tropical view (ε = 0): f_0 = max_j z_j, Hopf–Lax u_0 = min_j c_j, the active atom."""

from __future__ import annotations

import numpy as np

from hjdsl.views.closed_form.hopf_cole import cost_kernel, costs
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
    """u_0(x) = min_j {g_j + t·L((x − y_j)/t)}; +inf where no atom reaches x."""
    return _jnp().min(_jnp().asarray(costs(x, y, g, t, hamiltonian)), axis=-1)


def _tropical_body(layer: bool):
    jnp = _jnp()  # enables float64 before jax is used

    def body(points, c, W, b):
        # Δ: the gap between the two smallest costs = between the two largest logits. The
        # runner-up is the minimum with the first minimiser masked out: plain min reductions,
        # the same values as a sorting top-2 bit for bit (a tie leaves the other copy unmasked,
        # so Δ = 0), at a fraction of lax.top_k's cost on CPU. The first minimiser is the least
        # index attaining the minimum (argmin's answer). Every reduction is over float64 (the
        # index and the reach count are exact in it): XLA's CPU backend vectorises float
        # reductions, while its integer ones (and argmin's two-operand one) took 2–3× as long.
        u0 = jnp.min(c, axis=-1)
        n_atoms = c.shape[-1]
        index = jnp.arange(n_atoms, dtype=c.dtype)
        first = jnp.min(jnp.where(c == u0[..., None], index, n_atoms), axis=-1)
        masked = jnp.where(index == first[..., None], jnp.inf, c)
        second = jnp.min(masked, axis=-1)  # +inf with one atom or one reachable atom
        reachable = jnp.sum(jnp.where(jnp.isfinite(c), 1.0, 0.0), axis=-1)
        out = {
            "u0": u0,
            "gap": jnp.where(jnp.isfinite(second), second - u0, jnp.inf),
            "active": jnp.where(jnp.isfinite(u0), first, -1).astype(jnp.int64),
            "reachable": reachable.astype(jnp.int64),
        }
        if layer:
            out["f0"] = max_plus(points, W, b)
        return out

    return body


def tropical_view(model, x) -> dict:
    """The ε = 0 views at points x (n, d), as numpy arrays.

    Returns u0 (n,) (+inf where no atom reaches), active (n,) (the index of the minimising atom,
    −1 where none reaches), reachable (n,) (how many atoms reach), gap (n,) (Δ, the margin of the
    active atom over the runner-up; +inf with one reachable atom), and f0 (n,) when the
    Hamiltonian has an exact LSE layer (`ham.has_layer`: quadratic H); otherwise no f0.
    """
    ham, t = model.hamiltonian, float(model.t)
    layer = bool(ham.has_layer)
    kernel = cost_kernel("tropical", ham, _tropical_body(layer), layer)
    W, b = model.weights() if layer else (np.zeros((1, 1)), np.zeros(1))
    y, g, args = np.asarray(model.y), np.asarray(model.g), ham.kernel_args(t)
    chunk = chunk_size(model.n_atoms, model.dim)
    return map_chunks(lambda block: kernel(block, y, g, t, args, W, b),
                      np.asarray(x, dtype=np.float64), chunk)
