"""ResNets as Euler steps: co-state = −∂Loss/∂x_k, Σ_i ∂_θℋ = weight gradient, first-order ODE limit.

The reference gradients come from a loss written here, independently of hjdsl's cells and
recursions: ∂Loss/∂x_k is jax.grad of the loss of the *remaining* steps started at x_k.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hjdsl.jaxsetup import float64, jax_x64
from hjdsl.networks.cells import CELLS, draw_params
from hjdsl.networks.costate import Net, pmp
from hjdsl.networks.ode import convergence, ode_solution
from hjdsl.networks.train import weight_gradient


def reference_step(cell, x, th, eps):
    """One Euler direction F(x) for a batch x (n, d), written from the formulas."""
    import jax.numpy as jnp

    if cell == "tanh":
        return jnp.tanh(jnp.einsum("ij,nj->ni", th["W"], x) + th["b"])
    if cell == "softplus":
        z = (jnp.einsum("ij,nj->ni", th["W"], x) + th["b"]) / eps
        return eps * (jnp.maximum(z, 0) + jnp.log1p(jnp.exp(-jnp.abs(z))))
    z = (jnp.einsum("imj,nj->nim", th["W"], x) + th["b"]) / eps  # lse: per component, m atoms
    top = z.max(axis=-1, keepdims=True)
    return eps * (top[..., 0] + jnp.log(jnp.exp(z - top).sum(axis=-1)))


def tail_loss(cell, thetas, x, k, v, h, eps):
    """mean (mean(x_K) − v)² for the net started at x_k (steps k … K−1)."""
    import jax.numpy as jnp

    for j in range(k, len(thetas)):
        x = x + h * reference_step(cell, x, thetas[j], eps)
    return jnp.mean((x.mean(axis=1) - v) ** 2)


def perturbed_loss(cell, thetas, deltas, x, v, h, eps):
    """The same loss with δ_k added to x_k: ∂Loss/∂δ_k = ∂Loss/∂x_k, all k in one reverse pass."""
    import jax.numpy as jnp

    for j in range(len(thetas)):
        x = x + deltas[j]
        x = x + h * reference_step(cell, x, thetas[j], eps)
    x = x + deltas[-1]
    return jnp.mean((x.mean(axis=1) - v) ** 2)


def make_net(cell, d, steps, n, seed, scale, h=0.1, eps=0.5, atoms=3):
    rng = np.random.default_rng(seed)
    theta = draw_params(CELLS[cell], d, atoms, steps, seed, scale)
    return Net(CELLS[cell], theta, rng.normal(size=(n, d)), None, rng.normal(size=n), h, steps, eps)


SLOW = pytest.mark.slow  # more sizes of the same check; one case per cell stays in the default run
CASES = [  # cell, d, K, n, seed, scale, eps
    ("tanh", 3, 6, 5, 1, 1.5, 1.0), ("softplus", 2, 5, 4, 3, 1.0, 0.3), ("lse", 2, 4, 4, 5, 1.0, 0.2),
    pytest.param("tanh", 1, 1, 1, 0, 1.0, 1.0, marks=SLOW),
    pytest.param("tanh", 8, 4, 3, 2, 0.5, 1.0, marks=SLOW),
    pytest.param("softplus", 5, 3, 6, 4, 2.0, 1.0, marks=SLOW),
    pytest.param("lse", 4, 3, 3, 6, 1.0, 1.0, marks=SLOW),
]


@pytest.mark.parametrize("cell, d, K, n, seed, scale, eps", CASES)
def test_costate_and_weight_gradient_match_independent_autodiff(cell, d, K, n, seed, scale, eps):
    net = make_net(cell, d, K, n, seed, scale, eps=eps)
    with float64():
        jax = jax_x64()
        run = pmp(net)
        ours = weight_gradient(net, run)
        thetas = [net.theta_at(k) for k in range(K)]
        grads, d_x = jax.grad(perturbed_loss, argnums=(1, 2))(
            cell, thetas, np.zeros((K + 1, n, d)), net.x0, net.v, net.h, eps)
    for k in range(K + 1):
        g = np.asarray(d_x[k])
        # per layer and per sample, norm-wise relative to the layer's gradient
        assert np.max(np.abs(run.costates[k] + g)) <= 1e-12 * np.max(np.abs(g)), k
    for k in range(K):
        for name in net.theta:
            ref = np.asarray(grads[k][name])
            assert np.max(np.abs(ours[name][k] - ref)) <= 1e-12 * np.max(np.abs(ref)), (k, name)


def test_costate_is_the_gradient_of_the_remaining_loss():
    """A second reference: ∂/∂x_k of the loss of the steps k … K−1 started at x_k."""
    net = make_net("tanh", 3, 4, 3, 12, 1.2)
    with float64():
        jax = jax_x64()
        run = pmp(net)
        thetas = [net.theta_at(k) for k in range(4)]
        for k in range(5):
            g = np.asarray(jax.grad(tail_loss, argnums=2)(
                "tanh", thetas, run.states[k], k, net.v, net.h, 1.0))
            assert np.max(np.abs(run.costates[k] + g)) <= 1e-12 * np.max(np.abs(g)), k


def test_states_follow_the_euler_recursion():
    net = make_net("tanh", 2, 3, 4, 7, 1.0)
    run = pmp(net)
    x = net.x0
    for k in range(3):
        W, b = net.theta["W"][k], net.theta["b"][k]
        x = x + net.h * np.tanh(x @ W.T + b)
        np.testing.assert_allclose(run.states[k + 1], x, rtol=1e-14, atol=1e-15)
    assert run.loss == pytest.approx(np.mean((x.mean(axis=1) - net.v) ** 2), rel=1e-14)


def test_a_wrong_sign_or_step_in_the_recursion_is_detected():
    """The check can fail: the co-state of a net with h doubled is far from the true one."""
    net = make_net("tanh", 2, 4, 3, 8, 1.0)
    with float64():
        jax = jax_x64()
        truth = -np.asarray(jax.grad(tail_loss, argnums=2)(
            "tanh", [net.theta_at(k) for k in range(4)], net.x0, 0, net.v, net.h, 1.0))
    wrong = pmp(replace(net, h=2 * net.h)).costates[0]
    assert np.max(np.abs(wrong - truth)) > 1e-3 * np.max(np.abs(truth))


def rk4(net, substeps=400):
    """A fine classical RK4 of ẋ = tanh(W_k x + b_k) on each interval, written in numpy."""
    x = net.x0.copy()
    dt = net.h / substeps
    for k in range(net.steps):
        W, b = net.theta["W"][k], net.theta["b"][k]

        def f(z):
            return np.tanh(z @ W.T + b)

        for _ in range(substeps):
            a = f(x)
            b2 = f(x + dt / 2 * a)
            c = f(x + dt / 2 * b2)
            e = f(x + dt * c)
            x = x + dt / 6 * (a + 2 * b2 + 2 * c + e)
    return x


def test_ode_reference_matches_an_independent_rk4():
    net = make_net("tanh", 3, 5, 4, 9, 1.0, h=0.2)
    np.testing.assert_allclose(ode_solution(net), rk4(net), rtol=0, atol=1e-11)


@pytest.mark.parametrize("cell, eps", [("tanh", 1.0), pytest.param("softplus", 0.5, marks=SLOW),
                                       pytest.param("lse", 0.5, marks=SLOW)])
def test_euler_converges_to_the_ode_at_first_order(cell, eps):
    net = make_net(cell, 2, 10, 6, 11, 1.0, h=0.1, eps=eps)
    with float64():
        conv = convergence(net)
    np.testing.assert_allclose(conv.h, [0.1, 0.05, 0.025, 0.0125])
    assert np.all(np.diff(conv.error) < 0)  # errors shrink as h halves with K·h = 1 fixed
    assert abs(conv.observed_order - 1.0) <= 0.15, conv.order
    # ℋ along the refined trajectories converges too (sample means at s = k·h)
    assert np.max(np.abs(conv.hamiltonian[-1] - conv.hamiltonian[-2])) < \
        np.max(np.abs(conv.hamiltonian[1] - conv.hamiltonian[0]))
