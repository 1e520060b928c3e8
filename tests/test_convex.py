"""The convex view over the simplex: values, weights, duality gaps, audits and failures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hjdsl.errors import UsageError
from hjdsl.model.ir import Model
from hjdsl.views.convex import convex_view, to_cvxpy

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def closed_form(costs: np.ndarray, eps: float):
    """u_ε = −ε log Σ exp(−c_j/ε) with the min-shift, and π = softmax(−c/ε); per row of costs."""
    m = costs.min(axis=-1, keepdims=True)
    w = np.exp(-(costs - m) / eps)
    s = w.sum(axis=-1, keepdims=True)
    return (m - eps * np.log(s))[..., 0], w / s


@st.composite
def quadratic_cases(draw):
    d = draw(st.integers(1, 5))
    n = draw(st.integers(1, 20))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y, g = rng.uniform(-2, 2, (n, d)), rng.uniform(-1, 1, n)
    x = rng.uniform(-2.5, 2.5, (3, d))
    t = draw(st.floats(0.3, 2.0))
    A = None
    if draw(st.booleans()):  # anisotropic: a random SPD matrix
        B = rng.normal(size=(d, d))
        A = B @ B.T + 0.5 * np.eye(d)
    eps = draw(st.lists(st.floats(0.01, 10.0), min_size=1, max_size=3))
    return Model.from_atoms(y, g, t=t, A=A, x=x), np.array(eps), x


@SETTINGS
@given(quadratic_cases())
def test_entropic_program_matches_the_closed_form(case):
    model, eps, x = case
    ainv = np.eye(model.dim) if model.hamiltonian.matrix is None else np.linalg.inv(
        model.hamiltonian.matrix)
    diff = x[:, None, :] - model.y[None]
    costs = model.g + np.einsum("nid,de,nie->ni", diff, ainv, diff) / (4 * model.t)
    result = convex_view(model, np.append(eps, 0.0), x, workers=1)
    assert result.exact and result.audited.all()
    # `optimal_inaccurate` is only ever kept with a certified duality gap (checked below)
    assert np.isin(result.status, ["optimal", "optimal_inaccurate"]).all(), result.status
    for i, e in enumerate(eps):
        u, pi = closed_form(costs, e)
        np.testing.assert_allclose(result.value[i], u, rtol=0, atol=1e-6)
        np.testing.assert_allclose(result.pi[i], pi, rtol=0, atol=1e-5,
                                   err_msg=f"{result.status[i]} {result.duality_gap[i]}")
    # ε = 0: the LP value is min_j c_j, attained by its π
    np.testing.assert_allclose(result.value[-1], costs.min(axis=1), rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.einsum("nj,nj->n", result.pi[-1], costs), costs.min(axis=1),
                               rtol=0, atol=1e-8)
    # the reported gap P(π̂) − D(λ) brackets u: non-negative up to round-off and small
    assert np.all(result.duality_gap > -1e-9) and np.all(result.duality_gap < 1e-6)
    assert result.solver.tolist() == ["CLARABEL"] * eps.size + ["HIGHS"]


def test_reference_values_of_the_four_atoms(four_atoms):
    """theory.md Appendix A: u at x = −2, 0, 0.7, 2 for ε = 1, 0.1, 0 and π at (0.7, 0.1)."""
    x = np.array([[-2.0], [0.0], [0.7], [2.0]])
    result = convex_view(four_atoms, np.array([1.0, 0.1, 0.0]), x, workers=1)
    expected = [[0.061677, -0.593930, -0.514908, 0.061677],
                [0.849803, 0.293185, 0.307005, 0.849803],
                [0.862500, 0.362500, 0.310000, 0.862500]]
    np.testing.assert_allclose(result.value, expected, atol=1e-6)
    np.testing.assert_allclose(result.pi[1, 2], [0.0, 0.029306, 0.970496, 0.000197], atol=1e-5)


DUAL = {"l1": lambda v: np.abs(v).max(-1), "l2": lambda v: np.sqrt((v**2).sum(-1)),
        "linf": lambda v: np.abs(v).sum(-1)}


@SETTINGS
@given(st.sampled_from(["l1", "l2", "linf"]), st.integers(1, 3), st.integers(0, 2**32 - 1),
       st.floats(0.5, 2.0), st.floats(0.05, 5.0))
def test_norm_hamiltonian_counts_only_reachable_atoms(kind, d, seed, scale, eps):
    rng = np.random.default_rng(seed)
    y, g, x = rng.uniform(-2, 2, (12, d)), rng.uniform(-1, 1, 12), rng.uniform(-2, 2, (4, d))
    model = Model.from_atoms(y, g, hamiltonian=kind, t=0.8, x=x)
    model = dataclasses.replace(model, hamiltonian=dataclasses.replace(model.hamiltonian,
                                                                       scale=scale))
    reach = DUAL[kind](x[:, None, :] - y[None]) <= scale * 0.8
    result = convex_view(model, np.array([eps, 0.0]), x, workers=1)
    assert not result.exact and "structural" in result.note
    for p in range(x.shape[0]):
        if not reach[p].any():
            assert result.value[:, p].tolist() == [np.inf, np.inf]
            assert result.status[:, p].tolist() == ["infeasible", "infeasible"]
            continue
        u, pi = closed_form(g[reach[p]], eps)
        assert abs(result.value[0, p] - u) <= 1e-6
        np.testing.assert_allclose(result.pi[0, p, reach[p]], pi, atol=1e-5)
        assert np.all(np.abs(result.pi[:, p, ~reach[p]]) <= 1e-8)
        assert abs(result.value[1, p] - g[reach[p]].min()) <= 1e-9  # exact Hopf–Lax at ε = 0


def test_norm_hamiltonian_at_eps_zero_only_is_exact():
    model = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5], hamiltonian="l2")
    result = convex_view(model, np.array([0.0]), np.array([[-0.2], [0.5], [3.0]]), workers=1)
    assert result.exact
    # each of x = −0.2, 0.5 reaches one atom; x = 3 reaches neither: u_0 = +inf, not NaN
    assert result.value.tolist() == [[0.0, 0.5, np.inf]]


def test_far_points_and_tiny_eps_stay_finite():
    model = Model.from_atoms([[-1.0, 0.0], [1.0, 0.5], [0.0, 2.0]], [0.3, 0.0, 1.0])
    x = np.array([[1e6, -1e6], [0.1, 0.2]])
    costs = model.g + ((x[:, None, :] - model.y[None]) ** 2).sum(-1) / 4
    result = convex_view(model, np.array([1e-12, 1.0]), x, workers=1)
    assert np.isfinite(result.value).all()
    for i, e in enumerate([1e-12, 1.0]):
        u, pi = closed_form(costs, e)
        np.testing.assert_allclose(result.value[i], u, rtol=1e-12, atol=1e-6)
        np.testing.assert_allclose(result.pi[i], pi, atol=1e-5)


@pytest.mark.parametrize("audit, expected", [
    (None, 25), (0, 0), (-1, 100), (1000, 100), (7, 7),
])
def test_audit_selects_evenly_spaced_points(audit, expected):
    model = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5])
    x = np.linspace(-2, 2, 100)[:, None]
    result = convex_view(model, np.array([0.5, 0.0]), x, audit=audit, workers=1)
    chosen = np.flatnonzero(result.audited)
    assert chosen.size == expected
    if expected:
        assert chosen[0] == 0 and chosen[-1] == 99
        assert np.isfinite(result.value[:, chosen]).all()
        assert result.solver.tolist() == ["CLARABEL", "HIGHS"]
    else:
        assert result.solver.tolist() == ["", ""]
    skipped = ~result.audited
    assert np.isnan(result.value[:, skipped]).all() and np.isnan(result.pi[:, skipped]).all()
    assert (result.status[:, skipped] == "").all()


def test_negative_audit_is_a_usage_error():
    model = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5])
    with pytest.raises(UsageError, match="audit must be a count"):
        convex_view(model, np.array([0.5]), np.array([[0.0]]), audit=-3)


def test_an_uncertified_answer_is_kept_and_flagged():
    model = Model.from_atoms([[-1.0], [0.0], [1.0]], [0.0, 0.2, 0.1])
    crippled = {"CLARABEL": {"max_iter": 1}, "SCS": {"max_iters": 1}}
    result = convex_view(model, np.array([0.5]), np.array([[0.3], [0.9]]), workers=1,
                         solver_options=crippled)
    for status in result.status[0]:
        assert status.startswith("inaccurate: SCS optimal_inaccurate, duality gap "), status
        assert status.endswith("(tried CLARABEL user_limit; CLARABEL user_limit; "
                               "CLARABEL user_limit; SCS optimal_inaccurate)")
    assert np.isfinite(result.value).all() and np.all(result.duality_gap > 1e-7)
    assert result.solved_by.tolist() == [["SCS"] * 2]


def test_a_failed_solve_is_reported_not_dropped():
    model = Model.from_atoms([[-1.0], [0.0], [1.0]], [0.0, 0.2, 0.1])
    crippled = {"CLARABEL": {"max_iter": 1}, "SCS": {"max_iters": 1, "eps_abs": -1.0}}
    result = convex_view(model, np.array([0.5, 0.0]), np.array([[0.3], [0.9]]), workers=1,
                         solver_options=crippled)
    assert result.audited.all()
    for status in result.status[0]:
        assert status == ("failed: CLARABEL user_limit; CLARABEL user_limit; CLARABEL user_limit; "
                          "SCS solver_error")
    assert np.isnan(result.value[0]).all() and np.isnan(result.pi[0]).all()
    assert np.isnan(result.duality_gap[0]).all()
    assert result.solver[0] == "CLARABEL+SCS"
    assert result.solved_by.tolist() == [["CLARABEL+SCS"] * 2, ["HIGHS"] * 2]
    # the LP at ε = 0 was unaffected and is still reported
    # c(0.3) = (0.4225, 0.2225, 0.2225), c(0.9) = (0.9025, 0.4025, 0.1025)
    np.testing.assert_allclose(result.value[1], [0.2225, 0.1025], rtol=0, atol=1e-12)
    assert result.status[1].tolist() == ["optimal", "optimal"]


def test_scs_fallback_when_clarabel_fails():
    model = Model.from_atoms([[-1.0], [0.0], [1.0]], [0.0, 0.2, 0.1])
    x = np.array([[0.3]])
    result = convex_view(model, np.array([0.5]), x, workers=1,
                         solver_options={"CLARABEL": {"max_iter": 1}})
    costs = model.g + (x - model.y[:, 0]) ** 2 / 4
    assert result.solver.tolist() == ["SCS"] and result.status[0, 0] == "optimal"
    assert result.solved_by.tolist() == [["SCS"]]
    assert abs(result.value[0, 0] - closed_form(costs, 0.5)[0][0]) <= 1e-6


def test_to_cvxpy_is_dpp_and_reusable(four_atoms):
    problem, params = four_atoms.to_cvxpy(x=[0.7], eps=1.0)
    assert problem.is_dcp(dpp=True) and set(params) == {"costs", "eps", "pi"}
    assert abs(problem.solve(solver="CLARABEL") - (-0.514908)) <= 1e-6
    params["eps"].value = 0.1  # re-solve at another ε without rebuilding
    assert abs(problem.solve(solver="CLARABEL") - 0.307005) <= 1e-6
    np.testing.assert_allclose(params["pi"].value, [0.0, 0.029306, 0.970496, 0.000197], atol=1e-5)


def test_to_cvxpy_for_a_norm_hamiltonian_has_a_reach_parameter():
    model = Model.from_atoms([[-0.5], [1.0], [3.0]], [0.0, 0.5, -2.0], hamiltonian="l1")
    problem, params = to_cvxpy(model, x=[0.2], eps=0.5)
    assert params["reach"].value.tolist() == [1.0, 1.0, 0.0]
    u, _ = closed_form(np.array([0.0, 0.5]), 0.5)
    assert abs(problem.solve(solver="CLARABEL") - u[()]) <= 1e-6


def test_usage_errors():
    model = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5])
    with pytest.raises(UsageError, match="finite ε ≥ 0"):
        convex_view(model, np.array([-0.1]), np.array([[0.0]]))
    with pytest.raises(UsageError, match="needs initial data given as g"):
        to_cvxpy(model, program="hopf_lax")
