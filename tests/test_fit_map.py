"""MAP fits: exact recovery of known atoms, the paper's recovery experiment, result contents."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import logsumexp

import hjdsl
from hjdsl.errors import SpecError, UsageError
from hjdsl.model.ir import Observation

KNOWN = """
model known "four known atoms, g learned"
dim 1
time t = 1
viscosity eps = 0.3
hamiltonian H(p) = |p|^2
particles y = [-1.5, -0.5, 0.5, 1.5]
initial g ~ normal(0, 10)
data synthetic seed = 0 {{
  x = grid(-2.5, 2.5, 60)
  truth y = [-1.5, -0.5, 0.5, 1.5]
  truth g(y) = 0.3 + 0.35 * (y^2 - 0.25)
  value = {value}
  noise = 0
}}
observe {quantity} ~ {likelihood}
evaluate x = grid(-2.5, 2.5, 11)
"""
G_TRUE = np.array([1.0, 0.3, 0.3, 1.0])


def known(quantity="f", likelihood="normal(sigma = 0.001)"):
    value = "network(x, 0.3)" if quantity == "f" else "hopf_cole(x, 0.3)"
    return hjdsl.parse(KNOWN.format(value=value, quantity=quantity, likelihood=likelihood))


def lse_numpy(x, y, g, eps, t=1.0):
    """f_ε written independently of hjdsl: ε·logsumexp((x·y/(2t) − g − y²/(4t))/ε)."""
    z = (x[:, None, 0] * y[None, :, 0]) / (2 * t) - g[None, :] - y[None, :, 0] ** 2 / (4 * t)
    return eps * logsumexp(z / eps, axis=1)


@pytest.mark.parametrize("quantity, likelihood", [
    ("f", "normal(sigma = 0.001)"),
    ("u", "normal(sigma = 0.001)"),
    ("f", "student_t(nu = 5, sigma = 0.001)"),
])
def test_map_recovers_known_initial_data(quantity, likelihood):
    ds = known(quantity, likelihood).solve(method="map", steps=300, restarts=1, seed=0)
    np.testing.assert_allclose(ds["g_hat"].values, G_TRUE, atol=1e-6)
    assert float(ds["fit_mse"]) < 1e-12
    assert float(ds["deviation"]) < 1e-6


def test_predictions_equal_an_independent_numpy_network():
    ds = known().solve(method="map", steps=200, restarts=2, seed=3)
    y, g = ds["y_hat"].values, ds["g_hat"].values
    np.testing.assert_allclose(ds["prediction"].values, lse_numpy(ds["x"].values[:, None], y, g, 0.3),
                               rtol=0, atol=1e-13)
    fitted = lse_numpy(ds["x_data"].values, y, g, 0.3)
    assert float(ds["fit_mse"]) == pytest.approx(np.mean((fitted - ds["obs"].values) ** 2), rel=1e-9)
    # influence = mean Gibbs weight of each atom over the data
    x = ds["x_data"].values[:, 0]
    z = x[:, None] * y[None, :, 0] / 2 - g - y[:, 0] ** 2 / 4
    pi = np.exp(z / 0.3 - logsumexp(z / 0.3, axis=1, keepdims=True))
    np.testing.assert_allclose(ds["influence"].values, pi.mean(axis=0), atol=1e-13)


def test_result_layout_and_provenance():
    ds = known().solve(method="map", steps=50, restarts=2, seed=0)
    assert ds["y_hat"].dims == ("particle", "dim") and ds["g_hat"].dims == ("particle",)
    assert ds["prediction"].dims == ("point",) and ds["x"].dims == ("point",)  # d = 1: an indexed coordinate
    assert ds["loss"].dims == ("step",) and ds.sizes["step"] == 50
    for dim in ds.dims:
        assert dim in ds.coords
    assert ds.attrs["method"] == "map" and ds.attrs["eps"] == 0.3
    assert len(ds.attrs["spec_sha256"]) == 64 and ds.attrs["hjdsl_version"]
    assert len(ds.attrs["restart_losses"]) == 2


FREE = """
model free "free atoms"
dim 1
viscosity eps = 0.2
hamiltonian H(p) = |p|^2
particles y ~ normal(0, 2) [6]
initial g ~ normal(0, 2)
data synthetic n = 80 seed = 4 {
  x ~ uniform(-2, 2)
  value = abs(x)
  noise = 0.05
}
observe f ~ normal(sigma = 0.05)
split test = 0.25 seed = 2
evaluate x = grid(-2, 2, 9)
"""


def test_map_is_reproducible_and_seeded():
    model = hjdsl.parse(FREE)
    a = model.solve(method="map", steps=200, restarts=2, seed=1, polish=False)
    b = model.solve(method="map", steps=200, restarts=2, seed=1, polish=False)
    c = model.solve(method="map", steps=200, restarts=2, seed=2, polish=False)
    np.testing.assert_array_equal(a["y_hat"].values, b["y_hat"].values)
    np.testing.assert_array_equal(a["loss"].values, b["loss"].values)
    assert not np.array_equal(a["loss"].values, c["loss"].values)


def test_split_reports_heldout_error_on_the_held_out_points():
    ds = hjdsl.parse(FREE).solve(method="map", steps=300, restarts=1, seed=0)
    train = ds["is_train"].values.astype(bool)
    assert train.sum() == 60 and (~train).sum() == 20
    pred = lse_numpy(ds["x_data"].values, ds["y_hat"].values, ds["g_hat"].values, 0.2)
    obs = ds["obs"].values
    assert float(ds["heldout_mse"]) == pytest.approx(np.mean((pred - obs)[~train] ** 2), rel=1e-9)
    assert float(ds["fit_mse"]) == pytest.approx(np.mean((pred - obs)[train] ** 2), rel=1e-9)


# The paper's reference (Adam then L-BFGS, best of 8 seeds), theory.md §3.6 / issue 4.
REFERENCE = {0.5: (0.76, 4e-4), 0.1: (0.085, 1e-4), 0.04: (0.027, 1.6e-5)}


def test_paper_recovery_experiment():
    model = hjdsl.load("examples/paper/recovery.hj")
    devs, mses = [], []
    for eps, (ref_dev, ref_mse) in REFERENCE.items():
        ds = model.solve(method="map", eps=eps, steps=3000, lr=0.01, restarts=3, seed=0)
        assert ds.attrs["eps"] == eps and ds.sizes["particle"] == 10
        dev, mse = float(ds["deviation"]), float(ds["fit_mse"])
        assert ref_dev / 3 < dev < 3 * ref_dev, (eps, dev)
        assert mse < 3 * ref_mse, (eps, mse)
        devs.append(dev)
        mses.append(mse)
    assert devs[0] > devs[1] > devs[2] and mses[0] > mses[1] > mses[2]


# The F002 text, written out: the method, H, and the Hamiltonian's own reason for that method.
PROBABILISTIC_MESSAGE = ("--method {m} cannot fit H(p) = {h}: the LSE model at ε > 0 is only a "
                         "structural analogue of the viscous solution for this H, so map, svi and "
                         "nuts would fit the wrong model")
CONVEX_MESSAGE = ("--method convex cannot fit H(p) = {h}: the convex method's programs are the "
                  "quadratic LSE layer's (max-affine at ε = 0, Hopf–Cole at ε > 0) and need a "
                  "quadratic H, while here the Hopf–Lax value is a minimum of g_j, piecewise "
                  "constant in x; --method hopf_lax fits this H at ε = 0 with fixed atoms")
NORM_HINT = "methods that fit H(p) = {h}: --method hopf_lax (eps = 0, fixed atoms, g learned)"


@pytest.mark.parametrize("kind, text", [("l1", "|p|_1"), ("l2", "|p|_2"), ("linf", "|p|_inf")])
def test_norm_hamiltonians_get_the_reason_and_one_hint_from_every_method(kind, text):
    """Every refusing method (and the generated numpyro code, which is map) says why, in the
    Hamiltonian's words, and all give the same hint, which names only the method that fits it:
    and that method does fit the model once it observes u."""
    from hjdsl.codegen.numpyro_target import generate

    norm = hjdsl.Model.from_atoms([[0.0]], [0.0], hamiltonian=kind)
    model = dataclasses.replace(known(), hamiltonian=norm.hamiltonian)
    hints = set()
    for method in ("map", "svi", "nuts", "convex", "codegen"):
        with pytest.raises(UsageError) as info:
            generate(model) if method == "codegen" else model.solve(method=method, steps=10)
        diag = info.value.diagnostics[0]
        want = (CONVEX_MESSAGE.format(h=text) if method == "convex" else
                PROBABILISTIC_MESSAGE.format(m="map" if method == "codegen" else method, h=text))
        assert (diag.message, diag.code) == (want, "F002")
        hints.add(diag.hint)
    assert hints == {NORM_HINT.format(h=text)}
    observe_u = dataclasses.replace(model, observe=Observation("u", "normal", 0.01))
    assert observe_u.solve(method="hopf_lax").attrs["method"] == "hopf_lax"


def test_nothing_learned_and_bad_scale_and_bad_options():
    given = hjdsl.parse(KNOWN.format(value="network(x, 0.3)", quantity="f",
                                     likelihood="normal(sigma = 0.1)")
                        .replace("initial g ~ normal(0, 10)", "initial g = [1, 0.3, 0.3, 1]"))
    with pytest.raises(SpecError, match="nothing to fit: the initial data are given"):
        given.solve(steps=10)
    bad = dataclasses.replace(known(), observe=Observation("f", "normal", -1.0))
    with pytest.raises(SpecError, match="the observation scale sigma must be positive, got -1.0"):
        bad.solve(steps=10)
    with pytest.raises(UsageError, match="unknown solve option"):
        known().solve(steps=10, step_size=0.1)
    with pytest.raises(UsageError, match="--steps must be an integer from 1 to 2,147,483,647"):
        known().solve(steps=0)
    with pytest.raises(UsageError, match="--method map needs eps > 0"):
        known().solve(eps=0.0)
