"""The update cells of residual and recurrent networks: F(x, θ, u), parameter shapes, seeded draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cell:
    """One cell: its parameters' shapes and the jax function `step(x, θ, u) -> F`.

    Every network is written x_{k+1} = x_k + h·F(x_k, θ_k, u_k); a recurrent cell x' = f(x, u, θ)
    is the case h = 1, F = f − x, so one co-state recursion serves residual and recurrent nets.
    `shapes(d, m)` maps a parameter name to its shape for state width d and width/input size m.
    """

    name: str
    kind: str          # "residual" or "recurrent"
    params: tuple[str, ...]   # the controls θ that enter F (the SSM's readout C does not)
    formula: str

    def shapes(self, d: int, m: int) -> dict[str, tuple[int, ...]]:
        return SHAPES[self.name](d, m)

    def state_width(self, width: int) -> int:
        """The width of x: an LSTM carries (h, c), twice its hidden width."""
        return 2 * width if self.name == "lstm" else width

    def F(self, x, theta, u, eps):
        """The update direction for a batch: x (n, d), u (n,) or None; returns (n, d)."""
        return _FUNCTIONS[self.name](x, theta, u, eps)

    def readout(self, d: int, theta) -> np.ndarray:
        """The fixed readout r of the terminal loss Φ = mean_i (r·x_K^i − v_i)²."""
        if self.name == "ssm":
            return np.asarray(theta["C"], dtype=np.float64)
        if self.name == "lstm":  # the mean of the hidden part h; the cell memory c is not read
            half = d // 2
            return np.concatenate([np.full(half, 1.0 / half), np.zeros(half)])
        return np.full(d, 1.0 / d)


def _jnp():
    from hjdsl.jaxsetup import jax_x64

    jax_x64()
    import jax.numpy as jnp

    return jnp


def _affine(x, W, b):
    return x @ W.T + b


def _tanh(x, th, u, eps):
    return _jnp().tanh(_affine(x, th["W"], th["b"]))


def _softplus(x, th, u, eps):
    jnp = _jnp()
    return eps * jnp.logaddexp(0.0, _affine(x, th["W"], th["b"]) / eps)


def _lse(x, th, u, eps):
    # F_i(x) = eps log Σ_j exp((W_ij·x + b_ij)/eps): each component is an LSE layer of m atoms
    from jax.scipy.special import logsumexp

    z = _jnp().einsum("imk,nk->nim", th["W"], x) + th["b"]
    return eps * logsumexp(z / eps, axis=-1)


def _elman(x, th, u, eps):
    jnp = _jnp()
    return jnp.tanh(_affine(x, th["W"], th["b"]) + u[:, None] * th["U"]) - x


def _lstm(x, th, u, eps):
    import jax

    jnp = _jnp()
    n = x.shape[1] // 2
    h, c = x[:, :n], x[:, n:]
    z = _affine(h, th["W"], th["b"]) + u[:, None] * th["U"]
    i, f, o = (jax.nn.sigmoid(z[:, k * n:(k + 1) * n]) for k in range(3))
    c_new = f * c + i * jnp.tanh(z[:, 3 * n:])
    return jnp.concatenate([o * jnp.tanh(c_new), c_new], axis=1) - x


def _ssm(x, th, u, eps):
    return x @ th["A"].T + u[:, None] * th["B"] - x


_FUNCTIONS = {"tanh": _tanh, "softplus": _softplus, "lse": _lse, "elman": _elman,
              "lstm": _lstm, "ssm": _ssm}

SHAPES = {
    "tanh": lambda d, m: {"W": (d, d), "b": (d,)},
    "softplus": lambda d, m: {"W": (d, d), "b": (d,)},
    "lse": lambda d, m: {"W": (d, m, d), "b": (d, m)},
    "elman": lambda d, m: {"W": (d, d), "U": (d,), "b": (d,)},
    "lstm": lambda d, m: {"W": (4 * (d // 2), d // 2), "U": (4 * (d // 2),), "b": (4 * (d // 2),)},
    "ssm": lambda d, m: {"A": (d, d), "B": (d,), "C": (d,)},
}

CELLS = {
    "tanh": Cell("tanh", "residual", ("W", "b"), "F(x) = tanh(W x + b)"),
    "softplus": Cell("softplus", "residual", ("W", "b"),
                     "F(x) = eps log(1 + exp((W x + b)/eps))"),
    "lse": Cell("lse", "residual", ("W", "b"),
                "F_i(x) = eps log sum_j exp((W_ij . x + b_ij)/eps)"),
    "elman": Cell("elman", "recurrent", ("W", "U", "b"), "h' = tanh(W h + U u + b)"),
    "lstm": Cell("lstm", "recurrent", ("W", "U", "b"),
                 "(i,f,o,g) = (s,s,s,tanh)(W h + U u + b); c' = f c + i g; h' = o tanh(c')"),
    "ssm": Cell("ssm", "recurrent", ("A", "B"), "x' = A x + B u, y = C x"),
}


def draw_params(cell: Cell, d: int, m: int, steps: int | None, seed: int,
                scale: float) -> dict[str, np.ndarray]:
    """Seeded normal parameters, scale/√fan-in; a residual net gets one θ_k per step.

    >>> th = draw_params(CELLS["tanh"], 2, 0, 3, seed=0, scale=1.0)
    >>> th["W"].shape, th["b"].shape
    ((3, 2, 2), (3, 2))
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in cell.shapes(d, m).items():
        full = ((steps,) if steps is not None else ()) + shape
        fan_in = shape[-1] if len(shape) > 1 else 1
        out[name] = rng.normal(0.0, scale / np.sqrt(fan_in), size=full)
    if cell.name == "ssm":  # a contraction keeps x_k bounded over long sequences
        A = out["A"]
        radius = float(np.max(np.abs(np.linalg.eigvals(A))))
        out["A"] = A * (0.9 / radius) if radius > 0.9 else A
    return out
