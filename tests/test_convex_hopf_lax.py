"""The continuous Hopf–Lax program for convex g(y): closed forms, argmins and DCP diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl
from hjdsl.errors import Span, SpecError
from hjdsl.model.expr import Binary, Call, Name, Num, Unary
from hjdsl.views.convex import convex_view, to_cvxpy

SPEC = """model hl "Hopf-Lax program test"
dim {d}
time t = {t}
viscosity eps in [0.5, 0]
hamiltonian H(p) = {h}
particles y = {y}
initial g(y) = {g}
evaluate x = {x}
"""


def spec_model(g: str, d: int = 1, t: float = 1.0, h: str = "|p|^2", y: str = "grid(-2, 2, 9)",
               x: str = "grid(-3, 3, 13)"):
    return hjdsl.parse(SPEC.format(d=d, t=t, h=h, y=y, g=g, x=x), name="hl.hj")


def test_abs_is_the_huber_function():
    """g = |y|, H = a p²: u_0(x) = x²/(4at) for |x| ≤ 2at, else |x| − at; y* = x − 2at·sign x."""
    a, t = 2.0, 0.7
    model = spec_model("abs(y)", t=t, h=f"{a}*|p|^2")
    x = model.evaluate[:, 0]
    s = a * t
    expected = np.where(np.abs(x) <= 2 * s, x**2 / (4 * s), np.abs(x) - s)
    argmin = np.where(np.abs(x) <= 2 * s, 0.0, x - 2 * s * np.sign(x))
    result = convex_view(model, np.array([0.5]), model.evaluate, audit=-1, workers=1)
    assert result.hopf_lax_status.tolist() == ["optimal"] * x.size
    np.testing.assert_allclose(result.hopf_lax_value, expected, rtol=0, atol=1e-7)
    np.testing.assert_allclose(result.hopf_lax_argmin[:, 0], argmin, rtol=0, atol=1e-5)


def test_half_squared_norm_has_an_explicit_minimiser():
    """g = |y|²/2, H = pᵀAp: y* = (2tI + A⁻¹)⁻¹A⁻¹x, u_0 = |y*|²/2 + (x−y*)ᵀA⁻¹(x−y*)/(4t)."""
    t = 0.6
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    text = SPEC.format(d=2, t=t, h="p' A p", y="grid(-1, 1, 3)", g="norm(y)^2/2",
                       x="[[0, 0], [1, 0.5], [-2, 1.5], [0.3, -3]]")
    model = hjdsl.parse(text.replace("dim 2\n", "dim 2\nlet A = [[2, 0.5], [0.5, 1]]\n"),
                        name="hl.hj")
    x = model.evaluate
    M = np.linalg.inv(A)
    ystar = np.linalg.solve(2 * t * np.eye(2) + M, M @ x.T).T
    diff = x - ystar
    expected = 0.5 * (ystar**2).sum(1) + np.einsum("nd,de,ne->n", diff, M, diff) / (4 * t)
    result = convex_view(model, np.array([0.5]), x, workers=1)
    np.testing.assert_allclose(result.hopf_lax_value, expected, rtol=0, atol=1e-7)
    np.testing.assert_allclose(result.hopf_lax_argmin, ystar, rtol=0, atol=1e-5)


def test_norm_hamiltonian_is_a_ball_constraint():
    """H = |p|_1 in d = 2 (dual ball: |x − y|_∞ ≤ t), g = |y|_1: u_0 = Σ_i max(0, |x_i| − t)."""
    t = 0.8
    model = spec_model("norm(y, 1)", d=2, t=t, h="|p|_1", y="grid(-1, 1, 3)",
                       x="[[0, 0], [1, 0.5], [-2, 1.5], [0.3, -3]]")
    result = convex_view(model, np.array([0.0]), model.evaluate, workers=1)
    expected = np.maximum(0.0, np.abs(model.evaluate) - t).sum(1)
    np.testing.assert_allclose(result.hopf_lax_value, expected, rtol=0, atol=1e-7)
    assert np.all(np.abs(model.evaluate - result.hopf_lax_argmin).max(1) <= t + 1e-7)


def test_only_audited_points_are_solved():
    model = spec_model("abs(y)", x="grid(-3, 3, 101)")
    result = convex_view(model, np.array([0.5]), model.evaluate, audit=5, workers=1)
    solved = np.isfinite(result.hopf_lax_value)
    assert solved.tolist() == result.audited.tolist() and solved.sum() == 5
    assert (result.hopf_lax_status[~solved] == "").all()
    assert np.isnan(result.hopf_lax_argmin[~solved]).all()


def test_to_cvxpy_hopf_lax_program():
    model = spec_model("abs(y)")
    problem, params = to_cvxpy(model, x=[3.0], program="hopf_lax")
    assert problem.is_dcp(dpp=True) and set(params) == {"x", "y"}
    assert abs(problem.solve(solver="CLARABEL") - 2.0) <= 1e-7  # |3| − t
    params["x"].value = np.array([1.0])  # re-solve at another point without rebuilding
    assert abs(problem.solve(solver="CLARABEL") - 0.25) <= 1e-7  # 1²/4


@pytest.mark.parametrize("g, y, message", [
    ("-abs(y)", "grid(-2, 2, 9)", "g(y) = -abs(y) is not convex: `-abs(y)` is concave (line 7)"),
    ("abs(y) + log(y)", "grid(0.5, 2, 4)",
     "g(y) = abs(y) + log(y) is not convex: `log(y)` is concave (line 7)"),
    ("exp(-abs(y))", "grid(-2, 2, 9)",
     "g(y) = exp(-abs(y)) is not convex: `-abs(y)` is concave (line 7)"),
    ("abs(y) - abs(y - 1)", "grid(-2, 2, 9)",
     "g(y) = abs(y) - abs(y - 1) is not convex: `abs(y) - abs(y - 1)` is neither convex nor "
     "concave by the composition rules (line 7)"),
    ("2*abs(y) + 3*(y - 1)^3", "grid(-2, 2, 9)",
     "g(y) = 2 * abs(y) + 3 * (y - 1)^3 is not convex: `(y - 1)^3` is neither convex nor concave "
     "where its base can be negative (use abs(...)^3 for a convex power) (line 7)"),
    ("y * y", "grid(-2, 2, 9)",
     "g(y) = y * y is not convex: `y * y` multiplies two expressions of y (write square(...) or "
     "^2) (line 7)"),
    ("sin(y)", "grid(-2, 2, 9)", "not supported by the convex view: function `sin` at line 7"),
])
def test_non_convex_or_unsupported_g_is_a_spec_error(g, y, message):
    model = spec_model(g, y=y)
    with pytest.raises(SpecError) as info:
        convex_view(model, np.array([0.5]), model.evaluate, workers=1)
    assert info.value.diagnostics[0].message == message
    assert info.value.line == 7 and info.value.file == "hl.hj"


def test_error_names_the_sub_expression_built_from_ir_nodes():
    """Without the front end: a hand-built IR, spans on every node; log inside a sum on line 3."""
    def span(col, width):
        return Span("g.hj", 3, col, 3, col + width)

    y = Name(span(30, 1), "y")
    g = Binary(span(16, 20), "+", Call(span(16, 9), "square", (y,)),
               Unary(span(28, 8), "-", Call(span(29, 7), "exp", (Binary(span(33, 3), "*",
                                                                        Num(None, 2.0), y),))))
    model = hjdsl.Model.from_atoms([[-1.0], [1.0]], [0.0, 0.0])
    from dataclasses import replace

    model = replace(model, initial=replace(model.initial, source="expr", expr=g))
    with pytest.raises(SpecError) as info:
        convex_view(model, np.array([0.5]), model.evaluate, workers=1)
    assert info.value.diagnostics[0].message == (
        "g(y) = square(y) + -exp(2 * y) is not convex: `-exp(2 * y)` is concave (line 3)")
    assert (info.value.line, info.value.column) == (3, 28)


def test_a_long_chain_lowers_and_explains_itself_without_recursion():
    # a sum of 3,000 terms is a tree 3,000 deep: lowering, the convexity search and the message
    # printer all walk it with explicit stacks
    terms = " + ".join(f"abs(y - {i % 7})" for i in range(3000))
    model = spec_model(g=terms, x="[0.5]")
    r = convex_view(model, np.array([0.0]), np.array([[0.5]]), audit=-1)
    # min_y Σ_i |y − (i mod 7)| + (0.5 − y)²/4, by brute force on a fine grid (the minimiser, 3,
    # lies on it)
    counts = np.bincount(np.arange(3000) % 7)
    ys = np.linspace(-1.0, 7.0, 80_001)
    brute = ((np.abs(ys[:, None] - np.arange(7)) * counts).sum(1) + (0.5 - ys) ** 2 / 4).min()
    assert abs(r.hopf_lax_value[0] - brute) <= 1e-6 * brute
    with pytest.raises(SpecError) as err:
        convex_view(spec_model(g="-abs(y) * 9000 + " + terms, x="[0.5]"), np.array([0.0]),
                    np.array([[0.5]]), audit=-1)
    message = err.value.diagnostics[0].message
    assert "is not convex: `-abs(y)` is concave (line 7)" in message
    assert len(message) < 400
