"""The one reach test of norm Hamiltonians: every view decides boundary atoms the same way."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hjdsl.cli import main
from hjdsl.model.ir import Model
from hjdsl.views.convex import atom_costs, convex_view
from hjdsl.views.closed_form.hopf_cole import costs
from hjdsl.hamiltonians.reach import reached
from hjdsl.views.closed_form.tropical import tropical_view

REPRO = """model repro_reach "an atom exactly at the reach a*t = 1 of x = 2.2"
dim 1
time t = 1
viscosity eps = 0
hamiltonian H(p) = |p|_2
particles y = [1.2, 2.0]
initial g = [0, 5]
evaluate x = [2.2]
"""


def _model(y, g, x, kind, scale, t):
    model = Model.from_atoms(y, g, t=t, eps=[0.0], x=x, hamiltonian=kind)
    return dataclasses.replace(model, hamiltonian=dataclasses.replace(model.hamiltonian,
                                                                      scale=float(scale)))


@st.composite
def boundary_cases(draw):
    """Atoms at distance a·t + k ulp(a·t) (k in −3..3) of x along a random axis, and one far out."""
    kind = draw(st.sampled_from(["l1", "l2", "linf"]))
    d = draw(st.integers(1, 3))
    scale = draw(st.sampled_from([0.5, 1.0, 0.3, 2.0, 1e3, 1e-3]))
    t = draw(st.sampled_from([1.0, 0.7, 0.1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x = rng.uniform(-3, 3, (1, d))
    radius = scale * t
    ks = np.arange(-3, 4)
    axis = rng.integers(0, d, ks.size)
    sign = rng.choice([-1.0, 1.0], ks.size)
    y = np.repeat(x, ks.size, axis=0)
    y[np.arange(ks.size), axis] += sign * (radius + ks * np.spacing(radius))
    far = x + radius * (1 + 1e-9) * np.eye(d)[0]  # clearly beyond every rounding allowance
    y = np.vstack([y, far])
    return _model(y, rng.uniform(-1, 1, y.shape[0]), x, kind, scale, t), ks


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(boundary_cases())
def test_every_view_decides_boundary_atoms_alike(case):
    model, ks = case
    x = np.asarray(model.evaluate)
    radius = model.hamiltonian.scale * model.t
    # the closed-form Hopf–Cole costs, the tropical view and the convex view's costs
    hc_reached = np.isfinite(np.asarray(costs(x, model.y, model.g, model.t, model.hamiltonian)))[0]
    convex_reached = atom_costs(model, x)[1][0]
    tropical_count = int(tropical_view(model, x)["reachable"][0])
    np.testing.assert_array_equal(hc_reached, convex_reached)
    assert tropical_count == int(convex_reached.sum())
    np.testing.assert_array_equal(reached(x, model.y, model.hamiltonian.kind, radius)[0],
                                  convex_reached)
    # within a few ulp of a·t is on the boundary (reached); 1e-9 relative beyond is not
    assert convex_reached[:-1][ks <= 2].all() and not convex_reached[-1]


def test_the_slack_is_a_few_ulp_of_the_magnitudes():
    """|x| = 1e6: an atom 2e-10 out (ulp-sized there) counts; at |x| = 1, 1e-12 out does not."""
    assert reached(np.array([[1e6]]), np.array([[1e6 + 1.0 + 2e-10]]), "l2", 1.0)[0, 0]
    assert not reached(np.array([[1.0]]), np.array([[2.0 + 1e-12]]), "l2", 1.0)[0, 0]
    assert not reached(np.array([[1e6]]), np.array([[1e6 + 1.0 + 1e-8]]), "l2", 1.0)[0, 0]


def test_repro_reach_compare_passes_and_convex_equals_the_closed_form(tmp_path, capsys):
    spec = tmp_path / "repro_reach.hj"
    spec.write_text(REPRO)
    code = main(["compare", str(spec)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all exact relations hold" in out
    import hjdsl

    model = hjdsl.load(str(spec))
    result = convex_view(model, np.array([0.0]), model.evaluate, workers=1)
    # closed form: both atoms reach x = 2.2 (distances 1 and 0.2), so u_0 = min(0, 5) = 0
    assert result.status[0, 0] == "optimal"
    assert abs(result.value[0, 0] - 0.0) <= 1e-9

