"""Starting points for a fit: atoms spread over the data, g from the data's Legendre read-out."""

from __future__ import annotations

import numpy as np

# Jitter of restarts k ≥ 1, as a fraction of the spacing between neighbouring atoms.
JITTER = 0.3


def f_values(model, x: np.ndarray, value: np.ndarray) -> np.ndarray:
    """The data as values of the network output f (u-observations: f = xᵀA⁻¹x/(4t) − u)."""
    if model.observe is not None and model.observe.quantity == "u":
        q = np.einsum("nd,de,ne->n", x, model.hamiltonian.inverse, x) / (4.0 * model.t)
        return q - value
    return value


def start_atoms(model, x: np.ndarray, restart: int, seed: int) -> np.ndarray:
    """y at restart k: in 1-D a grid over the data range (jittered for k ≥ 1); in d > 1 a seeded
    choice of data points (jittered for k ≥ 1). Fixed atoms are returned unchanged.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[0.0], [1.0], [2.0]], [0.0, 0.0, 0.0])
    >>> start_atoms(m, np.linspace(-1, 1, 5)[:, None], 0, 0).ravel().tolist()
    [0.0, 1.0, 2.0]
    """
    if not model.particles.learned:
        return np.asarray(model.y, dtype=float)
    n_atoms, d = model.n_atoms, model.dim
    rng = np.random.default_rng([seed, restart])
    lo, hi = x.min(axis=0), x.max(axis=0)
    spacing = (hi - lo) / max(n_atoms - 1, 1)
    if d == 1:
        y = np.linspace(lo[0], hi[0], n_atoms)[:, None]
    else:
        y = x[rng.choice(x.shape[0], n_atoms, replace=x.shape[0] < n_atoms)].copy()
        spacing = (hi - lo) / max(n_atoms ** (1.0 / d) - 1, 1)
    if restart > 0:
        y = y + JITTER * spacing * rng.standard_normal((n_atoms, d))
    return y


def start_values(model, y: np.ndarray, x: np.ndarray, fv: np.ndarray) -> np.ndarray:
    """g from the Legendre read-out of the data: the affine piece of atom j is the largest one with
    slope W_j lying below every data point, g_j = max_i(x_i·W_j − f_i) − y_jᵀA⁻¹y_j/(4t).
    Given (not learned) g is returned unchanged."""
    if not model.initial.learned:
        return np.asarray(model.g, dtype=float)
    ay = y @ model.hamiltonian.inverse
    w = ay / (2.0 * model.t)
    conj = np.max(x @ w.T - fv[:, None], axis=0)
    return conj - np.einsum("jd,jd->j", y, ay) / (4.0 * model.t)


def prior_median(prior_dist) -> np.ndarray:
    """A deterministic point inside the prior's support (the median of 2001 seeded draws)."""
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    draws = np.asarray(prior_dist.sample(jax.random.PRNGKey(0), (2001,)))
    return np.median(draws, axis=0)


def initial_point(model, pm, x: np.ndarray, value: np.ndarray, restart: int, seed: int,
                  eps: float) -> dict:
    """Constrained starting values of every learned site of the ProbModel `pm` at one restart."""
    y = start_atoms(model, x, restart, seed)
    fv = f_values(model, x, value)
    init = {"y": y, "g": start_values(model, y, x, fv), "eps": np.asarray(eps, dtype=float)}
    if "sigma" in pm.priors:
        # the spread of the data around its best affine piece, a scale-aware first guess
        init["sigma"] = np.asarray(max(0.1 * float(np.std(fv)), 1e-3))
    out = {}
    for name, prior in pm.priors.items():
        value0 = np.asarray(init.get(name, np.nan), dtype=float)
        if value0.shape != prior.shape() or not np.all(np.asarray(prior.support(value0))):
            value0 = np.broadcast_to(prior_median(prior), prior.shape()).copy()
        out[name] = value0
    return out


# Data spreads inside this band leave the optimiser in the spec's units (so fits of order-1 data
# are unchanged); outside it, Adam and L-BFGS step in units of the spread. Two decades each way:
# the shipped examples' spreads (0.1 to 1.5) sit a decade or more inside it.
UNIT_BAND = (1e-2, 1e2)


def optimiser_scales(model, pm, x: np.ndarray, value: np.ndarray) -> dict:
    """Per learned site, the unit the optimiser works in: u = scale · w over the unconstrained
    parameter u. Sites on the real line whose natural spread (y: the data's x per axis; g: the
    values) lies outside UNIT_BAND get that spread; every other site 1. The objective is the same
    function of u, so the priors and the optimum are unchanged: only Adam's step (≈ lr per step
    in w) and L-BFGS's conditioning follow the data's scale.

    >>> spread_unit(np.std([3.0e6, -1.0e6])), spread_unit(0.05)
    (2000000.0, 1.0)
    """
    from numpyro.distributions import constraints

    spread = {"y": np.std(x, axis=0), "g": np.std(value)}
    out = {}
    for name, prior in pm.priors.items():
        real = getattr(prior.support, "base_constraint", prior.support) is constraints.real
        out[name] = spread_unit(spread[name]) if real and name in spread else np.float64(1.0)
    return out


def spread_unit(spread):
    """The spread itself outside UNIT_BAND, else 1 (also for a zero or non-finite spread)."""
    spread = np.asarray(spread, dtype=float)
    inside = (spread >= UNIT_BAND[0]) & (spread <= UNIT_BAND[1])
    unit = np.where(inside | ~(spread > 0) | ~np.isfinite(spread), 1.0, spread)
    return float(unit) if unit.ndim == 0 else unit
