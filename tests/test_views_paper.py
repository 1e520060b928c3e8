"""design.md §6 reference numbers, from the specs in examples/paper/."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.model.ir import Model
from tests.conftest import EXAMPLES

PAPER = EXAMPLES / "paper"
FOUR_Y, FOUR_G = np.array([-1.5, -0.5, 0.5, 1.5])[:, None], [1.0, 0.3, 0.3, 1.0]
# What each spec declares, for building the same model while the parser is not there yet.
SPECS = {
    "four_atoms": dict(y=FOUR_Y, g=FOUR_G, eps=[1, 0.5, 0.2, 0.1, 0.05],
                       x=np.linspace(-2.5, 2.5, 1001)),
    "pde_residual": dict(y=FOUR_Y, g=FOUR_G, eps=[0.3], x=np.linspace(-2.5, 2.5, 1001)),
    "softplus_relu": dict(y=[[2.0], [0.0]], g=[-1.0, 0.0], eps=[1, 0.5, 0.1, 0.01],
                          x=np.linspace(-3, 3, 1000)),
}


def _parser_ready() -> bool:
    import hjdsl

    try:
        hjdsl.parse("model probe\ndim 1\n", name="<probe>")
    except NotImplementedError:
        return False
    except Exception:  # noqa: BLE001 - a SpecError means the parser runs
        return True
    return True


def paper_model(name: str) -> Model:
    """The spec examples/paper/NAME.hj, or the same model from its atoms until the parser lands."""
    import hjdsl

    if _parser_ready():
        return hjdsl.load(PAPER / f"{name}.hj")
    s = SPECS[name]
    return Model.from_atoms(s["y"], s["g"], t=1.0, eps=s["eps"], x=s["x"], name=name)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_specs_declare_these_models(name):
    if not _parser_ready():
        pytest.skip("the .hj parser is not available yet")
    m, s = paper_model(name), SPECS[name]
    np.testing.assert_array_equal(m.y, np.asarray(s["y"], dtype=float).reshape(-1, 1))
    np.testing.assert_array_equal(m.g, s["g"])
    np.testing.assert_array_equal(m.eps, s["eps"])
    np.testing.assert_allclose(m.evaluate[:, 0], s["x"], rtol=0, atol=1e-15)
    assert m.t == 1.0 and m.hamiltonian.kind == "quadratic"


def test_four_atom_identity():
    """max|u(from LSE) − u(Hopf–Cole)| over x ∈ [−2.5, 2.5] at ε = 1 … 0.05: ≤ 4.5e−16 in the paper.

    The paper's scripts use numpy, whose exp and log are glibc's; the reference number is
    reproduced with those formulas below. hjdsl's views run in XLA, whose vectorised float64
    exp and log differ from glibc's by up to 2 ulp and 1 ulp (docs/views.md, "Accuracy"); on
    this 1001-point grid that moves the worst point (ε = 1, values in [1, 2), ulp 2.2e−16) from
    2 to 2.5 ulp: 5.55e−16. We hold hjdsl to 3 ulp there and to 2 ulp at every other ε.
    """
    m = paper_model("four_atoms")
    ds = m.compare(audit=0, grid=False)
    np.testing.assert_array_equal(ds.eps.values, [1, 0.5, 0.2, 0.1, 0.05])
    assert ds.x.values.min() == -2.5 and ds.x.values.max() == 2.5
    ulp = np.spacing(1.0)
    u_from_lse = ds.quadratic_term.values - ds.network.values
    worst = np.abs(u_from_lse - ds.hopf_cole.values).max(axis=1)
    assert worst[0] <= 3 * ulp and np.all(worst[1:] <= 2 * ulp), worst
    assert np.abs(ds.identity_residual.values).max() <= 3 * ulp
    # the paper's own formulas (numpy, glibc exp/log) on the same grid: the reference number
    x, y, g = ds.x.values, m.y[:, 0], m.g
    W, b = y / 2, -g - y**2 / 4
    for eps in ds.eps.values:
        z = (x[:, None] * W + b) / eps
        f = eps * (z.max(1) + np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)))
        c = g + (x[:, None] - y) ** 2 / 4
        u = c.min(1) - eps * np.log(np.exp(-(c - c.min(1, keepdims=True)) / eps).sum(1))
        assert np.abs((x**2 / 4 - f) - u).max() <= 4.5e-16


def test_pde_residual_at_eps_0_3():
    """The analytic residual (moment formulas) ~3e−17; the autodiff one of order 1e−16."""
    m = paper_model("pde_residual")
    ds = m.compare(audit=0, grid=False)
    eps, t = 0.3, m.t
    x, y = ds.x.values, m.y[:, 0]
    pi = ds.attribution.sel(eps=eps).values
    mean_y = pi @ y
    u_x = (x - mean_y) / (2 * t)
    u_t = -(pi * (x[:, None] - y) ** 2).sum(axis=1) / (4 * t**2)
    lap = 1 / (2 * t) - (pi @ y**2 - mean_y**2) / (4 * t**2 * eps)
    analytic = u_t + u_x**2 - eps * lap + eps / (2 * t)
    assert np.abs(analytic).mean() <= 1e-16
    autodiff = np.abs(ds.pde_residual.sel(eps=eps).values)
    assert autodiff.max() <= 5e-16
    # the normalisation term matters: without it the residual is εd/(2t) = 0.15
    np.testing.assert_allclose(ds.pde_residual.sel(eps=eps).values - eps / (2 * t), -0.15, atol=1e-15)


def test_softplus_versus_relu():
    m = paper_model("softplus_relu")
    W, b = m.weights()
    np.testing.assert_array_equal(W.ravel(), [1.0, 0.0])
    np.testing.assert_array_equal(b, [0.0, 0.0])
    ds = m.compare(audit=0, grid=False)
    z = ds.x.values
    np.testing.assert_array_equal(ds.tropical.values, np.maximum(z, 0.0))  # ReLU
    err = np.abs(ds.network.values - ds.tropical.values).max(axis=1)
    np.testing.assert_allclose(err, [6.92e-1, 3.45e-1, 6.78e-2, 5.54e-3], rtol=6e-3)
    assert np.all(err <= ds.eps.values * np.log(2))
    softplus = ds.eps.values[:, None] * np.logaddexp(z / ds.eps.values[:, None], 0.0)
    # round-off relative to the logits' scale (|z| ≤ 3): a few ulp of 3
    np.testing.assert_allclose(ds.network.values, softplus, rtol=0, atol=4 * np.spacing(3.0))
