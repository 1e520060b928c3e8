"""Study tasks: large configurations split by seed (same result), longest first, several
specs on one cluster; the conjugate initialisation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

import hjdsl
import hjdsl.study.plan as plan
from hjdsl.cli import main

SPEC = """\
model {name} "a small d = 1 width study"
study {name} {{
  dim = 1
  width = [4, 8, 16]
  eps = N^(-1/d)
  n = 200
  test = 100
  value = norm(x)
  seeds = 3
  steps = 20
}}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "small.hj"
    path.write_text(SPEC.format(name="small"))
    return path


def test_a_split_configuration_gives_the_unsplit_result(spec, tmp_path, monkeypatch):
    study = hjdsl.parse(spec.read_text().replace("[4, 8, 16]", "[4, 8]"), name=str(spec))
    whole = study.run(workers=1)
    # a cap below every configuration's cost: each splits into one task per seed
    monkeypatch.setattr(plan, "COST_CAP", 1.0)
    assert [len(plan.split(study, c)) for c in study.configurations()] == [3, 3]
    store = tmp_path / "parts"
    split = study.run(workers=1, store=store)
    assert len(list(store.glob("*.nc"))) == 6
    assert split.attrs["resumed_configurations"] == 0
    assert study.run(workers=1, store=store).attrs["resumed_configurations"] == 2
    xr.testing.assert_allclose(split.drop_vars("seconds"), whole.drop_vars("seconds"), rtol=1e-9)
    # the smallest loss along each run is never above the final one, and is stored per task
    assert np.all(whole["min_loss"] <= whole["final_loss"]) and "min_loss" in split


def test_split_chunks_cover_the_seeds_once_and_below_the_cap():
    study = hjdsl.load(hjdsl_example("trained_d4.hj"))
    big = study.configurations()[-1]  # N = 1000, the configuration that ran 453 s alone
    parts = plan.split(study, big)
    assert [s for p in parts for s in p.seeds] == list(big.seeds)
    assert len({p.key for p in parts}) == len(parts) > 1
    assert all(plan.cost(study, p) <= plan.COST_CAP or len(p.seeds) == 1 for p in parts)
    small = study.configurations()[0]
    assert plan.split(study, small) == [small] and small.key.endswith(f"eps{small.eps:.6g}")


def test_tasks_run_longest_first():
    study = hjdsl.load(hjdsl_example("trained_d4.hj"))
    costs = [plan.cost(study, t) for t in plan.tasks(study, study.configurations())]
    assert costs == sorted(costs, reverse=True) and costs[0] > costs[-1]


def hjdsl_example(name):
    from conftest import EXAMPLES

    return EXAMPLES / "studies" / name


def test_several_specs_share_one_run_and_match_separate_runs(tmp_path):
    paths = []
    (tmp_path / "out").mkdir()
    for name, width in (("first", "[4, 8, 16]"), ("second", "[5, 10, 20]")):
        p = tmp_path / f"{name}.hj"
        p.write_text(SPEC.format(name=name).replace("[4, 8, 16]", width))
        paths.append(p)
    assert main(["study", *map(str, paths), "--workers", "1", "-q",
                 "-o", str(tmp_path / "out" / "{name}.nc")]) == 0
    for p in paths:
        with xr.open_dataset(tmp_path / "out" / f"{p.stem}.nc") as got:
            alone = hjdsl.load(p).run(workers=1)
            np.testing.assert_allclose(got["test_rmse"].values, alone["test_rmse"].values,
                                       rtol=1e-12)
            assert got.attrs["study"] == p.stem


@pytest.mark.parametrize("args, message", [
    (["-o", "one.nc"], "names one file for 2 specs"),
    (["--plot", "one.png"], "names one file for 2 specs"),
])
def test_several_specs_need_name_in_their_outputs(spec, tmp_path, capsys, args, message):
    other = tmp_path / "other.hj"
    other.write_text(SPEC.format(name="other"))
    assert main(["study", str(spec), str(other), *args]) == 2
    assert message in capsys.readouterr().err


def test_two_specs_of_one_name_are_refused(spec, tmp_path, capsys):
    (tmp_path / "b").mkdir()
    twin = tmp_path / "b" / "small.hj"
    twin.write_text(SPEC.format(name="small"))
    assert main(["study", str(spec), str(twin), "-o", str(tmp_path / "{name}.nc")]) == 2
    assert "same name small" in capsys.readouterr().err


def test_conjugate_init_puts_atoms_on_a_grid_touching_the_data_from_below():
    from hjdsl.study.task import INITS, draw_data

    study = dataclasses.replace(hjdsl.load(hjdsl_example("trained_d1.hj")), init="conjugate")
    config = dataclasses.replace(study.configurations()[0], seeds=(0, 1))
    data = [draw_data(study, config, s) for s in config.seeds]
    p = INITS["conjugate"](study, config, data)
    for k, (x, v, _, _) in enumerate(data):
        y = 2 * study.t * p["W"][k, :, 0]
        np.testing.assert_allclose(np.diff(y), (x.max() - x.min()) / (config.width - 1))
        gap = v[:, None] - (x @ p["W"][k].T + p["b"][k])  # every plane below the data, touching
        assert np.all(gap >= -1e-12) and np.allclose(gap.min(axis=0), 0, atol=1e-12)
        # for |x| the conjugate is 0 on the slopes [-1, 1]: each plane passes (up to the
        # data point nearest 0, where it touches) through 0
        assert np.all(p["b"][k] >= 0) and np.all(p["b"][k] <= 2 * np.min(np.abs(x)))
