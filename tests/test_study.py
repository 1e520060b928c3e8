"""Studies: the check, exponents and their CIs, quadrature against its derivation, the examples."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import hjdsl
from hjdsl.study.exponents import asymptotic_range, exponent_table
from hjdsl.study.spec import Study
from hjdsl.study.task import quadrature_error

from conftest import EXAMPLES

STUDIES = sorted((EXAMPLES / "studies").glob("*.hj"))


def small(study: Study, values: int = 2) -> Study:
    """The same study, scaled down to seconds: fewer values, seeds, points and steps."""
    if study.kind == "quadrature":
        return dataclasses.replace(study, values=study.values[:values])
    q = dict(study.quantities)
    if study.axis == "n":
        vals = tuple(v / 20 for v in study.values[:values])  # n = 12.5, 25 -> whole numbers
        vals = tuple(float(round(v)) for v in vals)
    else:
        vals, q["n"] = study.values[:values], 200.0
    return dataclasses.replace(study, values=vals, quantities=q, seeds=study.seeds[:2],
                               steps=20, test=50)


def test_every_example_study_is_found():
    assert len(STUDIES) >= 7


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_example_study_runs_scaled_down(path):
    study = hjdsl.load(path)
    assert isinstance(study, Study)
    ds = small(study).run(workers=1)
    axis = study.axis
    assert ds["test_rmse"].dims == (axis, "seed")
    assert np.all(np.isfinite(ds["test_rmse"].values)) and np.all(ds["test_rmse"].values > 0)
    assert "alpha" in ds and np.isfinite(float(ds["alpha"]))
    assert ds.attrs["spec_sha256"] == study.spec_sha256
    assert all("units" in ds[v].attrs and "long_name" in ds[v].attrs for v in ds.variables)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 1.0, 2.0])
def test_noiseless_power_law_gives_its_exponent(alpha):
    v = np.array([10.0, 25, 50, 100, 200, 500])
    losses = 3.0 * v[:, None] ** -alpha * np.ones((1, 4))
    t = exponent_table(v, losses)
    for name in ("alpha", "alpha_asymptotic", "alpha_best"):
        assert t[name] == pytest.approx(alpha, abs=1e-12)
        assert t[f"{name}_low"] == pytest.approx(alpha, abs=1e-12)  # no noise: a point CI


def test_asymptotic_range_drops_the_small_half():
    # independent statement of the rule: the ceil(k/2) largest values, at least 3
    assert [asymptotic_range(k) for k in (3, 4, 5, 6, 7)] == \
        [slice(0, 3), slice(1, 4), slice(2, 5), slice(3, 6), slice(3, 7)]
    v = np.array([1.0, 2, 4, 8, 16, 32])
    bent = np.r_[v[:3] ** -3.0 * 8 ** 2, v[3:] ** -1.0][:, None]  # steep, then slope -1
    assert exponent_table(v, bent * np.ones((1, 2)))["alpha_asymptotic"] == pytest.approx(1.0)


def test_ci_covers_the_truth_and_excludes_a_wrong_one():
    v = np.array([10.0, 25, 50, 100, 200, 500])
    rng = np.random.default_rng(3)
    losses = np.exp(-0.5 * np.log(v)[:, None] + rng.normal(0, 0.1, (6, 5)))
    t = exponent_table(v, losses)
    assert t["alpha_low"] <= 0.5 <= t["alpha_high"]
    assert not t["alpha_low"] <= 0.8 <= t["alpha_high"]  # a corrupted truth is outside


@pytest.mark.slow
def test_ci_coverage_is_nominal():
    """2000 synthetic studies (6 values × 5 seeds, log-normal noise): the 95 % CIs cover the
    true slope at the nominal rate. A 2000-draw binomial has sd 0.5 %; the measured coverage is
    94–95 % (the seed bootstrap of 5 draws is lumpy), so the band is [0.925, 0.975]."""
    v = np.array([10.0, 25, 50, 100, 200, 500])
    rng = np.random.default_rng(11)
    hits = {"alpha": 0, "alpha_asymptotic": 0}
    reps = 2000
    for r in range(reps):
        losses = np.exp(1.0 - 0.5 * np.log(v)[:, None] + rng.normal(0, 0.2, (6, 5)))
        t = exponent_table(v, losses, seed=r)
        for k in hits:
            hits[k] += t[f"{k}_low"] <= 0.5 <= t[f"{k}_high"]
    for k, h in hits.items():
        assert 0.925 <= h / reps <= 0.975, (k, h / reps)


def poisson_error(xi, k, eps):
    """Derived per-axis error of the interval-normalised layer (t = 1, g = |y|²/2): the Riemann
    sum h Σ_j G(y_j) of the Gaussian G(y) = exp(−3(y − ξ/3)²/(4ε)) (σ² = 2ε/3) over the grid
    y_j = −2 + jh, h = 4/(k − 1), is ∫G · (1 + δ), δ = 2 Σ_m exp(−2π²m²σ²/h²) cos(2πm(ξ/3 + 2)/h)
    (Poisson summation; the grid's missing tails beyond ±2 are below e^−27 here). The layer
    factorises over axes, so the d-dim error is Σ_i ε log(1 + δ(x_i))."""
    h, s2 = 4 / (k - 1), 2 * eps / 3
    m = np.arange(1, 6)[:, None]
    delta = 2 * np.sum(np.exp(-2 * np.pi**2 * m**2 * s2 / h**2)
                       * np.cos(2 * np.pi * m * (xi[None] / 3 + 2) / h), axis=0)
    return eps * np.log1p(delta)


@pytest.mark.parametrize("d, widths", [(1, [4, 6, 8, 11, 16]), (2, [16, 36, 64, 121, 256, 529])])
def test_quadrature_slopes_match_their_derivation(d, widths):
    xi = np.linspace(-1, 1, 1001)
    x = np.stack([xi] * d, axis=1)  # the diagonal carries the sup: equal errors on every axis
    measured, derived = [], []
    for N in widths:
        k, eps = round(N ** (1 / d)), N ** (-1 / d)
        e, p = quadrature_error(x, k, eps), d * poisson_error(xi, k, eps)
        assert np.max(np.abs(e - p)) <= 1e-11 + 1e-8 * np.max(np.abs(p))
        measured.append(np.abs(e).max())
        derived.append(np.abs(p).max())
    logn = np.log(widths)
    slope_m = np.diff(np.log(measured)) / np.diff(logn)
    slope_d = np.diff(np.log(derived)) / np.diff(logn)
    np.testing.assert_allclose(slope_m, slope_d, atol=1e-6)
    # faster than any power: the local slope keeps steepening (no N^(-1/d) law)
    assert np.all(np.diff(slope_m) < 0) and slope_m[-1] < -8 / d


@pytest.mark.parametrize("d, widths", [(1, [64, 128, 256]), (2, [1024, 4096])])
def test_paper_normalisation_adds_the_bias_and_its_slope(d, widths):
    """1/N instead of 1/(N−1) per axis shifts the layer by −dε log(k/(k−1)) ≈ −dε/k = −d N^(−2/d)
    at ε = N^(−1/d): the paper's 2.05 / 0.91 for d = 1 / 2 are this bias's slope 2/d."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (50, d))
    sups = []
    for N in widths:
        k, eps = round(N ** (1 / d)), N ** (-1 / d)
        bias = quadrature_error(x, k, eps, "count") - quadrature_error(x, k, eps, "interval")
        np.testing.assert_allclose(bias, -d * eps * np.log(k / (k - 1)), rtol=1e-9)
        sups.append(np.abs(quadrature_error(x, k, eps, "count")).max())
    slope = np.diff(np.log(sups)) / np.diff(np.log(widths))
    assert np.all(np.abs(slope + 2 / d) < 0.05 * (2 / d))


@pytest.mark.parametrize("verb", ["compare", "solve"])
def test_other_verbs_refuse_a_study_spec(cli, verb):
    code, _, err = cli(verb, str(EXAMPLES / "studies" / "quadrature_d1.hj"))
    assert code == 2 and "declares a study" in err and "hjdsl study" in err
    assert "internal error" not in err


def test_the_study_verb_refuses_a_spec_without_a_study(cli):
    code, _, err = cli("study", str(EXAMPLES / "abs_1d.hj"), "--workers", "1")
    assert code == 2 and "declares no study" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers must be ≥ 1"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "exclude each other"),
])
def test_bad_arguments_exit_2(cli, args, message):
    code, _, err = cli("study", str(EXAMPLES / "studies" / "quadrature_d1.hj"), *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_study_verb_writes_result_and_figure(tmp_path, capsys):
    from hjdsl.cli import main

    out, fig = tmp_path / "q.nc", tmp_path / "q.png"
    assert main(["study", str(EXAMPLES / "studies" / "quadrature_d1.hj"), "--workers", "1",
                 "-o", str(out), "--plot", str(fig)]) == 0
    printed = capsys.readouterr().out
    assert "alpha = " in printed and "theory alpha = 1.000" in printed
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import xarray as xr

    with xr.open_dataset(out) as ds:
        assert ds.attrs["study_kind"] == "quadrature" and ds.sizes["width"] == 5
        assert len(list((tmp_path / "q.nc.parts").glob("*.nc"))) == 5


def test_help_teaches_with_examples(cli):
    code, out, _ = cli("study", "--help")
    assert code == 0 and "examples:" in out and "hjdsl study examples/" in out
    assert "dask scheduler" in out and "dask worker" in out


def test_repr_is_short_and_shows_the_sweep_as_written():
    study = hjdsl.load(EXAMPLES / "studies" / "generalisation_d1.hj")
    assert repr(study) == (
        "<hjdsl.Study 'sample_scaling'\n"
        "  trained: n in [250, 500, 1000, 2000, 4000, 8000] × 4 seed(s)\n"
        "  with dim = 1, eps = N^(-1 / d), width = n^(d / (d + 2))\n"
        "  fit: 2000 Adam steps, lr = 0.01, init tangent; target norm(x), test 2000 points>")
