"""Envelope cuts for the ε = 0 convex fit: which points they cut (against an LP over all points),
the cuts' validity, the slopes of the rest, and the interpolating fit at d = 10."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

import hjdsl.fit.convex_regression_envelope as envelope
from hjdsl.fit.max_affine import fit_max_affine
from tests.test_convex_regression_hull import envelope_by_lp

TOL = 1e-7


def start(x, phi, k):
    cand = cKDTree(x).query(x, k + 1)[1][:, 1:]
    return cand, envelope.local_slopes(x, phi, cand)


@pytest.mark.parametrize("seed,n,d", [(0, 40, 1), (1, 60, 2), (2, 80, 3), (3, 90, 5)])
def test_classify_cuts_exactly_the_points_above_the_envelope(seed, n, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    phi = 0.3 * (x ** 2).sum(1) + rng.normal(size=n)  # many points above the envelope
    cand, s = start(x, phi, 2 * d)
    _, rows, mu = envelope.classify(x, phi, s, cand, tol=TOL, cut_above=TOL * 1e-2)
    gap = np.array([phi[i] - envelope_by_lp(x, phi, i) for i in range(n)])
    cut = np.zeros(n, dtype=bool)
    cut[rows[:, 0]] = True
    assert 5 <= cut.sum() < n  # the case is not trivial
    np.testing.assert_array_equal(cut, gap > 1e-6)  # gaps here are either round-off or O(1)
    # every cut is a convex combination of other points at x_i, below φ_i
    assert (mu >= 0).all() and (rows[:, 1:] != rows[:, :1]).all()
    np.testing.assert_allclose(mu.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("mk,mkd->md", mu, x[rows[:, 1:]]), x[rows[:, 0]],
                               atol=1e-8)
    assert (np.einsum("mk,mk->m", mu, phi[rows[:, 1:]]) < phi[rows[:, 0]]).all()
    # every other point's plane through (x_i, φ_i) lies below all n points
    keep = np.nonzero(~cut)[0]
    planes = phi[keep, None] + np.einsum("md,mnd->mn", s[keep], x[None] - x[keep, None])
    assert (planes - phi[None] <= TOL * envelope._DONE_BELOW).all()


def test_the_interpolating_fit_at_d_10_needs_no_cut_and_few_lps(monkeypatch):
    # with d = 10 and 300 noisy points no point lies above the envelope of the others, so the
    # least-squares fit is φ = v; the projections settle almost every point without HiGHS
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(300, 10))
    v = np.abs(x).sum(1) + 0.2 * rng.normal(size=300)
    assert max(v[i] - envelope_by_lp(x, v, i) for i in range(0, 300, 10)) <= 1e-9
    calls = []
    real = envelope.envelope_lp
    monkeypatch.setattr(envelope, "envelope_lp", lambda *a: calls.append(1) or real(*a))
    fit = fit_max_affine(x, v)
    np.testing.assert_allclose(fit.phi, v, rtol=0, atol=1e-9)
    assert fit.certificate["max_violation"] <= TOL and fit.certificate["constraints"] == 0
    assert len(calls) < 30


def test_projections_land_inside_a_fat_polytope():
    # half-spaces sᵀa ≤ 1 with random unit a: the ball of radius 1 around 0 is inside; start far out
    rng = np.random.default_rng(5)
    n, k, d = 50, 40, 4
    x = rng.normal(size=(n + n * k, d))
    x[:n] = 0.0
    cand = (n + np.arange(n * k)).reshape(n, k)
    phi = np.zeros(x.shape[0])
    phi[n:] = np.linalg.norm(x[n:], axis=1)  # sᵀ(x_j − 0) ≤ |x_j|
    s = rng.normal(size=(n, d)) * 10
    s_all = np.zeros((x.shape[0], d))
    s_all[:n] = s
    worst = envelope.project(x, phi, s_all, np.arange(n), cand)
    assert (worst <= 0).all()
    excess = np.einsum("nkd,nd->nk", x[cand], s_all[:n]) - phi[cand]
    assert (excess <= 1e-12).all()


@pytest.mark.parametrize("tile", [7, 64, 4096])
def test_the_tiled_scan_equals_the_dense_one(tile, monkeypatch):
    import hjdsl.fit.convex_regression_cert as cert

    monkeypatch.setattr(cert, "_TILE", tile)  # uneven last tiles in both directions
    rng = np.random.default_rng(6)
    x, phi, s = rng.normal(size=(100, 3)), rng.normal(size=100), rng.normal(size=(100, 3))
    dense = phi[:, None] + np.einsum("id,ijd->ij", s, x[None] - x[:, None]) - phi[None]
    rows = rng.permutation(100)[:37]
    best, where = envelope.scan(x, phi, s, rows)
    np.testing.assert_allclose(best, dense[rows].max(1), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(where[:, 0], dense[rows].argmax(1))
    # over a subset of the points, with the worst point of each of the 3 worst tiles
    cols = np.sort(rng.permutation(100)[:60])
    best, where = envelope.scan(x, phi, s, rows, cols, above=-np.inf, spread=3)
    sub = dense[np.ix_(rows, cols)]
    np.testing.assert_allclose(best, sub.max(1), rtol=0, atol=1e-12)
    starts = range(0, cols.size, tile)
    tile_max = np.column_stack([sub[:, c:c + tile].max(1) for c in starts])
    tile_arg = np.column_stack([cols[c + sub[:, c:c + tile].argmax(1)] for c in starts])
    k = min(3, tile_max.shape[1])
    order = np.argsort(-tile_max, axis=1)[:, :k]
    np.testing.assert_array_equal(where, np.take_along_axis(tile_arg, order, 1))
    worst, _ = cert.violations(x, phi, s, per_piece=0, tol=np.inf)
    assert worst == pytest.approx(dense.max(), abs=1e-12)
