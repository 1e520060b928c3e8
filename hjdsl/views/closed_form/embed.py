"""A model's closed-form views as jitted JAX functions, for embedding in other code (`Model.to_jax()`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hjdsl.views.closed_form.network import entropy, gibbs_weights, lse_value


@dataclass(frozen=True)
class JaxModel:
    """Jitted JAX functions of one model, for embedding (`Model.to_jax()`).

    Each function takes points x of shape (..., d) and a scalar ε ≥ 0.
    """

    W: np.ndarray
    b: np.ndarray
    t: float
    network: Callable      # f_ε(x)
    hopf_cole: Callable    # u_ε(x) = −ε log Σ_j exp(−c_j(x)/ε), from the costs (not from f_ε)
    gibbs: Callable        # π(x; ε)
    entropy: Callable      # Ent(π(x; ε))
    tropical: Callable     # f_0(x) = max_j z_j(x)


def to_jax(model) -> JaxModel:
    """The network view of `model` as jitted JAX functions (H with an exact LSE layer).

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> j = m.to_jax()
    >>> round(float(j.network(np.array([0.7]), 0.1)), 6)
    -0.184505
    """
    from hjdsl.jaxsetup import jax_x64, scoped

    from hjdsl.views.closed_form.hopf_cole import hopf_cole_value  # hopf_cole imports lse only
    from hjdsl.views.unsupported import require

    require(model.hamiltonian, "network", "to_jax")
    jax = jax_x64()
    W, b = model.weights()
    y, g, t, ham = np.asarray(model.y), np.asarray(model.g), float(model.t), model.hamiltonian

    # Each call runs in float64 (the kernels' trace), whatever the caller's jax_enable_x64.
    def jit(fn):
        return scoped(jax.jit(fn))

    return JaxModel(
        W=W, b=b, t=t,
        network=jit(lambda x, eps: lse_value(x, W, b, eps)),
        hopf_cole=jit(lambda x, eps: hopf_cole_value(x, y, g, t, ham, eps)),
        gibbs=jit(lambda x, eps: gibbs_weights(x, W, b, eps)),
        entropy=jit(lambda x, eps: entropy(x, W, b, eps)),
        tropical=jit(lambda x: lse_value(x, W, b, 0.0)),
    )
