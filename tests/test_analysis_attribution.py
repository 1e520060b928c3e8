"""Attribution and robustness: canonical values, autodiff and convex-view identities, bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hjdsl.analysis.attribution import attribute, regime
from hjdsl.analysis.robustness import certified_radius, curvature_bounds, robustness_sweep
from hjdsl.errors import UsageError
from hjdsl.model.ir import Model

# theory.md Appendix A: (x, ε) → π, Ent, f′, f″, max W²/ε
CANONICAL = [
    (0.7, 0.1, [0.000000, 0.029306, 0.970496, 0.000197], 0.134199, 0.235446, 0.071641, 5.625),
    (0.0, 0.1, [3e-6, 0.499997, 0.499997, 3e-6], 0.693227, 0.0, 0.625031, 5.625),
    (0.0, 1.0, [0.115738, 0.384262, 0.384262, 0.115738], 1.234200, 0.0, 0.178238, 0.5625),
]


@pytest.mark.parametrize("x, eps, pi, ent, fp, fpp, bound", CANONICAL)
def test_canonical_values(four_atoms, x, eps, pi, ent, fp, fpp, bound):
    ds = attribute(four_atoms, [[x]], eps=[eps])
    np.testing.assert_allclose(ds.attribution.values[0, 0], pi, atol=5e-7)
    assert ds.entropy.values[0, 0] == pytest.approx(ent, abs=5e-7)
    assert ds.grad.values[0, 0, 0] == pytest.approx(fp, abs=5e-7)
    assert ds.hessian_norm.values[0, 0] == pytest.approx(fpp, abs=5e-7)
    assert ds.bound_max_norm.values[0] == pytest.approx(bound)
    assert ds.attrs["eps_star"] == pytest.approx(0.25)


def _random_model(seed: int, n: int = 6, d: int = 2) -> Model:
    rng = np.random.default_rng(seed)
    return Model.from_atoms(rng.normal(size=(n, d)), rng.normal(size=n), t=0.7)


def test_attribution_is_the_autodiff_gradient_in_b_and_W():
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    import jax.numpy as jnp

    from hjdsl.views.closed_form.network import lse_value

    model = _random_model(1)
    W, b = model.weights()
    x = np.random.default_rng(2).normal(size=(5, 2))
    ds = attribute(model, x, eps=[0.05, 0.3, 2.0])
    for i, eps in enumerate(ds.eps.values):
        db = jax.vmap(jax.grad(lambda bb, xx: lse_value(xx, jnp.asarray(W), bb, eps)), (None, 0))(
            jnp.asarray(b), jnp.asarray(x))
        dW = jax.vmap(jax.grad(lambda WW, xx: lse_value(xx, WW, jnp.asarray(b), eps)), (None, 0))(
            jnp.asarray(W), jnp.asarray(x))
        np.testing.assert_allclose(ds.df_db.values[i], np.asarray(db), atol=1e-13)
        np.testing.assert_allclose(ds.df_dW.values[i], np.asarray(dW), atol=1e-13)
        np.testing.assert_allclose(ds.network.values[i], np.asarray(lse_value(x, W, b, eps)), atol=1e-12)


def test_attribution_is_the_convex_view_optimum():
    from hjdsl.views.convex import convex_view

    model = _random_model(3, n=5, d=1)
    x = np.linspace(-1.5, 1.5, 4)[:, None]
    eps = np.array([0.2, 1.0])
    ds = attribute(model, x, eps=eps)
    pi = convex_view(model, eps, x, audit=-1, workers=1).pi
    np.testing.assert_allclose(ds.attribution.values, pi, atol=2e-6)


def test_hessian_is_the_autodiff_hessian_of_the_network_view():
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    from hjdsl.views.closed_form.network import lse_value

    model = _random_model(4, n=7, d=3)
    W, b = model.weights()
    x = np.random.default_rng(5).normal(size=(4, 3))
    ds = attribute(model, x, eps=[0.1, 0.5])
    for i, eps in enumerate(ds.eps.values):
        hess = jax.vmap(jax.hessian(lambda xx: lse_value(xx, W, b, eps)))(x)
        np.testing.assert_allclose(ds.hessian.values[i], np.asarray(hess), atol=1e-10)
        np.testing.assert_allclose(ds.hessian_norm.values[i], np.linalg.norm(np.asarray(hess), 2, axis=(1, 2)),
                                   atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 9), d=st.integers(1, 3),
       eps=st.floats(0.02, 3.0), t=st.floats(0.2, 3.0))
def test_curvature_bounds_and_certified_radius_hold(seed, n, d, eps, t):
    rng = np.random.default_rng(seed)
    model = Model.from_atoms(rng.normal(scale=2.0, size=(n, d)), rng.normal(size=n), t=t)
    x = rng.normal(scale=2.0, size=(6, d))
    ds = attribute(model, x, eps=[eps], delta_f=0.05)
    b1, b2 = ds.bound_max_norm.values[0], ds.bound_diameter.values[0]
    assert np.all(ds.hessian_norm.values[0] <= min(b1, b2) * (1 + 1e-10) + 1e-12)
    # the certificate: every perturbation of length r changes f by at most δf
    W, b = model.weights()
    dirs = rng.normal(size=(6, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    moved = x + ds.certified_radius.values[0][:, None] * dirs
    after = attribute(model, moved, eps=[eps]).network.values[0]
    assert np.all(np.abs(after - ds.network.values[0]) <= 0.05 + 1e-10)
    # the drift bound on f_ε − f_0 and its ε log N ceiling
    f0 = ds.logits.values.max(axis=1)
    gap = ds.network.values[0] - f0
    assert np.all(gap >= -1e-12)
    assert np.all(gap <= ds.drift_bound.values[0] + 1e-12)
    assert np.all(ds.drift_bound.values[0] <= eps * np.log(n) + 1e-12)
    assert np.all((ds.entropy.values >= -1e-12) & (ds.entropy.values <= np.log(n) + 1e-12))


def test_bounds_and_radius_formulas():
    b1, b2 = curvature_bounds([[0.0, 0.0], [3.0, 4.0]], [0.5])
    assert b1.tolist() == [50.0] and b2.tolist() == [12.5]
    # G r + M r²/2 = δf at the radius (and the Lipschitz radius when it is larger)
    r = certified_radius(1.0, 4.0, 10.0, 0.3)
    assert 1.0 * r + 2.0 * r**2 == pytest.approx(0.3)
    assert certified_radius(5.0, 100.0, 1.0, 0.3) == pytest.approx(0.3)


def test_regime_hallucination_and_distance(four_atoms):
    assert regime(np.array([0.1, 0.33, 0.5, 0.66, 0.9])).tolist() == [
        "particle", "mixed", "mixed", "mixed", "wave"]
    ds = attribute(four_atoms, [[0.7], [5.0]], eps=[0.1])
    # x = 0.7: logits z = (−2.0875, −0.5375, −0.1875, −1.0375): Δ = 0.35, ρ = 0.35/(0.1 log 4)
    assert ds.logit_gap.values[0] == pytest.approx(0.35)
    assert ds.rho.values[0, 0] == pytest.approx(0.35 / (0.1 * np.log(4)))
    assert ds.drift_bound.values[0, 0] == pytest.approx(0.1 * np.log1p(3 * np.exp(-3.5)))
    assert ds.nearest_atom_distance.values.tolist() == pytest.approx([0.2, 3.5])
    assert ds.in_distribution.values[0].tolist() == [1, 0]  # √(2·0.1) = 0.447
    assert ds.top_atom.values[0, 0].tolist() == [2, 1, 3]
    assert ds.regime.values[0, 0] == "particle"


def test_bad_inputs(four_atoms):
    with pytest.raises(UsageError, match="needs 1 coordinate"):
        attribute(four_atoms, [[0.1, 0.2]], eps=[0.1])
    with pytest.raises(UsageError, match="ε > 0"):
        attribute(four_atoms, [[0.1]], eps=[0.0])
    with pytest.raises(UsageError, match=r"exact LSE layer \(a quadratic one\), not H\(p\) = \|p\|_1"):
        attribute(Model.from_atoms([[0.0], [1.0]], [0, 0], hamiltonian="l1"), [[0.1]], eps=[0.1])


def test_sweep_dataset_and_files(four_atoms, tmp_path):
    from hjdsl.output import write_dataset
    from hjdsl.plot.analysis import plot_attribution, plot_robustness

    ds = four_atoms.attribute(np.linspace(-1.8, 1.8, 37)[:, None], eps=[0.08, 0.2, 1.0])
    sweep = robustness_sweep(ds)
    assert sweep.holds.values.tolist() == [1, 1, 1]
    np.testing.assert_allclose(sweep.measured.values, ds.hessian_norm.values.max(axis=1))
    assert set(ds.dims) == {"eps", "point", "particle", "dim", "dim2", "rank"}
    assert all(dim in ds.coords for dim in ds.dims)
    write_dataset(ds, tmp_path / "a.nc")
    import xarray as xr

    with xr.open_dataset(tmp_path / "a.nc", engine="h5netcdf") as back:
        np.testing.assert_allclose(back.attribution.values, ds.attribution.values)
        assert back.attrs["spec_sha256"] == four_atoms.spec_sha256
    plot_robustness(sweep, tmp_path / "rob.png")
    plot_attribution(four_atoms, ds, tmp_path / "attr.png")
    assert (tmp_path / "rob.png").stat().st_size > 10_000 and (tmp_path / "attr.png").stat().st_size > 10_000
