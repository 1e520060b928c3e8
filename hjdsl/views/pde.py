"""The PDE residual u_t + H(∇u) − ε tr(A∇²u) + εd/(2t) of u_ε, by automatic differentiation."""

from __future__ import annotations

import functools

import numpy as np

from hjdsl.views.hopf_cole import metric_factor
from hjdsl.views.network import _jnp, chunk_size, map_chunks


def hopf_cole_point(x, t, y, g, factor, eps):
    """u_ε at one point x (d,) as a function of x and t (differentiable in both).

    `factor` is L with L·Lᵀ = A⁻¹; t enters the costs, so ∂u/∂t is the true time derivative.
    The soft-min is the plain formula (no custom derivative rule): every derivative here comes
    from JAX's own differentiation of exp, log and the costs, independent of the views' code.
    """
    import jax

    jnp = _jnp()
    diff = x @ factor - y @ factor
    c = g + jnp.sum(diff * diff, axis=-1) / (4.0 * t)
    shift = jax.lax.stop_gradient(jnp.min(c))  # a constant shift: no effect on derivatives
    e = jnp.where(eps > 0, eps, 1.0)
    soft = shift - e * jnp.log(jnp.sum(jnp.exp(-(c - shift) / e)))
    return jnp.where(eps > 0, soft, jnp.min(c))


def residual_terms(x, t, y, g, A, factor, eps):
    """(u_t, ∇uᵀA∇u, tr(A∇²u)) at one point, all by autodiff of `hopf_cole_point`.

    One forward-over-reverse pass in the joint variable (x, t) gives the gradient (u_x, u_t) and
    the Hessian together, which keeps the compiled program small.
    """
    import jax

    jnp = _jnp()
    d = x.shape[-1]
    u = lambda xt: hopf_cole_point(xt[:d], xt[d], y, g, factor, eps)  # noqa: E731

    def gradient(xt):
        grad = jax.grad(u)(xt)
        return grad, grad

    hess, grad = jax.jacfwd(gradient, has_aux=True)(jnp.append(x, t))
    u_x, u_t = grad[:d], grad[d]
    return u_t, u_x @ A @ u_x, jnp.sum(A * hess[:d, :d])


def pde_residual(x, t, y, g, A, eps):
    """The normalised residual at one point: u_t + ∇uᵀA∇u − ε tr(A∇²u) + εd/(2t).

    u_ε drops the heat kernel's normalisation, so it solves the viscous equation up to the
    constant −εd/(2t); adding it back makes the residual zero up to round-off.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> r = pde_residual(np.array([0.7]), 1.0, m.y, m.g, np.eye(1), 0.3)
    >>> abs(float(r)) < 1e-14
    True
    """
    jnp = _jnp()
    A = jnp.asarray(A)
    factor = jnp.linalg.cholesky(jnp.linalg.inv(A))
    u_t, h, lap = residual_terms(jnp.asarray(x), t, jnp.asarray(y), jnp.asarray(g), A, factor, eps)
    return u_t + h - eps * lap + eps * x.shape[-1] / (2.0 * t)


@functools.lru_cache(maxsize=None)
def _residual_kernel():
    """The jitted per-chunk function (arrays are arguments, so jit caches by shape)."""
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    jnp = _jnp()

    def one(x, t, y, g, A, factor, e):
        u_t, h, lap = residual_terms(x, t, y, g, A, factor, e)
        norm = e * x.shape[-1] / (2.0 * t)
        residual = u_t + h - e * lap + norm
        scale = jnp.abs(u_t) + jnp.abs(h) + e * jnp.abs(lap) + norm
        return residual, scale

    def run(points, t, y, g, A, factor, eps):
        per_eps = jax.vmap(lambda x, e: one(x, t, y, g, A, factor, e), in_axes=(None, 0))
        residual, scale = jax.vmap(lambda x: per_eps(x, eps))(points)
        return {"residual": residual, "scale": scale}

    return jax.jit(run)


def residual_view(model, x, eps) -> dict:
    """The autodiff PDE residual at points x (n, d) for every ε (quadratic H).

    Returns residual (n_eps, n) and scale (n_eps, n) = |u_t| + |H(∇u)| + ε|tr(A∇²u)| + εd/(2t),
    the size of the terms that cancel (tolerances are relative to it).
    """
    eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    # The Hessian per point is d×d per atom-sum; keep chunks smaller than for plain values.
    chunk = max(chunk_size(model.n_atoms, model.dim * model.dim) // 4, 16)
    ham, t, kernel = model.hamiltonian, float(model.t), _residual_kernel()
    args = (t, np.asarray(model.y), np.asarray(model.g), np.asarray(ham.matrix),
            metric_factor(ham), eps)
    out = map_chunks(lambda block: kernel(block, *args), np.asarray(x, dtype=np.float64), chunk)
    return {key: np.moveaxis(value, 1, 0) for key, value in out.items()}
