"""Recurrent nets (Elman, LSTM, linear SSM): backpropagation through time is the co-state recursion.

References are jax.grad of losses written here from the textbook recurrences, not hjdsl's cells.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hjdsl.jaxsetup import float64, jax_x64
from hjdsl.networks.cells import CELLS, draw_params
from hjdsl.networks.costate import Net, pmp
from hjdsl.networks.train import adam, weight_gradient


def sigmoid(z):
    import jax.numpy as jnp

    return 1.0 / (1.0 + jnp.exp(-z))


def reference_next(cell, x, u, th):
    """x_{k+1} for a batch: x (n, width), u (n,)."""
    import jax.numpy as jnp

    if cell == "elman":
        return jnp.tanh(x @ th["W"].T + jnp.outer(u, th["U"]) + th["b"])
    if cell == "ssm":
        return x @ th["A"].T + jnp.outer(u, th["B"])
    n = x.shape[1] // 2  # lstm: x = (h, c); gates in the order input, forget, output, cell
    h, c = x[:, :n], x[:, n:]
    z = h @ th["W"].T + jnp.outer(u, th["U"]) + th["b"]
    i, f, o, g = sigmoid(z[:, :n]), sigmoid(z[:, n:2 * n]), sigmoid(z[:, 2 * n:3 * n]), \
        jnp.tanh(z[:, 3 * n:])
    c = f * c + i * g
    return jnp.concatenate([o * jnp.tanh(c), c], axis=1)


def readout(cell, width, C=None):
    if cell == "ssm":
        return C
    if cell == "lstm":
        return np.r_[np.full(width // 2, 2.0 / width), np.zeros(width // 2)]
    return np.full(width, 1.0 / width)


def tail_loss(cell, th, x, k, u, v, r):
    """mean (r·x_K − v)² of the recurrence run from x at step k to the end of the sequence."""
    import jax.numpy as jnp

    for j in range(k, u.shape[0]):
        x = reference_next(cell, x, u[j], th)
    return jnp.mean((x @ r - v) ** 2)


def perturbed_loss(cell, th, deltas, x, u, v, r):
    """The same loss with δ_k added to x_k: ∂Loss/∂δ_k = ∂Loss/∂x_k, all k in one reverse pass."""
    import jax.numpy as jnp

    for j in range(u.shape[0]):
        x = reference_next(cell, x + deltas[j], u[j], th)
    x = x + deltas[-1]
    return jnp.mean((x @ r - v) ** 2)


def make_net(cell, hidden, K, n, seed, scale):
    rng = np.random.default_rng(seed)
    c = CELLS[cell]
    width = c.state_width(hidden)
    th = draw_params(c, width, 1, None, seed, scale)
    extra = {k: th.pop(k) for k in list(th) if k not in c.params}
    return Net(c, th, np.zeros((n, width)), rng.normal(size=(K, n)), rng.normal(size=n), 1.0, K,
               1.0, extra)


SLOW = pytest.mark.slow  # more sizes of the same check; one case per cell stays in the default run
CASES = [  # cell, hidden width, K, n, seed, scale
    ("elman", 4, 7, 5, 1, 1.2), ("lstm", 3, 6, 4, 4, 1.5), ("ssm", 5, 9, 3, 7, 1.0),
    pytest.param("elman", 1, 1, 1, 0, 1.0, marks=SLOW),
    pytest.param("elman", 16, 3, 3, 2, 0.7, marks=SLOW),
    pytest.param("lstm", 1, 4, 2, 3, 1.0, marks=SLOW),
    pytest.param("lstm", 8, 3, 3, 5, 1.0, marks=SLOW),
    pytest.param("ssm", 2, 6, 4, 6, 1.0, marks=SLOW),
]


@pytest.mark.parametrize("cell, hidden, K, n, seed, scale", CASES)
def test_bptt_is_the_costate_recursion(cell, hidden, K, n, seed, scale):
    net = make_net(cell, hidden, K, n, seed, scale)
    r = readout(cell, net.x0.shape[1], (net.extra or {}).get("C"))
    with float64():
        jax = jax_x64()
        run = pmp(net)
        ours = weight_gradient(net, run)
        ref, d_x = jax.grad(perturbed_loss, argnums=(1, 2))(
            cell, net.theta, np.zeros((K + 1, *net.x0.shape)), net.x0, net.u, net.v, r)
    for k in range(K + 1):
        g = np.asarray(d_x[k])
        assert np.max(np.abs(run.costates[k] + g)) <= 1e-12 * np.max(np.abs(g)), k
    assert set(ours) == set(CELLS[cell].params)
    for name in ours:
        want = np.asarray(ref[name])
        assert np.max(np.abs(ours[name] - want)) <= 1e-12 * np.max(np.abs(want)), name


def test_bptt_costate_is_the_gradient_of_the_remaining_sequence():
    """A second reference: ∂/∂x_k of the loss of the rest of the sequence started at x_k."""
    net = make_net("lstm", 2, 4, 3, 13, 1.0)
    r = readout("lstm", 4)
    with float64():
        jax = jax_x64()
        run = pmp(net)
        for k in range(5):
            g = np.asarray(jax.grad(tail_loss, argnums=2)("lstm", net.theta, run.states[k], k,
                                                          net.u, net.v, r))
            assert np.max(np.abs(run.costates[k] + g)) <= 1e-12 * np.max(np.abs(g)), k


def test_per_step_terms_are_not_the_total():
    """Weight tying: one step's −Σ_i ∂_θℋ alone is not the gradient (the sum over k is)."""
    net = make_net("elman", 3, 5, 4, 9, 1.0)
    run = pmp(net)
    total = weight_gradient(net, run)["W"]
    last = -run.dtheta_h["W"][-1]
    assert np.max(np.abs(last - total)) > 1e-3 * np.max(np.abs(total))


def test_adam_with_the_costate_gradient_lowers_the_loss():
    net = make_net("elman", 3, 4, 8, 10, 1.0)
    with float64():
        trained, losses = adam(net, 60, 0.05)
    assert losses[-1] < 0.5 * losses[0]
    assert pmp(trained).loss < losses[-1] + 1e-12


@settings(max_examples=6, deadline=None)
@given(width=st.integers(1, 4), K=st.integers(1, 6), n=st.integers(1, 4),
       seed=st.integers(0, 2**16), scale=st.floats(0.1, 3.0))
def test_ssm_costate_identity_holds_for_any_sizes(width, K, n, seed, scale):
    """A linear SSM: p_k = −∂Loss/∂x_k with the closed form ∂Loss/∂x_k = (Aᵀ)^{K−k} ∂Loss/∂x_K."""
    net = make_net("ssm", width, K, n, seed, scale)
    run = pmp(net)
    C, A = net.extra["C"], net.theta["A"]
    g = (2.0 / n) * (run.states[-1] @ C - net.v)[:, None] * C[None, :]  # ∂Loss/∂x_K, (n, width)
    for k in range(K, -1, -1):
        np.testing.assert_allclose(run.costates[k], -g, rtol=0, atol=1e-12 * np.max(np.abs(g)))
        g = g @ A  # row-vector form of Aᵀ g
