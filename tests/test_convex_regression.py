"""The hull-cut, envelope-cut and sparse working-set max-affine fits: equal to the all-pairs QP,
certified, and the certificate rejects a perturbed solution."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from hjdsl.errors import RunError
from hjdsl.fit.convex_regression import solve_sparse, sparse_start
from hjdsl.fit.convex_regression_envelope import solve_envelope
from hjdsl.fit.convex_regression_hull import solve_hull
from hjdsl.fit.max_affine import certificate, fit_max_affine, naive_qp, violations

TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-10}  # cvxpy → Clarabel


def noisy_convex(seed: int, n: int, d: int):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, d))
    v = np.abs(x).sum(1) + 0.5 * (x ** 2).sum(1) + 0.2 * rng.normal(size=n)
    return x, v


def standardised(x, v):
    return (x - x.mean(0)) / x.std(0), (v - v.mean()) / v.std()


def reference_phi(x, v):
    """All n(n − 1) constraints written with cvxpy atoms, solved to gap 1e-12 (standardised)."""
    return _reference(x.tobytes(), x.shape, v.tobytes()).copy()


@functools.lru_cache(maxsize=8)  # both methods are held to one reference solve
def _reference(x_bytes, shape, v_bytes):
    x, v = np.frombuffer(x_bytes).reshape(shape), np.frombuffer(v_bytes)
    xs, vs = standardised(x, v)
    phi, _, _, _ = naive_qp(xs, vs, solver_options=TIGHT)
    return phi * v.std() + v.mean()


@pytest.mark.parametrize("method", ["hull", "envelope", "sparse"])
@pytest.mark.parametrize("seed,n,d", [(0, 40, 1), (1, 120, 2), (2, 200, 3)])
def test_fit_equals_the_all_pairs_qp(seed, n, d, method):
    x, v = noisy_convex(seed, n, d)
    fit = fit_max_affine(x, v, method=method)
    assert fit.certificate["constraints"] < n * (n - 1) / 4
    np.testing.assert_allclose(fit.phi, reference_phi(x, v), rtol=0, atol=1e-7)


@pytest.mark.parametrize("seed,n,d,noise", [(11, 150, 5, 0.2), (12, 120, 6, 1.0), (13, 100, 5, 3.0)])
def test_envelope_cuts_equal_the_all_pairs_qp_above_the_hull_dimension(seed, n, d, noise):
    # the default for d > 4; larger noise puts more points above the envelope (more cuts)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, d))
    v = np.abs(x).sum(1) + 0.5 * (x ** 2).sum(1) + noise * rng.normal(size=n)
    fit = fit_max_affine(x, v)
    np.testing.assert_allclose(fit.phi, reference_phi(x, v), rtol=0, atol=1e-7)
    assert fit.certificate["kkt_residual"] <= 1e-7
    if noise >= 1.0:
        assert fit.certificate["constraints"] > 0  # some points were cut: not the trivial φ = v


@pytest.mark.slow
def test_fit_equals_the_all_pairs_qp_at_400_points():
    # ~200 s, all of it the reference: 159,600 constraints through cvxpy (a native Clarabel call
    # on the same pairs takes as long); both fast methods are held to it in one test
    x, v = noisy_convex(3, 400, 3)
    reference = reference_phi(x, v)
    for method in ("hull", "envelope", "sparse"):
        phi = fit_max_affine(x, v, method=method).phi
        np.testing.assert_allclose(phi, reference, rtol=0, atol=1e-7, err_msg=method)


@pytest.mark.slow
@pytest.mark.parametrize("other", ["sparse", "envelope"])
def test_hull_cuts_equal_the_other_methods_at_1000_points(other):
    # against the pairs with slopes (~16 s on an idle machine; ~280 s against the former cutting
    # planes), and against the same cuts found by an LP per point; all certified over n² pairs
    x, v = noisy_convex(0, 1000, 3)
    hull = fit_max_affine(x, v, method="hull")
    assert np.abs(hull.phi - fit_max_affine(x, v, method=other).phi).max() <= 1e-6


def test_hull_cuts_equal_the_former_cutting_planes():
    x, v = noisy_convex(4, 150, 2)
    hull = fit_max_affine(x, v, method="hull")
    old = fit_max_affine(x, v, method="cutting_planes")
    assert np.abs(hull.phi - old.phi).max() <= 1e-7


def test_the_start_is_one_way_and_never_pairs_a_point_with_itself():
    x = np.repeat(np.random.default_rng(0).normal(size=(10, 2)), 2, axis=0)  # every point twice
    pairs = sparse_start(x, 3)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert pairs.shape[0] <= 3 * x.shape[0]


def _certify(x, v, phi, slopes, pairs, duals):
    worst, _ = violations(x, phi, slopes, per_piece=0, tol=np.inf)
    return certificate(x, v, phi, slopes, pairs, duals, worst)


SOLVERS = {"hull": solve_hull, "envelope": solve_envelope, "sparse": solve_sparse}


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("what", ["phi", "slope", "dual"])
def test_the_certificate_passes_the_solution_and_fails_a_perturbed_one(what, solver):
    x, v = standardised(*noisy_convex(7, 150, 2))
    phi, s, duals, pairs, _, _, _ = SOLVERS[solver](x, v, tol=1e-7)
    cert = _certify(x, v, phi, s, pairs, duals)
    assert cert["kkt_residual"] <= 1e-7 and cert["duality_gap"] <= 1e-7
    phi2, s2, duals2 = phi.copy(), s.copy(), duals.copy()
    k = int(np.argmax(duals))  # an active pair (i, j)
    i, j = pairs[k]
    if what == "phi":
        phi2[j] -= 1e-4  # drops below piece i: a violated constraint
    elif what == "slope":
        s2[i] += 1e-4 * np.sign(x[j] - x[i])  # tilts piece i above point j
    else:
        duals2[k] *= 1.001  # stationarity 2(φ − v) = a breaks
    bad = _certify(x, v, phi2, s2, pairs, duals2)
    assert bad["kkt_residual"] > 1e-7
    if what != "dual":
        # the violation is found over all n² pairs, not only over the working set
        assert bad["max_violation"] > 1e-7


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_the_certificate_reads_pairs_outside_the_working_set(solver):
    # a piece that is fine on W but cuts a point outside W is caught by the all-pairs scan
    x, v = standardised(*noisy_convex(8, 120, 2))
    phi, s, duals, pairs, _, _, _ = SOLVERS[solver](x, v, tol=1e-7)
    on_w = set(map(tuple, pairs.tolist()))
    i, j = next((a, b) for a in range(120) for b in range(120)
                if a != b and (a, b) not in on_w)
    s2 = s.copy()
    gap = phi[j] - phi[i] - s[i] @ (x[j] - x[i])
    s2[i] += (gap + 1e-3) * (x[j] - x[i]) / np.sum((x[j] - x[i]) ** 2)
    assert _certify(x, v, phi, s2, pairs, duals)["max_violation"] > 1e-4


def test_round_limit_is_a_run_error():
    x, v = standardised(*noisy_convex(9, 200, 3))
    with pytest.raises(RunError, match="did not converge in 1 rounds") as info:
        solve_sparse(x, v, tol=1e-7, max_rounds=1)
    assert info.value.exit_code == 1


def test_envelope_round_limit_is_a_run_error():
    x, v = noisy_convex(9, 200, 5)
    v = v + 2.0 * np.random.default_rng(9).normal(size=200)  # points above the envelope: cuts
    with pytest.raises(RunError, match="envelope cuts did not converge in 1 rounds") as info:
        fit_max_affine(x, v, method="envelope", max_rounds=1)
    assert info.value.exit_code == 1
    with pytest.raises(ValueError, match="max_slope is not implemented for method='envelope'"):
        fit_max_affine(x, v, method="envelope", max_slope=10.0)


def test_unknown_method_is_refused():
    x, v = noisy_convex(1, 20, 2)
    with pytest.raises(ValueError, match="unknown max-affine method"):
        fit_max_affine(x, v, method="simplex")


def dense_greedy_cover(W, b, x, phi, tol):
    """The former one-block greedy set cover, written out independently."""
    cover = W @ x.T + b[:, None] >= phi[None, :] - tol
    uncovered, counts, keep = np.ones(x.shape[0], bool), cover.sum(1), []
    while uncovered.any():
        best = int(np.argmax(counts))
        keep.append(best)
        newly = cover[best] & uncovered
        uncovered &= ~newly
        counts -= cover[:, newly].sum(1)
    return np.sort(keep)


@pytest.mark.parametrize("seed", range(4))
def test_pruning_in_blocks_keeps_the_one_block_cover(seed, monkeypatch):
    import hjdsl.fit.convex_regression_prune as prune

    monkeypatch.setattr(prune, "_CHUNK", 97)  # many column blocks, uneven last one
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(50, 2))
    W = rng.normal(size=(50, 2))
    W[rng.integers(0, 50, 8)] = W[0]  # duplicate pieces
    b = rng.normal(size=50)
    phi = (x @ W.T + b).max(1)
    kept_W, kept_b = prune.prune_pieces(W, b, x, phi, tol=1e-9)
    keep = dense_greedy_cover(W, b, x, phi, 1e-9)
    np.testing.assert_array_equal(kept_W, W[keep])
    np.testing.assert_array_equal(kept_b, b[keep])
    assert np.abs((x @ kept_W.T + kept_b).max(1) - phi).max() <= 1e-9
