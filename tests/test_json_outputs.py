"""`compare --json` and `solve --json`: strict JSON on stdout, the same rows and figures as the tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hjdsl.cli import main
from hjdsl.commands.json_output import portable
from tests.conftest import EXAMPLES
from tests.test_compare_cli import _fit_file
from tests.test_solve_cli import SPEC

FOUR = str(EXAMPLES / "paper" / "four_atoms.hj")
FAST = ["--eps", "0.2,0", "--audit", "2"]


def _strict(text: str):
    """json.loads that refuses NaN / Infinity (Python's json accepts them; JSON does not)."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _table_value(v) -> str:
    """The table's spelling (report._num) of a JSON value: null is `-`, "inf" is inf."""
    return "-" if v is None else f"{float(v):.2e}"


def _table_rows(table: str) -> list[str]:
    """The row lines of the table's ε blocks (after `eps = …` and its header, up to a blank)."""
    rows, inside = [], False
    for line in table.splitlines():
        if line.startswith("eps = "):
            inside = "header"
        elif inside == "header":
            inside = True
        elif inside and line.strip():
            rows.append(line)
        else:
            inside = False
    return rows


@pytest.mark.parametrize("value, expected", [
    (float("nan"), None), (np.inf, "inf"), (-np.inf, "-inf"), (np.float64(0.25), 0.25),
    (np.int64(7), 7), (np.bool_(True), True), (np.array([1.0, np.nan]), [1.0, None]),
    ({"a": (np.inf, "x")}, {"a": ["inf", "x"]}),
])
def test_portable_encodes_every_non_finite(value, expected):
    assert portable(value) == expected


def test_compare_json_is_the_table_and_the_dataset(capsys, tmp_path):
    from hjdsl.views.report import diagram_rows

    out_nc = tmp_path / "v.nc"
    code, table, _ = _run(capsys, "compare", FOUR, *FAST)
    code_json, out, err = _run(capsys, "compare", FOUR, *FAST, "--json", "-o", str(out_nc))
    assert code == code_json == 0, err
    report = _strict(out)
    assert report["model"] == {"name": "four_atoms", "hamiltonian": "|p|^2", "t": 1.0, "atoms": 4,
                               "dim": 1, "points": 1001, "fit_file": None}
    assert report["eps"] == [0.2, 0.0]
    assert report["outputs"] == {"dataset": str(out_nc), "plot": None}
    assert report["all_exact_hold"] is True and report["failures"] == [] and report["warnings"] == []
    # every row of the table, in order, with its printed value, bound and status
    lines = _table_rows(table)
    assert len(lines) == len(report["rows"]) == 13  # 7 at eps = 0.2, 6 at 0 (no pi row)
    for line, row in zip(lines, report["rows"]):
        assert line[2:].startswith(row["arrow"])
        cells = line[2 + len(row["arrow"]):].split()
        assert cells[:4] == [row["kind"], _table_value(row["value"]), _table_value(row["bound"]),
                             row["status"]]
    assert any(row["value"] is None for row in report["rows"])  # a skip row: NaN became null
    # and exactly the rows of the Dataset it wrote
    import xarray as xr

    with xr.open_dataset(out_nc, engine="h5netcdf") as ds:
        rows = diagram_rows(ds.load())
    assert [(r["eps"], r["arrow"], r["kind"], r["status"], r["detail"]) for r in report["rows"]] \
        == [(r.eps, r.arrow, r.kind, r.status, r.detail) for r in rows]
    for got, want in zip(report["rows"], rows):
        for key in ("value", "bound"):
            v = getattr(want, key)
            assert got[key] == (None if math.isnan(v) else v)


@pytest.mark.parametrize("corrupt, value", [
    (lambda r: r + 1e-6, lambda v: isinstance(v, float) and v > 1e-9),  # a finite miss
    (lambda r: r * np.nan, lambda v: v == "inf"),                        # NaN: judged as +inf
])
def test_a_failing_exact_relation_is_fail_in_json_with_exit_1(capsys, monkeypatch, corrupt, value):
    from hjdsl.views import compare as driver

    real = driver.closed_form

    def broken(*args, **kwargs):
        out = real(*args, **kwargs)
        out["identity"] = corrupt(out["identity"])
        return out

    monkeypatch.setattr(driver, "closed_form", broken)
    code, out, err = _run(capsys, "compare", FOUR, "--eps", "0.2", "--audit", "0", "--json")
    assert code == 1
    assert "error: network + hopf_cole = x'A^-1x/(4t) fails at eps = 0.2" in err
    report = _strict(out)
    identity = report["rows"][0]
    assert identity["arrow"] == "network + hopf_cole = x'A^-1x/(4t)"
    assert (identity["status"], identity["fails_run"]) == ("FAIL", True) and value(identity["value"])
    assert report["all_exact_hold"] is False
    # the failures are the failing rows, each named on stderr as without --json
    failing = [row for row in report["rows"] if row["fails_run"]]
    assert [(f["eps"], f["arrow"]) for f in report["failures"]] == \
        [(row["eps"], row["arrow"]) for row in failing] and failing[0] == identity
    assert err.count("error: ") == len(failing)


def test_compare_json_carries_the_warnings_and_ignores_quiet(capsys, tmp_path):
    import hjdsl

    code, out, err = _run(capsys, "compare", str(EXAMPLES / "norm_l1_2d.hj"), "--eps", "0",
                          "--audit", "0", "--no-grid", "--json", "-q")
    assert code == 0
    report = _strict(out)
    assert [w["code"] for w in report["warnings"]] == ["W001"] and "warning:" in err
    assert {row["kind"] for row in report["rows"]} >= {"n/a", "exact"}
    model = hjdsl.load(FOUR)
    fit = _fit_file(tmp_path / "fit.nc", model, model.y, model.g, {"spec_sha256": "0" * 64})
    code, out, err = _run(capsys, "compare", FOUR, "--fit", str(fit), "--eps", "0.5", "--audit",
                          "0", "--no-grid", "--json")
    report = _strict(out)
    assert code == 0 and report["model"]["fit_file"] == str(fit)
    assert [(w["code"], w["message"]) for w in report["warnings"]] == \
        [("W101", err.strip().removeprefix("warning: "))]


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "fit.hj"
    path.write_text(SPEC)
    return path


def test_solve_json_is_the_result_file(capsys, spec, tmp_path):
    import xarray as xr

    out_nc = tmp_path / "fit.nc"
    code, out, err = _run(capsys, "solve", str(spec), "--json", "-o", str(out_nc))
    assert code == 0, err
    summary = _strict(out)
    root = xr.open_datatree(out_nc, engine="h5netcdf").to_dataset()
    a = root.attrs
    assert (summary["model"], summary["method"], summary["eps"]) == ("cli_fit", "map", 0.2)
    assert summary["data"] == {"source": "synthetic", "points": 41, "train": 41}
    assert summary["metrics"] == {k: a[k] for k in ("final_loss", "fit_mse", "fit_rmse",
                                                    "noise_level", "likelihood_sd", "deviation")}
    g = root["g_hat"].values
    assert summary["atoms"] == {"count": 3, "g_min": g.min(), "g_mean": g.mean(), "g_max": g.max()}
    assert summary["outputs"] == {"result": str(out_nc), "plot": None}
    assert summary["warnings"] == [] and "sampling" not in summary and "solver" not in summary


def test_solve_json_lists_the_quality_warnings(capsys, spec):
    code, out, err = _run(capsys, "solve", str(spec), "--json", "--steps", "1", "--no-polish")
    assert code == 0
    summary = _strict(out)
    printed = [line.removeprefix("warning: ") for line in err.splitlines()
               if line.startswith("warning: ")]
    assert printed and [w["message"] for w in summary["warnings"]] == printed
    assert summary["warnings"][0]["message"].startswith("the fit is poor")
    assert summary["metrics"]["fit_rmse"] > 3 * summary["metrics"]["noise_level"]
