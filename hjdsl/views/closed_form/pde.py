"""The PDE residual u_t + H(∇u) − ε tr(A∇²u) + εd/(2t) of u_ε: closed-form Gibbs moments, and
the autodiff of the costs (`residual_terms`) as their independent check."""

from __future__ import annotations

import functools

import numpy as np

from hjdsl.model.ir import inverse_factor
from hjdsl.views.closed_form.hopf_cole import metric_factor
from hjdsl.views.closed_form.lse import _jnp, chunk_size, map_chunks
from hjdsl.views.closed_form.pde_moments import active_terms, gibbs_terms, moment_terms  # noqa: F401
from hjdsl.views.tolerances import ULP


def point_costs(x, t, y, g, factor):
    """c_j(x, t) = g_j + |(x − y_j)·L|²/(4t) at one point x (d,), differentiable in x and t."""
    jnp = _jnp()
    diff = x @ factor - y @ factor
    return g + jnp.sum(diff * diff, axis=-1) / (4.0 * t)


def residual_terms(x, t, y, g, A, factor, eps):
    """(u_t, ∇uᵀA∇u, ε·tr(A∇²u), their sizes) at one point, from autodiff of the costs.

    The derivatives of every c_j (∂_t c_j, ∇c_j, ∇²c_j) come from JAX's differentiation of the
    cost formula, independent of the views' closed forms. They are combined by the soft-min's
    exact chain rule with the Gibbs weights π = softmax(−c/ε):
      u_t = Σπ_j ∂_t c_j,  ∇u = Σπ_j ∇c_j,  ε∇²u = ε Σπ_j ∇²c_j − Cov_π(∇c).
    No 1/ε appears, so the terms stay finite for every ε ≥ 0 (differentiating the soft-min
    itself squares 1/ε and overflows below ε ≈ 1e-150). At ε = 0 π is the active atom.
    """
    import jax

    from hjdsl.views.closed_form.lse import softmax_weights

    jnp = _jnp()
    d = x.shape[-1]
    cost = lambda xt: point_costs(xt[:d], xt[d], y, g, factor)  # noqa: E731
    # One atom's cost as a scalar function, differentiated and then mapped over the atoms:
    # differentiating the vector of N costs at once (jax.hessian's reverse pass) would build an
    # N × N cotangent basis.
    one = lambda xt, yj, gj: point_costs(xt[:d], xt[d], yj, gj, factor)  # noqa: E731
    xt = jnp.append(x, t)
    jac = jax.vmap(jax.grad(one), in_axes=(None, 0, 0))(xt, y, g)                 # (N, d + 1)
    hess = jax.vmap(jax.hessian(one), in_axes=(None, 0, 0))(xt, y, g)[:, :d, :d]  # (N, d, d)
    pi = softmax_weights(-cost(xt), eps)
    grad_c, dt_c = jac[:, :d], jac[:, d]
    u_t = pi @ dt_c
    u_x = pi @ grad_c
    centred = grad_c - u_x                          # centred form: no cancellation in Cov
    cov_term = jnp.einsum("j,jk,kl,jl->", pi, centred, A, centred)  # tr(A Cov_π(∇c))
    curv_term = eps * (pi @ jnp.einsum("kl,jlk->j", A, hess))        # ε Σπ tr(A∇²c)
    h = u_x @ A @ u_x
    # u_t and H(∇u) cancel to O(|x − y|²); but x − y itself carries round-off of |xL| + |yL|,
    # so near an atom the cancelling terms are of size (|xL| + |yL|)·|(x − y)L|/(2t²)
    xl, yl = jnp.linalg.norm(x @ factor), jnp.linalg.norm(y @ factor, axis=-1)
    dl = jnp.linalg.norm(x @ factor - y @ factor, axis=-1) + ULP * (xl + yl)  # ± its round-off
    near = pi @ ((xl + yl) * dl) / (2.0 * t * t)
    sizes = jnp.abs(u_t) + jnp.abs(h) + jnp.abs(curv_term) + cov_term + near
    return u_t, h, curv_term - cov_term, sizes


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
    factor = jnp.asarray(inverse_factor(A))
    u_t, h, lap, _ = residual_terms(jnp.asarray(x), t, jnp.asarray(y), jnp.asarray(g),
                                    jnp.asarray(A), factor, eps)
    return u_t + h - lap + eps * x.shape[-1] / (2.0 * t)


@functools.lru_cache(maxsize=None)
def _residual_kernel(soft: bool):
    """The jitted per-chunk function for ε > 0 (`soft`) or ε = 0 (arrays are arguments, so jit
    caches by shape)."""
    from hjdsl.jaxsetup import jax_x64, jit64

    jax = jax_x64()
    terms = gibbs_terms if soft else active_terms

    def run(points, t, yl, g, eps):
        d = points.shape[-1]

        def one(e):
            u_t, h, lap, sizes = terms(points, t, yl, g, e)
            norm = e * d / (2.0 * t)
            return u_t + h - lap + norm, sizes + norm

        residual, scale = jax.vmap(one, out_axes=1)(eps)
        return {"residual": residual, "scale": scale}

    return jit64(run)


def residual_view(model, x, eps) -> dict:
    """The PDE residual at points x (n, d) for every ε (quadratic H), from the Gibbs moments.

    Returns residual (n_eps, n) and scale (n_eps, n) = cond(A)·(|u_t| + |H(∇u)| +
    ε|Σπ tr(A∇²c)| + tr(A Cov_π(∇c)) + εd/(2t) + Σπ(|xL| + |y_jL|)|(x − y_j)L|/(2t²)): the size
    of the terms that cancel (the last one: the round-off of x − y_j near an atom), times the
    factor by which A⁻¹'s round-off is amplified against A (see hjdsl.views.tolerances).
    The derivatives are the closed forms of `moment_terms`; tests check them against the
    autodiff of `residual_terms`.
    """
    eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    ham, t = model.hamiltonian, float(model.t)
    factor = metric_factor(ham)
    yl, g = np.asarray(model.y) @ factor, np.asarray(model.g)
    xl = np.asarray(x, dtype=np.float64) @ factor
    out = {key: np.empty((eps.size, xl.shape[0])) for key in ("residual", "scale")}
    for soft in (True, False):
        which = np.flatnonzero((eps > 0) == soft)
        if which.size == 0:
            continue
        kernel = _residual_kernel(soft)
        # per point and ε a few (N,) arrays (the weights, |D|², the centred terms)
        chunk = chunk_size(model.n_atoms * which.size)
        part = map_chunks(lambda block: kernel(block, t, yl, g, eps[which]), xl, chunk)
        for key, value in part.items():
            out[key][which] = np.moveaxis(value, 1, 0)
    out["scale"] = out["scale"] * ham.condition
    return out


# --- ε = 0: the Hopf–Lax value of any H, one cone function at a time ------------------------
# Why a point is not judged at ε = 0 (the codes of compare's `pde_excluded`).
JUDGED, KINK, UNREACHED, BOUNDARY, AT_ATOM = 0, 1, 2, 3, 4


def hopf_lax_terms(ham, x, t, y_a, g_a):
    """(u_t + H(∇u), S) at one point from autodiff of the active atom's own traced cost.

    u_0 = c_a(x, t) = g_a + t·L((x − y_a)/t) near a point where atom a is strictly active and
    v = (x − y_a)/t is inside dom L, and the cone function solves u_t + H(∇u) = 0 there
    (∂_t c = L(v) − v·∇L(v), ∇c = ∇L(v), and H(∇L(v)) = v·∇L(v) − L(v) by Fenchel–Young).
    `kernel_args` is built inside the differentiated function, since it may depend on t (a
    norm's reach a·t). S = |u_t| + |v|·|∇u| + |H(∇u)| bounds the terms that cancel (L(v) and
    v·∇L(v) inside u_t, then u_t against H).
    """
    import jax

    jnp = _jnp()
    d = x.shape[-1]

    def cost(xt):
        tt = xt[d]
        return ham.kernel_costs(xt[:d], y_a[None, :], g_a[None], tt, ham.kernel_args(tt), jnp)[0]

    jac = jax.grad(cost)(jnp.append(x, t))
    grad_c, dt_c = jac[:d], jac[d]
    h = ham.value(grad_c, jnp)
    v = (x - y_a) / t
    scale = jnp.abs(dt_c) + jnp.linalg.norm(v) * jnp.linalg.norm(grad_c) + jnp.abs(h)
    return dt_c + h, scale


_HOPF_LAX_KERNELS: dict = {}


def _hopf_lax_kernel(ham):
    """The jitted per-chunk residual, cached by kernel_key (ham enters only through it)."""
    from hjdsl.jaxsetup import jax_x64, jit64

    jax = jax_x64()
    key = ham.kernel_key
    kernel = _HOPF_LAX_KERNELS.get(key)
    if kernel is None:
        def run(packed, t):
            d = (packed.shape[-1] - 1) // 2  # rows (x, y_a, g_a): one array, so map_chunks works
            def one(row):
                return hopf_lax_terms(ham, row[:d], t, row[d:2 * d], row[2 * d])

            residual, scale = jax.vmap(one)(packed)
            return {"residual": residual, "scale": scale}

        kernel = _HOPF_LAX_KERNELS[key] = jit64(run)
    return kernel


def hopf_lax_excluded(model, x, trop) -> np.ndarray:
    """(n,) int codes: where u_0 is not a smooth cone function of its active atom.

    KINK: two atoms tie (Δ to KINK_RTOL); UNREACHED: no atom reaches (u_0 = +∞); BOUNDARY: v on
    or outside the boundary of dom L (within the reach test's rounding slack: L is not
    differentiable there); AT_ATOM: x = y_a exactly, where the traced |v| has no derivative.
    """
    from hjdsl.hamiltonians.reach import dual_norm, reach_slack
    from hjdsl.views.tolerances import kink_points

    ham, t = model.hamiltonian, float(model.t)
    active = np.asarray(trop["active"])
    y_a = np.asarray(model.y)[np.maximum(active, 0)]
    code = np.full(active.shape, JUDGED, dtype=np.int8)
    code[np.all(x == y_a, axis=-1)] = AT_ATOM
    dom = ham.domain
    if dom is not None:
        # traceable H have ball domains (single atoms, radial trees); a larger ball is still a
        # safe test for the others, whose residual is not computed
        q, radius, _ = dom
        r = radius * t
        slack = reach_slack(dual_norm(x, q), dual_norm(y_a, q), r, x.shape[-1])
        code[dual_norm(x - y_a, q) >= r - slack] = BOUNDARY
    code[kink_points(trop["gap"], trop["u0"])] = KINK
    code[active < 0] = UNREACHED
    return code


def hopf_lax_residual_view(model, x, trop) -> dict:
    """The ε = 0 residual u_t + H(∇u) of u_0 at points x (n, d), for a traceable H.

    Returns residual (n,), NaN where `excluded` (n,) is not JUDGED, and scale (n,) = S of
    `hopf_lax_terms` (see hjdsl.views.tolerances for the tolerance derived from it).
    """
    ham, t = model.hamiltonian, float(model.t)
    x = np.asarray(x, dtype=np.float64)
    active = np.asarray(trop["active"])
    excluded = hopf_lax_excluded(model, x, trop)
    safe = np.maximum(active, 0)
    packed = np.concatenate([x, np.asarray(model.y)[safe], np.asarray(model.g)[safe, None]], axis=1)
    # one cost and one (d + 1)-gradient per point: the plain-value chunk for a single atom
    chunk = chunk_size(1, 2 * model.dim + 1)
    out = map_chunks(lambda block: _hopf_lax_kernel(ham)(block, t), packed, chunk)
    judged = excluded == JUDGED
    return {"residual": np.where(judged, out["residual"], np.nan), "scale": out["scale"],
            "excluded": excluded}
