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


def predict(quantity: str, x, y, g, eps: float, t: float, ham) -> np.ndarray:
    """The observed quantity from atoms (y, g) for any Hamiltonian `ham`: at ε = 0 the Hopf–Lax
    value u_0 = min_j c_j (and f_0 = max_j z_j through the LSE layer, when there is one); for
    ε > 0 the LSE layer (the views that fit at ε > 0 exist only for Hamiltonians with one)."""
    if eps > 0:
        return observed_quantity(quantity, x, y, g, eps, t, ham.inverse)
    if quantity == "u":
        return np.min(active_costs(x, y, g, t, ham), axis=1)
    if not ham.has_layer:
        raise ham.unsupported("the network view", ham.exactness("network").reason)
    W, b = ham.weights(y, g, t)
    return np.max(np.asarray(x, dtype=float) @ W.T + b, axis=1)


def active_costs(x, y, g, t: float, ham) -> np.ndarray:
    """c_j(x) = g_j + t·L((x − y_j)/t), (n, N); an atom with g_j = +inf takes part nowhere."""
    g = np.asarray(g, dtype=float)
    finite = np.isfinite(g)
    c = np.asarray(ham.costs(np.asarray(x, dtype=float), y, np.where(finite, g, 0.0), t), float)
    return np.where(finite, c, np.inf)


def influence(x, y, g, eps: float, t: float, ham) -> np.ndarray:
    """Gibbs weights π (n, N) for any Hamiltonian: at ε = 0 the active atom(s) of the Hopf–Lax
    costs share weight 1 (no LSE layer needed); for ε > 0 the layer's softmax."""
    if eps > 0:
        return attribution(x, y, g, eps, t, ham.inverse)
    c = active_costs(x, y, g, t, ham)
    top = (c == c.min(axis=1, keepdims=True)) & np.isfinite(c)
    return top / np.maximum(top.sum(axis=1, keepdims=True), 1)


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
    from hjdsl.model.lower import evaluate

    if truth is None or truth.expr is None:
        return None
    names = {**dict(model.constants), "t": float(model.t), "y": y[:, 0] if y.shape[1] == 1 else y}
    values = evaluate(truth.expr, names, xp=np, pointwise={"y"})
    return np.broadcast_to(np.asarray(values, dtype=float), (y.shape[0],)).copy()


def influence_deviation(weights_mean: np.ndarray, g: np.ndarray, g_true: np.ndarray) -> float:
    """Σ_j w̄_j |g_j − g*(y_j)| / Σ_j w̄_j (w̄_j = the mean attribution of atom j over the data)."""
    return float(np.sum(weights_mean * np.abs(g - g_true)) / np.sum(weights_mean))
