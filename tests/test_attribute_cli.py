"""`hjdsl attribute`: table, JSON, Dataset output, --fit, robustness sweep and usage errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli_here


@pytest.fixture
def cli():
    """`hjdsl attribute` runs in this process (hjdsl.cli.main) as the shell runs it: no test here
    is about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


FOUR = """\
model four "theory.md Appendix A atoms"
dim 1
time t = 1
viscosity eps in [1, 0.1]
hamiltonian H(p) = |p|^2
particles y = [-1.5, -0.5, 0.5, 1.5]
initial g = [1, 0.3, 0.3, 1]
evaluate x = grid(-1.8, 1.8, 37)
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "four.hj"
    path.write_text(FOUR)
    return path


def test_table(cli, spec):
    code, out, err = cli("attribute", str(spec), "--at", "0.7", "--at", "0", "--eps", "0.1", "--top", "2")
    assert code == 0, err
    assert "eps* = N^(-1/d) = 0.25" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("0.7 "))
    assert row.split()[1:4] == ["0.1342", "0.0968", "particle"]
    assert "top: #2 (y=0.5, g=0.3) pi=0.9705; #1 (y=-0.5, g=0.3) pi=0.0293" in out


def test_negative_point_list(tmp_path, cli):
    spec = tmp_path / "two.hj"
    spec.write_text("model two\ndim 2\nhamiltonian H(p) = |p|^2\nviscosity eps = 0.5\n"
                    "particles y = [[-1, 0], [1, 0]]\ninitial g = [0, 0]\n")
    code, out, err = cli("attribute", str(spec), "--at", "-0.5,0.25", "--json")
    assert code == 0, err
    point = json.loads(out)["points"][0]
    assert point["x"] == [-0.5, 0.25]
    # W = (∓0.5, 0), b = (−0.25, −0.25): π_1 = logistic(0.5/0.5)
    assert point["attribution"][0] == pytest.approx(1 / (1 + np.exp(-1.0)))


def test_json(cli, spec):
    code, out, err = cli("attribute", str(spec), "--at", "0", "--eps", "0.1,1", "--json", "--robustness")
    assert code == 0, err
    data = json.loads(out)
    assert data["eps_star"] == pytest.approx(0.25) and data["n_atoms"] == 4
    first, second = data["points"]
    assert first["eps"] == 0.1 and first["entropy"] == pytest.approx(0.693227, abs=1e-6)
    assert second["hessian_norm"] == pytest.approx(0.178238, abs=1e-6)
    # nearest atom 0.5 away: outside √(2·0.1) = 0.447, inside √2
    assert first["top"][0]["g"] == 0.3 and first["in_distribution"] is False and second["in_distribution"] is True
    assert [r["holds"] for r in data["robustness"]] == [True, True]
    assert data["robustness"][1]["bound_max_norm"] == pytest.approx(0.5625)


def test_dataset_fit_and_robustness_outputs(cli, spec, tmp_path):
    import xarray as xr

    fit = tmp_path / "fit.nc"
    y_hat, g_hat = np.array([-1.0, -0.2, 0.2, 1.0]), np.array([0.0, 0.5, 0.5, 0.0])
    xr.Dataset({"y_hat": (("particle", "dim"), y_hat[:, None]), "g_hat": (("particle",), g_hat)}
               ).to_netcdf(fit, engine="h5netcdf")
    out, png = tmp_path / "a.nc", tmp_path / "rob.png"
    code, stdout, err = cli("attribute", str(spec), "--fit", str(fit), "--eps", "0.5", "--robustness",
                            "-o", str(out), "--robustness-plot", str(png))
    assert code == 0, err
    assert f"warning: {fit} carries no provenance (no spec_sha256)" in err
    assert "(37 points: showing the first 12" in stdout and "robustness" in stdout
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.sizes["particle"] == 4 and ds.sizes["point"] == 37
        # the fitted atoms' Gibbs weights: softmax of −c_j/ε, c_j = g_j + (x − y_j)²/(4t)
        cost = g_hat[None, :] + (ds.x.values[:, None] - y_hat[None, :]) ** 2 / 4.0
        weights = np.exp(-(cost - cost.min(axis=1, keepdims=True)) / 0.5)
        np.testing.assert_allclose(ds.attribution.values[0], weights / weights.sum(axis=1, keepdims=True),
                                   rtol=1e-12)
        assert ds.attrs["model"] == "four" and "spec_sha256" in ds.attrs
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["--at", "0.3,0.2"], "--at 0.3,0.2 has 2 coordinate(s) but the model has dim 1"),
    (["--at", "abc"], "cannot read --at 'abc'"),
    (["--at", "0", "--eps", "0"], "attribution needs finite ε > 0"),
    (["--at", "0", "--eps", "-1"], "--eps values must be finite and ≥ 0"),
])
def test_usage_errors_exit_2(cli, spec, args, message):
    code, out, err = cli("attribute", str(spec), *args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_bad_fit_file_exits_2(cli, spec, tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    code, _, err = cli("attribute", str(spec), "--fit", str(bad))
    assert code == 2 and f"cannot read {bad} as netCDF" in err
