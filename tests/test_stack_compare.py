"""Stack specs end to end: depth 1 is today's single-layer compare, curvature, the CLI, weights
files and the examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import hjdsl
from hjdsl.cli import main
from hjdsl.jaxsetup import float64

ROOT = Path(__file__).resolve().parents[1]
# The 3-layer example (8 + 4 + 1 units, 25 points: ~8 s of CPU) also runs in docs/networks.md.
STACK_EXAMPLES = [pytest.param(p, marks=pytest.mark.slow) if p.stem == "stack_3layer" else p
                  for p in sorted((ROOT / "examples" / "networks").glob("stack_*.hj"))]

ONE_LAYER = """model one
dim 1
time t = 0.5
layer out lse eps = 0.2 {
  W = [[-1.5], [-0.25], [0.5], [1.25]]
  b = [0.3, -0.1, 0.2, -0.4]
}
evaluate x = grid(-2, 2, 9)
"""


def test_depth_one_is_todays_single_layer_compare():
    stack = hjdsl.parse(ONE_LAYER)
    layer = stack.layers[0]
    y, g = layer.atoms_of_unit(0)
    np.testing.assert_array_equal(y[:, 0], 2 * 0.5 * np.array([-1.5, -0.25, 0.5, 1.25]))
    today = hjdsl.Model.from_atoms(y, g, t=0.5, eps=[0.2], x=stack.evaluate)
    ref = today.compare(audit=0, grid=False)
    ds = stack.compare()
    one = ds.isel(layer=0, unit=0)
    for ours, theirs in (("layer_network", "network"), ("layer_hopf_cole", "hopf_cole"),
                         ("identity_residual", "identity_residual"),
                         ("identity_scale", "identity_scale")):
        np.testing.assert_array_equal(one[ours].values, ref[theirs].values[0], err_msg=ours)
    for ours, theirs in (("layer_tropical", "tropical"), ("layer_hopf_lax", "hopf_lax")):
        np.testing.assert_array_equal(one[ours].values, ref[theirs].values, err_msg=ours)
    # the stack's own f runs on the layer's W, b: the same numbers up to the weight map's rounding
    np.testing.assert_allclose(ds.network.values, ref.network.values[0], rtol=1e-14, atol=1e-15)
    # and its identity row is today's identity row, value for value
    from hjdsl.networks.stack_report import stack_rows
    from hjdsl.views.report import diagram_rows

    rows, today = stack_rows(ds, stack), diagram_rows(ref)
    for mine, todays in (("hopf_cole = ", "network + hopf_cole"),
                         ("network - tropical", "network - tropical"),
                         ("hopf_lax - hopf_cole", "hopf_lax - hopf_cole")):
        ours = [r for r in rows if mine in r.arrow][0]
        theirs = [r for r in today if r.arrow.startswith(todays)][0]
        assert (ours.value, ours.bound, ours.status) == (theirs.value, theirs.bound, theirs.status)


def test_curvature_depth_one_is_the_covariance_of_W():
    """Depth 1: ∇²f = Cov_π(W)/ε (z affine) and the single-layer certificate applies."""
    from hjdsl.networks.curvature import curvature, single_layer_certificate

    stack = hjdsl.parse(ONE_LAYER)
    layer = stack.layers[0]
    x = stack.evaluate
    with float64():
        c = curvature(stack, x)
    W = layer.W[0][:, 0]
    z = x @ layer.W[0].T + layer.b[0]
    pi = np.exp((z - z.max(1, keepdims=True)) / layer.eps)
    pi /= pi.sum(1, keepdims=True)
    var = (pi * W**2).sum(1) - (pi * W).sum(1) ** 2
    np.testing.assert_allclose(c["hessian"][:, 0, 0], var / layer.eps, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(c["expectation"], 0.0)
    assert single_layer_certificate(stack) == pytest.approx(1.5**2 / 0.2)
    assert np.all(np.abs(c["hessian"][:, 0, 0]) <= single_layer_certificate(stack))


def test_curvature_of_a_deep_stack_matches_finite_differences():
    from hjdsl.networks.curvature import curvature
    from test_stack_bound import numpy_forward, random_stack

    stack = random_stack(3, [4, 3], 3, [0.3, 0.2, 0.5], 2, seed=11)
    x = np.array([[0.3, -0.4], [1.1, 0.7]])
    with float64():
        c = curvature(stack, x)
    h = 1e-4
    fd = np.zeros((2, 2, 2))
    for a in range(2):
        for b in range(2):
            ea, eb = np.eye(2)[a] * h, np.eye(2)[b] * h
            fd[:, a, b] = (numpy_forward(stack, x + ea + eb) - numpy_forward(stack, x + ea - eb)
                           - numpy_forward(stack, x - ea + eb)
                           + numpy_forward(stack, x - ea - eb)) / (4 * h * h)
    np.testing.assert_allclose(c["hessian"], fd, rtol=1e-5, atol=1e-6)
    # both terms matter at depth > 1, and they add up to the Hessian to round-off
    assert np.abs(c["expectation"]).max() > 1e-3 and np.abs(c["covariance"]).max() > 1e-3
    total = c["expectation"] + c["covariance"]
    assert np.max(np.abs(total - c["hessian"])) <= 1e-13 * c["scale"].max()


def test_curvature_row_fails_on_a_wrong_hessian(monkeypatch):
    """The report's curvature row judges: a Hessian off by 1e-9 relative is a FAIL."""
    from hjdsl.networks import curvature as C
    from hjdsl.networks.stack_report import _curvature_rows
    from test_stack_bound import random_stack

    import xarray as xr

    stack = random_stack(2, [3], 3, [0.3, 0.5], 1, seed=12)
    ds = xr.Dataset({"x": (("point", "dim"), stack.evaluate[:4])})  # the rows read only x
    with float64():
        c = C.curvature(stack, stack.evaluate[:4])
        monkeypatch.setattr(C, "curvature", lambda s, x: c)
        right = _curvature_rows(ds, stack)[0]
        monkeypatch.setattr(C, "curvature", lambda s, x: {**c, "hessian": c["hessian"] * (1 + 1e-9)})
        wrong = _curvature_rows(ds, stack)[0]
    assert right.status == "PASS" and wrong.status == "FAIL"


def test_weights_file_layer(tmp_path):
    rng = np.random.default_rng(3)
    W1, b1, W2 = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=(4, 3))
    np.savez(tmp_path / "net.npz", **{"fc.weight": W1, "fc.bias": b1, "head": W2})
    spec = tmp_path / "s.hj"
    spec.write_text('model s\ndim 2\nlayer fc softplus "net.npz" W = "fc.weight" b = "fc.bias" '
                    'eps = 0.1\nlayer out lse "net.npz" W = "head" b = "fc.bias" eps = 0.3\n'
                    "evaluate x = [[0, 0], [1, -1]]\n")
    with pytest.raises(hjdsl.HJError) as err:  # b of `out` must be (1, 4), the file's is (3,)
        hjdsl.load(spec)
    assert "b must be (width, atoms) = (1, 4)" in str(err.value.diagnostics[0].message)
    spec.write_text(spec.read_text().replace('W = "head" b = "fc.bias"', 'W = "head" b = "hb"'))
    np.savez(tmp_path / "net.npz", **{"fc.weight": W1, "fc.bias": b1, "head": W2,
                                     "hb": np.zeros(4)})
    stack = hjdsl.load(spec)
    x = np.array([[0.0, 0.0], [1.0, -1.0]])
    hidden = 0.1 * np.logaddexp(0.0, (x @ W1.T + b1) / 0.1)  # softplus_ε, written out here
    f = 0.3 * np.log(np.exp(hidden @ W2.T / 0.3).sum(1))
    with float64():
        np.testing.assert_allclose(stack.forward(x)[-1][:, 0], f, rtol=1e-13)


def test_missing_weights_array_is_located(tmp_path):
    np.savez(tmp_path / "net.npz", W=np.ones((2, 1)))
    (tmp_path / "s.hj").write_text('model s\ndim 1\nlayer out lse "net.npz" b = "bias"\n'
                                   "evaluate x = [0]\n")
    with pytest.raises(hjdsl.HJError) as err:
        hjdsl.load(tmp_path / "s.hj")
    d = err.value.diagnostics[0]
    assert "bias" in d.message and d.span is not None and (d.span.line, d.span.col) == (3, 25)
    assert err.value.exit_code == 2


# --- the CLI ---------------------------------------------------------------------------------
SMALL = """model small
dim 2
layer h softplus width = 2 eps = 0.1 seed = 4
layer out lse atoms = 3 eps = 0.2 seed = 5
evaluate x = [[0, 0], [1, 1], [-1, 0.5], [0.3, -0.2]]
"""


def test_cli_compare_json_and_dataset(tmp_path, capsys):
    path = tmp_path / "small.hj"
    path.write_text(SMALL)
    out = tmp_path / "s.nc"
    assert main(["compare", str(path), "--json", "-o", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "stack" and report["all_exact_hold"] and report["depth"] == 2
    kinds = {r["arrow"]: r["kind"] for r in report["rows"]}
    assert kinds["stack: |f_eps - f_0| <= sum_l (prod_{k>l} Lip_k) eps_l log N_l"] == "exact"
    assert any(k == "n/a" for k in kinds.values())
    assert all(r["detail"].startswith("not applicable") for r in report["rows"]
               if r["kind"] == "n/a")
    import xarray as xr

    with xr.open_dataset(out) as ds:
        assert ds.sizes["layer"] == 2 and ds.attrs["kind"] == "stack"
        assert ds.hidden.attrs["units"] == "1" and ds.attrs["Conventions"].startswith("CF-")
        assert float(ds.stack_gap.max()) <= float(ds.stack_bound)


@pytest.mark.parametrize("argv, message", [
    (["compare", "{spec}", "--eps", "0.1"], "each layer has its own eps"),
    (["solve", "{spec}"], "not available for a stack spec"),
    (["compile", "{spec}", "--target", "jax"], "not available for a stack spec"),
    (["bifurcate", "{spec}"], "not available for a stack spec"),
])
def test_cli_single_layer_verbs_refuse_stacks(argv, message, capsys):
    spec = str(ROOT / "examples" / "networks" / "stack_3layer.hj")
    assert main([a.format(spec=spec) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "internal error" not in err


def test_cli_check_and_attribute(tmp_path, capsys):
    spec = str(tmp_path / "small.hj")
    Path(spec).write_text(SMALL)
    assert main(["check", spec]) == 0
    assert "ok (stack small, d=2, 2 layers 2-1, 4 points)" in capsys.readouterr().out
    assert main(["attribute", spec, "--at", "0.2,-0.3", "--at", "1,1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bound_max_norm"].startswith("not applicable")
    hess = np.array(report["points"][1]["hessian"])
    assert hess.shape == (2, 2) and np.allclose(hess, hess.T)
    stack = hjdsl.load(spec)
    with float64():  # the Hessian of the stack's f, by finite differences of its forward pass
        f = lambda x: stack.forward(np.array([x]))[-1][0, 0]  # noqa: E731
        h, x = 1e-4, np.array([1.0, 1.0])
        e = np.eye(2) * h
        fd = np.array([[(f(x + e[a] + e[b]) - f(x + e[a] - e[b]) - f(x - e[a] + e[b])
                         + f(x - e[a] - e[b])) / (4 * h * h) for b in range(2)] for a in range(2)])
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("path", STACK_EXAMPLES, ids=lambda p: getattr(p, "name", None))
def test_stack_examples_hold_every_exact_relation(path):
    from hjdsl.networks.stack_report import stack_rows
    from hjdsl.views.report import failures

    stack = hjdsl.load(path)
    # every row but the curvature ones (test_cli_check_and_attribute and the docs cover those)
    rows = stack_rows(stack.compare())
    assert rows and failures(rows) == []


def test_layers_without_seeds_draw_different_weights():
    stack = hjdsl.parse("model s\ndim 1\nlayer a lse width = 2 atoms = 2\n"
                        "layer b lse width = 2 atoms = 2\nlayer out lse atoms = 2\nevaluate x = [0]\n")
    a, b, out = stack.layers
    assert not np.array_equal(a.W, b.W) and not np.array_equal(a.b, b.b)
    rng = np.random.default_rng([1, 0])  # layer b: seed = its position, W from stream 0
    np.testing.assert_array_equal(b.W, rng.normal(0.0, 1.0, (2, 2, 2)))
