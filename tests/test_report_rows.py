"""Every row of the diagram report can fail: corrupted beyond its tolerance it FAILs, left alone it
PASSes; a non-finite value where a finite one is expected FAILs with a message; +inf == +inf."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.model.ir import Model
from hjdsl.views.report import CONVEX_PI_TOL, CONVEX_RTOL, diagram_rows, failures

EPS = [0.5, 0.0]
IDENTITY = "network + hopf_cole = x'A^-1x/(4t)"
NETWORK_BOUND = "network - tropical in [0, eps log N]"
HOPF_BOUND = "hopf_lax - hopf_cole in [0, eps log N]"
CONVEX, CONVEX_PI, PDE = "convex = hopf_cole", "convex pi = Gibbs pi", "PDE residual (autodiff)"


@pytest.fixture(scope="module")
def quadratic_ds():
    m = Model.from_atoms(np.array([[-1.0, 0.2], [0.5, 1.0], [1.5, -0.5]]), [0.3, 0.0, 0.6],
                         A=[[2.0, 0.3], [0.3, 0.5]], eps=EPS,
                         x=np.array([[0.1, 0.2], [-0.7, 0.9], [1.2, -0.4]]))
    return m.compare(audit=2, grid=False)


@pytest.fixture(scope="module")
def norm_ds():
    m = Model.from_atoms(np.array([[0.0], [1.0]]), [0.5, 0.0], eps=EPS, hamiltonian="l2",
                         x=np.array([[0.2], [1.5], [4.0]]))
    return m.compare(audit="all", grid=False)


def row(ds, arrow, eps):
    return next(r for r in diagram_rows(ds) if r.arrow == arrow and r.eps == eps)


def test_correct_values_pass(quadratic_ds, norm_ds):
    rows = diagram_rows(quadratic_ds)
    assert {r.status for r in rows if r.kind == "exact"} == {"PASS"}
    assert not failures(diagram_rows(norm_ds))


def _set(ds, name, index, value):
    ds = ds.copy(deep=True)
    arr = ds[name].values
    arr[index] = value
    ds[name] = (ds[name].dims, arr)
    return ds


@pytest.mark.parametrize("eps_i", [0, 1])
@pytest.mark.parametrize("arrow, residual, scale, point", [
    (IDENTITY, "identity_residual", "identity_scale", 1),
    (PDE, "pde_residual", "pde_scale", 2),
])
def test_relative_rows_fail_beyond_their_tolerance(quadratic_ds, eps_i, arrow, residual, scale,
                                                   point):
    """The identity and PDE rows judge |r|/S at each point against their derived tolerance."""
    eps = EPS[eps_i]
    rtol = row(quadratic_ds, arrow, eps).bound
    size = quadratic_ds[scale].values[eps_i, point]
    for factor, status in ((0.5, "PASS"), (2.0, "FAIL")):
        ds = _set(quadratic_ds, residual, (eps_i, point), factor * rtol * size)
        r = row(ds, arrow, eps)
        assert r.status == status and (r.value <= r.bound) == (status == "PASS"), (factor, r)


@pytest.mark.parametrize("name, index, delta, arrow, why", [
    ("network", (1, 0), -1e-6, NETWORK_BOUND, "below 0"),              # f < f_0 (ε = 0)
    ("network", (0, 2), +0.4, NETWORK_BOUND, ""),                      # f − f_0 > ε log N
    ("hopf_cole", (1, 1), +1e-6, HOPF_BOUND, "below 0"),               # u > u_0 (ε = 0)
    ("hopf_cole", (0, 1), -0.4, HOPF_BOUND, ""),                       # u_0 − u > ε log N
])
def test_bound_rows_fail_outside_the_interval(quadratic_ds, name, index, delta, arrow, why):
    ds = quadratic_ds.copy(deep=True)
    ds[name].values[index] += delta
    r = row(ds, arrow, EPS[index[0]])
    assert r.status == "FAIL" and why in r.detail, r


def test_gap_form_row_fails_between_the_gap_bound_and_eps_log_n(quadratic_ds):
    ds = quadratic_ds.copy(deep=True)
    i = int(np.argmin(ds.gap_bound.values[0]))
    room = float(ds.eps_log_n.values[0] - ds.gap_bound.values[0, i])
    diff = ds.network.values[0, i] - ds.tropical.values[i]
    ds.network.values[0, i] += ds.gap_bound.values[0, i] - diff + 0.5 * room  # inside ε log N
    r = row(ds, NETWORK_BOUND, 0.5)
    assert r.status == "FAIL" and "gap-form excess" in r.detail and r.value <= r.bound, r


@pytest.mark.parametrize("factor, status", [(0.5, "PASS"), (4.0, "FAIL")])
def test_convex_rows_fail_beyond_their_tolerance(quadratic_ds, factor, status):
    audited = np.flatnonzero(quadratic_ds.convex_audited.values)
    j = int(audited[0])
    ds = quadratic_ds.copy(deep=True)
    u = ds.hopf_cole.values[0, j]
    ds.convex.values[0, j] = u + factor * CONVEX_RTOL * max(1.0, abs(u))
    assert row(ds, CONVEX, 0.5).status == status
    ds = quadratic_ds.copy(deep=True)
    ds.convex_attribution.values[0, j, 0] = ds.attribution.values[0, j, 0] + factor * CONVEX_PI_TOL
    assert row(ds, CONVEX_PI, 0.5).status == status


def test_pde_judges_each_point_against_its_own_scale(quadratic_ds):
    """A residual small against the largest scale but large against its own point's fails."""
    ds = quadratic_ds.copy(deep=True)
    rtol = row(ds, PDE, 0.5).bound
    ds.pde_scale.values[0, 0] = 1e-3 * ds.pde_scale.values[0].max()  # a point near an atom
    ds.pde_residual.values[0, 0] = 2 * rtol * ds.pde_scale.values[0, 0]
    assert abs(ds.pde_residual.values[0, 0]) < rtol * ds.pde_scale.values[0].max()
    r = row(ds, PDE, 0.5)
    assert r.status == "FAIL" and r.value > r.bound


@pytest.mark.parametrize("name, bad", [
    ("identity_residual", np.nan), ("identity_residual", -np.inf), ("network", np.nan),
    ("network", -np.inf), ("hopf_cole", -np.inf), ("hopf_cole", np.nan),
    ("pde_residual", np.nan), ("convex", np.nan), ("convex", -np.inf),
])
def test_non_finite_values_fail_with_a_message(quadratic_ds, name, bad):
    audited = int(np.flatnonzero(quadratic_ds.convex_audited.values)[0])
    ds = _set(quadratic_ds, name, (0, audited), bad)
    failed = failures(diagram_rows(ds))
    assert failed, name
    assert any("non-finite" in r.detail for r in failed)
    assert all(r.status == "FAIL" for r in failed)


def test_a_plus_inf_where_a_finite_value_is_expected_fails(norm_ds):
    ds = norm_ds.copy(deep=True)
    ds.hopf_cole.values[1, 0] = np.inf  # point 0 is reached: u_0 is finite there
    r = row(ds, HOPF_BOUND, 0.0)
    assert r.status == "FAIL" and "non-finite" in r.detail


def test_equal_infinities_agree(norm_ds):
    """Point 2 is reached by no atom: +inf in u, u_0 and the convex value, and no FAIL."""
    assert np.isposinf(norm_ds.hopf_lax.values[2])
    assert np.isposinf(norm_ds.hopf_cole.values[:, 2]).all()
    assert np.isposinf(norm_ds.convex.values[:, 2]).all()
    for eps in EPS:
        assert row(norm_ds, CONVEX, eps).status == "PASS"
        assert row(norm_ds, HOPF_BOUND, eps).status == "PASS"
        assert "unreachable" in row(norm_ds, HOPF_BOUND, eps).detail


def test_the_reported_spec_fails_no_longer_and_its_values_are_finite():
    """issue 15 item 1: t = 1e-6, ε = 1e-12: hopf_cole was −inf while 'all exact relations hold'."""
    m = Model.from_atoms([[0.2669725722258276], [1.415911953347341]], [0.0, 0.0], t=1e-6,
                         A=0.5, eps=[1e-12, 1e-300], x=[[10.0], [2.0]])
    ds = m.compare(audit=0, grid=False)
    for name in ("network", "hopf_cole", "identity_residual", "pde_residual", "entropy"):
        assert np.isfinite(ds[name].values).all(), name
    # u_ε = min_j c_j to round-off at this ε (the gap between the costs is 1e7 ≫ ε)
    np.testing.assert_allclose(ds.hopf_cole.values, np.broadcast_to(ds.hopf_lax.values, (2, 2)),
                               rtol=1e-15)
    assert not failures(diagram_rows(ds))


def _with_grid(ds, reference_at):
    """`ds` with a grid solution equal to its reference, the reference only at `reference_at`."""
    ds = ds.copy(deep=True)
    u = ds.hopf_cole.values.copy()
    ref = np.full_like(u, np.nan)
    ref[:, reference_at] = u[:, reference_at]
    ds["grid"] = (("eps", "point"), u)
    ds["grid_reference"] = (("eps", "point"), ref)
    ds["grid_error"] = (("eps",), np.full(u.shape[0], np.nan))
    ds.attrs.update(grid_ran=1, grid_order=1.0)
    return ds


def test_grid_row_judges_only_the_points_that_have_a_reference(monkeypatch, quadratic_ds):
    import hjdsl.views.grid.pde as grid_pde

    # a 2-D model whose reference covers points 0 and 2 only, as grid_view does past its cap
    monkeypatch.setitem(grid_pde.REFERENCE_POINTS, 2, 2)
    ds = _with_grid(quadratic_ds, [0, 2])
    assert row(ds, "grid solver - reference", EPS[0]).status == "PASS"
    broken = _set(ds, "grid_reference", (0, 2), np.nan)   # a referenced point lost its value
    r = row(broken, "grid solver - reference", EPS[0])
    assert r.status == "WARN" and "1 non-finite grid values" in r.detail
    broken = _set(ds, "grid", (0, 1), np.inf)             # the grid itself is judged everywhere
    assert "1 non-finite" in row(broken, "grid solver - reference", EPS[0]).detail


def test_grid_row_without_an_exact_reference_skips_but_judges_the_grid(norm_ds):
    """ε > 0 with a norm H: no reference exists by design (NaN), so the row is a skip that says
    why, not a warning about non-finite values; a non-finite grid value still warns; at ε = 0 the
    Hopf–Lax reference exists and a missing value there still warns."""
    ds = _with_grid(norm_ds, [])
    finite = np.where(np.isfinite(ds.grid.values), ds.grid.values, 2.0)  # x = 4 is out of reach
    ds["grid"] = (("eps", "point"), finite)
    ds["grid_reference"] = (("eps", "point"), np.where(np.array(EPS)[:, None] > 0, np.nan, finite))
    r = row(ds, "grid solver - reference", EPS[0])
    assert (r.status, r.detail) == ("skip", "no exact reference for eps > 0 with H(p) = |p|_2")
    assert row(ds, "grid solver - reference", EPS[1]).status == "PASS"
    broken = _set(ds, "grid", (0, 1), np.nan)
    r = row(broken, "grid solver - reference", EPS[0])
    assert r.status == "WARN" and "1 non-finite grid values" in r.detail
    lost = _set(ds, "grid_reference", (1, 1), np.nan)      # the ε = 0 reference must exist
    assert "1 non-finite" in row(lost, "grid solver - reference", EPS[1]).detail
