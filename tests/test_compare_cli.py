"""`hjdsl compare`: exit codes, the table, -o, --plot, --fit, --audit."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.cli import main
from tests.conftest import EXAMPLES

from conftest import run_cli_here


@pytest.fixture
def cli():
    """`hjdsl compare` runs in this process (hjdsl.cli.main) as the shell runs it: no test here
    is about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


FOUR = str(EXAMPLES / "paper" / "four_atoms.hj")


def test_table_output_and_files(cli, tmp_path):
    """One run end to end: table, Dataset file and figure."""
    out_nc, out_png = tmp_path / "views.nc", tmp_path / "views.png"
    code, stdout, stderr = cli("compare", FOUR, "--eps", "1,0.1,0", "--audit", "2",
                               "-o", str(out_nc), "--plot", str(out_png))
    assert code == 0, stderr
    assert "four_atoms: H(p) = |p|^2, t = 1.0, N = 4 atoms, d = 1, 1001 points" in stdout
    for eps in ("eps = 1", "eps = 0.1", "eps = 0"):
        assert f"\n{eps}\n" in stdout
    assert stdout.count("network + hopf_cole = x'A^-1x/(4t)      exact") == 3
    assert "tolerances: identity and PDE relative to the size S of the terms that cancel" in stdout
    assert "FAIL" not in stdout and stdout.rstrip().endswith(f"wrote {out_png}")
    assert "all exact relations hold" in stdout
    import xarray as xr

    with xr.open_dataset(out_nc, engine="h5netcdf") as ds:
        assert ds.sizes == {"eps": 3, "point": 1001, "particle": 4, "dim": 1}
        assert int(ds.convex_audited.sum()) == 2
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run(capsys, *argv):
    code = main(["compare", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_quiet_prints_nothing(capsys, tmp_path):
    code, out, err = _run(capsys, FOUR, "--eps", "0.5", "--audit", "0", "-q",
                          "-o", str(tmp_path / "q.nc"))
    assert (code, out) == (0, "") and (tmp_path / "q.nc").exists()


def test_a_failing_exact_relation_exits_1(capsys, monkeypatch):
    from hjdsl.views import compare as driver

    real = driver.closed_form

    def broken(*args, **kwargs):
        out = real(*args, **kwargs)
        out["identity"] = out["identity"] + 1e-6  # as if the network and Hopf–Cole disagreed
        return out

    monkeypatch.setattr(driver, "closed_form", broken)
    code, out, err = _run(capsys, FOUR, "--eps", "0.2", "--audit", "0")
    assert code == 1
    assert "FAIL: 1 exact relation(s) failed" in out
    assert "error: network + hopf_cole = x'A^-1x/(4t) fails at eps = 0.2" in err


def test_structural_views_never_fail(capsys):
    code, out, err = _run(capsys, str(EXAMPLES / "norm_l2_1d.hj"), "--eps", "0.3,0", "--audit", "0")
    assert code == 0, err
    assert "hopf_lax - hopf_cole in [0, eps log N]  structural" in out
    assert "skip    no LSE layer (the weight map to an LSE layer needs a quadratic H)" in out


@pytest.mark.parametrize("argv, message", [
    (["--eps", "1,-2"], "--eps values must be finite and ≥ 0"),
    (["--eps", "a"], "cannot read --eps 'a'"),
    (["--audit", "many"], "--audit takes a number of points or `all`"),
    (["--fit", "/nonexistent/fit.nc"], "fit file /nonexistent/fit.nc does not exist"),
])
def test_bad_arguments_exit_2(capsys, argv, message):
    code, out, err = _run(capsys, FOUR, *argv)
    assert code == 2
    assert message in err


def test_missing_spec_exits_2(capsys):
    code, out, err = _run(capsys, "/nonexistent/spec.hj")
    assert code == 2 and "spec.hj" in err


def _fit_file(path, model, y, g, attrs=None):
    """A solve-like result: (y_hat, g_hat) stamped with `model`'s provenance (then `attrs`)."""
    import xarray as xr

    from hjdsl.results import stamp

    ds = xr.Dataset({"y_hat": (("particle", "dim"), np.asarray(y, dtype=float)),
                     "g_hat": (("particle",), np.asarray(g, dtype=float))})
    if model is not None:
        stamp(ds, model)
    ds.attrs.update(attrs or {})
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def test_fit_file(capsys, tmp_path):
    import xarray as xr

    import hjdsl

    model = hjdsl.load(FOUR)
    y, g = model.y + 0.1, model.g * 0.5
    fit = _fit_file(tmp_path / "fit.nc", model, y, g)
    code, out, err = _run(capsys, FOUR, "--fit", str(fit), "--eps", "0.5", "--audit", "0",
                          "-o", str(tmp_path / "v.nc"))
    assert (code, err) == (0, "")  # its own spec: no warning
    assert f"N = 4 atoms, d = 1, 1001 points; atoms fitted in {fit}" in out
    with xr.open_dataset(tmp_path / "v.nc", engine="h5netcdf") as ds:
        np.testing.assert_array_equal(ds.g.values, g)
        np.testing.assert_array_equal(ds.y.values, y)
    xr.Dataset({"g_hat": (("particle",), [0.2, 0.1])}).to_netcdf(tmp_path / "no_y.nc",
                                                               engine="h5netcdf")
    code, out, err = _run(capsys, FOUR, "--fit", str(tmp_path / "no_y.nc"))
    assert code == 2 and "not a solve result: no y_hat in its root group" in err


@pytest.mark.parametrize("edit, message", [
    ({"spec_sha256": "0" * 64}, "was fitted from a different spec text (the spec was edited "
                                "since, perhaps only its comments)"),
    ({"spec_sha256": "0" * 64, "model": "other", "t": 2.0},
     "was fitted from a different spec text; it was made with model 'other' (this spec: "
     "'four_atoms'), t = 2.0 (this spec: 1.0)"),
    (None, "carries no provenance (no spec_sha256): cannot tell which spec it was fitted from"),
])
def test_fit_from_another_spec_text_warns(capsys, tmp_path, edit, message):
    import hjdsl

    model = hjdsl.load(FOUR)
    fit = _fit_file(tmp_path / "fit.nc", None if edit is None else model, model.y, model.g,
                    edit)
    code, out, err = _run(capsys, FOUR, "--fit", str(fit), "--eps", "0.5", "--audit", "0",
                          "--no-grid")
    assert code == 0
    assert err == f"warning: {fit} {message}\n"


@pytest.mark.parametrize("y, g, message", [
    ([[-1.0], [1.0]], [0.2, 0.1], "it has 2 atoms, the model has 4"),
    ([[0.0, 1.0]] * 4, [0.0] * 4, "its atoms have dimension 2, the model has dim 1"),
])
@pytest.mark.parametrize("verb", ["compare", "attribute", "bifurcate"])
def test_fit_of_another_shape_is_refused(capsys, tmp_path, y, g, message, verb):
    import hjdsl

    other = hjdsl.parse("model other\ndim 1\nhamiltonian H(p) = |p|^2\nparticles y = [0, 1]\n"
                        "initial g = [0, 0]\n")
    fit = _fit_file(tmp_path / "fit.nc", other, y, g)
    code = main([verb, FOUR, "--fit", str(fit)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {fit} is a fit of another model (made from model 'other'): {message}" in err