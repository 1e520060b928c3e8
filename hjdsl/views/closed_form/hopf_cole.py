"""The viscous view: the closed-form Hopf–Cole value u_ε = −ε log Σ_j exp(−c_j(x)/ε).

The atomic costs c_j(x) = g_j + t·L((x − y_j)/t) come from the Hamiltonian itself
(`ham.kernel_costs` inside the jitted kernel when `ham.traceable`, else `ham.costs` with numpy
per chunk, fed to a kernel that takes the costs); nothing here asks which family it is.
"""

from __future__ import annotations

import numpy as np

from hjdsl.views.closed_form.lse import (_jnp, chunk_size, entropy_of_logits, lse, map_chunks,
                                        softmax_weights)

# H(p) = a|p|_q has Lagrangian the indicator of the ball of radius a in the dual norm; the one
# reach test (and its rounding slack) lives in hamiltonians/reach.py, shared by every view.
from hjdsl.hamiltonians.reach import DUAL_ORD, reached  # noqa: F401  (re-exported)

# Compiled kernels by (what they compute, ham.kernel_key): two models of one family share code.
_KERNELS: dict = {}


def metric_factor(hamiltonian) -> np.ndarray:
    """L with L·Lᵀ = A⁻¹, so (x − y)ᵀA⁻¹(x − y) = |(x − y)·L|² (the Hamiltonian's one factor)."""
    return hamiltonian.factor


def costs(x, y, g, t: float, hamiltonian):
    """The Hopf–Lax costs c_j(x) (…, N) for this Hamiltonian: jax.numpy when it traces, else numpy."""
    xp = _jnp() if hamiltonian.traceable else np
    return hamiltonian.costs(x, y, g, t, xp=xp)


def hopf_cole_value(x, y, g, t: float, hamiltonian, eps):
    """u_ε(x) = −ε log Σ_j exp(−c_j(x)/ε) (min-shifted); ε = 0 gives min_j c_j(x).

    For a non-quadratic H only reachable atoms enter (the structural entropic analogue); a point
    no atom reaches gets +inf.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> round(float(hopf_cole_value(np.array([0.7]), m.y, m.g, 1.0, m.hamiltonian, 0.1)), 6)
    0.307005
    """
    return -lse(-_jnp().asarray(costs(x, y, g, t, hamiltonian)), eps)


def cost_kernel(name: str, hamiltonian, body, *extra_key):
    """The jitted per-chunk function `run(points, y, g, t, args, *rest)` = body(points, c, *rest).

    c are the Hamiltonian's costs: traced inside the kernel (`kernel_costs`, so a quadratic H
    keeps its costs fused with the LSE) when `traceable`, else computed with numpy per chunk and
    passed in. Cached by (name, kernel_key, extra_key); arrays are arguments, so jit caches by
    shape and two models of one family share compiled code.
    """
    from hjdsl.jaxsetup import jax_x64, jit64

    jax = jax_x64()
    traced = bool(hamiltonian.traceable)
    key = (name, traced, hamiltonian.kernel_key if traced else None, *extra_key)
    kernel = _KERNELS.get(key)
    if kernel is None:
        if traced:
            ham = hamiltonian  # kernel_costs depends on it only through kernel_key

            def run(points, y, g, t, args, *rest):
                c = ham.kernel_costs(points, y, g, t, args, _jnp())
                return body(points, c, *rest)

            kernel = jit64(run)
        else:
            kernel = jit64(body)
        _KERNELS[key] = kernel
    if traced:
        return kernel

    def numpy_costs(points, y, g, t, args, *rest):
        c = np.asarray(hamiltonian.costs(points, y, g, t, xp=np), dtype=np.float64)
        return kernel(points, c, *rest)

    return numpy_costs


def _hopf_cole_body(weights: bool):
    jnp = _jnp()  # enables float64 before jax is used
    import jax

    def per_eps(neg_c, e):
        out = {"u": -lse(neg_c, e)}
        if weights:
            out["pi"] = softmax_weights(neg_c, e)
            out["entropy"] = entropy_of_logits(neg_c, e)
        return out

    def body(points, c, eps):
        out = jax.vmap(lambda e: per_eps(-c, e), out_axes=1)(eps)
        if weights:  # no atom reaches the point: no Gibbs measure, so no entropy either
            reached = jnp.any(jnp.isfinite(c), axis=-1)[:, None]
            out["entropy"] = jnp.where(reached, out["entropy"], jnp.nan)
        return out

    return body


def hopf_cole_view(x, y, g, t: float, hamiltonian, eps, *, weights: bool = True,
                   chunk: int | None = None, pruning=None) -> dict:
    """u_ε at points x (n, d) for every ε (numpy arrays, ε axis first).

    Returns u (n_eps, n) and, with `weights`, pi (n_eps, n, N) and entropy (n_eps, n), both NaN
    where no atom reaches the point (a Lagrangian with a bounded domain). For a quadratic H,
    where it pays, atoms are pruned with a certificate (see `network_view`).
    """
    from hjdsl.views.closed_form.prune import prunable
    from hjdsl.views.closed_form.prune_views import hopf_cole_pruned, should_prune

    x = np.asarray(x, dtype=np.float64)
    eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    if prunable(hamiltonian) and should_prune(x, np.shape(y)[0], pruning):
        return hopf_cole_pruned(x, y, g, t, hamiltonian, eps, weights=bool(weights),
                                pruning=pruning, dense=lambda xs, es: _dense_view(
                                    xs, y, g, t, hamiltonian, es, weights, chunk))
    return _dense_view(x, y, g, t, hamiltonian, eps, weights, chunk)


def _dense_view(x, y, g, t, hamiltonian, eps, weights, chunk) -> dict:
    y = np.asarray(y, dtype=np.float64)
    chunk = chunk or chunk_size(y.shape[0], y.shape[1])
    kernel = cost_kernel("hopf_cole", hamiltonian, _hopf_cole_body(bool(weights)), bool(weights))
    g = np.asarray(g, dtype=np.float64)
    args = hamiltonian.kernel_args(float(t))
    out = map_chunks(lambda block: kernel(block, y, g, float(t), args, eps), x, chunk)
    for key in ("u", "pi", "entropy"):
        if key in out:
            out[key] = np.moveaxis(out[key], 1, 0)
    return out
