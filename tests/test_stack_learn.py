"""Stacks that learn W, b from `data` (`fit learn = STEPS lr = RATE`): the gradient, the loss and
every view on the trained weights, checked against a numpy forward pass written here."""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl
from hjdsl.errors import RunError
from hjdsl.jaxsetup import float64, jax_x64
from hjdsl.networks.stack_report import stack_rows
from hjdsl.networks.stack_train import gradient
from hjdsl.views.report import failures

SPEC = """model learned
dim 2
data synthetic n = 24 seed = 3 {{ x ~ uniform(-1, 1); value = abs(x[0]) + x[1]^2 }}
fit learn = {steps} lr = {lr}
layer hidden softplus width = 5 eps = 0.2 seed = 1 {{ W ~ normal(0, 1); b ~ normal(0, 0.1) }}
layer mid lse width = 3 atoms = 3 eps = 0.1 seed = 4 {{ W ~ normal(0, 0.5) }}
layer out lse atoms = 2 eps = 0.05 seed = 2 {{ W ~ normal(0, 0.5); b = 0 }}
evaluate x = grid(-1, 1, 3)
"""


def numpy_forward(layers, x):
    """f_ε(x) of a stack from its (W, b, ε), max-shifted: independent of hjdsl's kernels."""
    h = np.asarray(x, dtype=np.float64)
    for W, b, eps in layers:
        z = np.einsum("pd,ujd->puj", h, W) + b[None]
        m = z.max(axis=-1)
        h = m + eps * np.log(np.exp((z - m[..., None]) / eps).sum(axis=-1))
    return h[:, 0]


def weights(stack):
    return [(la.W, la.b, la.eps) for la in stack.layers]


@pytest.fixture(scope="module")
def learned():
    stack = hjdsl.parse(SPEC.format(steps=150, lr=0.05))
    return stack, stack.trained()


def test_training_lowers_the_loss_and_records_it(learned):
    stack, done = learned
    data = stack.training.data
    start = np.mean((numpy_forward(weights(stack), data.x) - data.value) ** 2)
    end = np.mean((numpy_forward(weights(done), data.x) - data.value) ** 2)
    assert done.training.loss_start == pytest.approx(start, rel=1e-12)
    assert done.training.loss_end == pytest.approx(end, rel=1e-12)
    assert end < 0.5 * start
    # the softplus layer's zero atom stays the zero atom
    assert np.all(done.layers[0].W[:, 0] == 0) and np.all(done.layers[0].b[:, 0] == 0)


def test_gradient_is_jax_grad_of_an_independent_mse(learned):
    import jax
    import jax.numpy as jnp

    stack, _ = learned
    data = stack.training.data
    eps = [la.eps for la in stack.layers]

    def loss(params):  # written afresh: max shift by hand, no logsumexp
        h = jnp.asarray(data.x)
        for (W, b), e in zip(params, eps):
            z = jnp.einsum("pd,ujd->puj", h, W) + b[None]
            m = jax.lax.stop_gradient(z.max(axis=-1))
            h = m + e * jnp.log(jnp.exp((z - m[..., None]) / e).sum(axis=-1))
        return jnp.mean((h[:, 0] - jnp.asarray(data.value)) ** 2)

    with float64():
        jax_x64()  # x64 on for this scope only
        params = [(jnp.asarray(la.W), jnp.asarray(la.b)) for la in stack.layers]
        assert float(loss(params)) == pytest.approx(
            np.mean((numpy_forward(weights(stack), data.x) - data.value) ** 2), rel=1e-12)
        expected = [(np.array(gW), np.array(gb)) for gW, gb in jax.grad(loss)(params)]
    got = gradient(stack)
    expected[0][0][:, 0], expected[0][1][:, 0] = 0.0, 0.0  # the fixed zero atom of softplus
    for (gW, gb), (eW, eb) in zip(got, expected):
        scale = max(np.abs(eW).max(), np.abs(eb).max(), 1.0)
        np.testing.assert_allclose(gW, eW, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(gb, eb, rtol=0, atol=1e-12 * scale)
    assert any(np.abs(gW).max() > 1e-3 for gW, _ in got)  # a real gradient, not zeros


def test_views_run_on_the_trained_weights_and_still_hold(learned):
    stack, done = learned
    ds = stack.compare()
    x = ds.x.values
    np.testing.assert_allclose(ds.network.values, numpy_forward(weights(done), x), rtol=1e-12)
    assert not np.allclose(ds.network.values, numpy_forward(weights(stack), x), rtol=1e-3)
    assert ds.attrs["train_loss_end"] < ds.attrs["train_loss_start"]
    # the stack bound, recomputed here from the trained weights, holds at every point
    tropical = [(W, b, 0.0) for W, b, _ in weights(done)]
    h = x
    for W, b, _ in tropical:
        h = (np.einsum("pd,ujd->puj", h, W) + b[None]).max(axis=-1)
    lips = [np.abs(W).sum(axis=-1).max() for W, _, _ in weights(done)]
    bound = sum(np.prod(lips[l + 1:]) * e * np.log(W.shape[1])
                for l, (W, _, e) in enumerate(weights(done)))
    assert float(ds.stack_bound) == pytest.approx(bound, rel=1e-12)
    assert np.all(np.abs(ds.network.values - h[:, 0]) <= bound)
    rows = stack_rows(ds)
    assert not failures(rows) and any(r.arrow.startswith("layer hidden:") for r in rows)
    at = done.attribute(x[:1])  # the curvature is that of the trained stack too
    assert at.attrs["train_loss_end"] == ds.attrs["train_loss_end"]


@pytest.mark.parametrize("lr", [1e200])
def test_a_diverging_fit_is_a_run_error(lr):
    stack = hjdsl.parse(SPEC.format(steps=5, lr=lr))
    with pytest.raises(RunError, match="diverged") as err:
        stack.compare()
    assert "smaller lr" in err.value.diagnostics[0].hint


def test_a_stack_without_data_is_unchanged():
    spec = SPEC.replace(SPEC.splitlines()[2] + "\n", "").replace(SPEC.splitlines()[3] + "\n", "")
    stack = hjdsl.parse(spec.format(steps=1, lr=1))
    assert stack.training is None and stack.trained() is stack
