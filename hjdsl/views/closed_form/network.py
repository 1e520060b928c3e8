"""The network view: the LSE layer f_ε(x) = ε log Σ_j exp((W_j·x + b_j)/ε) in JAX float64."""

from __future__ import annotations

import functools

import numpy as np

from hjdsl.views.closed_form.lse import (_jnp, chunk_size, entropy_of_logits, lse, map_chunks,  # noqa: F401
                                        softmax_weights)


def logits(x, W, b):
    """z_j(x) = W_j·x + b_j for points x (..., d)."""
    jnp = _jnp()
    return jnp.asarray(x) @ jnp.asarray(W).T + jnp.asarray(b)


def lse_value(x, W, b, eps):
    """f_ε(x) for points x (..., d); ε = 0 is the tropical max_j z_j(x).

    >>> W, b = np.array([[1.0], [0.0]]), np.zeros(2)   # softplus_ε(x) = LSE_ε(x, 0)
    >>> round(float(lse_value(np.array([0.0]), W, b, 1.0)), 6)
    0.693147
    """
    return lse(logits(x, W, b), eps)


def gibbs_weights(x, W, b, eps):
    """π_j(x; ε) = softmax(z(x)/ε)_j = ∂f_ε/∂b_j, shape (..., N)."""
    return softmax_weights(logits(x, W, b), eps)


def entropy(x, W, b, eps):
    """Ent(π(x; ε)) = ∂f_ε/∂ε, in [0, log N]."""
    return entropy_of_logits(logits(x, W, b), eps)


@functools.lru_cache(maxsize=None)
def _network_kernel(weights: bool):
    """The jitted per-chunk function: f_ε for every ε, and optionally π and Ent(π).

    Built once per process (arrays are arguments, not constants), so jit caches by shape.
    """
    from hjdsl.jaxsetup import jax_x64, jit64

    jax = jax_x64()

    def per_eps(z, e):
        out = {"f": lse(z, e)}
        if weights:
            out["pi"] = softmax_weights(z, e)
            out["entropy"] = entropy_of_logits(z, e)
        return out

    def run(points, W, b, eps):
        z = logits(points, W, b)
        out = jax.vmap(lambda e: per_eps(z, e), out_axes=1)(eps)
        out["f0"] = jax.numpy.max(z, axis=-1)  # the same logits: f at ε = 0 equals f0 bit for bit
        return out

    return jit64(run)


def network_view(x, W, b, eps, *, weights: bool = True, chunk: int | None = None,
                 pruning=None) -> dict:
    """The LSE layer at points x (n, d) for every ε: numpy arrays, ε axis first.

    Returns f (n_eps, n), f0 (n,) = max_j z_j and, with `weights`, pi (n_eps, n, N) and
    entropy (n_eps, n). Where it pays, atoms are pruned with a certificate (prune.py; `pruning`
    a prune.Pruning: its δ, or dense=True for the dense path); the result then also carries the
    certificate's arrays (prune_views.py).
    """
    from hjdsl.views.closed_form.prune_views import network_pruned, should_prune

    x = np.asarray(x, dtype=np.float64)
    eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    if should_prune(x, np.shape(W)[0], pruning):
        return network_pruned(x, W, b, eps, weights=bool(weights), pruning=pruning,
                              dense=lambda xs, es: _dense_view(xs, W, b, es, weights, chunk))
    return _dense_view(x, W, b, eps, weights, chunk)


def _dense_view(x, W, b, eps, weights, chunk) -> dict:
    W = np.asarray(W, dtype=np.float64)
    chunk = chunk or chunk_size(W.shape[0])
    kernel = _network_kernel(bool(weights))
    b = np.asarray(b, dtype=np.float64)
    out = map_chunks(lambda block: kernel(block, W, b, eps), x, chunk)
    for key in ("f", "pi", "entropy"):
        if key in out:
            out[key] = np.moveaxis(out[key], 1, 0)
    return out
