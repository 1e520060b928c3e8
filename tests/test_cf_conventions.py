"""CF conventions of every result: long_name and units everywhere, Conventions, the d = 1 x index."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import hjdsl
from hjdsl.units import CONVENTIONS

FOUR = hjdsl.Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
X1 = np.array([[-0.9], [0.0], [0.47], [0.58], [1.2]])
PLANE = hjdsl.Model.from_atoms([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]], [0.2, 0.0, 0.4])

SAMPLED = """
model sampled "fixed atoms, learned g"
dim 1
viscosity eps = 0.3
hamiltonian H(p) = |p|^2
particles y = [-1, 0, 1]
initial g ~ normal(0, 2)
data synthetic n = 20 seed = 0 {
  x ~ uniform(-2, 2)
  value = abs(x)
  noise = 0.05
}
observe f ~ normal(sigma = 0.1)
evaluate x = grid(-2, 2, 9)
"""


def missing_cf(ds) -> list[str]:
    """What a Dataset lacks of the CF attributes hjdsl promises (empty: nothing)."""
    gaps = [] if ds.attrs.get("Conventions") == CONVENTIONS else ["Conventions"]
    for name, var in ds.variables.items():
        gaps += [f"{name}.{key}" for key in ("long_name", "units") if not var.attrs.get(key)]
    return gaps


def groups(result):
    """Every Dataset of a result: itself, or each group of a DataTree."""
    if isinstance(result, xr.DataTree):
        return {node.path: node.to_dataset(inherit=False) for node in result.subtree}
    return {"/": result}


@pytest.fixture(scope="module")
def results():
    sampled = hjdsl.parse(SAMPLED)
    return {
        "compare d=1": FOUR.compare(eps=[1.0, 0.1, 0.0], x=X1, audit=0, grid=False),
        "compare d=2": PLANE.compare(eps=[0.5, 0.0], x=[[0.0, 0.0], [0.5, 0.5]], audit=0,
                                     grid=False),
        "attribute": FOUR.attribute(X1, eps=[0.1, 0.5], top=2),
        "bifurcate": FOUR.bifurcate(eps_range=(0.1, 1.0, 4), box=(-3, 3)),
        "solve map": sampled.solve(method="map", steps=30, restarts=1, seed=0),
    }


@pytest.fixture(scope="module")
def tree():
    """A real sampling result (SVI: the same DataTree builder as NUTS, fewer seconds)."""
    return hjdsl.parse(SAMPLED).solve(method="svi", steps=30, draws=20, seed=0, quiet=True)


@pytest.mark.parametrize("kind", ["compare d=1", "compare d=2", "attribute", "bifurcate",
                                  "solve map"])
def test_every_variable_and_coordinate_has_long_name_and_units(results, kind):
    for path, ds in groups(results[kind]).items():
        assert missing_cf(ds) == [], f"{kind} {path}"
        assert all(var.attrs["units"] == "1" for var in ds.variables.values())


@pytest.mark.slow
def test_every_group_of_a_sampling_result_is_described(tree):
    for path, ds in groups(tree).items():
        assert missing_cf(ds) == [], path


def test_the_walker_finds_what_is_missing(results):
    ds = results["compare d=1"].copy(deep=True)
    del ds["network"].attrs["units"]
    ds["eps"].attrs.pop("long_name")
    del ds.attrs["Conventions"]
    assert sorted(missing_cf(ds)) == ["Conventions", "eps.long_name", "network.units"]


def small_tree():
    """A DataTree shaped like a sampling result, built by hand (no sampler: fast)."""
    from hjdsl.results import describe_tree, stamp

    root = stamp(xr.Dataset({"y_hat": (("particle", "dim"), np.zeros((3, 1))),
                             "x": (("point", "dim"), np.linspace(-1, 1, 5)[:, None])}), FOUR)
    post = xr.Dataset({"g": (("chain", "draw", "particle"), np.zeros((2, 4, 3)))})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 4), bool))})
    return describe_tree(xr.DataTree.from_dict({"/": root, "posterior": post,
                                                "sample_stats": stats}))


def test_attributes_survive_netcdf(results, tmp_path):
    from hjdsl.output import write_dataset

    for kind, result in (("compare", results["compare d=1"]), ("tree", small_tree())):
        path = tmp_path / f"{kind}.nc"
        write_dataset(result, path)
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            for name, ds in groups(tree).items():
                assert missing_cf(ds) == [], f"{kind} {name}"


@pytest.mark.parametrize("kind", ["compare d=1", "attribute", "solve map"])
@pytest.mark.parametrize("query", [0.5, 0.56, -5.0, 0.0])
def test_sel_nearest_x_in_one_dimension(results, kind, query):
    ds = results[kind]
    points = np.asarray(ds["x"].values)
    assert ds["x"].dims == ("point",) and "x" in ds.indexes
    nearest = int(np.argmin(np.abs(points - query)))
    picked = ds.sel(x=query, method="nearest")
    assert int(picked["point"]) == nearest and float(picked["x"]) == points[nearest]


def test_d1_points_match_the_model_and_d2_keeps_point_dim(results):
    np.testing.assert_array_equal(results["compare d=1"]["x"].values, X1[:, 0])
    np.testing.assert_array_equal(results["solve map"]["x"].values,
                                  np.linspace(-2, 2, 9))
    ds2 = results["compare d=2"]
    assert ds2["x"].dims == ("point", "dim") and "x" not in ds2.indexes


def test_network_line_plot_against_x(results, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    lines = results["compare d=1"].network.plot.line(x="x", hue="eps")
    assert len(lines) == 3
    np.testing.assert_array_equal(lines[0].get_xdata(), X1[:, 0])


def test_pandas_one_liner(results):
    ds = results["compare d=1"]
    df = ds[["network", "hopf_cole"]].drop_indexes("x").to_dataframe()
    assert list(df.columns) == ["network", "hopf_cole", "x"]
    assert df.index.names == ["eps", "point"] and len(df) == 3 * len(X1)
    # f_eps for the four atoms by hand: eps log sum_j exp(z_j / eps), z_j = x y_j/2 - g_j - y_j^2/4
    y, g = np.array([-1.5, -0.5, 0.5, 1.5]), np.array([1.0, 0.3, 0.3, 1.0])
    z = X1[:, :1] * y / 2 - g - y ** 2 / 4
    row = df.loc[0.1]
    expected = 0.1 * np.log(np.sum(np.exp((z - z.max(axis=1, keepdims=True)) / 0.1), axis=1)) \
        + z.max(axis=1)
    np.testing.assert_allclose(row["network"].values, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(row["x"].values, X1[:, 0])


@pytest.mark.parametrize("which", ["by hand", pytest.param("svi", marks=pytest.mark.slow)])
def test_tree_root_says_where_the_groups_are(results, tmp_path, request, which):
    from hjdsl.output import write_dataset

    path = tmp_path / "tree.nc"
    write_dataset(small_tree() if which == "by hand" else request.getfixturevalue("tree"), path)
    with xr.open_dataset(path, engine="h5netcdf") as root:
        listed = root.attrs["groups"].split(", ")
        assert "posterior" in listed and len(listed) >= 2
        assert "xr.open_datatree" in root.attrs["how_to_open"]
        assert "az.from_netcdf" in root.attrs["how_to_open"]
        assert "posterior" not in root.variables  # the root alone really is only the summary
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        assert sorted(listed) == sorted(node.path.lstrip("/") for node in tree.subtree
                                        if node.path != "/")
    flat = results["solve map"]
    assert "groups" not in flat.attrs  # a flat Dataset is whole: nothing to point to
