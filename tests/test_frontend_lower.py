"""Expression lowering: numpy results against hand-written numpy, jax against numpy, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from hjdsl.errors import SpecError
from hjdsl.frontend.driver import parse_expression
from hjdsl.model.lower import evaluate, truth_functions

Y1 = np.array([-2.0, -0.5, 0.0, 0.3, 1.7])  # 1-D points: (n,)
Y2 = np.array([[-1.0, 2.0], [0.5, -0.25], [0.0, 0.0], [3.0, 1.0]])  # 2-D points: (n, 2)
A = np.array([[2.0, 0.5], [0.5, 1.0]])
ENV = {"t": 0.5, "eps": 0.1, "A": A, "v": np.array([1.0, -2.0, 3.0])}

CASES_1D = [
    ("abs(y)", lambda y: np.abs(y)),
    ("-y^2 + 3*y - 1/4", lambda y: -(y ** 2) + 3 * y - 0.25),
    ("2^-1 * y", lambda y: 0.5 * y),
    ("-2^2 + y", lambda y: -4 + y),
    ("sqrt(1 + y^2) / t", lambda y: np.sqrt(1 + y ** 2) / 0.5),
    ("exp(-y) + log(1 + abs(y))", lambda y: np.exp(-y) + np.log1p(np.abs(y))),
    ("sin(pi*y) + cos(y) * tanh(y)", lambda y: np.sin(np.pi * y) + np.cos(y) * np.tanh(y)),
    ("square(y - 1)", lambda y: (y - 1) ** 2),
    ("max(y, 0) - min(y, 0, -1)", lambda y: np.maximum(y, 0) - np.minimum(np.minimum(y, 0), -1)),
    ("norm(y) + norm(y, 1) + y[0]", lambda y: 2 * np.abs(y) + y),
    ("sum(v) * y + eps", lambda y: 2 * y + 0.1),
    ("dot([y, 1], [2, 3])", lambda y: 2 * y + 3),
    ("max([y, -y])", lambda y: np.abs(y)),
]

CASES_2D = [
    ("norm(y)", lambda y: np.linalg.norm(y, axis=1)),
    ("norm(y, 1)", lambda y: np.abs(y).sum(axis=1)),
    ("norm(y, inf)", lambda y: np.abs(y).max(axis=1)),
    ("sum(square(y))", lambda y: (y ** 2).sum(axis=1)),
    ("y[0] * y[1] - y[1]", lambda y: y[:, 0] * y[:, 1] - y[:, 1]),
    ("dot(y, [1, 10])", lambda y: y @ np.array([1.0, 10.0])),
    ("dot(y, [[2, 0.5], [0.5, 1]][0])", lambda y: y @ A[0]),
    ("max(y) + min(y)", lambda y: y.max(axis=1) + y.min(axis=1)),
    ("norm(y - [1, 1]) ^ 2 / (4*t)", lambda y: ((y - 1) ** 2).sum(axis=1) / 2.0),
    ("sum(y * A[1])", lambda y: y @ A[1]),
    ("max(abs(y[0]), abs(y[1]))", lambda y: np.abs(y).max(axis=1)),
]


@pytest.mark.parametrize("text,expected", CASES_1D, ids=[c[0] for c in CASES_1D])
def test_numpy_1d(text, expected):
    got = evaluate(parse_expression(text), {**ENV, "y": Y1}, pointwise={"y"})
    np.testing.assert_allclose(got, expected(Y1), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("text,expected", CASES_2D, ids=[c[0] for c in CASES_2D])
def test_numpy_2d(text, expected):
    got = evaluate(parse_expression(text), {**ENV, "y": Y2}, pointwise={"y"})
    assert got.shape == (len(Y2),)
    np.testing.assert_allclose(got, expected(Y2), rtol=1e-14, atol=1e-14)


def test_constants_and_matrices():
    assert evaluate(parse_expression("[[1, 2], [3, 4]]"), {}).tolist() == [[1, 2], [3, 4]]
    assert evaluate(parse_expression("sum([1, 2, 3])"), {}) == 6
    np.testing.assert_allclose(evaluate(parse_expression("A[1]"), ENV), A[1])
    # a constant vector inside a pointwise expression is still reduced over its own axis
    got = evaluate(parse_expression("y + sum([1, 2, 3])"), {"y": Y1}, pointwise={"y"})
    np.testing.assert_allclose(got, Y1 + 6)


@pytest.mark.parametrize("text", [t for t, _ in CASES_1D])
def test_jax_matches_numpy_1d(text):
    from hjdsl.jaxsetup import jax_x64

    jax_x64()
    import jax.numpy as jnp

    expr = parse_expression(text)
    want = evaluate(expr, {**ENV, "y": Y1}, pointwise={"y"})
    got = evaluate(expr, {**ENV, "y": jnp.asarray(Y1)}, xp=jnp, pointwise={"y"})
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("text", [t for t, _ in CASES_2D])
def test_jax_matches_numpy_2d(text):
    from hjdsl.jaxsetup import jax_x64

    jax_x64()
    import jax.numpy as jnp

    expr = parse_expression(text)
    want = evaluate(expr, {**ENV, "y": Y2}, pointwise={"y"})
    got = evaluate(expr, {**ENV, "y": jnp.asarray(Y2)}, xp=jnp, pointwise={"y"})
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("text,message", [
    ("abs(q)", "unknown name `q`"),
    ("softmax(y)", "unknown function `softmax`"),
    ("abs(y, y)", "abs() takes 1 argument, got 2"),
    ("y[3]", "index 3 of a scalar"),
    ("[y, [1, 2]]", "different shapes"),
    ("norm(y, 3)", "the order of norm() must be 1, 2 or inf"),
])
def test_errors_point_at_the_failing_subexpression(text, message):
    expr = parse_expression(text)
    with pytest.raises(SpecError) as info:
        evaluate(expr, {"y": Y1}, pointwise={"y"})
    diag = info.value.diagnostics[0]
    assert message in diag.message
    assert diag.span is not None and diag.span.line == 1


def test_truth_functions_match_direct_formulas():
    rng = np.random.default_rng(0)
    y, g = rng.normal(size=(6, 2)), rng.normal(size=6)
    x = rng.normal(size=(9, 2))
    t = 0.7
    fns = truth_functions(y, g, t, np.linalg.inv(A))
    ainv = np.linalg.inv(A)
    diff = x[:, None, :] - y[None, :, :]
    cost = g + np.einsum("njd,de,nje->nj", diff, ainv, diff) / (4 * t)
    W, b = y @ ainv / (2 * t), -g - np.einsum("jd,de,je->j", y, ainv, y) / (4 * t)
    z = x @ W.T + b
    np.testing.assert_allclose(fns["hopf_lax"](np, x), cost.min(axis=1), rtol=1e-13)
    np.testing.assert_allclose(fns["tropical"](np, x), z.max(axis=1), rtol=1e-13, atol=1e-13)
    for eps in (1.0, 0.05, 1e-3):
        np.testing.assert_allclose(fns["hopf_cole"](np, x, eps),
                                   -eps * logsumexp(-cost / eps, axis=1), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fns["network"](np, x, eps),
                                   eps * logsumexp(z / eps, axis=1), rtol=1e-12, atol=1e-12)
    # the exact identity f + u = xᵀA⁻¹x/(4t) at every ε, including ε = 0
    q = np.einsum("nd,de,ne->n", x, ainv, x) / (4 * t)
    for eps in (0.0, 0.3):
        np.testing.assert_allclose(fns["network"](np, x, eps) + fns["hopf_cole"](np, x, eps), q,
                                   atol=1e-12)
    # extreme ε: the max-shift keeps the values finite
    assert np.all(np.isfinite(fns["hopf_cole"](np, x * 100, 1e-6)))


def test_evaluate_initial_at_other_atoms():
    import hjdsl
    from hjdsl.model.lower import evaluate_initial

    m = hjdsl.parse("model m\ndim 2\nlet c = [1, 2]\ntime t = 0.5\nhamiltonian H(p) = |p|^2\n"
                    "particles y = grid(-1, 1, 3)\ninitial g(y) = dot(y, c) / t + eps\n"
                    "viscosity eps = 0.25\n")
    y = np.array([[0.5, -2.0], [3.0, 1.0]])
    np.testing.assert_allclose(evaluate_initial(m, y), (y @ [1.0, 2.0]) / 0.5 + 0.25)
    np.testing.assert_allclose(evaluate_initial(m, m.y), m.g)
    constant = hjdsl.parse("model m\ndim 1\nhamiltonian H(p) = |p|^2\nparticles y = [0, 1]\n"
                           "initial g(y) = 3\n")
    assert evaluate_initial(constant, np.zeros((4, 1))).tolist() == [3.0] * 4
    literal = hjdsl.parse("model m\ndim 1\nhamiltonian H(p) = |p|^2\nparticles y = [0, 1]\n"
                          "initial g = [1, 2]\n")
    with pytest.raises(ValueError, match="not an expression of y"):
        evaluate_initial(literal, np.zeros((2, 1)))
