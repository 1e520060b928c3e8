"""Observed order of the grid solver against Hopf–Cole / Hopf–Lax, and `grid_view` on specs."""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl
from hjdsl import hamiltonians
from hjdsl.hamiltonians import norm
from hjdsl.views.grid.pde import DEFAULT_CELLS, convergence_study, grid_view

# A monotone scheme with forward Euler has truncation error O(h + dt) on smooth solutions, and
# the stable dt is O(h) (transport) or O(h²) (diffusion): first order. Convex smooth g keeps the
# solution smooth (no kinks form for convex H), so the slope should be 1 up to pre-asymptotics.
ORDER_RANGE = (0.8, 1.3)
A2 = np.array([[2.0, 0.5], [0.5, 1.0]])


def soft_abs(y):
    """g(y) = √(1 + |y|²): smooth, convex, 1-Lipschitz; points (n,) or (n, d)."""
    return np.sqrt(1.0 + (y**2 if y.ndim == 1 else np.sum(y**2, axis=-1)))


def box_points(lo, hi, n):
    axes = [np.linspace(lo, hi, n)] * 2
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)


def quadratic(A):
    A = np.atleast_2d(np.asarray(A, dtype=float))
    return hamiltonians.quadratic(A, "p' A p")


def assert_first_order(study):
    lo, hi = ORDER_RANGE
    assert lo <= study.order <= hi, (study.errors, study.order)
    assert np.all(np.diff(study.errors) < 0)  # every refinement helps


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_order_1d(eps):
    x = np.linspace(-2.0, 2.0, 41)[:, None]
    study = convergence_study(soft_abs, quadratic([[1.0]]), 1.0, eps, x, cells=(100, 200, 400, 800))
    assert_first_order(study)
    assert study.errors[-1] < 0.01


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_order_2d(eps):
    x = box_points(-1.0, 1.0, 5)
    study = convergence_study(soft_abs, quadratic(np.eye(2)), 0.5, eps, x, cells=(24, 48, 96))
    assert_first_order(study)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_order_anisotropic(eps):
    """Off-diagonal A: local Lax–Friedrichs and the 7-point mixed stencil on the √A_kk-scaled grid."""
    x = box_points(-1.0, 1.0, 5)
    study = convergence_study(soft_abs, quadratic(A2), 0.5, eps, x, cells=(32, 64, 128))
    assert_first_order(study)


@pytest.mark.parametrize("kind,scale", [("l1", 1.5), ("l2", 1.0), ("linf", 0.7)])
def test_order_norm_hamiltonians_against_hopf_lax(kind, scale):
    x = box_points(-1.5, 1.5, 5)
    ham = norm(kind, scale, f"|p|_{kind[1:]}")
    study = convergence_study(soft_abs, ham, 0.8, 0.0, x, cells=(24, 48, 96))
    assert_first_order(study)


@pytest.mark.parametrize("scheme", ["llf", "lf"])
def test_order_lax_friedrichs_variants(scheme):
    x = np.linspace(-2.0, 2.0, 41)[:, None]
    study = convergence_study(soft_abs, quadratic([[0.5]]), 1.0, 0.2, x, cells=(100, 200, 400),
                              scheme=scheme)
    assert_first_order(study)


@pytest.mark.parametrize("A,eps", [(np.eye(1), 0.3), (A2, 0.2), (A2, 0.0)])
def test_half_square_closed_form_is_approached(A, eps):
    """g = |y|²/2: u = ½xᵀ(I + 2tA)⁻¹x + (ε/2) log det(I + 2tA), passed as the reference."""
    t, d = 0.5, len(A)
    x = np.linspace(-1.5, 1.5, 13)[:, None] if d == 1 else box_points(-1.0, 1.0, 5)
    M = np.linalg.inv(np.eye(d) + 2 * t * A)
    exact = 0.5 * np.einsum("nk,kl,nl->n", x, M, x) + 0.5 * eps * np.log(np.linalg.det(np.eye(d) + 2 * t * A))
    cells = (100, 200, 400) if d == 1 else (32, 64, 128)
    study = convergence_study(lambda y: 0.5 * (y**2 if y.ndim == 1 else np.sum(y**2, -1)),
                              quadratic(A), t, eps, x, cells=cells, reference=exact)
    assert_first_order(study)


# --- grid_view on specs -------------------------------------------------------------------

SPEC_1D = """model q1 "grid view test"
dim 1
time t = 1
viscosity eps in [1, 0.3, 0.1, 0]
hamiltonian H(p) = {ham}
particles y = grid(-2, 2, 9)
initial g(y) = {g}
evaluate x = grid(-2, 2, 41)
"""

SPEC_2D = """model q2 "grid view test"
dim 2
time t = 0.5
let A = [[2, 0.5], [0.5, 1]]
viscosity eps in [0.1, 0]
hamiltonian H(p) = {ham}
particles y = grid(-1, 1, 3)
initial g(y) = sqrt(1 + y[0]^2 + y[1]^2)
evaluate x = grid(-1, 1, 5)
"""


def test_grid_view_1d_matches_references():
    model = hjdsl.parse(SPEC_1D.format(ham="|p|^2", g="sqrt(1 + y^2)"))
    res = grid_view(model, model.eps, model.evaluate)
    n_eps, n = model.eps.size, model.evaluate.shape[0]
    assert res.value.shape == res.reference.shape == (n_eps, n) and res.error.shape == (n_eps,)
    assert res.cells == DEFAULT_CELLS[1]
    assert np.all(np.isfinite(res.value)) and np.all(np.isfinite(res.reference))
    assert np.allclose(res.error, np.max(np.abs(res.value - res.reference), axis=1))
    assert np.all(res.error < 0.03)
    assert ORDER_RANGE[0] <= res.order <= ORDER_RANGE[1]
    # the ε = 0 row is Hopf–Lax of g = √(1 + y²) with H = p²: min_y g(y) + (x − y)²/4
    y = np.linspace(-4, 4, 80_001)
    hl = np.min(np.sqrt(1 + y[None] ** 2) + (model.evaluate[:, :1] - y[None]) ** 2 / 4, axis=1)
    assert np.max(np.abs(res.reference[-1] - hl)) < 1e-7


def test_grid_view_refinement_reduces_the_error():
    model = hjdsl.parse(SPEC_1D.format(ham="|p|^2", g="abs(y)"))
    coarse = grid_view(model, model.eps, model.evaluate, cells=200)
    fine = grid_view(model, model.eps, model.evaluate, cells=800)
    assert np.all(fine.error < coarse.error / 2.5)


def test_grid_view_norm_hamiltonian_has_no_viscous_reference():
    model = hjdsl.parse(SPEC_1D.format(ham="|p|_1", g="sqrt(1 + y^2)"))
    res = grid_view(model, model.eps, model.evaluate)
    assert np.all(np.isnan(res.reference[:-1])) and np.all(np.isnan(res.error[:-1]))
    assert np.all(np.isfinite(res.value))
    assert res.error[-1] < 0.02  # ε = 0 against Hopf–Lax
    assert "no exact reference for eps > 0" in res.note


@pytest.mark.parametrize("ham", ["|p|^2", "p' A p", "|p|_2"])
def test_grid_view_2d(ham):
    model = hjdsl.parse(SPEC_2D.format(ham=ham))
    res = grid_view(model, model.eps, model.evaluate)
    assert res.value.shape == (2, 25) and res.cells == DEFAULT_CELLS[2]
    assert res.error[-1] < 0.02
    if ham != "|p|_2":
        assert res.error[0] < 0.05


def test_grid_view_does_not_apply():
    literal = hjdsl.Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5], eps=[0.1])
    assert grid_view(literal, literal.eps, literal.evaluate) is None
    three = hjdsl.parse(SPEC_2D.format(ham="|p|^2").replace("dim 2", "dim 3")
                        .replace("y[1]^2)", "y[1]^2 + y[2]^2)"))
    assert grid_view(three, three.eps, three.evaluate) is None


def test_grid_view_2d_large_point_sets_audit_a_subset():
    model = hjdsl.parse(SPEC_2D.format(ham="|p|^2").replace("grid(-1, 1, 5)", "grid(-1, 1, 25)"))
    res = grid_view(model, model.eps, model.evaluate, cells=60)
    has_reference = np.isfinite(res.reference)
    assert np.all(np.isfinite(res.value))
    assert np.all(has_reference.sum(axis=1) == 400) and "reference at 400 of 625 points" in res.note
    assert np.allclose(res.error, np.nanmax(np.abs(res.value - res.reference), axis=1))


def test_grid_view_linear_data_is_exact_and_has_no_order():
    model = hjdsl.parse(SPEC_1D.format(ham="0.5*|p|^2", g="2*y - 1"))
    res = grid_view(model, model.eps, model.evaluate)
    expect = 2 * model.evaluate[:, 0] - 1 - 1.0 * 0.5 * 4
    assert np.max(np.abs(res.value - expect)) < 1e-12
    assert np.all(res.error < 1e-9) and res.order is None


def test_grid_view_reports_a_failed_eps_instead_of_raising():
    """g = −y² with t = 1: min_y −y² + (x − y)²/4 is unbounded below, no solution exists."""
    model = hjdsl.parse(SPEC_1D.format(ham="|p|^2", g="-y^2"))
    res = grid_view(model, model.eps, model.evaluate)
    assert np.all(np.isnan(res.value)) and np.all(np.isnan(res.error)) and res.order is None
    assert res.note.count("failed: the Hopf–Lax search did not find bounded minimisers") == 4
