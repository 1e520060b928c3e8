"""Every example checks, and `compile --info` reports what the file says (computed independently)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logsumexp

import hjdsl
from hjdsl.commands.compile import info

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ALL = sorted(EXAMPLES.glob("*.hj"))


def read_csv(name: str) -> dict[str, np.ndarray]:
    with (EXAMPLES / "data" / name).open() as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_there_are_enough_examples():
    assert len(ALL) >= 8
    kinds = {hjdsl.load(p).hamiltonian.text.split("*")[-1] for p in ALL}
    assert {"|p|^2", "p' A p", "|p|_1", "|p|_2", "|p|_inf"} <= kinds


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_example_checks_and_info_is_json(path):
    model = hjdsl.load(path)
    summary = json.loads(json.dumps(info(model)))
    assert summary["name"] == model.name == path.stem
    assert summary["atoms"] == model.y.shape[0] == model.g.shape[0]
    assert model.y.shape[1] == model.dim == summary["dim"]
    assert model.evaluate.shape == (summary["evaluate"]["points"], model.dim)
    assert model.path == str(path) and model.source == path.read_text()
    for arr in (model.y, model.g, model.eps, model.evaluate):
        assert not arr.flags.writeable


def test_quickstart_info():
    s = info(hjdsl.load(EXAMPLES / "quickstart.hj"))
    assert (s["dim"], s["atoms"], s["t"]) == (1, 30, 1.0)
    assert s["eps"] == [1.0, 0.5, 0.2, 0.1, 0.0]
    assert s["hamiltonian"]["kind"] == "quadratic" and s["hamiltonian"]["matrix"] == [[1.0]]
    assert set(s["exact"].values()) == {"exact"}
    assert s["learned"] == []
    assert s["data"]["source"] == "synthetic" and s["data"]["size"] == 300
    assert s["evaluate"]["points"] == 201
    assert s["observe"] == {"quantity": "f", "likelihood": "normal", "sigma": 0.05, "nu": None,
                            "split": None}


def test_quickstart_values():
    m = hjdsl.load(EXAMPLES / "quickstart.hj")
    y = np.linspace(-2, 2, 30)
    np.testing.assert_array_equal(m.y[:, 0], y)
    np.testing.assert_array_equal(m.g, np.abs(y))
    np.testing.assert_array_equal(m.evaluate[:, 0], np.linspace(-2.5, 2.5, 201))
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, (300, 1))
    np.testing.assert_array_equal(m.data.x, x)
    np.testing.assert_array_equal(m.data.value, np.abs(x[:, 0]) + rng.normal(0, 0.02, 300))


def test_abs_1d_info():
    s = info(hjdsl.load(EXAMPLES / "abs_1d.hj"))
    assert s["learned"] == ["g"] and s["initial"]["prior"] == {"family": "normal", "loc": 0.0,
                                                               "scale": 1.0}
    assert s["data"]["size"] == 500 and s["data"]["seed"] == 99 and s["data"]["noise"] == 0.01
    assert s["eps"] == [0.1]


def test_aniso_2d():
    m = hjdsl.load(EXAMPLES / "aniso_2d.hj")
    s = info(m)
    assert s["atoms"] == 12 * 8 and s["evaluate"]["points"] == 41 * 31 and s["t"] == 0.5
    np.testing.assert_allclose(s["eps"], np.logspace(-2, 0, 5))
    assert s["hamiltonian"]["matrix"] == [[2.0, 0.5], [0.5, 1.0]]
    assert s["hamiltonian"]["isotropic"] is False
    # row-major grid: the first axis varies slowest
    np.testing.assert_allclose(m.y[:2], [[-2, -1], [-2, -1 + 2 / 7]])
    np.testing.assert_allclose(m.g, np.linalg.norm(m.y, axis=1))


def test_csv_fit_1d():
    m = hjdsl.load(EXAMPLES / "csv_fit_1d.hj")
    s = info(m)
    table = read_csv("bumps_1d.csv")
    assert s["data"]["size"] == table["x1"].size and s["data"]["path"] == "data/bumps_1d.csv"
    np.testing.assert_array_equal(m.data.x[:, 0], table["x1"])
    np.testing.assert_array_equal(m.data.value, table["target"])
    assert s["learned"] == ["y", "g", "sigma"]
    assert s["observe"]["likelihood"] == "student_t" and s["observe"]["nu"] == 4.0
    assert s["observe"]["sigma"] == {"prior": {"family": "half_normal", "scale": 0.1}}
    assert s["observe"]["split"] == {"test": 0.2, "seed": 1}
    np.testing.assert_allclose(s["eps"], np.linspace(0.05, 0.4, 4))
    assert (s["fit"]["method"], s["fit"]["steps"], s["fit"]["lr"], s["fit"]["restarts"]) == (
        "map", 3000, 0.01, 2)
    np.testing.assert_array_equal(m.y, np.random.default_rng(3).normal(0, 1, (6, 1)))
    assert m.particles.source == "learned" and m.particles.prior.family == "normal"


def test_netcdf_2d():
    import xarray as xr

    m = hjdsl.load(EXAMPLES / "netcdf_2d.hj")
    with xr.open_dataset(EXAMPLES / "data" / "ridge_2d.nc") as ds:
        x = np.stack([ds.x1.values, ds.x2.values], axis=-1)
        v = ds.v.values
    np.testing.assert_array_equal(m.data.x, x)
    np.testing.assert_array_equal(m.evaluate, x)
    np.testing.assert_array_equal(m.data.value, v)
    s = info(m)
    assert s["atoms"] == 100 and s["hamiltonian"]["matrix"] == [[0.5, 0.0], [0.0, 0.5]]
    assert s["observe"]["likelihood"] == "laplace" and s["learned"] == ["g"]
    assert m.constants["a"] == 0.5


def test_norm_examples():
    l1 = hjdsl.load(EXAMPLES / "norm_l1_2d.hj")
    y = np.random.default_rng(7).uniform(-1, 1, (25, 2))
    np.testing.assert_array_equal(l1.y, y)
    np.testing.assert_allclose(l1.g, (y ** 2).sum(axis=1))
    assert l1.hamiltonian.kind == "l1" and l1.hamiltonian.matrix is None
    assert [w.code for w in l1.warnings] == ["W001"]
    assert info(l1)["exact"]["network"] == "none (the weight map to an LSE layer needs a quadratic H)"

    l2 = hjdsl.load(EXAMPLES / "norm_l2_1d.hj")
    assert (l2.hamiltonian.kind, l2.hamiltonian.scale) == ("l2", 2.0) and l2.warnings == ()
    np.testing.assert_array_equal(l2.g, [1, 0.3, 0.3, 1])
    np.testing.assert_array_equal(l2.evaluate[:, 0], [-2, -1, 0, 0.7, 2])

    linf = hjdsl.load(EXAMPLES / "norm_linf_2d.hj")
    assert linf.hamiltonian.kind == "linf" and linf.n_atoms == 25 and linf.t == 2.0
    np.testing.assert_allclose(linf.g, np.abs(linf.y).max(axis=1))
    np.testing.assert_array_equal(linf.evaluate, [[0, 0], [1, 0.5], [-0.25, 0.75]])


def test_truth_recovery_data_is_hopf_cole_of_the_truth():
    m = hjdsl.load(EXAMPLES / "truth_recovery.hj")
    s = info(m)
    assert s["learned"] == ["y", "g", "eps", "sigma"]
    assert s["eps"] == pytest.approx([np.exp(-2.3)])  # lognormal median
    truth_y = np.linspace(-2, 2, 8)
    rng = np.random.default_rng(5)
    x = rng.uniform(-2.5, 2.5, (400, 1))
    cost = np.abs(truth_y)[None, :] + (x - truth_y[None, :]) ** 2 / 4.0
    u = -0.1 * logsumexp(-cost / 0.1, axis=1)
    np.testing.assert_allclose(m.data.value, u + rng.normal(0, 0.01, 400), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(m.data.truth.points[:, 0], truth_y)
    assert m.fit.method == "svi" and m.fit.steps == 2000 and m.fit.lr == 0.02


def test_data_atoms_default_evaluation_grid():
    m = hjdsl.load(EXAMPLES / "data_atoms_1d.hj")
    table = read_csv("atoms_1d.csv")
    np.testing.assert_array_equal(m.y[:, 0], table["x"])
    np.testing.assert_array_equal(m.g, table["value"])
    lo, hi = table["x"].min(), table["x"].max()
    pad = 0.1 * (hi - lo)
    np.testing.assert_allclose(m.evaluate[:, 0], np.linspace(lo - pad, hi + pad, 201))
    assert m.viscosity.values.tolist() == pytest.approx([0.01, 0.1, 1.0])
