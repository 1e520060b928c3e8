"""`hjdsl attribute` on residual and recurrent specs, against a loss written here from the formulas.

The reference never runs hjdsl's cells or recursions: each net is unrolled below with its own
update formula, a zero perturbation δ_k on every state (∂Loss/∂δ_k = ∂Loss/∂x_k), one copy θ_k
of the parameters per step (so a recurrent net's shared θ has a gradient per step too) and a gate
α_k on every update, x_{k+1} = x_k + α_k h F; jax.jacrev of the per-sample losses then gives
every per-sample, per-step quantity the attribution claims.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

import hjdsl
from hjdsl.cli import main
from hjdsl.jaxsetup import float64, jax_x64
from hjdsl.networks.flow_attribute import entropy_normalised, flow_attribution, lse_weights

from conftest import EXAMPLES

TOL = 1e-12

DATA = """data synthetic n = {n} seed = 2 {{
  x ~ normal(0, 1)
  value = x[0] - x[1]
}}
"""
CASES = {  # name: (dim, network line, samples)
    "tanh": (3, "residual tanh steps = 4 T = 1 seed = 3 scale = 1.5", 6),
    "lse": (2, "residual lse steps = 3 T = 1 eps = 0.3 width = 3 seed = 5", 5),
    "elman": (4, "recurrent elman width = 3 seed = 1 scale = 1.2", 6),
    "lstm": (3, "recurrent lstm width = 2 seed = 4 scale = 1.5", 5),
    "ssm": (5, "recurrent ssm width = 3 seed = 2", 4),
}
# (softplus differs from tanh only in its formula, which no code path here special-cases:
# test_residual_pmp checks its co-state; leaving it out keeps this file inside its time budget)


def spec(name: str) -> str:
    dim, line, n = CASES[name]
    return f"model {name}\ndim {dim}\n{line}\n" + DATA.format(n=n)


def reference_F(cell, x, th, u, eps):
    """The update direction F (n, d) of one step, from the cell's formula."""
    import jax
    import jax.numpy as jnp

    if cell in ("tanh", "softplus"):
        z = x @ th["W"].T + th["b"]
        return jnp.tanh(z) if cell == "tanh" else eps * jnp.logaddexp(0.0, z / eps)
    if cell == "lse":
        return eps * jax.scipy.special.logsumexp(
            (jnp.einsum("imc,nc->nim", th["W"], x) + th["b"]) / eps, axis=-1)
    if cell == "elman":
        return jnp.tanh(x @ th["W"].T + jnp.outer(u, th["U"]) + th["b"]) - x
    if cell == "ssm":
        return x @ th["A"].T + jnp.outer(u, th["B"]) - x
    m = x.shape[1] // 2  # lstm: x = (h, c)
    h, c = x[:, :m], x[:, m:]
    z = h @ th["W"].T + jnp.outer(u, th["U"]) + th["b"]
    gate = [1 / (1 + jnp.exp(-z[:, j * m:(j + 1) * m])) for j in range(3)]
    c_new = gate[1] * c + gate[0] * jnp.tanh(z[:, 3 * m:])
    return jnp.concatenate([gate[2] * jnp.tanh(c_new), c_new], axis=1) - x


def readout(cell, d, params):
    if cell == "ssm":
        return np.asarray(params["C"])
    if cell == "lstm":
        return np.concatenate([np.full(d // 2, 2.0 / d), np.zeros(d // 2)])
    return np.full(d, 1.0 / d)


def reference(model):
    """Per-sample losses ℓ_i/n as a function of (θ_k per step, δ_k, α_k), and its inputs."""
    import jax.numpy as jnp

    net = model.net()
    cell, K = model.cell_name, model.steps
    recurrent = model.kind == "recurrent"
    x0, v, h, eps = net.x0, net.v, net.h, net.eps
    r = readout(cell, x0.shape[1], net.extra or {})
    thetas = [{k: a if recurrent else a[j] for k, a in net.theta.items()} for j in range(K)]

    def losses(thetas, deltas, gates):
        x = jnp.asarray(x0)
        for j in range(K):
            x = x + deltas[j]
            x = x + gates[j] * h * reference_F(cell, x, thetas[j], net.u[j] if recurrent
                                               else None, eps)
        x = x + deltas[K]
        return (x @ r - v) ** 2 / v.size

    zeros = np.zeros((K + 1, *x0.shape))
    return losses, thetas, zeros, net


def rel(a, b):
    """max |a − b| / max |b| (absolute where b is all zeros: an Elman W at k = 0, where h_0 = 0)."""
    a, b = np.asarray(a), np.asarray(b)
    scale = np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / (scale if scale > 0 else 1.0))


NODES = 96  # the reference's own Gauss–Legendre rule for the gate integral


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    """The model, hjdsl's Dataset, and the reference: per-sample Jacobians of ℓ_i/n in the
    per-step θ_k, δ_k (at α = 1) and in α_k at every node α·1, and ℓ_i/n at α = 1 and 0."""
    model = hjdsl.parse(spec(request.param), name=f"{request.param}.hj")
    ds = flow_attribution(model)
    K = model.steps
    with float64():
        jax = jax_x64()
        losses, thetas, zeros, net = reference(model)
        t, w = np.polynomial.legendre.leggauss(NODES)
        alphas = np.concatenate([np.ones((1, K)), (t[:, None] + 1) / 2 * np.ones(K)])

        def everything(thetas, shared):  # one compiled program per case
            per_theta, per_delta = jax.jacrev(losses, argnums=(0, 1))(thetas, zeros, np.ones(K))
            gates = jax.vmap(jax.jacrev(lambda g: losses(thetas, zeros, g)))(alphas)
            if model.kind == "recurrent":  # the shared θ's gradient: θ_k = θ at every step
                grad = jax.grad(lambda th: losses([th] * K, zeros, np.ones(K)).sum())(shared)
            else:
                grad = jax.grad(lambda th: losses(th, zeros, np.ones(K)).sum())(thetas)
            ends = losses(thetas, zeros, np.ones(K)), losses(thetas, zeros, np.zeros(K))
            return per_theta, per_delta.sum(axis=0), gates, grad, ends

        per_theta, per_delta, gates, grad, ends = jax.jit(everything)(thetas, dict(net.theta))
    ref = {"per_theta": per_theta, "weights": w / 2, "grad": grad, "net": net,
           "costate": -np.asarray(per_delta),  # rows: the samples are independent
           "gate_at_one": np.asarray(gates[0]), "gate_nodes": np.asarray(gates[1:]),
           "ends": tuple(np.asarray(e) for e in ends)}
    return model, ds, ref


def test_costate_and_per_sample_dtheta_H_match_independent_jax(case):
    model, ds, ref = case
    net, per_theta = ref["net"], ref["per_theta"]
    assert rel(ds.costate.values, ref["costate"]) <= TOL
    for k in range(model.steps):  # ∂(ℓ_i/n)/∂θ_k = −h ∂_θℋ(x_k^i, p_{k+1}^i, θ_k)
        for name, expected in per_theta[k].items():
            ours = -net.h * ds[f"dH_d{name}"].values[k]
            assert ours.shape == np.shape(expected)
            assert rel(ours, expected) <= TOL, (k, name)


def test_dtheta_H_summed_over_samples_is_the_weight_gradient(case):
    model, ds, ref = case
    net, grad = ref["net"], ref["grad"]
    for name in net.theta:
        summed = -net.h * ds[f"dH_d{name}"].values[:-1].sum(axis=1)   # (K, ...)
        if model.kind == "recurrent":
            assert rel(summed.sum(axis=0), grad[name]) <= TOL
        else:
            assert rel(summed, np.stack([g[name] for g in grad])) <= TOL
    if model.kind == "residual":  # the per-step norm of the whole θ_k gradient
        norm = np.sqrt(sum(np.sum(np.stack([g[n] for g in grad]).reshape(model.steps, -1) ** 2,
                                  axis=1) for n in net.theta))
        assert rel(ds.step_gradient_norm.values[:-1], norm) <= TOL


def test_gate_derivative_and_the_integrated_attribution(case):
    """−h ℋ_k = ∂(ℓ_i/n)/∂α_k at α = 1; A_k = ∫_0^1 ∂/∂α_k at α·1, by an independent 96-node
    rule; Σ_k A_k^i = (ℓ_i(1) − ℓ_i(0))/n."""
    model, ds, ref = case
    at_one, per_node, ends = ref["gate_at_one"], ref["gate_nodes"], ref["ends"]
    assert rel(ds.gate_derivative.values[:-1], at_one.T) <= TOL
    integral = np.einsum("q,qnk->kn", ref["weights"], per_node)
    assert rel(ds.step_attribution.values[:-1], integral) <= 1e-10
    assert rel(ds.step_attribution.values[:-1].sum(axis=0), ends[0] - ends[1]) <= 1e-10
    assert float(ds.baseline_loss) == pytest.approx(ends[1].sum(), rel=1e-14)
    assert ds.attrs["completeness_residual"] <= 1e-10 and ds.attrs["quadrature_error"] <= 1e-12
    assert np.all(np.isnan(ds.step_attribution.values[-1]))  # the terminal step has no update


def test_lse_atom_weights_are_an_independent_softmax(case):
    model, ds, _ = case
    if model.cell_name != "lse":
        assert "atom_weight" not in ds and "Gibbs weights pi over atoms" in ds.attrs[
            "not_applicable"]
        return
    net = model.net()
    x = net.x0  # the states, run forward here in numpy
    eps, h = net.eps, net.h
    for k in range(model.steps):
        W, b = net.theta["W"][k], net.theta["b"][k]
        z = (np.einsum("imc,nc->nim", W, x) + b) / eps
        pi = softmax(z, axis=-1)
        assert np.abs(ds.atom_weight.values[k].sum(axis=-1) - 1).max() <= 1e-14
        assert rel(ds.atom_weight.values[k], pi) <= TOL
        x = x + h * eps * np.log(np.exp(z).sum(axis=-1))
    assert ds.atom_weight.dims == ("step", "sample", "component", "atom")
    # ∂F_i/∂b_ij = π_ij, so ∂ℋ_k/∂b_ij = p_{k+1,i} π_ij: the weights, scaled by the co-state
    expected = ds.costate.values[1:, :, :, None] * ds.atom_weight.values[:-1]
    assert rel(ds.dH_db.values[:-1], expected) <= TOL


@settings(max_examples=40, deadline=None)
@given(st.floats(-3, 3), st.floats(1e-3, 2.0), st.integers(0, 2**31 - 1))
def test_lse_weights_stay_finite_and_normalised_at_extreme_logits(log_scale, eps, seed):
    from hjdsl.networks.cells import CELLS
    from hjdsl.networks.costate import Net

    rng = np.random.default_rng(seed)
    d, m, K, n = 2, 3, 2, 4
    W = rng.normal(size=(K, d, m, d)) * 10.0 ** log_scale
    b = rng.normal(size=(K, d, m)) * 10.0 ** log_scale
    net = Net(CELLS["lse"], {"W": W, "b": b}, np.zeros((n, d)), None, np.zeros(n), 0.1, K, eps)
    states = rng.normal(size=(K + 1, n, d))
    pi = lse_weights(net, states)
    assert np.all(np.isfinite(pi)) and np.abs(pi.sum(axis=-1) - 1).max() <= 1e-14
    z = np.einsum("kimc,knc->knim", W, states[:K]) + b[:, None]
    assert np.allclose(pi, softmax(z / eps, axis=-1), rtol=1e-12, atol=1e-300)
    ent = entropy_normalised(pi)
    assert np.all((ent >= -1e-15) & (ent <= 1 + 1e-12))


EXAMPLE_DIMS = {  # example: dims the Dataset must have besides step, sample, component
    "resnet": {"W_row", "W_col", "b_index"}, "rnn": {"U_index", "iteration"},
    "lstm": {"W_row", "U_index"}, "ssm": {"A_row", "B_index"},
}


@pytest.mark.parametrize("name", list(EXAMPLE_DIMS))
def test_cli_writes_a_dataset_xarray_reads_back(name, tmp_path, capsys):
    out = tmp_path / f"{name}.nc"
    argv = ["attribute", str(EXAMPLES / "networks" / f"{name}.hj"), "-o", str(out), "--json"]
    if name == "resnet":
        argv += ["--plot", str(tmp_path / "steps.png")]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    with xr.open_dataset(out) as ds:
        assert {"step", "sample", "component"} | EXAMPLE_DIMS[name] <= set(ds.sizes)
        assert ds.costate.dims == ("step", "sample", "component")
        assert ds.step_attribution.dims == ("step", "sample")
        K = ds.sizes["step"] - 1
        total = float(ds.step_attribution[:K].sum())
        assert total == pytest.approx(float(ds.terminal_loss - ds.baseline_loss), rel=1e-10)
        assert ds.attrs["Conventions"].startswith("CF-") and ds.costate.attrs["units"] == "1"
    assert len(report["per_step"]) == K + 1 and report["per_step"][-1]["attribution"] is None
    assert "eps* = N^(-1/d)" in report["not_applicable"]
    if name == "resnet":
        assert (tmp_path / "steps.png").stat().st_size > 0


def test_the_table_shows_the_loss_account_and_what_does_not_apply(capsys):
    assert main(["attribute", str(EXAMPLES / "networks" / "ssm.hj")]) == 0
    out = capsys.readouterr().out
    assert "carried by the steps" in out and "completeness residual" in out
    assert "not applicable to this spec:" in out and "curvature bounds, certified radius" in out


@pytest.mark.parametrize("options, message", [
    (["--at", "0,0"], "--at: a network is attributed on its data"),
    (["--eps", "0.1"], "--eps: the cell's temperature is `eps =` on the network line"),
    (["--fit", "fit.nc"], "--fit reads fitted atoms"),
    (["--robustness"], "--robustness: the uniform curvature bounds are single-layer bounds"),
    (["--robustness-plot", "r.png"], "--robustness-plot: the uniform curvature bounds"),
    (["--delta-f", "0.5"], "--delta-f sets the certified radius of one LSE layer"),
])
def test_atom_model_options_are_refused_with_the_reason(options, message, tmp_path, capsys):
    path = tmp_path / "net.hj"
    path.write_text(spec("tanh"))
    assert main(["attribute", str(path), *options]) == 2
    err = capsys.readouterr().err
    assert f"not applicable to a residual network spec: {message}" in err
    assert "Traceback" not in err


def test_the_attribution_over_the_memory_budget_is_refused_before_it_runs(monkeypatch, capsys,
                                                                         tmp_path):
    from hjdsl.networks.flow_attribute import attribution_memory

    path = tmp_path / "net.hj"
    path.write_text(spec("elman"))
    need = attribution_memory(hjdsl.load(path).net(), 0)
    monkeypatch.setenv("HJDSL_MAX_MEMORY", str(need - 1))
    assert main(["check", str(path)]) == 0  # the spec itself fits: only the attribution does not
    capsys.readouterr()
    assert main(["attribute", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the attribution of 6 samples × 4 steps (state width 3) would need" in err
    assert "use fewer data points or steps" in err and "Traceback" not in err
    monkeypatch.setenv("HJDSL_MAX_MEMORY", str(need))
    assert main(["attribute", str(path), "-q"]) == 0


def test_a_gated_path_that_diverges_is_a_failed_run(monkeypatch, tmp_path, capsys):
    from hjdsl.networks import flow_attribute

    real = flow_attribute._gated_hamiltonians

    def overflowing(net, alpha):  # as if the net overflowed at one α of the rule
        ham = real(net, alpha)
        ham[0, 0, 0] = np.inf
        return ham

    monkeypatch.setattr(flow_attribute, "_gated_hamiltonians", overflowing)
    path = tmp_path / "net.hj"
    path.write_text(spec("ssm"))
    assert main(["attribute", str(path)]) == 1
    err = capsys.readouterr().err
    assert "the step-gate integral of this recurrent net is not finite" in err
    assert "Traceback" not in err


def test_the_table_warns_when_the_gate_integral_did_not_converge():
    from hjdsl.networks.flow_attribute_report import render

    ds = flow_attribution(hjdsl.parse(spec("ssm"), name="ssm.hj"))
    assert "warning" not in render(ds, {})  # converged: 1e-16
    ds.attrs["quadrature_error"] = 1e-6
    assert "warning: the gate integral did not converge to 1e-8; A_k is approximate" in \
        render(ds, {})
