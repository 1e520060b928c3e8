"""The PDE residual's terms of u_ε for a quadratic H in closed form: Gibbs moments of the
factored differences D_j = (x − y_j)·L, one pass over the atoms per point and ε."""

from __future__ import annotations

from hjdsl.views.closed_form.lse import _jnp
from hjdsl.views.tolerances import ULP


def moment_terms(points, t, yl, g, eps):
    """(u_t, ∇uᵀA∇u, ε·tr(A∇²u), their sizes) at points (n, d) given as x·L, for one ε ≥ 0.

    With D_j = (x − y_j)·L (so c_j = g_j + |D_j|²/(4t), ∇c_j = L·D_j/(2t) and LᵀAL = I) the
    soft-min's chain rule of `pde.residual_terms` reduces to Gibbs moments of D:
      u_t = −E_π|D|²/(4t²),  ∇uᵀA∇u = |E_π D|²/(4t²),  tr(A Cov_π(∇c)) = E_π|D − E_π D|²/(4t²),
    and tr(A∇²c_j) = d/(2t) for every atom. O(N·d) per point instead of N Hessians; yl = y·L.
    ε > 0 is `gibbs_terms`, ε = 0 `active_terms` (the first minimiser's); the kernel calls each
    only for its own ε (this `where` evaluates both).
    """
    jnp = _jnp()
    soft = gibbs_terms(points, t, yl, g, eps)
    hard = active_terms(points, t, yl, g, eps)
    return tuple(jnp.where(eps > 0, s, h) for s, h in zip(soft, hard))


def _components(points, yl):
    """D_k = x_k − y_jk (n, N) for each component k, and |D|² written out over them: XLA's CPU
    reduction over a minor axis of length d of an (n, N, d) array cost several times as much."""
    diff = [points[:, k, None] - yl[:, k] for k in range(points.shape[-1])]
    sq = 0.0
    for dk in diff:
        sq = sq + dk * dk
    return diff, sq


def _norms(v):
    """|v_i| over the last axis, written out (as `_components`)."""
    jnp = _jnp()
    return jnp.sqrt(sum(v[..., k] * v[..., k] for k in range(v.shape[-1])))


def gibbs_terms(points, t, yl, g, eps):
    """`moment_terms` at one ε > 0: one exp per atom and point, every moment a reduction of w.

    The weights w_j = e^{a_j} ≤ 1 of `_gibbs_parts` (the top atom's is 1, so Σw ≥ 1) are formed
    once; the moments are divided by Σw once (π = w/s itself is never formed). E_π[1, yL]
    comes from one matrix product w·[1, yL] (it also keeps w materialised: each reduction over
    the atoms would otherwise recompute the exp); E_π D = xL − E_π[yL]. The covariance is the
    centred E_π|yL − E_π yL|² (= E_π|D − E_π D|²): no cancellation against |E_π D|².
    """
    import jax

    from hjdsl.views.closed_form.lse import EPS_FLOOR

    jnp = _jnp()
    d = points.shape[-1]
    _, sq = _components(points, yl)
    # z is materialised, so its max is one of the very values shifted below: the top atom's
    # exponent is exactly 0 (two evaluations of z may round differently: see `_gibbs_parts`)
    z = jax.lax.optimization_barrier(-(g + sq / (4.0 * t)))
    m = jnp.max(z, axis=-1, keepdims=True)
    raw = (z - m) / jnp.maximum(eps, EPS_FLOOR)
    w = jnp.exp(jnp.where(raw > 0, 0.0, raw))                   # ≤ 1, the top atom's is 1
    moments = w @ jnp.concatenate([jnp.ones_like(yl[:, :1]), yl], axis=1)
    total = moments[:, 0]
    mu = moments[:, 1:] / total[:, None]                        # E_π[yL]

    def expect(values):  # E_π over the atoms of an (n, N) array
        return jnp.sum(w * values, axis=-1) / total

    four_t2 = 4.0 * t * t
    u_t = -(expect(sq) / four_t2)
    mean = points - mu                                          # E_π D
    h = sum(mean[:, k] * mean[:, k] for k in range(d)) / four_t2
    centred = 0.0
    for k in range(d):
        ck = yl[:, k] - mu[:, k, None]
        centred = centred + ck * ck
    cov_term = expect(centred) / four_t2
    curv_term = eps * d / (2.0 * t)                             # ε Σπ tr(A∇²c), Σπ = 1
    # the round-off of x − y_j near an atom, as in `residual_terms`
    xn, yn = _norms(points)[:, None], _norms(yl)[None, :]
    near = expect((xn + yn) * (jnp.sqrt(sq) + ULP * (xn + yn))) / (2.0 * t * t)
    sizes = jnp.abs(u_t) + jnp.abs(h) + jnp.abs(curv_term) + cov_term + near
    return u_t, h, curv_term - cov_term, sizes


def active_terms(points, t, yl, g, eps):
    """`moment_terms` at ε = 0: π is the first minimiser of the costs (argmin's answer), so
    every moment is that atom's D_a and its covariance is 0."""
    jnp = _jnp()
    d = points.shape[-1]
    _, sq = _components(points, yl)
    z = -(g + sq / (4.0 * t))
    m = jnp.max(z, axis=-1, keepdims=True)
    index = jnp.arange(z.shape[-1], dtype=z.dtype)  # a float min: see tropical.py
    first = jnp.min(jnp.where(z == m, index, z.shape[-1]), axis=-1).astype(jnp.int32)
    y_a = jnp.asarray(yl)[first]
    mean = points - y_a                                         # D_a
    sq_a = sum(mean[:, k] * mean[:, k] for k in range(d))
    four_t2 = 4.0 * t * t
    u_t, h = -(sq_a / four_t2), sq_a / four_t2
    curv_term = eps * d / (2.0 * t)
    xn, yn = _norms(points), _norms(y_a)
    near = (xn + yn) * (jnp.sqrt(sq_a) + ULP * (xn + yn)) / (2.0 * t * t)
    sizes = jnp.abs(u_t) + jnp.abs(h) + jnp.abs(curv_term) + near
    return u_t, h, jnp.broadcast_to(curv_term, sq_a.shape), sizes
