"""The tropical / Hopf–Lax view: max-plus, active atoms, norm Hamiltonians and unreachable points."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.model.ir import Model
from hjdsl.views.closed_form.hopf_cole import hopf_cole_view
from hjdsl.views.closed_form.tropical import tropical_view

DUAL = {"l1": np.inf, "l2": 2, "linf": 1}  # ‖·‖ whose ball is the reach of H = |p|_q


def test_four_atoms_tropical_values(four_atoms):
    out = tropical_view(four_atoms, four_atoms.evaluate)  # x = −2, 0, 0.7, 2
    np.testing.assert_allclose(out["f0"], [0.1375, -0.3625, -0.1875, 0.1375], atol=1e-15)
    np.testing.assert_allclose(out["u0"], [0.8625, 0.3625, 0.31, 0.8625], atol=1e-15)
    np.testing.assert_array_equal(out["active"], [1, 1, 2, 2])  # x = 0 ties: the first minimiser
    np.testing.assert_allclose(out["gap"], [0.2, 0.0, 0.35, 0.2], atol=1e-15)
    np.testing.assert_array_equal(out["reachable"], 4)


@pytest.mark.parametrize("kind", ["l1", "l2", "linf"])
@pytest.mark.parametrize("scale_t", [(1.0, 1.0), (0.5, 2.0)])
def test_norm_hopf_lax_matches_brute_force(kind, scale_t):
    rng = np.random.default_rng(11)
    y, g = rng.uniform(-2, 2, size=(9, 2)), rng.uniform(-1, 1, size=9)
    x = rng.uniform(-4, 4, size=(200, 2))
    a, t = scale_t
    m = Model.from_atoms(y, g, t=t, x=x, hamiltonian=kind)
    m = _with_scale(m, a)
    out = tropical_view(m, x)
    dist = np.linalg.norm(x[:, None, :] - y[None, :, :], ord=DUAL[kind], axis=-1)
    reach = dist <= a * t
    expected = np.where(reach, g, np.inf).min(axis=1)
    np.testing.assert_array_equal(out["u0"], expected)
    assert np.isinf(expected).any() and np.isfinite(expected).any()  # the case is non-trivial
    assert not np.isnan(out["u0"]).any()
    np.testing.assert_array_equal(out["reachable"], reach.sum(axis=1))
    np.testing.assert_array_equal(out["active"][~reach.any(axis=1)], -1)
    assert "f0" not in out  # no LSE layer for a norm Hamiltonian


def _with_scale(m, a: float):
    import dataclasses

    return dataclasses.replace(m, hamiltonian=dataclasses.replace(m.hamiltonian, scale=a))


def test_norm_entropic_analogue_over_reachable_atoms():
    y = np.array([[0.0], [1.0], [5.0]])
    g = np.array([0.2, 0.0, -3.0])
    x = np.array([[0.5], [0.0], [10.0]])
    m = Model.from_atoms(y, g, x=x, hamiltonian="l2")
    eps = np.array([0.5, 0.0])
    out = hopf_cole_view(x, y, g, 1.0, m.hamiltonian, eps)
    # x = 0.5 reaches atoms 0, 1; x = 0 reaches atoms 0, 1 (|0 − 1| = 1 ≤ t); x = 10 reaches none
    soft = -0.5 * np.log(np.exp(-0.2 / 0.5) + np.exp(0.0))
    np.testing.assert_allclose(out["u"][0, :2], soft, rtol=1e-15)
    np.testing.assert_array_equal(out["u"][:, 2], np.inf)
    np.testing.assert_array_equal(out["u"][1, :2], 0.0)
    pi = out["pi"][0, 0]
    np.testing.assert_allclose(pi, np.array([np.exp(-0.4), 1.0, 0.0]) / (np.exp(-0.4) + 1), rtol=1e-14)
    assert np.isnan(out["pi"][0, 2]).all() and np.isnan(out["entropy"][:, 2]).all()
    assert not np.isnan(out["u"]).any()
