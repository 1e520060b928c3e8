"""Gibbs weights, entropy and curvature of an LSE layer in JAX float64 (max-shifted, vectorised)."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Diagnostic, UsageError


def layer_weights(model, y=None, g=None):
    """(W, b) of the model's LSE layer; a clear usage error when H has no exact LSE layer.

    >>> from hjdsl.model.ir import Model
    >>> W, b = layer_weights(Model.from_atoms([[-1.0], [1.0]], [0.0, 0.0]))
    >>> W.ravel().tolist()
    [-0.5, 0.5]
    """
    ham = model.hamiltonian
    if not ham.has_layer:
        raise UsageError((Diagnostic(
            "error", f"attribution and curvature need a Hamiltonian with an exact LSE layer (a "
            f"quadratic one), not H(p) = {ham.text}: {ham.exactness('network').reason}",
            code="U010"),))
    if model.n_atoms < 2:
        raise UsageError((Diagnostic("error", "attribution needs at least two atoms", code="U010"),))
    return model.weights(y, g)


def gibbs(W, b, x, eps):
    """Logits z (P, N), weights π (E, P, N), f_ε (E, P) and Ent(π) (E, P) for every ε > 0 and point.

    The network view's max-shifted kernels, mapped over ε: no exponential overflows for small ε.

    >>> import numpy as np
    >>> z, pi, f, ent = gibbs(np.array([[-1.0], [1.0]]), np.zeros(2), np.zeros((1, 1)), np.array([1.0]))
    >>> np.round(np.asarray(pi), 3).tolist(), round(float(ent[0, 0]), 6)
    ([[[0.5, 0.5]]], 0.693147)
    """
    from hjdsl.jaxsetup import jax_x64
    from hjdsl.views.closed_form.lse import entropy_of_logits, lse, softmax_weights
    from hjdsl.views.closed_form.network import logits

    jax = jax_x64()
    import jax.numpy as jnp

    z = logits(jnp.asarray(x, dtype=jnp.float64), W, b)
    per_eps = jax.vmap(lambda e: (softmax_weights(z, e), lse(z, e), entropy_of_logits(z, e)))
    pi, f, ent = per_eps(jnp.asarray(eps, dtype=jnp.float64))
    return z, pi, f, ent


def curvature(W, pi, eps):
    """∇f = E_π[W] (E, P, d), ∇²f = Cov_π(W)/ε (E, P, d, d) and its spectral norm (E, P).

    >>> import numpy as np
    >>> grad, hess, norm = curvature(np.array([[-1.0], [1.0]]), np.full((1, 1, 2), 0.5), np.array([2.0]))
    >>> float(grad[0, 0, 0]), float(hess[0, 0, 0, 0]), float(norm[0, 0])
    (0.0, 0.5, 0.5)
    """
    from hjdsl.jaxsetup import jax_x64

    jax_x64()
    import jax.numpy as jnp

    W, pi, eps = (jnp.asarray(a, dtype=jnp.float64) for a in (W, pi, eps))
    grad = jnp.einsum("epn,nd->epd", pi, W)
    centred = W[None, None, :, :] - grad[:, :, None, :]  # centred form: no cancellation
    cov = jnp.einsum("epn,epnd,epnk->epdk", pi, centred, centred)
    hess = cov / eps[:, None, None, None]
    norm = jnp.linalg.eigvalsh(hess)[..., -1]
    return grad, hess, jnp.maximum(norm, 0.0)
