"""Learn a stack's W and b from its `data`: full-batch Adam on the MSE, one jitted lax.scan."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hjdsl.errors import RunError, Span

BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass(frozen=True)
class Training:
    """A stack spec's `data` and `fit learn = STEPS lr = RATE`; losses once it has run."""

    data: object  # hjdsl.model.ir.Data: the points x (n, d) and their values (n,)
    steps: int
    lr: float
    span: Span | None = None
    loss_start: float | None = None  # mean (f(x) − value)² at the given/seeded weights
    loss_end: float | None = None    # … at the trained weights


def _params(layers):
    import jax.numpy as jnp

    return [(jnp.asarray(la.W), jnp.asarray(la.b)) for la in layers]


def _masks(layers):
    """1 where a weight is learned; a softplus layer's atom 0 is the fixed zero atom."""
    out = []
    for la in layers:
        mW, mb = np.ones(la.W.shape), np.ones(la.b.shape)
        if la.kind == "softplus":
            mW[:, 0], mb[:, 0] = 0.0, 0.0
        out.append((mW, mb))
    return out


def mse(layers, x, value):
    """The loss as a function of [(W, b) per layer] (JAX): mean (f_ε(x) − value)²."""
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    epss = [la.eps for la in layers]

    def loss(params):
        h = x
        for (W, b), eps in zip(params, epss):
            z = jnp.einsum("pd,ujd->puj", h, W) + b[None]
            # ε = 0 is the max-plus layer; logsumexp shifts by the max (stable in float64)
            h = jnp.max(z, axis=-1) if eps == 0 else eps * logsumexp(z / eps, axis=-1)
        return jnp.mean((h[:, 0] - value) ** 2)

    return loss


def gradient(stack):
    """∂Loss/∂(W_l, b_l) at the stack's given weights: the gradient Adam's first step uses."""
    from hjdsl.jaxsetup import float64, jax_x64

    with float64():
        jax = jax_x64()  # x64 on for this scope before anything is traced
        t = stack.training
        grad = jax.jit(jax.grad(mse(stack.layers, t.data.x, t.data.value)))
        masks = _masks(stack.layers)
        return [(np.asarray(gW) * mW, np.asarray(gb) * mb)
                for (gW, gb), (mW, mb) in zip(grad(_params(stack.layers)), masks)]


def adam(stack):
    """`steps` full-batch Adam updates of every layer's W and b from the stack's weights.

    Returns (trained layers, loss per step before its update, final loss).
    """
    from hjdsl.jaxsetup import float64, jax_x64

    t = stack.training
    with float64():
        jax = jax_x64()  # x64 on for this scope before anything is traced
        import jax.numpy as jnp

        loss = mse(stack.layers, jnp.asarray(t.data.x), jnp.asarray(t.data.value))
        value_and_grad = jax.value_and_grad(loss)
        masks = [(jnp.asarray(mW), jnp.asarray(mb)) for mW, mb in _masks(stack.layers)]
        lr = t.lr

        def step(carry, i):
            params, m, v = carry
            current, g = value_and_grad(params)
            g = jax.tree_util.tree_map(lambda a, k: a * k, g, masks)
            m = jax.tree_util.tree_map(lambda a, b: BETAS[0] * a + (1 - BETAS[0]) * b, m, g)
            v = jax.tree_util.tree_map(lambda a, b: BETAS[1] * a + (1 - BETAS[1]) * b * b, v, g)
            k = i + 1.0
            params = jax.tree_util.tree_map(
                lambda p, a, b: p - lr * (a / (1 - BETAS[0] ** k))
                / (jnp.sqrt(b / (1 - BETAS[1] ** k)) + ADAM_EPS), params, m, v)
            return (params, m, v), current

        @jax.jit
        def run(params):
            zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
            (params, _, _), losses = jax.lax.scan(step, (params, zeros, zeros),
                                                  jnp.arange(t.steps, dtype=jnp.float64))
            return params, losses, loss(params)

        params, losses, final = run(_params(stack.layers))
        losses, final = np.asarray(losses), float(final)
        trained = [(np.asarray(W), np.asarray(b)) for W, b in params]
    bad = np.flatnonzero(~np.isfinite(np.append(losses, final)))
    if bad.size or not all(np.all(np.isfinite(W)) and np.all(np.isfinite(b)) for W, b in trained):
        at = int(bad[0]) if bad.size else t.steps
        raise RunError.single(f"learning the stack's weights diverged at step {at} of {t.steps} "
                              f"(loss {np.append(losses, final)[min(at, t.steps)]:g})",
                              hint="use a smaller lr (e.g. lr = 0.01), smaller starting weights "
                                   "or larger eps", code="R723")
    layers = tuple(replace(la, W=W, b=b) for la, (W, b) in zip(stack.layers, trained))
    return layers, losses, final


def trained(stack):
    """The stack with its learned weights and losses (the stack itself if it learns nothing)."""
    if stack.training is None or stack.training.loss_end is not None:
        return stack
    layers, losses, final = adam(stack)
    return replace(stack, layers=layers, training=replace(
        stack.training, loss_start=float(losses[0]), loss_end=final))
