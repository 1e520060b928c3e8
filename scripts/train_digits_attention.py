"""Train a one-layer, two-head attention classifier on scikit-learn's digits; save safetensors.

Each 8×8 digit is a sequence of 8 row-tokens of 8 pixels. Tokens are embedded (X = rows·W_E + P,
d_model = 16), normalised (LayerNorm without its affine part, as hjdsl's `layernorm = true`),
attended by two heads of d_k = 8 (Q = LN(X)W_Q, K = LN(X)W_K, V = LN(X)W_V, softmax(QKᵀ/√d_k)),
mean-pooled and read out to 10 classes. Full-batch Adam in JAX, float32 as a real model, in
well under two minutes on a laptop CPU.

    python scripts/train_digits_attention.py                      # writes examples/attention/
    python scripts/train_digits_attention.py --steps 50 --out /tmp/digits_attention.safetensors

The file holds the weights (W_E, P, W_Q, W_K, W_V, W_O, b_O) and X, the attention layer's input
for the first test digit, which examples/attention/digits_attention.hj analyses.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

D_MODEL, HEADS, D_K, CLASSES, TOKENS = 16, 2, 8, 10, 8
OUT = Path(__file__).resolve().parents[1] / "examples" / "attention" / \
    "digits_attention.safetensors"


def layer_norm(x, jnp):
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    return centred / jnp.sqrt((centred**2).mean(axis=-1, keepdims=True) + 1e-5)


def forward(params, rows, jnp):
    """Logits (batch, classes) of digits given as rows (batch, 8, 8)."""
    import jax

    x = rows @ params["W_E"] + params["P"]
    h = layer_norm(x, jnp)
    split = lambda w: w.reshape(D_MODEL, HEADS, -1).transpose(1, 0, 2)  # noqa: E731
    q, k, v = (jnp.einsum("bnm,hmd->bhnd", h, split(params[n])) for n in ("W_Q", "W_K", "W_V"))
    att = jax.nn.softmax(jnp.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(D_K), axis=-1)
    out = jnp.einsum("bhqk,bhkd->bqhd", att, v).reshape(rows.shape[0], TOKENS, -1)
    return out.mean(axis=1) @ params["W_O"] + params["b_O"]


def init(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    shapes = {"W_E": (8, D_MODEL), "P": (TOKENS, D_MODEL), "W_Q": (D_MODEL, HEADS * D_K),
              "W_K": (D_MODEL, HEADS * D_K), "W_V": (D_MODEL, HEADS * D_K),
              "W_O": (HEADS * D_K, CLASSES)}
    params = {n: (rng.standard_normal(s) / np.sqrt(s[0])).astype(np.float32)
              for n, s in shapes.items()}
    params["b_O"] = np.zeros(CLASSES, np.float32)
    return params


def train(steps: int, lr: float, seed: int):
    import jax
    import jax.numpy as jnp
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = (digits.images / 16.0).astype(np.float32)
    labels = digits.target
    order = np.random.default_rng(seed).permutation(len(rows))
    test, train_ = order[:360], order[360:]

    def loss(p, x, y):
        logits = forward(p, x, jnp)
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(y.shape[0]), y])

    @jax.jit
    def step(p, m, s, i, x, y):  # Adam, written out (no optimiser library needed)
        value, grad = jax.value_and_grad(loss)(p, x, y)
        m = jax.tree_util.tree_map(lambda a, g: 0.9 * a + 0.1 * g, m, grad)
        s = jax.tree_util.tree_map(lambda a, g: 0.999 * a + 0.001 * g * g, s, grad)
        corr = jnp.sqrt(1 - 0.999**i) / (1 - 0.9**i)
        p = jax.tree_util.tree_map(lambda w, a, b: w - lr * corr * a / (jnp.sqrt(b) + 1e-8),
                                   p, m, s)
        return p, m, s, value

    params = {n: jnp.asarray(v) for n, v in init(seed).items()}
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    s = jax.tree_util.tree_map(jnp.zeros_like, params)
    x, y = jnp.asarray(rows[train_]), jnp.asarray(labels[train_])
    for i in range(1, steps + 1):
        params, m, s, value = step(params, m, s, i, x, y)
    params = {n: np.asarray(v, dtype=np.float32) for n, v in params.items()}
    accuracy = float(np.mean(np.argmax(np.asarray(forward(params, rows[test], np)), axis=1)
                             == labels[test])) if steps else 0.0
    first = rows[test[0]]
    params["X"] = (first @ params["W_E"] + params["P"]).astype(np.float32)
    return params, {"test_accuracy": f"{accuracy:.4f}", "final_loss": f"{float(value):.4f}",
                    "steps": str(steps), "seed": str(seed), "x_label": str(labels[test[0]]),
                    "x_index": str(int(test[0]))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    from safetensors.numpy import save_file

    start = time.perf_counter()
    params, meta = train(args.steps, args.lr, args.seed)
    save_file(params, str(args.out), metadata=meta)
    print(f"trained {args.steps} steps in {time.perf_counter() - start:.1f} s: test accuracy "
          f"{meta['test_accuracy']}, final loss {meta['final_loss']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
