"""Certified pruning (views/closed_form/prune*.py): pruned vs dense, certificate vs truth."""

import numpy as np
import pytest

from hjdsl.errors import UsageError
from hjdsl.model.ir import Model
from hjdsl.views.closed_form import prune, prune_views
from hjdsl.views.closed_form.hopf_cole import hopf_cole_view
from hjdsl.views.closed_form.network import network_view
from hjdsl.views.closed_form.prune import Pruning, prunable, search
from hjdsl.views.closed_form.prune_index import atoms_index, layer_index

DENSE = Pruning(dense=True)


@pytest.fixture
def untimed(monkeypatch):
    """Prune wherever the supports allow: the plan's timing (machine-dependent) always passes."""
    monkeypatch.setattr(prune, "MIN_WORK", 0)
    monkeypatch.setattr(prune, "MIN_ATOMS", 0)
    monkeypatch.setattr(prune, "PRUNE_MARGIN", 1e-12)


def random_model(seed, d, N, g_spread=1.0, A=None, t=1.0):
    rng = np.random.default_rng(seed)
    y = rng.uniform(-2, 2, (N, d))
    g = rng.uniform(0, g_spread, N)
    return Model.from_atoms(y, g, A=A, t=t), rng.uniform(-2.2, 2.2, (64, d))


def dense_gibbs(z, eps):
    """Independent reference: f, π, Ent by the max-shift in numpy (not the kernels under test)."""
    m = z.max(axis=-1, keepdims=True)
    w = np.exp((z - m) / eps)
    s = w.sum(axis=-1, keepdims=True)
    pi = w / s
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(pi > 0, pi * np.log(pi), 0.0).sum(axis=-1)
    return (m + eps * np.log(s))[..., 0], pi, ent


def run_search(model, x, eps, delta, weights=True):
    W, b = model.weights()
    index = layer_index(W, b)

    def logits(rows, idx):
        return np.einsum("nkd,nd->nk", W[idx], x[rows]) + b[idx]

    xq = x @ index.whiten
    offset = np.einsum("nd,nd->n", xq, xq)
    rows = search(index, index.lift(x), offset, logits, np.arange(len(x)), eps, delta, 16,
                  model.n_atoms, weights)
    return rows, x @ W.T + b


@pytest.mark.parametrize("seed,d,N,eps,delta", [
    (0, 1, 3000, 0.01, 1e-3), (1, 2, 4000, 0.003, 1e-2), (2, 3, 5000, 0.02, 1e-4),
    (3, 2, 4000, 0.1, 1e-6), (4, 10, 2000, 0.05, 1e-3), (5, 2, 3000, 1e-3, 1e-17)])
def test_certificate_bounds_the_true_neglected_mass(seed, d, N, eps, delta):
    """R ≤ R̄ ≤ δ from the dense costs, and f, π, Ent within the bounds derived from R̄."""
    model, x = random_model(seed, d, N)
    rows, z = run_search(model, x, eps, delta)
    f, pi, ent = dense_gibbs(z, eps)
    pi_p = np.zeros_like(pi)
    support = np.zeros(pi.shape, bool)
    for sel, idx, w in rows.pieces:
        r, c = np.nonzero(idx >= 0)  # −1: padding
        pi_p[sel[r], idx[r, c]] = w[r, c]
        support[sel[r], idx[r, c]] = True
        assert np.all(w[idx < 0] == 0)
    top = z.max(axis=1, keepdims=True)
    true_rest = np.where(support, 0.0, np.exp((z - top) / eps)).sum(axis=1)
    assert np.all(rows.neglected <= delta)
    assert np.all(true_rest <= rows.neglected * (1 + 1e-9))
    scale = 1e-13 * (1 + np.abs(z).max(axis=1))
    assert np.all(np.abs(rows.value - f) <= eps * np.log1p(rows.neglected) + scale)
    assert np.all(np.abs(pi_p - pi).max(axis=1) <= rows.neglected + 1e-13)
    assert np.all(np.abs(rows.entropy - ent) <= rows.entropy_bound + 1e-12)
    if delta >= 1e-3:  # pruning left out mass far above the tolerances: the checks have teeth
        assert true_rest.max() > 1e-10
        assert rows.size.max() < N


def true_neglected(rows, z, eps):
    support = np.zeros(z.shape, bool)
    for sel, idx, _ in rows.pieces:
        r, c = np.nonzero(idx >= 0)
        support[sel[r], idx[r, c]] = True
    return np.where(support, 0.0, np.exp((z - z.max(axis=1, keepdims=True)) / eps)).sum(axis=1)


def test_certificate_check_catches_an_overstated_index_bound(monkeypatch):
    """The check above is not vacuous: an index that overstates the neglected atoms’ cost by
    0.15 = 15ε yields supports whose true neglected mass exceeds the R̄ reported for them."""
    from hjdsl.views.closed_form.prune_index import LiftedIndex

    honest = LiftedIndex.within
    monkeypatch.setattr(LiftedIndex, "within",
                        lambda self, q, threshold, k, workers=-1: (lambda r: (
                            r[0], r[1], r[2] + 0.15))(honest(self, q, threshold - 0.15, k,
                                                             workers)))
    model, x = random_model(7, 2, 4000)
    rows, z = run_search(model, x, 0.01, 1e-2)
    assert np.any(true_neglected(rows, z, 0.01) > rows.neglected)


@pytest.mark.parametrize("d", [1, 2, 10])
def test_views_pruned_match_dense(untimed, d):
    model, x = random_model(10 + d, d, 3000)
    W, b = model.weights()
    eps = np.array([1e-3, 0.0, 1.0])
    dense = network_view(x, W, b, eps, pruning=DENSE)
    pruned = network_view(x, W, b, eps)
    assert "pruned" not in dense
    assert pruned["pruned"].tolist()[:2] == [True, True] and not pruned["pruned"][2]
    assert np.all(pruned["support"][0] < 3000) and np.all(pruned["support"][2] == 3000)
    tol = 1e-13 * (1 + np.abs(dense["f"]))
    np.testing.assert_array_less(np.abs(pruned["f"] - dense["f"]), pruned["value_bound"] + tol)
    assert np.array_equal(pruned["f0"], pruned["f"][1])
    np.testing.assert_allclose(pruned["f0"], dense["f0"], rtol=0, atol=1e-13)
    assert np.abs(pruned["pi"] - dense["pi"]).max() <= 1e-13
    np.testing.assert_allclose(pruned["entropy"], dense["entropy"], rtol=0, atol=1e-12)
    hd = hopf_cole_view(x, model.y, model.g, model.t, model.hamiltonian, eps, pruning=DENSE)
    hp = hopf_cole_view(x, model.y, model.g, model.t, model.hamiltonian, eps)
    assert hp["pruned"][0]
    np.testing.assert_allclose(hp["u"], hd["u"], rtol=0, atol=1e-13)
    assert np.abs(hp["pi"] - hd["pi"]).max() <= 1e-13


def test_anisotropic_hopf_cole_pruned_matches_dense(untimed):
    A = np.array([[2.0, 0.6, 0.0], [0.6, 0.5, 0.1], [0.0, 0.1, 3.0]])
    model, x = random_model(21, 3, 4000, A=A, t=0.7)
    eps = np.array([2e-3, 0.0])
    hd = hopf_cole_view(x, model.y, model.g, model.t, model.hamiltonian, eps, pruning=DENSE)
    hp = hopf_cole_view(x, model.y, model.g, model.t, model.hamiltonian, eps, weights=False)
    assert hp["pruned"].all() and hp["support"].max() < 4000
    np.testing.assert_allclose(hp["u"], hd["u"], rtol=0, atol=1e-13)


def test_ties_resolve_to_the_first_atom_as_dense(untimed):
    """Every atom repeated 8 times: the ε = 0 one-hot and the split weights match the dense view."""
    rng = np.random.default_rng(3)
    base_y, base_g = rng.uniform(-2, 2, (600, 2)), rng.uniform(0, 1, 600)
    order = rng.permutation(4800)
    model = Model.from_atoms(np.repeat(base_y, 8, axis=0)[order], np.repeat(base_g, 8)[order])
    x = np.concatenate([base_y[:10], rng.uniform(-2, 2, (30, 2))])
    W, b = model.weights()
    eps = np.array([0.0, 1e-4])
    dense = network_view(x, W, b, eps, pruning=DENSE)
    pruned = network_view(x, W, b, eps)
    assert pruned["pruned"].all()
    assert np.array_equal(pruned["pi"][0], dense["pi"][0])  # the same first maximiser
    assert np.abs(pruned["pi"][1] - dense["pi"][1]).max() <= 1e-13
    assert pruned["support"][0].min() >= 8  # all tied copies were kept


def test_all_atoms_at_one_point():
    """Equal y and g: every atom ties everywhere, so the search must take all of them (R̄ = 0)."""
    model = Model.from_atoms(np.zeros((500, 2)), np.zeros(500))
    x = np.random.default_rng(0).uniform(-1, 1, (20, 2))
    for eps in (0.0, 1e-3):
        rows, z = run_search(model, x, eps, 1e-17)
        assert np.all(rows.size == 500) and np.all(rows.neglected == 0)
        f, _, _ = dense_gibbs(z, eps) if eps else (z.max(axis=1), None, None)
        np.testing.assert_allclose(rows.value, f, rtol=0, atol=1e-13)


def test_huge_g_spread_stays_certified():
    """g over 12 decades: the lifted heights reach 1e6 and the round-off slack grows with them."""
    rng = np.random.default_rng(5)
    g = np.concatenate([rng.uniform(0, 1, 1000), rng.uniform(0, 1e12, 2000)])
    model = Model.from_atoms(rng.uniform(-2, 2, (3000, 2)), g)
    x = rng.uniform(-2, 2, (50, 2))
    rows, z = run_search(model, x, 0.01, 1e-6)
    f, _, _ = dense_gibbs(z, 0.01)
    assert rows.size.max() < 3000
    np.testing.assert_array_less(np.abs(rows.value - f),
                                 0.01 * np.log1p(rows.neglected) + 1e-13 * np.abs(f).max())


def test_cost_model_prunes_small_eps_only(untimed):
    """Supports over N/DENSE_RATIO atoms (large ε) run dense; so does every larger ε."""
    model, x = random_model(8, 2, 6000)
    W, b = model.weights()
    out = network_view(x, W, b, np.array([10.0, 1e-4, 1e-2, 1.0]), weights=False)
    assert out["pruned"].tolist() == [False, True, False, False]
    assert np.all(out["neglected"][[0, 2, 3]] == 0) and np.all(out["support"][0] == 6000)


def test_cost_model_goes_dense_when_the_search_is_slow(untimed, monkeypatch):
    """The timed side: a search that cannot beat the dense proxy by the margin is not used."""
    monkeypatch.setattr(prune, "PRUNE_MARGIN", 1e12)
    model, x = random_model(8, 2, 6000)
    W, b = model.weights()
    out = network_view(x, W, b, np.array([1e-4]), weights=False)
    assert not out["pruned"].any()


def test_points_past_the_cap_run_dense(untimed, monkeypatch):
    """A plan that starts every point at k = 16 with a cap of 64 atoms: the points whose support
    needs more get the dense kernel's values, the others the pruned ones, all equal to dense."""
    monkeypatch.setattr(prune, "plan", lambda *args, **kw: [16])
    monkeypatch.setattr(prune, "wide_supports", lambda *args: np.zeros(1, bool))
    monkeypatch.setattr(prune, "DENSE_RATIO", 3000 // 64)
    model, x = random_model(13, 2, 3000)
    W, b = model.weights()
    pruned = network_view(x, W, b, [0.006])
    dense = network_view(x, W, b, [0.006], pruning=DENSE)
    support = pruned["support"][0]
    assert (support == 3000).any() and (support < 3000).any()
    np.testing.assert_allclose(pruned["f"], dense["f"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(pruned["f0"], dense["f0"], rtol=0, atol=1e-13)
    assert np.abs(pruned["pi"] - dense["pi"]).max() <= 1e-13


def test_small_runs_and_other_hamiltonians_stay_dense():
    model, x = random_model(9, 2, 200)
    W, b = model.weights()
    assert "pruned" not in network_view(x, W, b, [1e-3])  # far below MIN_WORK
    norm = Model.from_atoms(model.y, model.g, hamiltonian="l1")
    assert prunable(model.hamiltonian) and not prunable(norm.hamiltonian)


@pytest.mark.parametrize("delta", [0, 1, -1e-3, float("nan"), "1e-3", True])
def test_bad_delta_is_a_usage_error(delta):
    with pytest.raises(UsageError, match="δ must be a number in"):
        Pruning(delta=delta)


def test_index_lift_reproduces_the_costs():
    """|q(x) − p_j|² + g_min equals the Hamiltonian's c_j(x) (anisotropic A, t ≠ 1)."""
    A = np.array([[1.5, -0.4], [-0.4, 0.8]])
    model, x = random_model(11, 2, 300, A=A, t=0.3)
    ham = model.hamiltonian
    index = atoms_index(model.y, model.g, model.t, ham.factor)
    lifted = index.tree.data
    q = index.lift(x)
    via_index = index.g_min + ((q[:, None, :] - lifted[None]) ** 2).sum(-1)
    inv = np.linalg.inv(A)
    diff = x[:, None, :] - model.y[None]
    direct = model.g + np.einsum("njd,de,nje->nj", diff, inv, diff) / (4 * model.t)
    np.testing.assert_allclose(via_index, direct, rtol=1e-12, atol=1e-12)
    iso, _ = random_model(11, 2, 300, t=0.3)
    W, b = iso.weights()
    lay = layer_index(W, b)
    cost = lay.g_min + ((lay.lift(x)[:, None, :] - lay.tree.data[None]) ** 2).sum(-1)
    tau = 1 / (4 * lay.whiten[0, 0] ** 2)  # the layer's t = 0.3, recovered roughly (g is random)
    assert 0.25 < tau < 0.35
    np.testing.assert_allclose(cost, (x * x).sum(1)[:, None] / (4 * tau) - (x @ W.T + b),
                               rtol=1e-12, atol=1e-12)


def test_index_cache_keys_on_the_arrays():
    model, _ = random_model(12, 2, 300)
    W, b = model.weights()
    first = prune_views._cached("layer", layer_index, W, b)
    assert prune_views._cached("layer", layer_index, W.copy(), b.copy()) is first
    assert prune_views._cached("layer", layer_index, W, b + 1.0) is not first


def test_wide_supports_go_dense_without_an_index(untimed, monkeypatch):
    """At large ε the sampled supports are wide: dense, and no index is built (it would be
    wasted time); at small ε the same call builds one and prunes."""
    model, x = random_model(14, 2, 3000)
    W, b = model.weights()
    z = x @ W.T + b
    tau = np.array([0.5, 1e-3]) * np.log(3000 / prune.DELTA)
    rows = np.unique(np.linspace(0, len(x) - 1, prune.WIDE_POINTS).astype(int))
    counts = [(z[rows] >= z[rows].max(axis=1, keepdims=True) - t).sum(axis=1) for t in tau]
    wide = prune.wide_supports(lambda r, idx: np.einsum("nkd,nd->nk", W[idx], x[r]) + b[idx],
                               3000, len(x), np.array([0.5, 1e-3]), prune.DELTA)
    assert wide.tolist() == [bool(np.median(c) > 3000 / prune.DENSE_RATIO) for c in counts]
    assert wide.tolist() == [True, False]
    prune_views._INDEXES.clear()
    built = []
    monkeypatch.setattr(prune_views, "layer_index", lambda *a: built.append(1) or layer_index(*a))
    assert not network_view(x, W, b, [0.5])["pruned"].any() and not built
    assert network_view(x, W, b, [1e-3])["pruned"].all() and built
