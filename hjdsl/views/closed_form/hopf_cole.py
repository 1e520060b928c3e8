"""The viscous view: the closed-form Hopf–Cole value u_ε = −ε log Σ_j exp(−c_j(x)/ε)."""

from __future__ import annotations

import functools

import numpy as np

from hjdsl.views.closed_form.lse import (_jnp, chunk_size, entropy_of_logits, lse, map_chunks,
                                        softmax_weights)

# H(p) = a|p|_q has Lagrangian the indicator of the ball of radius a in the dual norm; the one
# reach test (and its rounding slack) lives in hamiltonians/reach.py, shared by every view.
from hjdsl.hamiltonians.reach import DUAL_ORD, reached  # noqa: F401  (DUAL_ORD: re-exported)


def metric_factor(hamiltonian) -> np.ndarray:
    """L with L·Lᵀ = A⁻¹, so (x − y)ᵀA⁻¹(x − y) = |(x − y)·L|² (the Hamiltonian's one factor)."""
    return hamiltonian.factor


def quadratic_costs(x, y, g, t: float, factor):
    """c_j(x) = g_j + (x − y_j)ᵀA⁻¹(x − y_j)/(4t), from differences (accurate at large |x|)."""
    jnp = _jnp()
    xs = jnp.asarray(x) @ factor
    ys = jnp.asarray(y) @ factor
    diff = xs[..., None, :] - ys
    return jnp.asarray(g) + jnp.sum(diff * diff, axis=-1) / (4.0 * t)


def norm_costs(x, y, g, t: float, hamiltonian):
    """Hopf–Lax costs for H = a|p|_q: g_j where ‖x − y_j‖_dual ≤ a·t, +inf elsewhere."""
    return reach_costs(x, y, g, hamiltonian.kind, hamiltonian.scale * t)


def reach_costs(x, y, g, kind: str, reach):
    """g_j where ‖x − y_j‖_dual ≤ reach (the dual norm of the norm `kind`), +inf elsewhere.

    The test is hamiltonians/reach.py's `reached`, with its rounding slack, as in every other view.
    """
    jnp = _jnp()
    return jnp.where(reached(x, y, kind, reach, xp=jnp), jnp.asarray(g), jnp.inf)


def costs(x, y, g, t: float, hamiltonian):
    """The Hopf–Lax costs c_j(x) for this Hamiltonian (quadratic or a norm)."""
    if hamiltonian.kind == "quadratic":
        return quadratic_costs(x, y, g, t, metric_factor(hamiltonian))
    return norm_costs(x, y, g, t, hamiltonian)


def hopf_cole_value(x, y, g, t: float, hamiltonian, eps):
    """u_ε(x) = −ε log Σ_j exp(−c_j(x)/ε) (min-shifted); ε = 0 gives min_j c_j(x).

    For a norm Hamiltonian only reachable atoms enter (the structural entropic analogue); a point
    no atom reaches gets +inf.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> round(float(hopf_cole_value(np.array([0.7]), m.y, m.g, 1.0, m.hamiltonian, 0.1)), 6)
    0.307005
    """
    return -lse(-costs(x, y, g, t, hamiltonian), eps)


@functools.lru_cache(maxsize=None)
def _hopf_cole_kernel(kind: str, weights: bool):
    """The jitted per-chunk function for one Hamiltonian family (arrays are arguments)."""
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    jnp = _jnp()

    def per_eps(neg_c, e):
        out = {"u": -lse(neg_c, e)}
        if weights:
            out["pi"] = softmax_weights(neg_c, e)
            out["entropy"] = entropy_of_logits(neg_c, e)
        return out

    def run(points, y, g, t, metric, eps):
        # metric: the Cholesky factor of A⁻¹ (quadratic H) or the reach a·t (norm H)
        if kind == "quadratic":
            c = quadratic_costs(points, y, g, t, metric)
        else:
            c = reach_costs(points, y, g, kind, metric)
        out = jax.vmap(lambda e: per_eps(-c, e), out_axes=1)(eps)
        if weights:  # no atom reaches the point: no Gibbs measure, so no entropy either
            reached = jnp.any(jnp.isfinite(c), axis=-1)[:, None]
            out["entropy"] = jnp.where(reached, out["entropy"], jnp.nan)
        return out

    return jax.jit(run)


def kernel_metric(hamiltonian, t: float):
    """The array the cost kernels take: L with LLᵀ = A⁻¹ (quadratic H) or the reach a·t."""
    if hamiltonian.kind == "quadratic":
        return metric_factor(hamiltonian)
    return np.float64(hamiltonian.scale * t)


def hopf_cole_view(x, y, g, t: float, hamiltonian, eps, *, weights: bool = True,
                   chunk: int | None = None) -> dict:
    """u_ε at points x (n, d) for every ε (numpy arrays, ε axis first).

    Returns u (n_eps, n) and, with `weights`, pi (n_eps, n, N) and entropy (n_eps, n), both NaN
    where no atom reaches the point (norm Hamiltonians).
    """
    y = np.asarray(y, dtype=np.float64)
    eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    chunk = chunk or chunk_size(y.shape[0], y.shape[1])
    kernel = _hopf_cole_kernel(hamiltonian.kind, bool(weights))
    g = np.asarray(g, dtype=np.float64)
    metric = kernel_metric(hamiltonian, t)
    out = map_chunks(lambda block: kernel(block, y, g, float(t), metric, eps), x, chunk)
    for key in ("u", "pi", "entropy"):
        if key in out:
            out[key] = np.moveaxis(out[key], 1, 0)
    return out
