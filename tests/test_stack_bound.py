"""Stacks of LSE layers: forward pass, the Lipschitz-propagated tropical bound (random, constructed
and trained stacks) and the report rows, against a numpy forward pass written here."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.jaxsetup import float64
from hjdsl.networks.stack import Layer, Stack

# (depth, widths of the hidden layers, atoms per unit, ε per layer, input dim, seed)
RANDOM = [
    (1, [], 5, [0.3], 1, 0),
    (1, [], 64, [1e-3], 3, 1),
    (2, [64], 3, [1.0, 1e-3], 2, 2),
    (2, [1], 2, [0.05, 0.5], 1, 3),
    (3, [16, 8], 4, [0.1, 0.01, 1.0], 2, 4),
    (3, [1, 1], 7, [1e-3, 1e-3, 1e-3], 1, 5),
    (4, [8, 32, 4], 3, [0.2, 0.7, 0.03, 0.1], 4, 6),
    (4, [2, 2, 2], 64, [1.0, 1.0, 1.0, 1.0], 1, 7),
]


def random_stack(depth, hidden, atoms, eps, d, seed, softplus_every=2, scale=0.6) -> Stack:
    rng = np.random.default_rng(seed)
    widths, layers, inputs = hidden + [1], [], d
    for l, (width, e) in enumerate(zip(widths, eps)):
        n = 2 if l % softplus_every == 1 else atoms
        W = rng.normal(0, scale, (width, n, inputs))
        b = rng.normal(0, scale, (width, n))
        if n == 2 and l % softplus_every == 1:  # a softplus layer: atom 0 is the zero atom
            W[:, 0], b[:, 0] = 0.0, 0.0
        layers.append(Layer(f"l{l}", "softplus" if n == 2 else "lse", e, 1.0, W, b))
        inputs = width
    return Stack("random", d, tuple(layers), rng.uniform(-2, 2, (40, d)))


# --- an independent numpy forward pass and bound -------------------------------------------
def numpy_lse(z, eps):
    m = z.max(axis=-1)
    if eps == 0:
        return m
    return m + eps * np.log(np.exp((z - m[..., None]) / eps).sum(axis=-1))


def numpy_forward(stack, x, tropical=False):
    h = x
    for layer in stack.layers:
        z = np.einsum("ujd,pd->puj", layer.W, h) + layer.b
        h = numpy_lse(z, 0.0 if tropical else layer.eps)
    return h[:, 0]


def numpy_bound(stack):
    total = 0.0
    for l, layer in enumerate(stack.layers):
        ahead = 1.0
        for later in stack.layers[l + 1:]:
            ahead *= max(np.abs(later.W[i, j]).sum() for i in range(later.width)
                         for j in range(later.atoms))
        total += ahead * layer.eps * np.log(layer.atoms)
    return total


@pytest.mark.parametrize("case", RANDOM, ids=lambda c: f"depth{c[0]}-{c[1]}-N{c[2]}")
def test_random_stack_forward_and_bound(case):
    stack = random_stack(*case)
    x = np.random.default_rng(case[-1] + 100).uniform(-3, 3, (500, case[4]))
    f, f0 = numpy_forward(stack, x), numpy_forward(stack, x, tropical=True)
    with float64():
        h, h0 = stack.forward(x)[-1][:, 0], stack.forward(x, tropical=True)[-1][:, 0]
    np.testing.assert_allclose(h, f, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(h0, f0)  # max-plus: no rounding beyond the logits'
    bound = numpy_bound(stack)
    assert float(stack.bound_terms.sum()) == pytest.approx(bound, rel=1e-12)
    gap = np.abs(f - f0)
    assert np.all(gap <= bound * (1 + 1e-12) + 1e-12), (gap.max(), bound)


def tight_stack(eps=(0.3, 0.1, 0.2), atoms=(3, 5, 4), weights=(1.5, 0.5, 2.0)) -> Stack:
    """Every unit's atoms are identical with weight a_l > 0 (one input each): LSE = max + ε log N
    exactly, so the gap after the stack is Σ_l (Π_{k>l} a_k) ε_l log N_l — the bound itself."""
    layers = tuple(Layer(f"l{l}", "lse", e, 1.0, np.full((1, n, 1), a), np.zeros((1, n)))
                   for l, (e, n, a) in enumerate(zip(eps, atoms, weights)))
    return Stack("tight", 1, layers, np.linspace(-1, 1, 5)[:, None])


def test_bound_is_attained_on_the_constructed_stack():
    stack = tight_stack()
    x = np.linspace(-2, 2, 9)[:, None]
    gap = numpy_forward(stack, x) - numpy_forward(stack, x, tropical=True)
    expected = (0.5 * 2.0) * 0.3 * np.log(3) + 2.0 * 0.1 * np.log(5) + 0.2 * np.log(4)
    assert numpy_bound(stack) == pytest.approx(expected, rel=1e-15)
    # tight within a factor 1 + 1e-12 at every point: the stated factor of the docs
    np.testing.assert_allclose(gap, expected, rtol=1e-12)


def test_bound_row_passes_when_right_and_fails_when_corrupted():
    from hjdsl.networks.stack_report import stack_rows

    stack = tight_stack()
    with float64():
        ds = stack.compare()
    row = [r for r in stack_rows(ds) if r.arrow.startswith("stack:")][0]
    assert row.status == "PASS" and row.kind == "exact"
    assert row.value == pytest.approx(numpy_bound(stack), rel=1e-12)  # attained
    assert "100.0%" in row.detail
    # a bound 1 % too small (or a gap 1 % too large) must fail
    low = ds.copy()
    low["hidden_bound"] = ds.hidden_bound * 0.99
    bad = [r for r in stack_rows(low) if r.arrow.startswith("stack:")][0]
    assert bad.status == "FAIL" and bad.fails_run


@pytest.mark.slow  # a short training run and a compare: ~10 s of CPU
def test_bound_holds_on_a_trained_stack():
    """A 1 → 8 → 1 stack fitted to |x| (plain gradient descent, written here): bound holds."""
    import jax
    import jax.numpy as jnp

    from hjdsl.jaxsetup import jax_x64

    jax_x64()
    rng = np.random.default_rng(0)
    params = [jnp.asarray(rng.normal(0, 0.5, (8, 3, 1))), jnp.asarray(rng.normal(0, 0.1, (8, 3))),
              jnp.asarray(rng.normal(0, 0.5, (1, 4, 8))), jnp.asarray(rng.normal(0, 0.1, (1, 4)))]
    eps = (0.2, 0.1)
    xs = jnp.linspace(-2, 2, 64)[:, None]

    def f(p, x):
        h = x
        for (W, b), e in zip(((p[0], p[1]), (p[2], p[3])), eps):
            z = jnp.einsum("ujd,pd->puj", W, h) + b
            h = e * jax.nn.logsumexp(z / e, axis=-1)
        return h[:, 0]

    loss = jax.jit(jax.value_and_grad(lambda p: jnp.mean((f(p, xs) - jnp.abs(xs[:, 0])) ** 2)))
    first = None
    for _ in range(300):
        value, grads = loss(params)
        first = value if first is None else first
        params = [p - 0.05 * g for p, g in zip(params, grads)]
    assert float(value) < 0.5 * float(first)  # it did train
    p = [np.asarray(a) for a in params]
    stack = Stack("trained", 1, (Layer("h", "lse", eps[0], 1.0, p[0], p[1]),
                                 Layer("out", "lse", eps[1], 1.0, p[2], p[3])), np.asarray(xs))
    x = np.linspace(-3, 3, 301)[:, None]
    gap = np.abs(numpy_forward(stack, x) - numpy_forward(stack, x, tropical=True))
    assert np.all(gap <= numpy_bound(stack) * (1 + 1e-12))
    with float64():
        ds = stack.compare()
    from hjdsl.networks.stack_report import stack_rows
    from hjdsl.views.report import failures

    assert failures(stack_rows(ds, stack)) == []


def test_bound_holds_for_any_stack():
    """Property: for random stacks of any shape, hjdsl's bound terms bound the numpy gap."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=40, deadline=None)
    @given(depth=st.integers(1, 4), width=st.integers(1, 64), atoms=st.integers(1, 8),
           d=st.integers(1, 4), seed=st.integers(0, 2**16),
           log_eps=st.lists(st.floats(-3, 0), min_size=4, max_size=4),
           scale=st.floats(0.05, 2.0))
    def check(depth, width, atoms, d, seed, log_eps, scale):
        hidden = [width] * (depth - 1)
        stack = random_stack(depth, hidden, atoms, [10.0**e for e in log_eps[:depth]], d, seed,
                             scale=scale)
        x = np.random.default_rng(seed).uniform(-3, 3, (64, d))
        gap = np.abs(numpy_forward(stack, x) - numpy_forward(stack, x, tropical=True))
        bound = float(stack.bound_terms.sum())
        assert bound == pytest.approx(numpy_bound(stack), rel=1e-12)
        assert np.all(gap <= bound * (1 + 1e-12) + 1e-12 * np.abs(numpy_forward(stack, x)).max())

    check()
