"""`hjdsl solve` from the shell: summary, output files, --data overrides and every bad input."""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl
from hjdsl.errors import DataError
from hjdsl.fit.results import load_fit

from conftest import run_cli_here


@pytest.fixture
def cli():
    """`hjdsl solve` runs in this process (hjdsl.cli.main) as the shell runs it: no test here is
    about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


SPEC = """
model cli_fit "three fixed atoms, g learned"
dim 1
viscosity eps in [0.5, 0.2]
hamiltonian H(p) = |p|^2
particles y = [-1, 0, 1]
initial g ~ normal(0, 5)
data synthetic seed = 0 {
  x = grid(-2, 2, 41)
  truth y = [-1, 0, 1]
  truth g(y) = abs(y)
  value = network(x, 0.2)
}
observe f ~ normal(sigma = 0.01)
evaluate x = grid(-2, 2, 5)
fit method = map steps = 200 restarts = 1
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "fit.hj"
    path.write_text(SPEC)
    return path


def write_csv(path, text):
    path.write_text(text)
    return str(path)


def test_solve_prints_summary_writes_result_and_plot(cli, spec, tmp_path):
    out, png = tmp_path / "fit.nc", tmp_path / "fit.png"
    code, stdout, stderr = cli("solve", str(spec), "-o", str(out), "--plot", str(png))
    assert code == 0, stderr
    # a sweep without --eps fits the smallest ε > 0
    assert "method                        map" in stdout and "eps                           0.2" in stdout
    assert "fit error (MSE, train)" in stdout and "influence-weighted deviation" in stdout
    assert f"wrote {out}" in stdout
    y, g = load_fit(out)
    assert y.shape == (3, 1) and np.allclose(g, [1, 0, 1], atol=1e-4)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quiet_prints_nothing_and_eps_selects(cli, spec, tmp_path):
    import xarray as xr

    out = tmp_path / "q.nc"
    code, stdout, stderr = cli("solve", str(spec), "--eps", "0.5", "-q", "--steps", "50",
                               "-o", str(out))
    assert (code, stdout) == (0, ""), stderr
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.attrs["eps"] == 0.5 and ds.sizes["step"] == 50


def test_data_override_from_csv(cli, spec, tmp_path):
    x = np.linspace(-2, 2, 30)
    rows = "\n".join(f"{a},{abs(a)}" for a in x)
    csv = write_csv(tmp_path / "d.csv", "x,value\n" + rows + "\n")
    code, stdout, stderr = cli("solve", str(spec), "--data", csv)
    assert code == 0, stderr
    assert f"{csv} (30 points, 30 for training)" in stdout


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,2\n3,4\n", "column `x` not found in"),
    ("x,value\n0,1\n1,nan\n2,3\n", "d.csv` line 3, column `value`: nan is not a finite number"),
    ("x,value\n0,1\ninf,2\n", "d.csv` line 3, column `x`: inf is not a finite number"),
    ("x,value\n0,1\n", "d.csv` has 1 data row; at least 2 are needed"),
    ("x,value\n0,1\n1,abc\n", "d.csv` line 3, column `value`: cannot read 'abc' as a number"),
    ("", "d.csv` is empty"),
])
def test_bad_data_files_exit_2_with_a_clear_message(cli, spec, tmp_path, text, message):
    csv = write_csv(tmp_path / "d.csv", text)
    out = tmp_path / "never.nc"
    code, stdout, stderr = cli("solve", str(spec), "--data", csv, "-o", str(out))
    assert code == 2 and message in stderr, stderr
    assert "Traceback" not in stderr and not out.exists()


def test_missing_data_file_and_bad_arguments_exit_2(cli, spec, tmp_path):
    code, _, stderr = cli("solve", str(spec), "--data", str(tmp_path / "none.csv"))
    assert code == 2 and "none.csv` not found" in stderr
    code, _, stderr = cli("solve", str(spec), "--eps", "0.1,0.2")
    assert code == 2 and "--eps takes one value: solve fits one viscosity at a time" in stderr
    code, _, stderr = cli("solve", str(spec), "--eps", "0")
    assert code == 2 and "--method map needs eps > 0" in stderr
    code, _, stderr = cli("solve", str(spec), "--restarts", "0")
    assert code == 2 and "--restarts must be an integer from 1 to 2,147,483,647" in stderr


def test_a_failed_run_exits_1_and_writes_nothing(cli, spec, tmp_path):
    out = tmp_path / "fit.nc"
    code, _, stderr = cli("solve", str(spec), "--lr", "1e300", "--no-polish", "-o", str(out))
    assert code == 1, stderr
    assert "the MAP fit failed: the loss is not finite at any restart" in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [spec]


def test_wrong_dimension_via_the_api():
    model = hjdsl.parse(SPEC)
    with pytest.raises(DataError, match="x has dimension 2, the spec declares dim 1"):
        model.solve(data=(np.zeros((5, 2)), np.zeros(5)))


def test_load_fit_rejects_a_file_that_is_not_a_fit(tmp_path):
    import xarray as xr

    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(DataError, match="is not a solve result: no y_hat, g_hat"):
        load_fit(path)


def test_convex_method_reports_its_certificate():
    """Free atoms at ε = 0: the colleague's max-affine regression recovers the active true atoms."""
    ds = hjdsl.load("examples/paper/recovery.hj").solve(method="convex")
    assert ds.attrs["method"] == "convex" and ds.attrs["eps"] == 0.0
    assert ds.attrs["formulation"] == "max_affine" and ds.attrs["status"] == "optimal"
    assert abs(ds.attrs["certificate_duality_gap"]) < 1e-6
    assert float(ds["fit_mse"]) < 1e-9 and float(ds["deviation"]) < 1e-4
    np.testing.assert_allclose(np.abs(ds["y_hat"].values[:, 0]), 2 / 7, atol=1e-4)


def test_data_override_from_netcdf_by_column_name(tmp_path):
    import xarray as xr

    x = np.linspace(-2, 2, 25)
    path = tmp_path / "obs.nc"
    xr.Dataset({"x": ("i", x), "value": ("i", np.abs(x))}).to_netcdf(path, engine="h5netcdf")
    ds = hjdsl.parse(SPEC).solve(data=str(path), steps=50)
    assert ds.attrs["data_source"] == str(path) and ds.attrs["n_data"] == 25
    np.testing.assert_array_equal(ds["x_data"].values[:, 0], x)
    np.testing.assert_array_equal(ds["obs"].values, np.abs(x))


@pytest.mark.parametrize("method", ["map", "convex"])
def test_norm_hamiltonian_is_refused_with_one_message(cli, spec, method):
    """The two hints used to point at each other (map: "use convex", convex: "use map")."""
    norm = spec.with_name("norm.hj")
    norm.write_text(spec.read_text().replace("H(p) = |p|^2", "H(p) = |p|_2")
                    .replace("value = network(x, 0.2)", "value = abs(x)"))
    code, stdout, stderr = cli("solve", str(norm), "--method", method)
    assert code == 2 and f"error: --method {method} cannot fit H(p) = |p|_2: " in stderr
    # the hint names only the method that fits this H, never the other refusing one
    hint = "hint: methods that fit H(p) = |p|_2: --method hopf_lax (eps = 0, fixed atoms, g learned)"
    assert hint + "\n" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("args, message", [
    (["--chains", "100000", "--method", "nuts"], "solve --method nuts (1 restarts × 200 steps, "
     "100,000 chains × 500 draws; 41 data points, 3 atoms, 3 parameters) would need"),
    (["--method", "map", "--steps", "1000000000000"], "--steps must be an integer from 1 to "
     "2,147,483,647 (the largest count XLA and numpyro take), got 1,000,000,000,000"),
    (["--method", "svi", "--draws", "1000000000"], "solve --method svi"),
    (["--method", "nuts", "--draws", "1000000000"], "solve --method nuts"),
    (["--seed", "-1"], "--seed must be an integer from 0 to 4,294,967,295, got -1"),
])
def test_run_sizes_are_refused_before_any_work(cli, spec, tmp_path, args, message):
    """These used to run for minutes, abort in XLA (exit 134) or end in an internal error."""
    import time

    start = time.perf_counter()
    code, _, stderr = cli("solve", str(spec), *args, "-o", str(tmp_path / "never.nc"), timeout=60)
    assert code == 2 and message in stderr, stderr
    assert "Traceback" not in stderr and not (tmp_path / "never.nc").exists()
    assert "budget (set HJDSL_MAX_MEMORY=... to allow more)" in stderr or "must be" in stderr
    assert time.perf_counter() - start < 30  # the interpreter's start-up, no fitting
