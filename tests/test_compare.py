"""The compare driver: the Dataset contract, round trips, integration of the convex and grid views."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import hjdsl
from hjdsl.errors import DataError, UsageError
from hjdsl.model.ir import Model
from hjdsl.output import write_dataset
from hjdsl.views.compare import check_points, load_fit_atoms
from hjdsl.views.report import diagram_rows, failures
from tests.conftest import EXAMPLES

VARIABLES = {
    "x": ("point",), "y": ("particle", "dim"), "g": ("particle",),
    "network": ("eps", "point"), "tropical": ("point",), "hopf_cole": ("eps", "point"),
    "hopf_lax": ("point",), "convex": ("eps", "point"),
    "attribution": ("eps", "point", "particle"), "entropy": ("eps", "point"),
    "identity_residual": ("eps", "point"), "pde_residual": ("eps", "point"),
    "grid": ("eps", "point"), "grid_reference": ("eps", "point"), "grid_error": ("eps",),
    "convex_status": ("eps", "point"), "convex_duality_gap": ("eps", "point"),
    "convex_attribution": ("eps", "point", "particle"), "convex_solver": ("eps",),
}
QUICK = dict(audit=0, grid=False)


@pytest.fixture(scope="module")
def four():
    return Model.from_atoms(np.array([-1.5, -0.5, 0.5, 1.5])[:, None], [1.0, 0.3, 0.3, 1.0],
                            eps=[1.0, 0.1, 0.0], x=np.linspace(-2.5, 2.5, 21)[:, None])


def test_dataset_contract(four, tmp_path):
    ds = four.compare(**QUICK)
    for name, dims in VARIABLES.items():
        assert ds[name].dims == dims, name
    for dim in ("eps", "point", "particle", "dim"):
        assert dim in ds.coords
    np.testing.assert_array_equal(ds.eps.values, [1.0, 0.1, 0.0])
    for key in ("t", "hamiltonian", "exact", "exact_network", "exact_convex", "spec_sha256",
                "hjdsl_version", "created_at", "convex_solvers", "convex_statuses", "grid_note"):
        assert key in ds.attrs, key
    assert ds.attrs["t"] == 1.0 and ds.attrs["hamiltonian"] == "|p|^2"
    assert ds.attrs["exact_network"] == "exact"
    # ε = 0 in the sweep: the network equals the tropical view exactly
    np.testing.assert_array_equal(ds.network.sel(eps=0.0).values, ds.tropical.values)
    np.testing.assert_array_equal(ds.hopf_cole.sel(eps=0.0).values, ds.hopf_lax.values)
    assert np.isnan(ds.convex.values).all() and ds.attrs["convex_note"] == "skipped (audit 0)"
    # the file round-trips
    path = write_dataset(ds, tmp_path / "views.nc")
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load().set_xindex("x"), ds)  # netCDF keeps no index


def test_values_against_appendix_a(four):
    ds = four.compare(x=[-2.0, 0.0, 0.7, 2.0], **QUICK)
    np.testing.assert_allclose(ds.network.sel(eps=0.1).values,
                               [0.150197, -0.293185, -0.184505, 0.150197], atol=5e-7)
    np.testing.assert_allclose(ds.hopf_cole.sel(eps=1.0).values,
                               [0.061677, -0.593930, -0.514908, 0.061677], atol=5e-7)
    np.testing.assert_allclose(ds.entropy.sel(eps=1.0).values[1], 1.234200, atol=1e-6)
    np.testing.assert_array_equal(ds.active_atom.values, [1, 1, 2, 2])
    assert np.abs(ds.identity_residual).max() <= 4.5e-16


def test_tiny_eps_and_huge_x_stay_finite():
    m = Model.from_atoms(np.array([[-1.0, 0.5], [2.0, 1.0], [0.3, -2.0]]), [0.1, -0.2, 0.4],
                         A=[[2.0, 0.3], [0.3, 0.5]], eps=[1e-12, 1.0])
    x = np.array([[1e6, -1e6], [-1e6, 3.0], [0.5, 0.25]])
    ds = m.compare(x=x, **QUICK)
    for name in ("network", "hopf_cole", "attribution", "entropy", "identity_residual",
                 "pde_residual"):
        assert np.isfinite(ds[name].values).all(), name
    scale = np.abs(ds.quadratic_term.values)
    assert np.all(np.abs(ds.identity_residual.values) <= 1e-12 * np.maximum(1, scale))
    # at ε = 1e-12 the network is the tropical max to within ε log N
    gap = ds.network.sel(eps=1e-12).values - ds.tropical.values
    assert np.all(gap >= 0) and np.all(gap <= 1e-12 * np.log(3) + 1e-16 * scale)
    assert not failures(diagram_rows(ds))


@pytest.mark.parametrize("kind", ["l1", "l2", "linf"])
def test_norm_hamiltonian_is_labelled_and_inf_is_kept(kind, tmp_path):
    m = Model.from_atoms(np.array([[0.0], [1.0]]), [0.5, 0.0], eps=[0.5, 0.0],
                         x=np.array([[0.2], [1.5], [4.0]]), hamiltonian=kind)
    ds = m.compare(**QUICK)
    assert np.isinf(ds.hopf_lax.values[2]) and np.isinf(ds.hopf_cole.values[:, 2]).all()
    assert not np.isnan(ds.hopf_lax.values).any() and not np.isnan(ds.hopf_cole.values).any()
    assert np.isnan(ds.network.values).all()
    assert ds.attrs["exact_network"].startswith("not defined")
    assert ds.attrs["exact_hopf_cole"].startswith("structural")
    rows = diagram_rows(ds)
    kinds = {(r.eps, r.arrow): r.kind for r in rows}
    assert kinds[(0.5, "hopf_lax - hopf_cole in [0, eps log N]")] == "structural"
    assert kinds[(0.0, "hopf_lax - hopf_cole in [0, eps log N]")] == "exact"
    assert not failures(rows)
    import xarray as xr

    with xr.open_dataset(write_dataset(ds, tmp_path / "n.nc"), engine="h5netcdf") as back:
        assert np.isinf(back.hopf_lax.values[2])


def test_missing_colleague_modules_give_nan_and_a_note(four, monkeypatch):
    monkeypatch.setitem(sys.modules, "hjdsl.views.convex", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "hjdsl.views.grid.pde", None)
    ds = four.compare(audit=3)
    assert np.isnan(ds.convex.values).all() and np.isnan(ds.grid.values).all()
    assert ds.attrs["convex_note"].startswith("convex view unavailable")
    assert ds.attrs["grid_note"].startswith("grid solver unavailable")
    rows = diagram_rows(ds)
    assert {r.status for r in rows if r.arrow.startswith(("convex", "grid"))} == {"skip"}


def test_convex_and_grid_views_integrate():
    """The real convex and grid modules: a spec with continuous g(y) = |y| (quickstart)."""
    m = hjdsl.load(EXAMPLES / "quickstart.hj")
    ds = m.compare(eps=[0.5, 0.0], x=np.linspace(-2, 2, 9), audit=3)
    audited = ds.convex_audited.values.astype(bool)
    assert audited.sum() == 3
    assert np.isnan(ds.convex.values[:, ~audited]).all()
    err = np.abs(ds.convex.values[:, audited] - ds.hopf_cole.values[:, audited])
    assert err.max() <= 1e-6
    pi_err = np.abs(ds.convex_attribution.sel(eps=0.5).values[audited]
                    - ds.attribution.sel(eps=0.5).values[audited])
    assert pi_err.max() <= 1e-5
    assert set(ds.convex_status.values[:, audited].ravel()) == {"optimal"}
    assert ds.convex_solver.values.tolist() == ["CLARABEL", "HIGHS"]
    assert ds.attrs["grid_ran"] == 1 and np.isfinite(ds.grid_error.values).all()
    assert np.all(ds.grid_error.values < 0.05)  # first-order scheme on the default grid
    assert np.isfinite(ds.convex_hopf_lax.values[audited]).all()
    rows = diagram_rows(ds)
    assert not failures(rows)
    assert {r.status for r in rows if r.arrow.startswith("convex")} == {"PASS"}


def test_grid_solver_not_applicable_for_literal_g(four):
    ds = four.compare(audit=0)
    assert ds.attrs["grid_ran"] == 0 and ds.attrs["grid_note"].startswith("not applicable")


def test_a_broken_exact_relation_fails(four):
    ds = four.compare(**QUICK)
    ds["identity_residual"][1, 3] = 1e-9
    failed = failures(diagram_rows(ds))
    assert [(r.eps, r.arrow) for r in failed] == [(0.1, "network + hopf_cole = x'A^-1x/(4t)")]


@pytest.mark.parametrize("eps, message", [
    ([-0.1], "eps values must be finite and ≥ 0"), ([], "eps must be a number or a non-empty list"),
])
def test_bad_eps(four, eps, message):
    with pytest.raises(UsageError, match=message):
        four.compare(eps=eps, **QUICK)


def test_unknown_option(four):
    with pytest.raises(UsageError, match="compare got unknown option.s. colour; it takes eps"):
        four.compare(colour="red")


def test_bad_points(four):
    with pytest.raises(UsageError, match=r"x must hold points of dimension 1"):
        check_points(four, np.zeros((3, 2)))
    with pytest.raises(UsageError, match="--audit takes a number of points or `all`"):
        four.compare(audit="some")


def test_fit_file_atoms(tmp_path, four):
    import xarray as xr

    good = tmp_path / "fit.nc"
    xr.Dataset({"y_hat": (("particle", "dim"), [[-1.0], [0.0], [1.0]]),
                "g_hat": (("particle",), [0.5, 0.0, 0.5])}).to_netcdf(good, engine="h5netcdf")
    y, g = load_fit_atoms(str(good))
    ds = four.with_atoms(y, g).compare(**QUICK)
    np.testing.assert_array_equal(ds.g.values, [0.5, 0.0, 0.5])
    bad = tmp_path / "bad.nc"
    xr.Dataset({"y_hat": (("particle", "dim"), [[0.0]])}).to_netcdf(bad, engine="h5netcdf")
    with pytest.raises(DataError, match="not a solve result: no g_hat in its root group"):
        load_fit_atoms(str(bad))
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(DataError, match="cannot read .*junk.nc as netCDF"):
        load_fit_atoms(str(tmp_path / "junk.nc"))


def test_attribution_too_large_is_refused(monkeypatch, four):
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "1KiB")  # the whole-run budget: tests/test_options.py
    with pytest.raises(UsageError, match=r"compare of 3 ε × 21 points × 4 atoms \(d = 1\) would "
                                         r"need .* over the 1.0 KiB budget"):
        four.compare(**QUICK)


def test_nonconvex_g_still_audits_the_simplex_program():
    """g(y) = sin(2y) has no convex Hopf–Lax program, but the closed forms and the simplex
    program over the atoms' values still run; the reason is kept, not raised."""
    m = hjdsl.parse("model s\ndim 1\nviscosity eps in [0.5, 0]\nhamiltonian H(p) = |p|^2\n"
                    "particles y = grid(-2, 2, 9)\ninitial g(y) = sin(2*y)\n"
                    "evaluate x = grid(-2, 2, 11)\n", name="s.hj")
    ds = m.compare(audit=2, grid=False)
    assert ds.attrs["convex_hopf_lax_note"] == ("continuous Hopf-Lax program not run: not "
                                                "supported by the convex view: function `sin` "
                                                "at line 6")
    assert int(ds.convex_audited.sum()) == 2
    assert np.isnan(ds.convex_hopf_lax.values).all()
    assert not failures(diagram_rows(ds))
