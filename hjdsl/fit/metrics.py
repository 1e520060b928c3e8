"""Numpy read-outs of a fit: network predictions, attributions, errors and the truth deviation."""

from __future__ import annotations

import numpy as np


def logits(x, y, g, t: float, ainv) -> np.ndarray:
    """z_j(x) = W_j·x + b_j with W_j = A⁻¹y_j/(2t), b_j = −g_j − y_jᵀA⁻¹y_j/(4t); shape (n, N)."""
    ay = np.asarray(y, dtype=float) @ ainv
    b = -np.asarray(g, dtype=float) - np.einsum("jd,jd->j", y, ay) / (4.0 * t)
    return np.asarray(x, dtype=float) @ (ay / (2.0 * t)).T + b


def network(x, y, g, eps: float, t: float, ainv) -> np.ndarray:
    """f_ε(x) = ε log Σ_j exp(z_j/ε) with the max-shift; ε = 0 gives max_j z_j (tropical).

    >>> float(network([[0.0]], [[-1.0], [1.0]], [0.0, 0.0], 1.0, 1.0, np.eye(1))[0])  # log 2 − 1/4
    0.4431471805599453
    """
    z = logits(x, y, g, t, ainv)
    m = z.max(axis=1)
    if eps == 0:
        return m
    return m + eps * np.log(np.exp((z - m[:, None]) / eps).sum(axis=1))


def observed_quantity(quantity: str, x, y, g, eps: float, t: float, ainv) -> np.ndarray:
    """The observed quantity: f_ε, or u_ε = xᵀA⁻¹x/(4t) − f_ε."""
    f = network(x, y, g, eps, t, ainv)
    if quantity == "u":
        x = np.asarray(x, dtype=float)
        return np.einsum("nd,de,ne->n", x, ainv, x) / (4.0 * t) - f
    return f


def attribution(x, y, g, eps: float, t: float, ainv) -> np.ndarray:
    """Gibbs weights π_j(x) = softmax(z(x)/ε); at ε = 0 the active atom(s) share weight 1."""
    z = logits(x, y, g, t, ainv)
    if eps == 0:
        top = (z == z.max(axis=1, keepdims=True)).astype(float)
        return top / top.sum(axis=1, keepdims=True)
    e = np.exp((z - z.max(axis=1, keepdims=True)) / eps)
    return e / e.sum(axis=1, keepdims=True)


def truth_values(truth, y: np.ndarray, model) -> np.ndarray | None:
    """g*(y_j) at the fitted atoms from the truth's expression (None when it has none)."""
    if truth is None or truth.expr is None:
        return None
    arg = y[:, 0] if y.shape[1] == 1 else y
    names = {"y": arg, "t": float(model.t)}
    try:
        from hjdsl.model.lower import evaluate
    except ImportError:  # the front end's lowering is not there yet: a small local evaluator
        return np.broadcast_to(_evaluate(truth.expr, {**dict(model.constants), **names}),
                               (y.shape[0],)).astype(float)
    values = evaluate(truth.expr, names, xp=np)
    return np.broadcast_to(np.asarray(values, dtype=float), (y.shape[0],)).copy()


def influence_deviation(weights_mean: np.ndarray, g: np.ndarray, g_true: np.ndarray) -> float:
    """Σ_j w̄_j |g_j − g*(y_j)| / Σ_j w̄_j (w̄_j = the mean attribution of atom j over the data)."""
    return float(np.sum(weights_mean * np.abs(g - g_true)) / np.sum(weights_mean))


_UNARY = {"abs": np.abs, "sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sin": np.sin,
          "cos": np.cos, "tanh": np.tanh, "square": np.square}
_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}


def _evaluate(node, names: dict):
    kind = type(node).__name__
    if kind == "Num":
        return node.value
    if kind == "Name":
        return np.pi if node.id == "pi" else names[node.id]
    if kind == "Unary":
        v = _evaluate(node.operand, names)
        return -v if node.op == "-" else v
    if kind == "Binary":
        return _BINARY[node.op](_evaluate(node.left, names), _evaluate(node.right, names))
    if kind == "Index":
        return np.asarray(_evaluate(node.base, names))[..., node.index]
    if kind == "Call":
        args = [np.asarray(_evaluate(a, names), dtype=float) for a in node.args]
        if node.func in _UNARY:
            return _UNARY[node.func](args[0])
        # per-atom values: y is (N,) when d = 1 (a scalar per atom) and (N, d) otherwise
        vector = args[0].ndim > 1
        if node.func == "norm":
            order = 2 if len(args) == 1 else float(args[1])
            return np.linalg.norm(args[0], ord=order, axis=-1) if vector else np.abs(args[0])
        if node.func in ("sum", "min", "max") and len(args) == 1:
            return getattr(np, node.func)(args[0], axis=-1) if vector else args[0]
        if node.func in ("min", "max"):
            return {"min": np.minimum, "max": np.maximum}[node.func](*args)
    raise NotImplementedError(f"cannot evaluate {kind} {getattr(node, 'func', '')} without hjdsl.model.lower")
