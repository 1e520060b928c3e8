"""Grid solver core and its references: exact cases, closed forms, stability, interpolation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hjdsl.errors import RunError
from hjdsl import hamiltonians
from hjdsl.model.ir import Hamiltonian
from hjdsl.views.grid import schemes as fd
from hjdsl.views.grid.pde import grid_values, solve_domain
from hjdsl.views.grid.solver import Domain, interpolate, solve
from hjdsl.views.grid.quadrature import hopf_cole, hopf_lax

A2 = np.array([[2.0, 0.5], [0.5, 1.0]])


def quadratic(A) -> Hamiltonian:
    A = np.atleast_2d(np.asarray(A, dtype=float))
    return hamiltonians.quadratic(A, "p' A p")


def norm(kind: str, scale: float = 1.0) -> Hamiltonian:
    return hamiltonians.norm(kind, scale, f"|p|_{kind[1:]}")


HAMILTONIANS_2D = {
    "iso": quadratic(np.eye(2)), "scaled": quadratic(0.5 * np.eye(2)), "aniso": quadratic(A2),
    "l1": norm("l1", 1.5), "l2": norm("l2"), "linf": norm("linf", 0.7),
}


def box_points(lo, hi, n):
    axes = [np.linspace(lo, hi, n)] * 2
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)


def half_square(y):
    """g(y) = |y|²/2 for points (n,) or (n, d)."""
    return 0.5 * (y**2 if y.ndim == 1 else np.sum(y**2, axis=-1))


def half_square_solution(x, t, eps, A):
    """u = ½ xᵀ(I + 2tA)⁻¹x + (ε/2) log det(I + 2tA) for u_t + ∇uᵀA∇u = ε tr(A∇²u), u(0) = |x|²/2.

    (u = ½xᵀMx + β gives M' = −2MAM, M(0) = I ⇒ M = (I + 2tA)⁻¹ and β' = ε tr(AM).)
    """
    A = np.atleast_2d(A)
    M = np.linalg.inv(np.eye(len(A)) + 2.0 * t * A)
    log_det = np.log(np.linalg.det(np.eye(len(A)) + 2.0 * t * A))
    return 0.5 * np.einsum("nk,kl,nl->n", x, M, x) + 0.5 * eps * log_det


# --- the closed forms the tests rely on ---------------------------------------------------


@pytest.mark.parametrize("A", [np.eye(1), 0.5 * np.eye(2), A2])
def test_half_square_closed_form_solves_the_pde(A):
    """Finite differences of the closed form give a zero residual (independent of the solver)."""
    rng = np.random.default_rng(0)
    d, eps, t, h = len(A), 0.3, 0.7, 1e-4
    x = rng.normal(size=(5, d))
    u = lambda x, t: half_square_solution(x, t, eps, A)  # noqa: E731
    u_t = (u(x, t + h) - u(x, t - h)) / (2 * h)
    eye = np.eye(d) * h
    grad = np.stack([(u(x + eye[k], t) - u(x - eye[k], t)) / (2 * h) for k in range(d)], -1)
    hess = np.array([[(u(x + eye[k] + eye[m], t) - u(x + eye[k] - eye[m], t) - u(x - eye[k] + eye[m], t)
                       + u(x - eye[k] - eye[m], t)) / (4 * h * h) for m in range(d)] for k in range(d)])
    residual = u_t + np.einsum("nk,kl,nl->n", grad, A, grad) - eps * np.einsum("kl,lkn->n", A, hess)
    assert np.max(np.abs(residual)) < 1e-5
    # the brief's |x|²/(2(1+4t)) + (εd/2)log(1+4t) is not the solution for H = |p|²:
    if d == 1:
        wrong = x[:, 0] ** 2 / (2 * (1 + 4 * t)) + 0.5 * eps * np.log(1 + 4 * t)
        assert np.max(np.abs(wrong - u(x, t))) > 1e-2


def test_zero_data_quadrature_is_normalised():
    """g = 0 ⇒ u = 0: the heat-kernel normalisation, det(A) included, is right."""
    x = box_points(-1.0, 1.0, 4)
    for A in (np.eye(2), A2):
        for eps in (1e-3, 0.2, 5.0):
            u, _ = hopf_cole(lambda y: np.zeros(len(y)), quadratic(A), 0.8, eps, x)
            assert np.max(np.abs(u)) < 1e-12


@pytest.mark.parametrize("A", [np.eye(1), np.eye(2), A2])
@pytest.mark.parametrize("eps", [0.0, 0.02, 0.3, 3.0])
def test_references_match_the_half_square_closed_form(A, eps):
    d, t = len(A), 0.6
    x = np.linspace(-2.0, 2.0, 9)[:, None] if d == 1 else box_points(-1.5, 1.5, 5)
    exact = half_square_solution(x, t, eps, A)
    if eps == 0.0:
        u = hopf_lax(half_square, quadratic(A), t, x)
        assert np.max(np.abs(u - exact)) < 1e-8
    else:
        u, estimate = hopf_cole(half_square, quadratic(A), t, eps, x)
        assert np.max(np.abs(u - exact)) < 1e-10
        assert estimate < 1e-9


def test_hopf_cole_is_finite_at_tiny_viscosity_and_near_hopf_lax():
    g = lambda y: np.abs(y) + 0.2 * np.cos(3 * y)  # noqa: E731
    x = np.linspace(-2.0, 2.0, 31)[:, None]
    ham = quadratic(np.eye(1))
    u0 = hopf_lax(g, ham, 1.0, x)
    u, _ = hopf_cole(g, ham, 1.0, 1e-4, x, tol=1e-7)
    assert np.all(np.isfinite(u))
    # Laplace: u_ε − u_0 = O(ε log(1/ε)) here (the kink and smooth minima both give ~ε scale)
    assert np.max(np.abs(u - u0)) < 2e-3


@pytest.mark.parametrize("kind,scale", [("l1", 1.5), ("l2", 1.0), ("linf", 0.7)])
def test_norm_hopf_lax_matches_the_ball_minimum(kind, scale):
    """u_0 = min of g over the dual-norm ball x − a·t·B*; closed forms for g = √(1 + |y|²)."""
    t, r = 0.8, scale * 0.8
    x = box_points(-2.0, 2.0, 7)
    g = lambda y: np.sqrt(1 + np.sum(y**2, axis=-1))  # noqa: E731
    u = hopf_lax(g, norm(kind, scale), t, x)
    if kind == "l2":  # the nearest point of the disc |y − x| ≤ r to the origin
        expect = np.sqrt(1 + np.maximum(np.linalg.norm(x, axis=1) - r, 0.0) ** 2)
    elif kind == "l1":  # the square |y − x|_∞ ≤ r: clip each coordinate
        expect = np.sqrt(1 + np.sum((x - np.clip(x, -r, r)) ** 2, axis=1))
    else:  # the diamond |y − x|_1 ≤ r: distance from x to the ball rB₁ (soft-threshold projection)
        a = np.abs(x)
        both = (a.sum(axis=1) - r) / 2.0
        theta = np.where(np.abs(a[:, 0] - a[:, 1]) <= r, both, a.max(axis=1) - r)
        proj = np.sign(x) * np.maximum(a - np.maximum(theta, 0.0)[:, None], 0.0)
        expect = np.sqrt(1 + np.sum((x - proj) ** 2, axis=1))
    tol = 1e-9
    assert np.max(np.abs(u - expect)) < tol


# --- exact cases of the grid solver ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HAMILTONIANS_2D))
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_zero_data_stays_zero(name, eps):
    ham = HAMILTONIANS_2D[name]
    dom = Domain.covering([-2.0, -2.0], [2.0, 2.0], [0.1, 0.1])
    sol = solve(lambda y: np.zeros(len(y)), ham, eps, 1.0, dom)
    assert np.max(np.abs(sol.u)) == 0.0


@pytest.mark.parametrize("name", sorted(HAMILTONIANS_2D))
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_linear_data_is_exact(name, eps):
    """g = b·y + c ⇒ u = g(x) − t·H(b) for every ε; schemes, stencils and ghosts are all exact."""
    ham, b, c, t = HAMILTONIANS_2D[name], np.array([0.7, -1.3]), 0.4, 0.9
    g = lambda y: y @ b + c  # noqa: E731
    x = box_points(-1.0, 1.0, 6)
    exact = x @ b + c - t * float(fd.hamiltonian(ham, b[:, None])[0])
    value, sol = grid_values(g, ham, t, eps, x, cells=40)
    assert np.max(np.abs(value - exact)) < 1e-12
    assert sol.steps > 1
    if eps == 0.0 or ham.kind == "quadratic":
        assert np.max(np.abs(hopf_lax(g, ham, t, x) - exact)) < 1e-9  # search resolution
    if eps > 0 and ham.kind == "quadratic":
        assert np.max(np.abs(hopf_cole(g, ham, t, eps, x)[0] - exact)) < 1e-10


def test_linear_data_in_one_dimension():
    ham, t = quadratic([[1.5]]), 1.2
    x = np.linspace(-1.0, 1.0, 11)[:, None]
    for eps in (0.0, 0.5):
        value, _ = grid_values(lambda y: -0.8 * y + 2.0, ham, t, eps, x, cells=100)
        assert np.max(np.abs(value - (-0.8 * x[:, 0] + 2.0 - t * 1.5 * 0.64))) < 1e-12


# --- stability ----------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 1.0])
@pytest.mark.parametrize("scheme", ["godunov", "llf", "lf"])
def test_stable_step_keeps_the_solution_bounded(eps, scheme):
    """At the chosen step the scheme is monotone: min g − t·max H(∇g) ≤ u ≤ max g (H ≥ 0)."""
    g = lambda y: np.sqrt(1 + y**2) + 0.3 * np.cos(5 * y)  # noqa: E731
    dom = Domain.covering([-4.0], [4.0], [0.02])
    sol = solve(g, quadratic(np.eye(1)), eps, 1.0, dom, scheme=scheme)
    gv = g(dom.axes[0])
    hmax = np.max(np.gradient(gv, dom.h[0]) ** 2) * 1.01
    assert np.all(np.isfinite(sol.u))
    assert np.min(gv) - 1.0 * hmax <= np.min(sol.u) and np.max(sol.u) <= np.max(gv) + 1e-12


def test_violating_the_step_condition_fails_clearly():
    """cfl = 1.3 breaks monotonicity (values leave the bounds); cfl = 2.5 diverges → RunError."""
    g = lambda y: np.sqrt(1 + y**2) + 0.3 * np.cos(5 * y)  # noqa: E731
    dom = Domain.covering([-4.0], [4.0], [0.02])
    ham = quadratic(np.eye(1))
    assert np.min(solve(g, ham, 1.0, 1.0, dom, cfl=1.3).u) < np.min(g(dom.axes[0])) - 1.0
    with pytest.raises(RunError, match="diverged"):
        solve(g, ham, 1.0, 1.0, dom, cfl=2.5)


def test_seven_point_stencil_is_monotone_on_the_scaled_grid():
    D = A2
    h = 0.1 * fd.spacing_ratio(D)
    assert fd.diffusion_is_monotone(h, D)
    assert not fd.diffusion_is_monotone(np.array([0.1, 0.1]), np.array([[1.0, 0.8], [0.8, 0.5]]))
    # second-order consistent: tr(D∇²u) of a quadratic is exact
    dom = Domain.covering([-1.0, -1.0], [1.0, 1.0], h)
    Y = dom.nodes()
    u = 0.3 * Y[..., 0] ** 2 - 0.7 * Y[..., 0] * Y[..., 1] + 0.2 * Y[..., 1] ** 2
    lap = fd.diffusion(fd.pad_linear(u), h, D)[2:-2, 2:-2]
    assert np.allclose(lap, 2 * 0.3 * D[0, 0] + 2 * 0.2 * D[1, 1] - 0.7 * 2 * D[0, 1], atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["godunov", "lf"]),
       st.sampled_from(["iso", "aniso", "l1", "l2", "linf"]), st.floats(0.0, 2.0))
def test_one_step_is_monotone(seed, scheme, name, eps):
    """u ≤ v ⇒ S(u) ≤ S(v) for one explicit step at a step size stable for both states.

    Lax–Friedrichs is checked with one α ≥ max|∂H/∂p| shared by both states (the classical
    monotone scheme); the Godunov flux needs no α.
    """
    ham = HAMILTONIANS_2D[name]
    if scheme == "godunov" and not fd.godunov_applies(ham):
        scheme = "lf"
    rng = np.random.default_rng(seed)
    D = fd.diffusion_matrix(ham, 2)
    h = 0.1 * fd.spacing_ratio(D)
    u = rng.normal(size=(12, 12))
    v = u + np.abs(rng.normal(size=u.shape)) * (rng.random(u.shape) < 0.3)
    U, V = fd.pad_linear(u), fd.pad_linear(v)
    alpha = np.maximum(fd.flux(scheme, ham, *fd.one_sided(U, h))[1],
                       fd.flux(scheme, ham, *fd.one_sided(V, h))[1])
    dt = fd.stable_step(alpha, h, eps * fd.diffusion_rate(h, D), 0.9)

    def step(w, W):
        pm, pp = fd.one_sided(W, h)
        if scheme == "godunov":
            flux = fd.godunov(ham, pm, pp)[0]
        else:
            flux = fd.hamiltonian(ham, 0.5 * (pm + pp)) - 0.5 * np.einsum("k,k...->...", alpha, pp - pm)
        return w - dt * (flux - eps * fd.diffusion(W, h, D))

    interior = (slice(1, -1), slice(1, -1))  # the ghost extrapolation itself is not monotone
    assert np.all(step(v, V)[interior] >= step(u, U)[interior] - 1e-12)


# --- interpolation and domain ---------------------------------------------------------------


def test_bilinear_interpolation_is_exact_for_bilinear_functions_and_nan_outside():
    dom = Domain.covering([-1.0, 0.0], [1.0, 2.0], [0.25, 0.5])
    Y = dom.nodes()
    u = 1.0 + 2.0 * Y[..., 0] - Y[..., 1] + 0.5 * Y[..., 0] * Y[..., 1]
    rng = np.random.default_rng(3)
    x = rng.uniform([-1.0, 0.0], [1.0, 2.0], size=(50, 2))
    got = interpolate(dom, u, x)
    assert np.allclose(got, 1.0 + 2.0 * x[:, 0] - x[:, 1] + 0.5 * x[:, 0] * x[:, 1], atol=1e-13)
    assert np.all(np.isnan(interpolate(dom, u, np.array([[1.5, 1.0], [0.0, -0.1]]))))


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_domain_margin_keeps_boundary_effects_away(eps):
    """Tripling the domain at the same h and dt changes u at the points far less than the grid error."""
    g = lambda y: np.cos(y) + 0.3 * y**2  # noqa: E731
    ham, x = quadratic(np.eye(1)), np.linspace(-2.5, 2.5, 51)[:, None]
    dom = solve_domain(g, ham, 1.0, eps, x, 400)
    width = dom.hi - dom.lo
    big = solve(g, ham, eps, 1.0, Domain.covering(dom.lo - width, dom.hi + width, dom.h))
    small = solve(g, ham, eps, 1.0, dom, max_dt=big.min_dt)
    assert np.max(np.abs(small.at(x) - big.at(x))) < 1e-4


def test_module_examples_run():
    """The docstring examples of the grid modules are true."""
    import doctest

    from hjdsl.views.grid import pde as grid_pde, schemes as grid_schemes, solver as grid_solver, quadrature

    for module in (grid_schemes, grid_solver, quadrature, grid_pde):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
