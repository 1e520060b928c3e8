"""Hull cuts for the ε = 0 convex fit: the envelope test against an LP, the cuts' validity, the
fallbacks (degenerate data, high d, stalled cuts: the envelope cuts), and the round limit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from hjdsl.errors import RunError
from hjdsl.fit.convex_regression_hull import (HullUnavailable, hull_cuts, lower_hull,
                                              solve_hull)
from hjdsl.fit.max_affine import fit_max_affine, naive_qp


def envelope_by_lp(x, phi, i):
    """min Σ μ_j φ_j s.t. Σ μ_j x_j = x_i, Σ μ_j = 1, μ ≥ 0: the lower convex envelope at x_i."""
    a_eq = np.vstack([x.T, np.ones(x.shape[0])])
    res = linprog(phi, A_eq=a_eq, b_eq=np.r_[x[i], 1.0], bounds=(0, None), method="highs")
    assert res.status == 0
    return res.fun


@pytest.mark.parametrize("seed,n,d", [(0, 25, 1), (1, 30, 2), (2, 40, 3)])
def test_the_gap_is_the_height_above_the_lower_envelope(seed, n, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    phi = 0.1 * (x ** 2).sum(1) + rng.normal(size=n)  # many points above the envelope
    gap, facet, simplices, slopes, offsets = lower_hull(x, phi)
    expected = np.array([phi[i] - envelope_by_lp(x, phi, i) for i in range(n)])
    np.testing.assert_allclose(gap, expected, rtol=0, atol=1e-9)
    assert (expected > 1e-6).sum() >= n // 4  # the case is not trivial
    # every facet plane lies below every lifted point: its slope is a subgradient of the envelope
    planes = x @ slopes.T + offsets
    assert (planes <= phi[:, None] + 1e-9).all()
    # and the facet named for a point attains the envelope there
    np.testing.assert_allclose(planes[np.arange(n), facet], phi - gap, rtol=0, atol=1e-9)


def test_every_cut_is_a_convex_combination_implied_by_convexity():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 2))
    gap, facet, simplices, _, _ = lower_hull(x, rng.normal(size=60))
    rows, mu = hull_cuts(x, np.nonzero(gap > 1e-9)[0], facet, simplices)
    assert rows.shape[0] > 10
    np.testing.assert_allclose(mu.sum(1), 1.0, atol=1e-12)
    assert (mu >= 0).all()
    np.testing.assert_allclose(np.einsum("mk,mkd->md", mu, x[rows[:, 1:]]), x[rows[:, 0]],
                               atol=1e-10)
    # any convex function (a max of random planes) satisfies every cut; a concave one does not
    planes = rng.normal(size=(20, 2)), rng.normal(size=20)
    convex = (x @ planes[0].T + planes[1]).max(1)
    assert (convex[rows[:, 0]] <= np.einsum("mk,mk->m", mu, convex[rows[:, 1:]]) + 1e-12).all()
    concave = -(x ** 2).sum(1)
    assert (concave[rows[:, 0]] > np.einsum("mk,mk->m", mu, concave[rows[:, 1:]])).any()


def naive_phi(x, v):
    xs, vs = (x - x.mean(0)) / x.std(0), (v - v.mean()) / v.std()
    tight = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-10}
    return naive_qp(xs, vs, solver_options=tight)[0] * v.std() + v.mean()


@pytest.mark.parametrize("case", ["collinear", "duplicates"])
def test_degenerate_data_is_still_fitted_exactly(case):
    rng = np.random.default_rng(5)
    t = rng.uniform(-1, 1, size=30)
    if case == "collinear":  # x on a line in R²: qhull cannot build the lifted hull
        x = np.column_stack([t, 2 * t])
        with pytest.raises(HullUnavailable):
            solve_hull((x - x.mean(0)) / x.std(0), t, tol=1e-7)
    else:  # every point twice, with different values: the twins must get one fitted value
        x = np.repeat(rng.normal(size=(15, 2)), 2, axis=0)
        t = (x ** 2).sum(1)
    v = t ** 2 + 0.1 * rng.normal(size=30)
    fit = fit_max_affine(x, v)
    assert fit.certificate["kkt_residual"] <= 1e-7
    np.testing.assert_allclose(fit.phi, naive_phi(x, v), rtol=0, atol=1e-7)


def test_high_dimension_takes_the_envelope_cuts_and_slope_caps_the_pairs(monkeypatch):
    import hjdsl.fit.convex_regression as pairwise
    import hjdsl.fit.convex_regression_envelope as envelope
    import hjdsl.fit.convex_regression_hull as hull

    def refuse(name):
        def call(*args, **kwargs):
            raise AssertionError(f"{name} was called")
        return call

    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, size=(40, 5))
    v = (x ** 2).sum(1) + 0.1 * rng.normal(size=40)
    monkeypatch.setattr(hull, "solve_hull", refuse("the hull path"))
    monkeypatch.setattr(pairwise, "solve_sparse", refuse("the pairwise path"))
    fit = fit_max_affine(x, v)  # d = 5 > HULL_MAX_D: the envelope cuts
    assert fit.certificate["max_violation"] <= 1e-7
    monkeypatch.undo()
    monkeypatch.setattr(hull, "solve_hull", refuse("the hull path"))
    monkeypatch.setattr(envelope, "solve_envelope", refuse("the envelope path"))
    fit_max_affine(x[:, :2], v, max_slope=100.0)  # a slope cap no cut in φ alone can express
    with pytest.raises(ValueError, match="max_slope is not implemented for method='hull'"):
        fit_max_affine(x[:, :2], v, max_slope=100.0, method="hull")


def test_hull_round_limit_is_a_run_error():
    rng = np.random.default_rng(9)
    x = rng.uniform(-1, 1, size=(200, 3))
    v = np.abs(x).sum(1) + 0.2 * rng.normal(size=200)
    with pytest.raises(RunError, match="hull cuts did not converge in 1 rounds") as info:
        fit_max_affine(x, v, method="hull", max_rounds=1)
    assert info.value.exit_code == 1


def test_stalled_cuts_hand_over_to_the_envelope_cuts(monkeypatch):
    import hjdsl.fit.convex_regression_hull as hull

    rng = np.random.default_rng(10)
    x = rng.uniform(-1, 1, size=(40, 2))
    v = (x ** 2).sum(1) + 0.2 * rng.normal(size=40)
    real = hull.hull_cuts
    calls = []

    def first_only(*args):  # the start's cuts, then never a new one
        calls.append(1)
        rows, mu = real(*args)
        return (rows, mu) if len(calls) == 1 else (rows[:0], mu[:0])

    monkeypatch.setattr(hull, "hull_cuts", first_only)
    xs, vs = (x - x.mean(0)) / x.std(0), (v - v.mean()) / v.std()
    with pytest.raises(HullUnavailable, match="no new cut"):
        solve_hull(xs, vs, tol=1e-7)
    calls.clear()
    fit = fit_max_affine(x, v)  # falls back to the envelope cuts, still exact
    assert len(calls) == 2
    np.testing.assert_allclose(fit.phi, naive_phi(x, v), rtol=0, atol=1e-7)

