"""SVI and NUTS: the DataTree result, reproducibility, convergence and interval coverage."""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl

SMALL = """
model small "fixed atoms, learned g, noisy f"
dim 1
viscosity eps = 0.3
hamiltonian H(p) = |p|^2
particles y = {atoms}
initial g ~ normal(0, 2)
data synthetic n = {n} seed = {seed} {{
  x ~ uniform(-2.5, 2.5)
  truth y = {atoms}
  truth g(y) = 0.5 * abs(y)
  value = network(x, 0.3)
  noise = 0.05
}}
observe f ~ normal(sigma = 0.05)
evaluate x = grid(-2.5, 2.5, 11)
"""


def small(seed=1, n=40, atoms="[-1.5, -0.5, 0.5, 1.5]"):
    return hjdsl.parse(SMALL.format(seed=seed, n=n, atoms=atoms))


def test_svi_returns_a_reproducible_datatree():
    model = small()
    a = model.solve(method="svi", steps=400, seed=0, draws=100)
    b = model.solve(method="svi", steps=400, seed=0, draws=100)
    np.testing.assert_array_equal(a["posterior"]["g"].values, b["posterior"]["g"].values)
    assert set(a.children) == {"posterior", "log_likelihood", "posterior_predictive",
                               "observed_data", "constant_data"}
    assert a["posterior"]["g"].dims == ("chain", "draw", "particle")
    assert a["posterior"].sizes["draw"] == 100
    root = a.to_dataset()
    assert root["loss"].dims == ("step",) and root.sizes["step"] == 400
    assert np.all(root["prediction_lower"] <= root["prediction_mean"])
    assert np.all(root["prediction_mean"] <= root["prediction_upper"])
    # the band is the 3 % / 97 % posterior quantile of the prediction draws
    pred = a["posterior"]["prediction"].values.reshape(100, -1)
    np.testing.assert_allclose(root["prediction_upper"].values, np.quantile(pred, 0.97, axis=0))
    # the posterior (a Gaussian guide) puts the true g within 4 standard deviations
    g = a["posterior"]["g"].values[0]
    z = np.abs(g.mean(axis=0) - 0.5 * np.abs([-1.5, -0.5, 0.5, 1.5])) / g.std(axis=0)
    assert np.all(z < 4), z


@pytest.fixture(scope="module")
def nuts_tree():
    return small().solve(method="nuts", chains=2, warmup=500, draws=1000, seed=0, steps=300)


def test_nuts_converges_and_reports_diagnostics(nuts_tree):
    tree = nuts_tree
    root = tree.to_dataset()
    assert set(tree.children) == {"posterior", "log_likelihood", "posterior_predictive",
                                  "observed_data", "constant_data", "sample_stats", "diagnostics"}
    assert tree["posterior"]["g"].dims == ("chain", "draw", "particle")
    assert tree["posterior"].sizes["chain"] == 2 and tree["posterior"].sizes["draw"] == 1000
    assert float(tree["diagnostics"]["r_hat_g"].max()) < 1.01
    assert root.attrs["max_r_hat"] < 1.01 and root.attrs["min_ess"] > 50
    assert root.attrs["divergences"] == int(tree["sample_stats"]["diverging"].sum())
    # fixed atoms: the point estimate is the posterior mean
    np.testing.assert_allclose(root["g_hat"].values, tree["posterior"]["g"].mean(("chain", "draw")))


def test_nuts_result_round_trips_through_netcdf(nuts_tree, tmp_path):
    import xarray as xr

    from hjdsl.commands.solve import summary_table
    from hjdsl.fit.results import load_fit, write_result

    out = tmp_path / "nuts.nc"
    write_result(nuts_tree, out)
    assert [p.name for p in tmp_path.iterdir()] == ["nuts.nc"]  # no temporary file left
    back = xr.open_datatree(out, engine="h5netcdf")
    np.testing.assert_array_equal(back["posterior"]["g"].values, nuts_tree["posterior"]["g"].values)
    assert back["diagnostics"]["r_hat_g"].dims == ("particle",)
    y, g = load_fit(out)
    np.testing.assert_array_equal(g, nuts_tree["g_hat"].values)
    table = summary_table(back.to_dataset())
    assert "max r_hat" in table and "divergences                   0" in table


def test_unmixed_chains_finish_with_a_warning():
    """Free atoms, 10 warm-up steps: the chains cannot mix; the run still returns (exit 0 in the
    CLI) but says so in the result's `warnings` (printed as `warning: ...` by the CLI)."""
    from test_fit_map import FREE

    tree = hjdsl.parse(FREE).solve(method="nuts", chains=2, warmup=10, draws=30, steps=50, seed=0)
    root = tree.to_dataset()
    assert root.attrs["max_r_hat"] > 1.05
    assert (f"r_hat = {root.attrs['max_r_hat']:.3f} > 1.05: the chains have not mixed; increase "
            "--warmup/--draws or use more chains before trusting this posterior") in root.attrs["warnings"]


@pytest.mark.slow
def test_nuts_credible_intervals_cover_the_truth_at_their_nominal_rate():
    """Simulation-based calibration: draw g* from the prior, simulate data, fit with NUTS. Averaged
    over prior draws, 90 % intervals cover g* 90 % of the time whatever the identifiability of
    each atom. 12 replicates × 8 atoms = 96 intervals (expected 86.4; intervals of one replicate
    are correlated, so the accepted range is wider than a binomial one: [72, 94])."""
    from scipy.special import logsumexp

    model = small(atoms="grid(-2, 2, 8)")
    y = np.linspace(-2, 2, 8)
    covered = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        g_true = rng.normal(0.0, 2.0, 8)                       # the prior: normal(0, 2)
        x = rng.uniform(-2.5, 2.5, 60)
        z = x[:, None] * y / 2 - g_true - y ** 2 / 4
        value = 0.3 * logsumexp(z / 0.3, axis=1) + 0.05 * rng.standard_normal(60)
        tree = model.solve(method="nuts", data=(x[:, None], value), chains=1, warmup=300,
                           draws=400, seed=seed, steps=200)
        g = tree["posterior"]["g"].values.reshape(-1, 8)
        lo, hi = np.quantile(g, [0.05, 0.95], axis=0)
        covered += int(np.sum((lo <= g_true) & (g_true <= hi)))
    assert 72 <= covered <= 94, covered


# ArviZ's sample_stats names (arviz.from_numpyro) and the dtype kind each must have
ARVIZ_STATS = {"diverging": "b", "lp": "f", "acceptance_rate": "f", "n_steps": "i",
               "tree_depth": "i", "energy": "f", "step_size": "f"}


def test_nuts_sample_stats_read_back_as_arviz_expects(tmp_path):
    """Written to netCDF and read with az.from_netcdf: `diverging` is bool (an int8 flag made
    az.plot_trace mark a divergence at every draw 0) and counts the divergences the run reported;
    every other stat has ArviZ's name and dtype kind, and lp = −potential energy."""
    import warnings

    from hjdsl.fit.results import write_result

    # 3 warm-up steps leave the step size too large: 23 of 60 transitions diverge, so the count
    # is neither 0 nor every draw
    tree = small().solve(method="nuts", chains=2, warmup=3, draws=30, steps=50, seed=0)
    out = tmp_path / "nuts.nc"
    write_result(tree, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's refactor notice and the non-ArviZ groups
        import arviz as az

        idata = az.from_netcdf(out)
    stats = idata.sample_stats
    assert {name: stats[name].dtype.kind for name in ARVIZ_STATS} == ARVIZ_STATS
    assert set(stats.data_vars) == set(ARVIZ_STATS)
    n_div = tree.to_dataset().attrs["divergences"]
    assert 0 < n_div < stats["diverging"].size and int(stats["diverging"].sum()) == n_div
    assert stats["diverging"].dims == ("chain", "draw")
    assert -float(stats["lp"].mean()) == pytest.approx(tree.to_dataset().attrs["final_loss"])
    assert np.all(stats["tree_depth"] == np.floor(np.log2(stats["n_steps"])) + 1)
