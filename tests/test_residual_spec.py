"""Residual and recurrent specs end to end: the parsed model, `hjdsl compare`, its Dataset and JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import hjdsl
from hjdsl.cli import main
from hjdsl.networks import flow_results
from hjdsl.networks.flow_report import flow_rows

from conftest import EXAMPLES

MINE = ["resnet", "lstm", "rnn", "ssm"]
SPECS = [EXAMPLES / "networks" / f"{name}.hj" for name in MINE]

RESNET = """model r
dim 2
let K = 3
residual tanh steps = K h = 0.2 {
  W = [[0.5, -1], [1, 0.25]]
}
data synthetic n = 5 seed = 1 {
  x ~ uniform(-1, 1)
  value = x[0]
}
"""


@pytest.mark.parametrize("path", SPECS, ids=MINE)
def test_every_network_example_holds_its_exact_identities(path):
    model = hjdsl.load(path)
    ds = model.compare()
    rows = flow_rows(ds)
    assert not [r for r in rows if r.fails_run]
    assert ds.sizes["step"] == model.steps + 1 and ds.sizes["sample"] == model.data.size
    assert float(ds.costate_error.max()) <= 1e-12
    by_check = {r.check: r for r in rows}
    ode = by_check["Euler -> ODE, observed order"]
    if model.kind == "residual":
        assert ode.status == "PASS" and abs(ode.value - 1) <= 0.15
        ds["ode_order"][-1] = 0.8  # outside 1 ± 0.15: a warning, never a failed run
        ode = {r.check: r for r in flow_rows(ds)}["Euler -> ODE, observed order"]
        assert ode.status == "WARN" and not ode.fails_run
    else:
        assert ode.kind == "n/a" and ode.detail.startswith("not applicable: ")
    if model.declared is not None:  # the (H, ε) a user declares is never presented as exact
        declared = [r for r in rows if r.check.startswith("declared H(p)")]
        assert declared and declared[0].kind == "structural"
        assert ds.attrs["declared_label"] == "structural"
    if model.learn:
        assert float(ds.train_loss[-1]) < float(ds.train_loss[0])


def test_literal_parameters_are_used_as_written():
    ssm = hjdsl.load(EXAMPLES / "networks" / "ssm.hj")
    np.testing.assert_array_equal(ssm.params["A"], [[0.9, 0.1], [-0.2, 0.8]])
    np.testing.assert_array_equal(ssm.readout_params["C"], [1, -1])
    assert ssm.param_source == "literal" and ssm.steps == 5 and ssm.h == 1.0
    model = hjdsl.parse(RESNET)
    assert model.param_source == "mixed"  # W given, b drawn
    assert model.params["W"].shape == (3, 2, 2)  # one shared W broadcast to every step
    np.testing.assert_array_equal(model.params["W"][2], [[0.5, -1], [1, 0.25]])
    # the Euler steps use exactly that W
    x = model.data.x
    for k in range(3):
        x = x + 0.2 * np.tanh(x @ model.params["W"][k].T + model.params["b"][k])
    state = model.compare().state.values[-1]
    np.testing.assert_allclose(state, x, rtol=1e-14, atol=1e-15)


def test_set_overrides_a_let_used_by_the_network():
    model = hjdsl.parse(RESNET, overrides=["K=5"])
    assert model.steps == 5 and model.overrides == ("K=5",)


def test_compare_cli_writes_a_step_dataset_and_json(tmp_path, capsys):
    out = tmp_path / "ssm.nc"
    assert main(["compare", str(EXAMPLES / "networks" / "ssm.hj"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "co-state = -dLoss/dx_k" in text and "not applicable" in text and "PASS" in text
    ds = xr.open_dataset(out)
    assert {"step", "sample", "component"} <= set(ds.dims)
    assert ds.attrs["Conventions"].startswith("CF-") and ds.attrs["network"] == "recurrent"
    assert all("long_name" in ds[v].attrs and "units" in ds[v].attrs for v in ds.variables)
    ds.close()
    assert main(["compare", str(EXAMPLES / "networks" / "ssm.hj"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["all_exact_hold"] and report["network"] == "recurrent"
    assert len(report["costate_error_per_step"]) == 6
    assert {r["kind"] for r in report["rows"]} >= {"exact", "n/a"}


def test_a_corrupted_costate_fails_the_run(monkeypatch, capsys):
    """The exact rows can fail: a co-state off by one part in 1e9 is a FAIL and exit 1."""
    real = flow_results.pmp

    def off(net):
        run = real(net)
        return type(run)(run.states, run.costates * (1 + 1e-9), run.hamiltonian, run.dtheta_h,
                         run.loss)

    monkeypatch.setattr(flow_results, "pmp", off)
    assert main(["compare", str(EXAMPLES / "networks" / "ssm.hj")]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "error: co-state = -dLoss/dx_k fails" in captured.err


@pytest.mark.parametrize("argv, message", [
    (["compare", "SPEC", "--eps", "1"], "--eps does not apply to a residual network spec"),
    (["compare", "SPEC", "--plot", "x.png"], "--plot does not apply"),
    (["solve", "SPEC"], "it runs with hjdsl check, hjdsl compare and hjdsl attribute"),
    (["attribute", "SPEC", "--at", "0,0"], "not applicable to a residual network spec: --at"),
    (["compile", "SPEC", "--target", "jax"], "it runs with hjdsl check, hjdsl compare and hjdsl"),
    (["bifurcate", "SPEC"], "it runs with hjdsl check, hjdsl compare and hjdsl attribute"),
])
def test_atom_model_options_and_verbs_are_refused_clearly(argv, message, capsys, tmp_path):
    spec = tmp_path / "r.hj"
    spec.write_text(RESNET)
    code = main([str(spec) if a == "SPEC" else a for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert "Traceback" not in err and "internal error" not in err


def test_check_prints_the_network_summary(capsys):
    assert main(["check", *map(str, SPECS)]) == 0
    out = capsys.readouterr().out
    assert "ok (model resnet, residual tanh, 10 steps, h = 0.1, state width 2, 16 data points)" \
        in out
    assert "recurrent lstm, 8 steps, state width 6" in out


def test_a_diverging_network_is_a_failed_run_not_a_check(tmp_path, capsys):
    spec = tmp_path / "div.hj"
    spec.write_text("model div\ndim 300\nrecurrent ssm width = 2 {\n  A = [[50, 0], [0, 40]]\n}\n"
                    "data synthetic n = 4 seed = 1 {\n  x ~ uniform(-1, 1)\n  value = x[0]\n}\n")
    assert main(["compare", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "is not finite at step" in err and "Traceback" not in err


def test_a_non_finite_identity_error_fails_its_row():
    ds = hjdsl.load(EXAMPLES / "networks" / "ssm.hj").compare()
    assert not [r for r in flow_rows(ds) if r.fails_run]
    ds["costate_error"][2] = np.nan
    row = flow_rows(ds)[0]
    assert row.status == "FAIL" and row.fails_run and "non-finite" in row.detail
