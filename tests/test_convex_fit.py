"""Convex fits: cutting planes against the all-pairs QP, certificates, atoms, failure paths."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from hjdsl.errors import DataError, RunError, UsageError
from hjdsl.fit.convex_fit import fit_convex
from hjdsl.fit.max_affine import fit_max_affine
from hjdsl.model.ir import Model, Observation, Particles, Prior
from hjdsl.model.maps import atoms_to_weights, quadratic_term


def noisy_convex(seed: int, n: int, d: int):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, d))
    v = np.abs(x).sum(1) + 0.5 * (x ** 2).sum(1) + 0.2 * rng.normal(size=n)
    return x, v


@pytest.mark.parametrize("seed,n,d", [(0, 40, 1), (1, 50, 2), (2, 60, 3), (3, 45, 2)])
def test_cutting_planes_match_the_naive_qp(seed, n, d):
    x, v = noisy_convex(seed, n, d)
    cut = fit_max_affine(x, v)
    naive = fit_max_affine(x, v, naive=True)
    assert naive.certificate["constraints"] == n * (n - 1)
    assert cut.certificate["constraints"] < naive.certificate["constraints"]
    scale = np.abs(v).max()
    assert np.abs(cut.phi - naive.phi).max() <= 1e-6 * scale
    assert abs(cut.certificate["objective"] - naive.certificate["objective"]) <= (
        1e-6 * naive.certificate["objective"])


@pytest.mark.parametrize("per_piece,per_point", [(0, 4), (2, 1)])
def test_other_cut_selections_reach_the_same_optimum(per_piece, per_point):
    # cuts per violated point (the former default) or both kinds: the working set differs,
    # the optimum must not
    x, v = noisy_convex(4, 60, 3)
    default = fit_max_affine(x, v)
    other = fit_max_affine(x, v, per_piece=per_piece, per_point=per_point)
    assert other.certificate["max_violation"] <= 1e-7
    assert other.certificate["constraints"] != default.certificate["constraints"]
    assert np.abs(other.phi - default.phi).max() <= 1e-6 * np.abs(v).max()


@pytest.mark.parametrize("seed,d", [(5, 1), (6, 3)])
def test_certificate_is_a_small_kkt_residual_and_gap(seed, d):
    x, v = noisy_convex(seed, 80, d)
    fit = fit_max_affine(x, v)
    cert = fit.certificate
    assert cert["max_violation"] <= 1e-7
    assert cert["kkt_residual"] <= 1e-6
    assert 0 <= cert["duality_gap"] <= 1e-6 * max(1.0, cert["objective"])
    # the full-problem violation recomputed here from the returned pieces, over all n² pairs
    W, b = fit.pieces(x)
    assert (W @ x.T + b[:, None] - fit.phi[None, :]).max() <= 1e-7 * np.abs(v).max()


def test_the_fit_is_the_least_squares_convex_function():
    # On data that are already convex (a sampled max of planes) the fit interpolates exactly.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(70, 2))
    planes = rng.normal(size=(5, 2))
    v = (x @ planes.T).max(1)
    fit = fit_max_affine(x, v)
    # The optimum is 0; an interior-point method stops at a gap δ ≈ 1e-9 in the objective,
    # which leaves residuals of order √δ — so the bound on φ is the square root of that on Σ r².
    assert fit.certificate["objective"] < 1e-8
    assert np.abs(fit.phi - v).max() < 1e-4


def test_max_slope_bounds_every_subgradient_in_data_units():
    x, v = noisy_convex(8, 60, 2)
    x = x * [1.0, 10.0]  # unequal coordinate scales: the bound must hold per coordinate
    free = fit_max_affine(x, v)
    capped = fit_max_affine(x, v, max_slope=1.5)
    assert np.abs(free.slopes).max() > 1.5  # the bound is active here
    assert np.abs(capped.slopes).max() <= 1.5 * (1 + 1e-8)
    assert capped.certificate["max_violation"] <= 1e-7
    assert capped.certificate["objective"] >= free.certificate["objective"] * (1 - 1e-8)


def recovery_model():
    """issue 4's recovery set-up: 8 atoms on [−2, 2], g* = |y|, t = 1."""
    y = np.linspace(-2, 2, 8)[:, None]
    return Model.from_atoms(y, np.abs(y[:, 0]), t=1.0, eps=[0.1])


def tropical_target(model, x):
    W, b = model.weights()
    return (x @ W.T + b).max(1)


def test_free_atoms_recover_the_active_tropical_pieces():
    model = recovery_model()
    x = np.linspace(-2.4, 2.4, 300)[:, None]
    fit = fit_convex(model, x, tropical_target(model, x), formulation="max_affine")
    # With g* = |y| only the two atoms nearest 0 are ever minimal on [−2.4, 2.4]:
    # u_0(x) = min_j |y_j| + (x − y_j)²/4 picks y = ±2/7 everywhere there.
    assert fit.n_atoms == 2
    order = np.argsort(fit.y[:, 0])
    np.testing.assert_allclose(fit.y[order, 0], [-2 / 7, 2 / 7], atol=1e-5)
    np.testing.assert_allclose(fit.g[order], [2 / 7, 2 / 7], atol=1e-5)
    assert fit.eps == 0.0 and fit.formulation == "max_affine" and fit.status == "optimal"
    assert fit.certificate["pieces_raw"] == 300 and fit.certificate["pieces"] == 2


@pytest.mark.parametrize("prune", [False, True])
def test_recovered_network_reproduces_the_fitted_values(prune):
    x, v = noisy_convex(11, 90, 2)
    model = Model.from_atoms(np.zeros((1, 2)), [0.0], t=0.7, A=[[2.0, 0.3], [0.3, 1.0]])
    fit = fit_convex(model, x, v, formulation="max_affine", prune=prune)
    W, b = atoms_to_weights(fit.y, fit.g, model.t, model.hamiltonian)
    f0 = (x @ W.T + b).max(1)
    bound = fit.certificate["prune_tol"] if prune else fit.certificate["max_violation_data_units"]
    # the atoms → weights round trip costs a few ulps of the largest weight
    assert np.abs(f0 - fit.fitted).max() <= bound + 1e-12 * np.abs(b).max()
    assert fit.n_atoms == fit.certificate["pieces"] <= 90


def test_observing_u_gives_the_same_atoms_as_observing_f():
    model = recovery_model()
    x = np.linspace(-2.4, 2.4, 120)[:, None]
    f = tropical_target(model, x)
    u = quadratic_term(x, model.t, model.hamiltonian) - f
    of_f = fit_convex(model, x, f, formulation="max_affine")
    model_u = dataclasses.replace(model, observe=Observation("u", "normal", 0.1))
    of_u = fit_convex(model_u, x, u, formulation="max_affine")
    np.testing.assert_allclose(np.sort(of_u.y[:, 0]), np.sort(of_f.y[:, 0]), atol=1e-6)
    np.testing.assert_allclose(of_u.fitted, u, atol=1e-6)


def test_learned_particles_choose_the_max_affine_fit():
    model = recovery_model()
    learned = dataclasses.replace(
        model,
        particles=Particles("learned", model.y, prior=Prior("normal", {"loc": 0, "scale": 1})))
    x = np.linspace(-2, 2, 50)[:, None]
    assert fit_convex(learned, x, tropical_target(model, x)).formulation == "max_affine"
    assert fit_convex(model, x, tropical_target(model, x)).formulation == "hopf_cole"


def test_medium_problem_finishes_quickly():
    x, v = noisy_convex(21, 300, 3)
    start = time.perf_counter()
    fit = fit_max_affine(x, v)
    assert fit.certificate["max_violation"] <= 1e-7
    assert fit.certificate["constraints"] < 300 * 299 / 4  # far fewer than all pairs
    assert time.perf_counter() - start < 60


def test_two_thousand_points_in_three_dimensions_finish():
    # 650–976 s with the former cutting planes, 38 s with the sparse working set; the hull cuts
    # (the default at d ≤ 4) take seconds (docs/fitting_convex.md), so it is back in the suite
    x, v = noisy_convex(0, 2000, 3)
    start = time.perf_counter()
    fit = fit_max_affine(x, v)
    assert fit.certificate["max_violation"] <= 1e-7
    assert fit.certificate["kkt_residual"] <= 1e-6
    assert time.perf_counter() - start < 300


@pytest.mark.slow
def test_twenty_thousand_points_in_ten_dimensions_finish():
    # the envelope cuts (the default above d = 4): ~20 s here, where the sparse working set took
    # 146 s at n = 1,000; certified over all 4·10⁸ pairs
    x, v = noisy_convex(0, 20_000, 10)
    fit = fit_max_affine(x, v)
    assert fit.certificate["max_violation"] <= 1e-7
    assert fit.certificate["kkt_residual"] <= 1e-7
    assert fit.certificate["duality_gap"] <= 1e-7 * max(1.0, fit.certificate["objective"])
    assert fit.certificate["objective"] < 1e-2 * np.sum((v - v.mean()) ** 2)  # nearly φ = v


# --- failure paths -------------------------------------------------------------------------

def test_solver_failure_is_a_run_error():
    x, v = noisy_convex(1, 40, 2)
    model = Model.from_atoms(np.zeros((1, 2)), [0.0])
    with pytest.raises(RunError, match="returned status 'MaxIterations'") as info:
        fit_convex(model, x, v, formulation="max_affine", solver_options={"max_iter": 1})
    assert info.value.exit_code == 1


def test_bad_inputs_are_input_errors():
    model = Model.from_atoms(np.zeros((1, 2)), [0.0])
    x, v = noisy_convex(1, 20, 2)
    with pytest.raises(DataError, match="NaN or inf"):
        fit_convex(model, x, np.where(np.arange(20) == 3, np.nan, v), formulation="max_affine")
    with pytest.raises(DataError, match=r"shape \(n, 2\)"):
        fit_convex(model, x[:, :1], v, formulation="max_affine")
    with pytest.raises(UsageError, match="unknown option"):
        fit_convex(model, x, v, formulation="max_affine", steps=10)
    with pytest.raises(UsageError, match="only at ε = 0"):
        fit_convex(model, x, v, formulation="max_affine", eps=0.1)
    norm = Model.from_atoms(np.zeros((1, 2)), [0.0], hamiltonian="l1")
    with pytest.raises(UsageError, match=r"--method convex cannot fit H\(p\) = \|p\|_1: .*"
                       r"need a quadratic H.*--method hopf_lax fits this H at ε = 0"):
        fit_convex(norm, x, v)
    zero = Model.from_atoms(np.zeros((1, 2)), [0.0], eps=[0.0])
    with pytest.raises(UsageError, match="needs ε > 0"):
        fit_convex(zero, x, v)
