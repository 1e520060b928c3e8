"""How good a fit is: its error against the data's noise level, and atoms that collapsed."""

from __future__ import annotations

import numpy as np

# A fit is called poor when its RMSE exceeds this many times the noise level of the data.
POOR_RATIO = 3.0
# Noise-level floor, as a fraction of the spread (std) of the values: on noiseless data the
# nearest-neighbour estimate tends to 0, and an error below 3 × 2 % = 6 % of the spread (R² above
# 0.996) is not called poor (the paper's recovery fit of a kinked, noiseless target at ε = 0.04
# misses by 3 % of the spread: the smoothing, not a failed fit).
NOISE_FLOOR = 0.02
# Atoms closer than this fraction of the data's extent count as one point ("collapsed").
COLLAPSE_TOL = 1e-3
# An atom whose mean Gibbs weight over the data is below this has no influence on the fit.
NO_INFLUENCE = 1e-6
# Points used for the nearest-neighbour noise estimate (a seeded subsample beyond this).
NOISE_SAMPLE = 4000


def noise_level(x: np.ndarray, v: np.ndarray) -> float:
    """The data's noise sd, model-free: half the mean squared difference of each value from its
    nearest neighbour's, square-rooted (Rice's estimator in d dimensions). The curve's own change
    between neighbours adds to it, so it errs on the large side: a fit flagged against it is poor.

    >>> rng = np.random.default_rng(0)
    >>> x = np.sort(rng.uniform(0, 1, 2000))[:, None]
    >>> round(noise_level(x, np.sin(x[:, 0]) + 0.1 * rng.standard_normal(2000)), 2)
    0.1
    """
    from scipy.spatial import cKDTree

    x, v = np.asarray(x, dtype=float), np.asarray(v, dtype=float)
    if len(v) > NOISE_SAMPLE:
        keep = np.random.default_rng(0).choice(len(v), NOISE_SAMPLE, replace=False)
        x, v = x[keep], v[keep]
    _, nearest = cKDTree(x).query(x, k=2)
    return float(np.sqrt(0.5 * np.mean((v - v[nearest[:, 1]]) ** 2)))


def likelihood_sd(likelihood: str, sigma: float, nu: float | None) -> float:
    """The standard deviation of the observation noise the likelihood states (inf if none)."""
    if likelihood == "laplace":
        return float(sigma * np.sqrt(2.0))
    if likelihood == "student_t":
        return float(sigma * np.sqrt(nu / (nu - 2.0))) if nu is not None and nu > 2 else np.inf
    return float(sigma)


def atom_groups(y: np.ndarray, extent: float) -> np.ndarray:
    """A group label per atom: atoms within COLLAPSE_TOL × extent of each other (through a chain
    of neighbouring cells of that size) share a label."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    tol = COLLAPSE_TOL * extent
    cells, label = np.unique(np.floor(y / tol), axis=0, return_inverse=True)
    pairs = cKDTree(cells).query_pairs(np.sqrt(y.shape[1]) + 1e-9, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                       shape=(len(cells), len(cells)))
    _, component = connected_components(graph, directed=False)
    return component[label.ravel()]


def assess(model, y, influence, x, v, residual, noise_sd, eps) -> tuple[dict, list[str]]:
    """Figures (fit_rmse, noise_level, likelihood_sd, distinct_atoms, ...) and warnings for a
    fit at `eps` with atoms y, mean Gibbs weights `influence`, training data (x, v), residuals."""
    rmse = float(np.sqrt(np.mean(residual ** 2)))
    floor = NOISE_FLOOR * float(np.std(v))
    noise = max(noise_level(x, v), floor)
    figures = {"fit_rmse": rmse, "noise_level": noise}
    warnings = []
    if rmse > POOR_RATIO * noise:
        warnings.append(f"the fit is poor: its RMSE {rmse:.3g} on the training data is "
                        f"{rmse / noise:.1f}× the data's noise level {noise:.3g} "
                        "(nearest-neighbour estimate): " + _poor_hint(model, x, v, eps))
    if np.isfinite(noise_sd):
        figures["likelihood_sd"] = noise_sd
        fixed = not hasattr(model.observe.scale, "family") if model.observe is not None else False
        if fixed and rmse > POOR_RATIO * noise_sd:
            warnings.append(f"the RMSE {rmse:.3g} is {rmse / noise_sd:.1f}× the noise sd "
                            f"{noise_sd:.3g} the likelihood states: the fit is poor or sigma is "
                            "too small for these data")
    if model.particles.learned:
        figures_atoms, warning = _collapse(y, influence, x)
        figures.update(figures_atoms)
        if warning:
            warnings.append(warning)
    return figures, warnings


def _collapse(y, influence, x) -> tuple[dict, str | None]:
    extent = float(np.max(np.ptp(x, axis=0))) or 1.0
    group = atom_groups(y, extent)
    sizes = np.bincount(group)
    unused = influence < NO_INFLUENCE
    in_groups = sizes[group] > 1
    used = len(sizes) - _unused_groups(group, unused)
    figures = {"distinct_atoms": int(len(sizes)), "collapsed_atoms": int(in_groups.sum()),
               "uninfluential_atoms": int(unused.sum()), "atoms_used": int(used)}
    if not in_groups.any() and not unused.any():
        return figures, None
    parts = []
    if in_groups.any():
        big = [k for k in np.argsort(-sizes, kind="stable")[:3] if sizes[k] > 1]
        where = ", ".join(f"{sizes[k]} at y ≈ {_point(y[group == k][0])}" for k in big)
        more = " …" if np.sum(sizes > 1) > 3 else ""
        parts.append(f"{in_groups.sum()} of {len(y)} atoms collapsed onto {np.sum(sizes > 1)} "
                     f"point(s) (within {COLLAPSE_TOL * extent:.2g}: {where}{more})")
    if unused.any():
        parts.append(f"{unused.sum()} of {len(y)} atoms have no influence on the data (mean "
                     f"weight < {NO_INFLUENCE:g})")
    return figures, ("; ".join(parts) + f": the fit uses {used} distinct atoms; fewer atoms give "
                     "the same fit, or more --restarts may find one that uses them all")


def _unused_groups(group, unused) -> int:
    """Groups every member of which has no influence."""
    return int(np.sum(np.bincount(group, weights=~unused) == 0))


def _poor_hint(model, x, v, eps) -> str:
    quantity = model.observe.quantity if model.observe is not None else "f"
    if quantity == "f":
        shape = "f_eps is convex for every eps, so data that are not convex cannot be fitted"
    else:
        if not model.hamiltonian.has_layer:  # no quadratic term: u_0 is a min of atom costs
            return ("u_0 = min_j {g_j + t·L((x − y_j)/t)} is a minimum of the atoms' costs, so "
                    "data rising faster than the costs allow between atoms cannot be fitted; "
                    "check t and the atoms' positions against the data, or use more atoms")
        bound = (f" (u'' ≤ A⁻¹/(2t) = {model.hamiltonian.inverse[0, 0] / (2 * model.t):.3g})"
                 if model.dim == 1 else "")
        shape = ("x'A⁻¹x/(4t) − u_eps is convex for every eps, so data curving more than "
                 f"x'A⁻¹x/(4t){bound} cannot be fitted")
    advice = "check t and the observed quantity against the data, or use more atoms / --restarts"
    if eps > 0:
        advice += (f"; at eps = {eps:.3g} the layer rounds each kink of the data off by up to "
                   f"eps·log 2 = {eps * np.log(2):.3g}: a smaller eps fits kinks closer")
    x_scale, v_scale = float(np.max(np.std(x, axis=0))), float(np.std(v))
    if not all(1e-3 <= s <= 1e3 for s in (x_scale, v_scale)):
        advice += (f"; the data's spread is {x_scale:.1g} in x and {v_scale:.1g} in the values: "
                   "state t (it scales as x²/value), eps, sigma and the priors in those units")
    return f"{shape}; {advice}"


def _point(y) -> str:
    return f"{y[0]:.3g}" if len(y) == 1 else "(" + ", ".join(f"{c:.3g}" for c in y) + ")"
