"""The convex view on the lifted tree's certified supports (views/convex/support.py)."""

import numpy as np
import pytest

from hjdsl.model.ir import Model
from hjdsl.views.closed_form.prune import Pruning
from hjdsl.views.convex.support import DELTA, indexed_supports, supports, use_index


def random_model(seed, d, N, spread=1.0):
    rng = np.random.default_rng(seed)
    return Model.from_atoms(rng.uniform(-2, 2, (N, d)), spread * rng.uniform(0, 1, N)), \
        rng.uniform(-2, 2, (5, d))


def dense_costs(model, x):
    """c_j(x) = g_j + |x − y_j|²/(4t) by numpy, for H = |p|² (the models here)."""
    diff = x[:, None, :] - model.y[None, :, :]
    return model.g[None, :] + np.einsum("njd,njd->nj", diff, diff) / (4.0 * float(model.t))


def check_against_dense(model, x, eps, sup):
    """Each support holds every atom of the scan's support, and R̄ ≥ the true pruned mass."""
    costs = dense_costs(model, x)
    n = x.shape[0]
    for i, e in enumerate(eps):
        scan = supports(costs, np.ones(costs.shape, bool), float(e))
        for r in range(n):
            row = i * n + r
            kept = np.zeros(model.n_atoms, bool)
            kept[sup.index[row]] = True
            c_min = costs[r].min()
            assert abs(sup.shift[row] - c_min) <= 1e-12 * (1 + abs(c_min))
            np.testing.assert_allclose(sup.costs[row], costs[r, kept] - c_min, rtol=0,
                                       atol=1e-12)
            if e > 0:
                assert set(scan.index[r].tolist()) <= set(sup.index[row].tolist())
                true_rest = np.exp(-(costs[r, ~kept] - c_min) / e).sum()
                assert true_rest <= sup.rest[row] * (1 + 1e-9) and sup.rest[row] <= DELTA
                assert sup.neglected[row] == pytest.approx(e * np.log1p(sup.rest[row]))
            else:  # the ties at c_min only, every other atom above it
                assert np.all(costs[r, kept] == c_min) and np.all(costs[r, ~kept] > c_min)


@pytest.mark.parametrize("seed,d,N,spread", [(0, 1, 3000, 1.0), (1, 2, 4000, 1.0),
                                             (2, 10, 2500, 1.0), (3, 2, 3000, 1e6)])
def test_indexed_supports_against_dense_costs(seed, d, N, spread):
    model, x = random_model(seed, d, N, spread)
    eps = np.array([0.005, 0.002, 0.0])
    sup = indexed_supports(model, eps, x)
    assert sup.method == "index"
    check_against_dense(model, x, eps, sup)
    assert sup.size.max() < N  # the programs really are smaller than N


def test_check_catches_an_overstated_tree_bound(monkeypatch):
    """The check has teeth: a tree that claims every other atom costs 0.1 more than it does
    returns too few atoms, and the true pruned mass exceeds the R̄ reported."""
    from hjdsl.views.closed_form.prune_index import LiftedIndex

    honest = LiftedIndex.within
    monkeypatch.setattr(LiftedIndex, "within", lambda self, q, threshold, k, workers=-1: (
        lambda r: (r[0], r[1], r[2] + 0.1))(honest(self, q, threshold - 0.1, k, workers)))
    model, x = random_model(4, 2, 3000)
    eps = np.array([0.003])
    with pytest.raises(AssertionError):
        check_against_dense(model, x, eps, indexed_supports(model, eps, x))


def test_all_atoms_at_one_point_keep_every_tie():
    model = Model.from_atoms(np.zeros((2500, 2)), np.zeros(2500))
    x = np.array([[0.3, -0.2]])
    sup = indexed_supports(model, np.array([0.01, 0.0]), x)
    assert sup.size.tolist() == [2500, 2500] and np.all(sup.rest == 0)


def test_convex_view_on_pruned_supports_equals_the_full_view():
    """Values and weights equal the scan of all N atoms to the solver's tolerance; the LP at
    ε = 0 shrinks from N atoms to the tied ones, and the note states the certificate."""
    from hjdsl.views.convex import convex_view

    model, x = random_model(5, 2, 2200)
    x = x[:2]
    eps = np.array([0.004, 0.0])
    assert use_index(model) and not use_index(model, Pruning(dense=True))
    pruned = convex_view(model, eps, x, audit=-1, workers=1)
    full = convex_view(model, eps, x, audit=-1, workers=1, pruning=Pruning(dense=True))
    scale = np.maximum(1.0, np.abs(full.value))
    assert np.all(np.abs(pruned.value - full.value) <= 1e-7 * scale)
    assert np.all(pruned.duality_gap <= 1e-6 * scale)
    assert np.abs(pruned.pi - full.pi).max() <= 1e-5
    assert np.all(full.support_size[1] == 2200) and np.all(pruned.support_size[1] < 10)
    assert np.all(pruned.support_size[0] <= full.support_size[0])
    assert "lifted k-d tree" in pruned.note and "lifted k-d tree" not in full.note
    assert np.all(pruned.neglected[0] <= 0.004 * DELTA)


def test_small_or_non_quadratic_models_scan():
    """Below MIN_ATOMS the scan is as cheap; a norm H has no lifted index (nor a factor)."""
    model, _ = random_model(6, 2, 3000)
    assert use_index(model)
    assert not use_index(Model.from_atoms(model.y[:500], model.g[:500]))
    assert not use_index(Model.from_atoms(model.y, model.g, hamiltonian="l1"))
