"""Write examples/networks/stack_trained.npz: a 1 → 8 → 1 softplus/LSE stack trained on |x|."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "examples" / "networks" / "stack_trained.npz"
EPS = (0.1, 0.05)  # the hidden softplus layer's ε and the readout's (as the spec declares them)
STEPS, LR, SEED = 2000, 0.05, 0


def train() -> dict[str, np.ndarray]:
    """Full-batch gradient descent on the mean squared error to |x| on 64 points of [-2, 2].

    The arrays are named as a PyTorch state_dict would name them: `hidden.weight` (8, 1),
    `hidden.bias` (8,), `out.weight` (4, 8) and `out.bias` (4,) (4 readout atoms).
    """
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(SEED)
    params = {"hidden.weight": rng.normal(0, 1.0, (8, 1)), "hidden.bias": rng.normal(0, 1.0, 8),
              "out.weight": rng.normal(0, 0.5, (4, 8)), "out.bias": rng.normal(0, 0.1, 4)}
    params = {k: jnp.asarray(v) for k, v in params.items()}
    x = jnp.linspace(-2.0, 2.0, 64)[:, None]

    def f(p):
        z = x @ p["hidden.weight"].T + p["hidden.bias"]
        h = EPS[0] * jnp.logaddexp(0.0, z / EPS[0])        # softplus_ε
        logits = h @ p["out.weight"].T + p["out.bias"]
        return EPS[1] * jax.nn.logsumexp(logits / EPS[1], axis=-1)

    loss = jax.jit(jax.value_and_grad(lambda p: jnp.mean((f(p) - jnp.abs(x[:, 0])) ** 2)))
    for step in range(STEPS):
        value, grads = loss(params)
        params = {k: params[k] - LR * grads[k] for k in params}
    print(f"trained {STEPS} steps: mse {float(value):.3e}", file=sys.stderr)
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


if __name__ == "__main__":
    np.savez(OUT, **train())
    print(f"wrote {OUT}")
