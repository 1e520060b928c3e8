"""The Hopf–Cole quadrature's self-check bounds its true error (mpmath in 1-D; a polar rule and a
separable mpmath product in 2-D), and the kink finder places the cuts."""

from __future__ import annotations

import re

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hjdsl
from hjdsl.frontend.driver import parse_expression
from hjdsl import hamiltonians
from hjdsl.model.ir import Hamiltonian
from hjdsl.model.lower import evaluate
from hjdsl.views.grid.pde import REFERENCE_NODES, REFERENCE_TOL, grid_view
from hjdsl.views.grid.kinks import kinks_of
from hjdsl.views.grid.quadrature import hopf_cole

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples"
A2 = np.array([[2.0, 0.5], [0.5, 1.0]])


def quadratic(A) -> Hamiltonian:
    return hamiltonians.quadratic(np.atleast_2d(np.asarray(A, dtype=float)), "p' A p")


def from_text(text: str, d: int):
    """g(points) and its kinks from an expression, the way grid_view builds them."""
    expr = parse_expression(text)
    g = lambda y: np.broadcast_to(evaluate(expr, {"y": y}, pointwise={"y"}), y.shape[:1])  # noqa: E731
    return g, kinks_of(expr, {}, d)


def mp_hopf_cole(g, x: float, eps: float, t: float, a: float = 1.0, kinks=()) -> float:
    """−ε log ∫ (4πεta)^{-1/2} exp(−[g(y) + (x−y)²/(4ta)]/ε) dy by mpmath: min-shifted (mpmath's
    error control is absolute), cut at the kinks and every σ around the peak."""
    x, eps, t, a = (mp.mpf(v) for v in (x, eps, t, a))
    phi = lambda y: g(y) + (x - y) ** 2 / (4 * t * a)  # noqa: E731
    peak = min((x + mp.mpf(k) / 20 for k in range(-200, 201)), key=phi)
    shift, sigma = phi(peak), mp.sqrt(2 * eps * t * a)
    cuts = sorted({mp.mpf(k) for k in kinks} | {peak + j * sigma for j in range(-12, 13, 2)})
    integral, error = mp.quad(lambda y: mp.exp(-(phi(y) - shift) / eps), [-mp.inf, *cuts, mp.inf],
                              error=True)
    assert error < 1e-17 * integral
    return float(shift - eps * mp.log(integral / mp.sqrt(4 * mp.pi * eps * t * a)))


# (expression, the same g written for mpmath, its kinks)
CASES_1D = [
    ("abs(y)", abs, [0]),
    ("abs(y - 0.3) + 0.5*max(y, -1)", lambda y: abs(y - 0.3) + 0.5 * max(y, -1), [0.3, -1]),
    ("min(abs(y), 1)", lambda y: min(abs(y), 1), [-1, 0, 1]),
    ("sqrt(abs(y))", lambda y: mp.sqrt(abs(y)), [0]),  # infinite slope at the cut
    ("sqrt(1 + y^2)", lambda y: mp.sqrt(1 + y * y), []),
    ("0.2*cos(3*y) + 0.5*y^2", lambda y: 0.2 * mp.cos(3 * y) + y * y / 2, []),
]
X_1D = np.array([-1.9, -0.7, 0.0, 0.3, 1.9, 2.5])


@pytest.fixture(autouse=True)
def _precision():
    with mp.workdps(20):
        yield


@pytest.mark.parametrize("text,g_mp,kinks", CASES_1D, ids=[c[0] for c in CASES_1D])
@pytest.mark.parametrize("eps", [1.0, 0.2, 0.02])
@pytest.mark.parametrize("tol", [REFERENCE_TOL, 1e-10])
def test_self_check_bounds_the_true_error_1d(text, g_mp, kinks, eps, tol):
    g, found = from_text(text, 1)
    u, estimate = hopf_cole(g, quadratic(1.0), 1.0, eps, X_1D[:, None], tol=tol,
                            max_nodes=REFERENCE_NODES[1], kinks=found)
    exact = np.array([mp_hopf_cole(g_mp, x, eps, 1.0, kinks=kinks) for x in X_1D])
    true = float(np.max(np.abs(u - exact)))
    assert true <= estimate <= max(tol * max(1.0, np.max(np.abs(u))), 1e-13)


def abs_closed_form(x: float, eps: float, t: float) -> float:
    """Hopf–Cole for g = |y| (H = p²): each half line is a shifted Gaussian, an erfc in mpmath."""
    x, eps, t = (mp.mpf(v) for v in (x, eps, t))
    # s·y + (x − y)²/(4t) = (y − (x − 2ts))²/(4t) + s·x − t on the half line where |y| = s·y
    halves = [mp.exp(-(s * x - t) / eps) / 2 * mp.erfc(-(s * x - 2 * t) / mp.sqrt(4 * t * eps))
              for s in (1, -1)]
    return float(-eps * mp.log(mp.fsum(halves)))


def test_abs_closed_form_agrees_with_mpmath_quad():
    for x, eps in [(1.9, 1.0), (-0.4, 0.1), (2.5, 0.02)]:
        assert abs(abs_closed_form(x, eps, 1.0) - mp_hopf_cole(abs, x, eps, 1.0, kinks=[0])) < 1e-15


def test_quickstart_grid_note_bounds_the_reference_error():
    """The figure `compare` prints for examples/quickstart.hj bounds the reference's true error
    (before the cuts it said 1e-05 while the reference was off by 2.6e-4 at x = ±1.9, ε = 1)."""
    model = hjdsl.load(EXAMPLES / "quickstart.hj")
    result = grid_view(model, model.eps, model.evaluate)
    printed = float(re.search(r"self-check ([0-9.e+-]+)\)", result.note).group(1))
    worst = 0.0
    for i, eps in enumerate(model.eps):
        if eps > 0:
            exact = [abs_closed_form(x, eps, 1.0) for x in model.evaluate[:, 0]]
            worst = max(worst, float(np.max(np.abs(result.reference[i] - exact))))
    assert worst <= printed < 1e-6


def polar_reference(x, eps: float, t: float, A, rings: int = 40, angles: int = 1024) -> float:
    """Hopf–Cole for g = |y| in polar coordinates about the cone's vertex, where the integrand
    r·exp(−[r + (x−y)ᵀA⁻¹(x−y)/(4t)]/ε) is smooth: Gauss in r, the periodic trapezoid in θ."""
    ainv = np.linalg.inv(A)
    reach = np.linalg.norm(x) + np.sqrt(240.0 * t * np.linalg.eigvalsh(A).max() * eps) + 60.0 * eps
    xi, w = np.polynomial.legendre.leggauss(20)
    edges = np.linspace(0.0, reach, rings + 1)
    r = (edges[:-1, None] + np.diff(edges)[:, None] * (xi + 1) / 2).ravel()
    wr = (np.diff(edges)[:, None] / 2 * w).ravel()
    theta = np.linspace(0.0, 2 * np.pi, angles, endpoint=False)
    v = x - np.stack([r[:, None] * np.cos(theta), r[:, None] * np.sin(theta)], -1)
    phi = r[:, None] + np.einsum("...i,ij,...j", v, ainv, v) / (4 * t)
    m = phi.min()
    total = np.sum(wr[:, None] * r[:, None] * np.exp(-(phi - m) / eps)) * 2 * np.pi / angles
    return float(m - eps * np.log(total) + eps * np.log(4 * np.pi * eps * t)
                 + 0.5 * eps * np.log(np.linalg.det(A)))


X_2D = np.array([[0.3, -0.2], [1.7, 0.9], [-2.5, 1.5], [0.0, 0.0], [0.05, 1.1]])


@pytest.mark.parametrize("eps", [1.0, 0.1, 0.01])
def test_self_check_bounds_the_true_error_2d_cone(eps):
    """g = |y| (examples/aniso_2d.hj): the vertex sits where the cut lines y_0 = 0, y_1 = 0 cross."""
    g, kinks = from_text("norm(y)", 2)
    u, estimate = hopf_cole(g, quadratic(A2), 0.5, eps, X_2D, tol=REFERENCE_TOL,
                            max_nodes=REFERENCE_NODES[2], kinks=kinks)
    exact = np.array([polar_reference(x, eps, 0.5, A2) for x in X_2D])
    coarser = np.array([polar_reference(x, eps, 0.5, A2, 28, 768) for x in X_2D])
    assert np.max(np.abs(exact - coarser)) < 1e-12  # the polar rule has converged
    assert np.max(np.abs(u - exact)) <= estimate <= REFERENCE_TOL * max(1.0, np.max(np.abs(u)))


@pytest.mark.parametrize("eps", [0.5, 0.05])
def test_self_check_bounds_the_true_error_2d_separable(eps):
    """g = |y_0| + |y_1 − 0.3| with diagonal A: u is the sum of two 1-D mpmath integrals."""
    a, t = (1.0, 0.5), 0.8
    g, kinks = from_text("abs(y[0]) + abs(y[1] - 0.3)", 2)
    u, estimate = hopf_cole(g, quadratic(np.diag(a)), t, eps, X_2D, tol=REFERENCE_TOL,
                            max_nodes=REFERENCE_NODES[2], kinks=kinks)
    exact = np.array([mp_hopf_cole(abs, x0, eps, t, a[0], [0])
                      + mp_hopf_cole(lambda y: abs(y - mp.mpf("0.3")), x1, eps, t, a[1], [0.3])
                      for x0, x1 in X_2D])
    assert np.max(np.abs(u - exact)) <= estimate <= REFERENCE_TOL * max(1.0, np.max(np.abs(u)))


def tiny_2d_model(g: str):
    return hjdsl.parse("model m\ndim 2\ntime t = 0.5\nviscosity eps = 0.3\n"
                       "hamiltonian H(p) = |p|^2\nparticles y = grid([-1, -1], [1, 1], [3, 3])\n"
                       f"initial g(y) = {g}\nevaluate x = grid([-1, -1], [1, 1], [3, 3])")


@pytest.mark.parametrize("g,warned", [("max(abs(y[0]), abs(y[1]))", True),
                                      ("abs(y[0] - y[1])", True),
                                      ("norm(y)", False), ("sum(square(y))", False)])
def test_grid_note_says_when_kinks_are_off_the_coordinate_lines(g, warned):
    model = tiny_2d_model(g)
    note = grid_view(model, model.eps, model.evaluate, cells=24).note
    assert ("off the coordinate lines" in note) == warned


KINK_TABLE = [
    ("abs(y)", 1, [[0.0]], 0),
    ("sqrt(1 + y^2)", 1, [[]], 0),
    ("max(abs(y - 1), 0.5)", 1, [[0.5, 1.0, 1.5]], 0),
    ("min(y, 1, -1)", 1, [[-1.0, 1.0]], 0),
    ("y^0.5 + y^2", 1, [[0.0]], 0),
    ("abs(sin(3*y))", 1, [[-np.pi / 3, 0.0, np.pi / 3]], 0),
    ("norm(y)", 2, [[0.0], [0.0]], 0),
    ("norm(y - [1, -0.5], 1)", 2, [[1.0], [-0.5]], 0),
    ("norm(y, inf)", 2, [[0.0], [0.0]], 1),  # |y_0| = |y_1| lies on the diagonals
    ("abs(y[0] - y[1]) + abs(y[1] - 0.3)", 2, [[], [0.3]], 1),
    ("max(y)", 2, [[], []], 1),
    ("max(y[0] + y[1], 100)", 2, [[], []], 0),  # no sign change in the box: nothing to cut
]


@pytest.mark.parametrize("text,d,lines,unsplit", KINK_TABLE, ids=[k[0] for k in KINK_TABLE])
def test_kink_lines(text, d, lines, unsplit):
    found = kinks_of(parse_expression(text), {}, d).lines([-1.5] * d, [1.5] * d)
    assert found.unsplit == unsplit
    for axis, expected in zip(found.axes, lines):
        np.testing.assert_allclose(axis, expected, atol=1e-13)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.1, 10.0), st.floats(-2.0, 2.0), st.sampled_from([1.0, -1.0]))
def test_kink_of_an_affine_abs_is_exact(a, c, sign):
    text = f"abs({sign * a!r}*y - {sign * a * c!r})"
    found = kinks_of(parse_expression(text), {}, 1).lines([-3.0], [3.0]).axes[0]
    np.testing.assert_allclose(found, [c], atol=4e-15)


def test_grid_note_says_when_the_quadrature_did_not_converge():
    """Forty kink lines leave no room for a second level under the 2-D node cap: no figure is
    printed rather than an unchecked one."""
    model = tiny_2d_model("abs(sin(20*y[0])) + abs(y[1])")
    note = grid_view(model, model.eps, model.evaluate, cells=24).note
    assert "did not converge within its node cap" in note and "self-check 0" not in note
    assert "did not converge" not in grid_view(tiny_2d_model("norm(y)"), [0.3], np.zeros((1, 2)),
                                               cells=24).note
