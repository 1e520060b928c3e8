"""Critical points of the entropy landscape x ↦ Ent(π(x; ε)) at one ε: Newton by JAX autodiff."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Newton acceptance, all relative to the landscape's scales (log N for Ent, ℓ for lengths).
GRAD_TOL = 1e-8      # |∇Ent|·ℓ / log N
STEP_TOL = 1e-8      # last Newton step / ℓ
EIG_TOL = 1e-9       # min |Hessian eigenvalue|·ℓ² / log N: below it the point is not isolated
DEDUP_TOL = 1e-5     # two converged points closer than this·ℓ are the same point


@dataclass(frozen=True)
class CriticalSet:
    """Critical points at one ε: positions (K, d), Morse index (K,), entropy (K,), min |λ| (K,)."""

    eps: float
    x: np.ndarray
    index: np.ndarray
    entropy: np.ndarray
    min_abs_eig: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


class Landscape:
    """The entropy landscape of an LSE layer (W, b) inside the box [lo, hi]^d.

    >>> import numpy as np
    >>> land = Landscape(np.array([[-0.5], [0.5]]), np.zeros(2), (-3.0, 3.0))
    >>> cs = land.solve(0.5, land.seeds())
    >>> abs(float(cs.x[0, 0])) < 1e-9, cs.index.tolist()
    (True, [1])
    """

    def __init__(self, W, b, box, t: float = 1.0, scale: float | None = None):
        self.t = float(t)
        self.W = np.asarray(W, dtype=float)
        self.b = np.asarray(b, dtype=float)
        self.n, self.d = self.W.shape
        self.lo, self.hi = float(box[0]), float(box[1])
        self.log_n = float(np.log(self.n))
        self.scale = float(scale) if scale else self._spacing()

    def _spacing(self) -> float:
        """ℓ: the median nearest-neighbour distance of the atoms y = 2tW (at most the box side)."""
        w = self.W
        dist = np.sqrt(((w[:, None, :] - w[None, :, :]) ** 2).sum(-1))
        np.fill_diagonal(dist, np.inf)
        nn = np.median(dist.min(axis=1)) if self.n > 1 else 1.0
        # the box is a ceiling so that a layer of coincident atoms still gets a finite scale
        return float(min(max(nn, 1e-12) * 2.0 * self.t, self.hi - self.lo))

    # --- JAX functions (compiled once per shape and shared by every landscape) ------------
    @cached_property
    def _fns(self):
        import functools

        import jax.numpy as jnp

        fns = _jax_functions()
        W, b = jnp.asarray(self.W), jnp.asarray(self.b)
        return {name: functools.partial(fn, W, b) for name, fn in fns.items()}

    def entropy(self, x, eps) -> np.ndarray:
        x = np.asarray(x, dtype=float).reshape(-1, self.d)
        return np.asarray(self._fns["entropy"](_pad(x), float(eps)))[: x.shape[0]]

    def tangent(self, x, eps) -> np.ndarray:
        """dx/dε along a branch of critical points (implicit function theorem)."""
        x = np.asarray(x, dtype=float).reshape(-1, self.d)
        if x.shape[0] == 0:
            return x
        return np.asarray(self._fns["tangent"](_pad(x), float(eps)))[: x.shape[0]]

    # --- Newton from many starts ---------------------------------------------------------
    def newton(self, starts, eps, max_step: float | None = None, iters: int = 80):
        """Damped Newton on ∇Ent = 0 from each start; returns (x, converged, index, entropy, min|λ|)."""
        starts = np.asarray(starts, dtype=float).reshape(-1, self.d)
        k = starts.shape[0]
        step = 0.25 * (self.hi - self.lo) if max_step is None else max_step
        x, gnorm, last, lam, ent = (np.asarray(a)[:k] for a in
                                    self._fns["newton"](_pad(starts), float(eps), float(step), int(iters)))
        min_abs = np.min(np.abs(lam), axis=-1)
        ok = (np.all(np.isfinite(x), axis=-1) & (gnorm * self.scale / self.log_n < GRAD_TOL)
              & (last / self.scale < STEP_TOL) & (min_abs * self.scale**2 / self.log_n > EIG_TOL))
        index = np.sum(lam < 0, axis=-1)
        return x, ok, index, ent, min_abs

    def inside(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float).reshape(-1, self.d)
        return np.all((x >= self.lo) & (x <= self.hi), axis=-1)

    def seeds(self, extra=None) -> np.ndarray:
        """Deterministic starts: atoms, midpoints of nearest-neighbour pairs, the centroid, a grid (d ≤ 3)."""
        y = self.W * 2.0 * self.t
        parts = [y, y.mean(axis=0, keepdims=True)]
        if self.n > 1:
            dist = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
            np.fill_diagonal(dist, np.inf)
            k = min(self.n - 1, 2 * self.d)
            nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
            parts.append(0.5 * (y[:, None, :] + y[nearest]).reshape(-1, self.d))
        per_axis = {1: 41, 2: 15, 3: 7}.get(self.d, 0)
        if per_axis:
            axis = np.linspace(self.lo, self.hi, per_axis)
            mesh = np.meshgrid(*([axis] * self.d), indexing="ij")
            parts.append(np.stack([m.ravel() for m in mesh], axis=-1))
        if extra is not None and len(extra):
            parts.append(np.asarray(extra, dtype=float).reshape(-1, self.d))
        pts = np.concatenate(parts, axis=0)
        return pts[self.inside(pts)]

    def solve(self, eps: float, starts) -> CriticalSet:
        """All distinct, converged, non-degenerate critical points in the box reached from `starts`.

        A second round starts from every point found, displaced both ways along its softest
        Hessian direction: near a fold the partner lies along that direction, inside a basin of
        attraction that shrinks as the fold nears and that fixed seeds easily miss.
        """
        first = self._converged(eps, starts)
        if len(first) == 0:
            return first
        soft = np.asarray(self._fns["soft"](_pad(first.x), float(eps)))[: len(first)]
        shifts = np.array([0.05, 0.2, 0.5, -0.05, -0.2, -0.5]) * self.scale
        partners = (first.x[:, None, :] + shifts[None, :, None] * soft[:, None, :]).reshape(-1, self.d)
        return self._converged(eps, np.concatenate([first.x, partners]))

    def _converged(self, eps, starts) -> CriticalSet:
        x, ok, index, ent, min_abs = self.newton(starts, eps)
        keep = ok & self.inside(x)
        return self.dedup(eps, x[keep], index[keep], ent[keep], min_abs[keep])

    def dedup(self, eps, x, index, ent, min_abs) -> CriticalSet:
        """Greedy de-duplication in a fixed (lexicographic) order, so the result is deterministic."""
        order = np.lexsort(x.T[::-1]) if len(x) else np.zeros(0, dtype=int)
        chosen: list[int] = []
        tol = DEDUP_TOL * self.scale
        for i in order:
            if all(np.linalg.norm(x[i] - x[j]) > tol for j in chosen):
                chosen.append(i)
        idx = np.asarray(chosen, dtype=int)
        return CriticalSet(float(eps), x[idx].reshape(-1, self.d), index[idx].astype(int),
                           ent[idx], min_abs[idx])


@functools.lru_cache(maxsize=1)
def _jax_functions() -> dict:
    """Jitted, point-vectorised entropy, Newton, tangent and soft-direction functions of (W, b, ...)."""
    from hjdsl.jaxsetup import jax_x64, jit64

    jax = jax_x64()
    import jax.numpy as jnp

    from hjdsl.views.closed_form.lse import entropy_of_logits

    def entropy(W, b, x, eps):
        # the shared kernel: log s as log1p over the far atoms, so small entropies (and their
        # derivatives) keep their relative accuracy instead of drowning in 1 + tiny − 1
        return entropy_of_logits(W @ x + b, eps)

    grad = jax.grad(entropy, argnums=2)
    hess = jax.hessian(entropy, argnums=2)
    deps_grad = jax.jacfwd(grad, argnums=3)  # ∂(∇Ent)/∂ε for the tangent predictor

    def newton_step(W, b, x, eps):
        lam, vec = jnp.linalg.eigh(hess(W, b, x, eps))
        safe = jnp.where(jnp.abs(lam) < 1e-300, 1e-300, lam)
        return vec @ ((vec.T @ grad(W, b, x, eps)) / safe), lam

    def newton(W, b, x0, eps, max_step, iters):
        def body(_, x):
            step = newton_step(W, b, x, eps)[0]
            size = jnp.linalg.norm(step)
            new = x - step * jnp.minimum(1.0, max_step / jnp.maximum(size, 1e-300))
            return jnp.where(jnp.all(jnp.isfinite(new)), new, x)

        x = jax.lax.fori_loop(0, iters, body, x0)
        step, lam = newton_step(W, b, x, eps)
        return x, jnp.linalg.norm(grad(W, b, x, eps)), jnp.linalg.norm(step), lam, entropy(W, b, x, eps)

    def soft_direction(W, b, x, eps):
        lam, vec = jnp.linalg.eigh(hess(W, b, x, eps))
        return vec[:, jnp.argmin(jnp.abs(lam))]

    def tangent(W, b, x, eps):
        return -jnp.linalg.solve(hess(W, b, x, eps), deps_grad(W, b, x, eps))

    def over_points(fn, extra=0):
        return jit64(jax.vmap(fn, in_axes=(None, None, 0, None) + (None,) * extra))

    return {"entropy": over_points(entropy), "newton": over_points(newton, 2),
            "tangent": over_points(tangent), "soft": over_points(soft_direction)}


def _pad(x: np.ndarray) -> np.ndarray:
    """Pad a batch to 64·4^k rows, so jit compiles a handful of shapes, not one per call."""
    k = x.shape[0]
    size = 64
    while size < k:
        size *= 4
    if size == k:
        return x
    return np.concatenate([x, np.repeat(x[:1], size - k, axis=0)], axis=0)
