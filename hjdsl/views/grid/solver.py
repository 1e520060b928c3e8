"""The explicit monotone solver for u_t + H(∇u) = ε tr(D∇²u) on a uniform grid (d = 1, 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.errors import run_error
from hjdsl.views.grid import schemes as fd


@dataclass(frozen=True)
class Domain:
    """A uniform grid: `lo` (d,), spacings `h` (d,), node counts `n` (d,)."""

    lo: np.ndarray
    h: np.ndarray
    n: tuple[int, ...]

    @classmethod
    def covering(cls, lo, hi, h) -> "Domain":
        """The smallest grid of nodes on the lattice h·ℤᵈ that covers [lo, hi].

        Lattice nodes put y = 0 (where abs(y) and norm(y) have their kink) on the grid at every
        resolution, so kinks of g are sampled, not smeared by O(h) between refinements.

        >>> dom = Domain.covering([-0.1], [1.0], [0.3])
        >>> dom.n, dom.lo.tolist(), dom.hi.tolist()
        ((6,), [-0.3], [1.2])
        """
        lo, hi, h = (np.asarray(v, dtype=float).reshape(-1) for v in (lo, hi, h))
        lo = np.floor(lo / h + 1e-9) * h
        n = tuple(int(k) + 1 for k in np.ceil((hi - lo) / h - 1e-9).astype(int))
        return cls(lo, h, n)

    @property
    def dim(self) -> int:
        return self.lo.size

    @property
    def hi(self) -> np.ndarray:
        return self.lo + (np.asarray(self.n) - 1) * self.h

    @property
    def axes(self) -> list[np.ndarray]:
        return [self.lo[k] + self.h[k] * np.arange(self.n[k]) for k in range(self.dim)]

    def nodes(self) -> np.ndarray:
        """All grid nodes, shape (*n, d) (index order 'ij')."""
        return np.stack(np.meshgrid(*self.axes, indexing="ij"), axis=-1)


@dataclass(frozen=True)
class GridSolution:
    """u on the grid at time t; steps taken, the smallest step before the (shortened) last one,
    the scheme, and whether the diffusion stencil is monotone on this grid."""

    domain: Domain
    u: np.ndarray
    steps: int
    min_dt: float
    scheme: str
    monotone: bool

    def at(self, x: np.ndarray) -> np.ndarray:
        """(Bi)linear interpolation at points x (n, d); NaN outside the grid."""
        return interpolate(self.domain, self.u, x)


def call_g(g, points: np.ndarray) -> np.ndarray:
    """g at points (..., d); g takes (m,) points for d = 1 and (m, d) for d ≥ 2."""
    d = points.shape[-1]
    flat = points.reshape(-1, d)
    values = np.asarray(g(flat[:, 0] if d == 1 else flat), dtype=float)
    return np.broadcast_to(values, flat.shape[:1]).reshape(points.shape[:-1])


def solve(g, ham, eps: float, t: float, domain: Domain, *, scheme: str = "auto",
          cfl: float = 0.9, max_dt: float = np.inf, max_steps: int = 200_000) -> GridSolution:
    """Forward-Euler steps of u ← u − dt[Ĥ(D⁻u, D⁺u) − ε tr(D∇²_h u)] from u = g up to time t.

    The step is recomputed every iteration from the current slopes (`grid_schemes.stable_step`)
    and the last one is shortened to land on t (`max_dt` caps it, e.g. to compare two domains at
    equal steps). Ghost nodes are linear extrapolations.

    >>> from hjdsl.hamiltonians import quadratic
    >>> ham = quadratic(np.eye(1))
    >>> sol = solve(lambda y: 0.5 * y, ham, 0.1, 1.0, Domain.covering([-1.0], [1.0], [0.05]))
    >>> round(float(sol.at(np.array([[0.2]]))[0]), 12)   # g linear: u = g(x) − t·H(∇g)
    -0.15
    """
    ham.require("grid")
    fd.require_facts(ham, domain.dim)
    if scheme == "auto":
        scheme = "godunov" if fd.godunov_applies(ham) else "llf"
    if scheme not in fd.FLUXES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(fd.FLUXES)}")
    if scheme == "godunov" and not fd.godunov_applies(ham):
        raise ValueError(f"the Godunov flux needs H(p) to depend on |p_1|, …, |p_d| only, "
                         f"non-decreasingly, which H(p) = {ham.text} does not; use scheme='llf'")
    if not cfl > 0.0:
        raise ValueError(f"cfl must be positive, got {cfl}")
    D = fd.diffusion_matrix(ham, domain.dim)
    h = domain.h
    u = call_g(g, domain.nodes())
    diffusive = eps * fd.diffusion_rate(h, D)
    elapsed, steps, min_dt = 0.0, 0, np.inf
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, not warned
        while elapsed < t:
            if steps >= max_steps:
                raise run_error(f"the grid solver needed more than {max_steps} steps to reach "
                                f"t = {t}", hint="use fewer cells or a smaller viscosity")
            U = fd.pad_linear(u)
            pm, pp = fd.one_sided(U, h)
            flux, alpha = fd.flux(scheme, ham, pm, pp)
            dt = min(fd.stable_step(alpha, h, diffusive, cfl), max_dt, t - elapsed)
            rhs = flux - eps * fd.diffusion(U, h, D) if eps > 0 else flux
            u = u - dt * rhs
            min_dt = min(min_dt, dt) if elapsed + dt < t else min_dt
            elapsed = t if dt == t - elapsed else elapsed + dt
            steps += 1
            if steps % 64 == 0:
                _check_finite(u, steps, cfl)
        _check_finite(u, steps, cfl)  # a NaN step size also ends the loop
    return GridSolution(domain, u, steps, min_dt, scheme, fd.diffusion_is_monotone(h, D))


def _check_finite(u: np.ndarray, steps: int, cfl: float) -> None:
    if np.all(np.isfinite(u)):
        return
    hint = (f"cfl = {cfl} is above 1, which breaks the monotone step condition" if cfl > 1.0
            else "the initial data may grow too fast for the chosen domain")
    raise run_error(f"the grid solver diverged (non-finite values after {steps} steps)", hint=hint)


def interpolate(domain: Domain, u: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of nodal values u at points x (n, d); NaN outside the grid."""
    x = np.asarray(x, dtype=float).reshape(-1, domain.dim)
    s = (x - domain.lo) / domain.h  # fractional node index
    n = np.asarray(domain.n)
    inside = np.all((s >= -1e-9) & (s <= n - 1 + 1e-9), axis=1)
    i0 = np.clip(np.floor(s).astype(int), 0, np.maximum(n - 2, 0))
    w = np.clip(s - i0, 0.0, 1.0)
    out = np.zeros(x.shape[0])
    for corner in np.ndindex(*(2,) * domain.dim):  # 2^d corners, not a loop over points
        c = np.asarray(corner)
        idx = tuple(np.minimum(i0[:, k] + c[k], n[k] - 1) for k in range(domain.dim))
        weight = np.prod(np.where(c == 1, w, 1.0 - w), axis=1)
        out += weight * u[idx]
    return np.where(inside, out, np.nan)
