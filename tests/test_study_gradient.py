"""The study task's tiled closed-form gradient against an independent numpy computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hjdsl.jaxsetup import float64
from hjdsl.study.task import tile_points, tiled_value_and_grad


def numpy_loss_and_grad(W, b, x, v, eps):
    """MSE of ε log Σ_j exp((W_j·x + b_j)/ε) and its gradient by the softmax chain rule,
    in numpy float64 (max-shifted), one row of points at a time in no particular tiling."""
    z = (x @ W.T + b) / eps
    top = z.max(axis=1, keepdims=True)
    e = np.exp(z - top)
    pi = e / e.sum(axis=1, keepdims=True)
    r = eps * (top[:, 0] + np.log(e.sum(axis=1))) - v
    n = len(v)
    g = (2.0 / n) * r[:, None] * pi
    return np.mean(r**2), g.T @ x, g.sum(axis=0)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 70), width=st.integers(1, 9), d=st.integers(1, 4),
       tile=st.integers(1, 80), log_eps=st.floats(-3, 0.5), seed=st.integers(0, 2**31))
def test_tiled_gradient_equals_the_softmax_chain_rule(n, width, d, tile, log_eps, seed):
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    eps = 10.0**log_eps
    W, b = rng.normal(size=(width, d)), rng.normal(scale=3, size=width)
    x, v = rng.uniform(-2, 2, (n, d)), rng.normal(size=n)
    want = numpy_loss_and_grad(W, b, x, v, eps)
    with float64():
        value, g = tiled_value_and_grad(eps, n, min(tile, n))(
            {"W": jnp.asarray(W), "b": jnp.asarray(b)}, jnp.asarray(x), jnp.asarray(v))
        got = (float(value), np.asarray(g["W"]), np.asarray(g["b"]))
    for a, w in zip(got, want):
        scale = max(1.0, float(np.max(np.abs(w))))
        np.testing.assert_allclose(a, w, rtol=1e-11, atol=1e-12 * scale)


def test_padding_points_carry_no_weight():
    """n = 5 in tiles of 4: the three padded points (x = 0, v = 0) must not count, although
    their residual is not zero (f(0) = ε log Σ exp(b/ε) ≠ 0)."""
    import jax.numpy as jnp

    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(3, 2)), np.array([0.5, 1.0, -0.2])
    x, v = rng.uniform(-1, 1, (5, 2)), rng.normal(size=5)
    with float64():
        value, g = tiled_value_and_grad(0.1, 5, 4)(
            {"W": jnp.asarray(W), "b": jnp.asarray(b)}, jnp.asarray(x), jnp.asarray(v))
    want = numpy_loss_and_grad(W, b, x, v, 0.1)
    assert float(value) == pytest.approx(want[0], rel=1e-13)
    np.testing.assert_allclose(np.asarray(g["b"]), want[2], rtol=1e-12)


@pytest.mark.parametrize(("seeds", "width", "n", "tile"), [
    (5, 500, 4000, 104),   # 2^18 / 2500 floats: about 2 MiB of logits per tile
    (1, 10, 4000, 4000),   # small layers: one tile holds every point
    (5, 10**6, 4000, 16),  # never fewer than 16 points a tile
])
def test_tile_size(seeds, width, n, tile):
    assert tile_points(seeds, width, n) == tile
