"""Attention heads as arrays: Q, K, V per head, the causal mask, LayerNorm and projections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAYER_NORM_EPS = 1e-5  # PyTorch's and JAX/flax's default variance floor


def _frozen(a) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class Heads:
    """Queries q (H, n_q, d_k), keys k (H, n_k, d_k), values v (H, n_k, d_v) of H heads, and
    `allowed` (n_q, n_k): which keys each query attends to (all True without a causal mask).

    Each query row q_i is a point x of an LSE layer with W_j = k_j and b_j = 0.

    >>> h = Heads.of(np.ones((2, 3)), np.eye(3)[:2], np.ones((2, 1)))
    >>> h.n_heads, h.n_queries, h.n_keys, h.d_k, h.d_v
    (1, 2, 2, 3, 1)
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    allowed: np.ndarray

    def __post_init__(self):
        q, k, v, allowed = self.q, self.k, self.v, self.allowed
        if not (q.ndim == k.ndim == v.ndim == 3 and q.shape[0] == k.shape[0] == v.shape[0]):
            raise ValueError("q, k, v must be (heads, rows, features) with the same heads")
        if q.shape[2] != k.shape[2] or k.shape[1] != v.shape[1]:
            raise ValueError(f"shapes do not fit: q {q.shape}, k {k.shape}, v {v.shape}")
        if allowed.shape != (q.shape[1], k.shape[1]) or not allowed.any(axis=1).all():
            raise ValueError("allowed must be (n_q, n_k) with at least one key per query")

    @classmethod
    def of(cls, q, k, v, allowed=None) -> "Heads":
        """Heads from arrays: 2-D (one head) or 3-D (heads first); `allowed` default all keys."""
        arrays = [np.asarray(a, dtype=np.float64) for a in (q, k, v)]
        arrays = [a[None] if a.ndim == 2 else a for a in arrays]
        n_q, n_k = arrays[0].shape[1], arrays[1].shape[1]
        mask = np.ones((n_q, n_k), bool) if allowed is None else np.asarray(allowed, bool)
        mask = mask.copy()
        mask.setflags(write=False)
        return cls(*(_frozen(a) for a in arrays), mask)

    @property
    def n_heads(self) -> int:
        return int(self.q.shape[0])

    @property
    def n_queries(self) -> int:
        return int(self.q.shape[1])

    @property
    def n_keys(self) -> int:
        return int(self.k.shape[1])

    @property
    def d_k(self) -> int:
        return int(self.q.shape[2])

    @property
    def d_v(self) -> int:
        return int(self.v.shape[2])

    @property
    def causal(self) -> bool:
        return not bool(self.allowed.all())


def causal_mask(n_q: int, n_k: int) -> np.ndarray:
    """(n_q, n_k) bool: query i attends to keys j ≤ i (key 0 always, so no row is empty).

    >>> causal_mask(2, 3).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0]]
    """
    return np.arange(n_k)[None, :] <= np.arange(n_q)[:, None]


def layer_norm(x: np.ndarray, eps: float = LAYER_NORM_EPS) -> np.ndarray:
    """(x − mean) / sqrt(var + eps) over the last axis (LayerNorm without its affine part).

    >>> layer_norm(np.array([[1.0, 3.0]])).round(4).tolist()
    [[-1.0, 1.0]]
    """
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    return centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + eps)


def split_heads(w: np.ndarray, heads: int) -> np.ndarray:
    """A projection as (heads, d_model, d_head): 3-D as given, or 2-D (d_model, heads·d_head)
    split into `heads` equal column blocks (the usual multi-head layout)."""
    if w.ndim == 3:
        return w
    d_model, width = w.shape
    return w.reshape(d_model, heads, width // heads).transpose(1, 0, 2)


def project(x: np.ndarray, w_q, w_k, w_v, heads: int, *, normalise: bool,
            causal: bool) -> Heads:
    """Self-attention heads of an input X (n, d_model): Q = LN(X)W_Q, K = LN(X)W_K, V = LN(X)W_V
    (LN left out unless `normalise`), each projection split into `heads` blocks."""
    h = layer_norm(x) if normalise else x
    q, k, v = (np.einsum("nm,hmd->hnd", h, split_heads(w, heads)) for w in (w_q, w_k, w_v))
    n = x.shape[0]
    return Heads.of(q, k, v, causal_mask(n, n) if causal else None)


def synthetic(seed: int, heads: int, n_q: int, n_k: int, d_k: int, d_v: int, *,
              d_model: int | None = None, normalise: bool = False, causal: bool = False) -> Heads:
    """Seeded standard-normal heads: Q, K, V drawn directly, or (with `d_model`) an input X
    (n_q = n_k rows) and projections W ~ normal(0, 1/d_model), as a freshly initialised layer.

    >>> synthetic(1, 2, 3, 3, 4, 2).q.shape
    (2, 3, 4)
    """
    rng = np.random.default_rng(seed)
    if d_model is None:
        q, k, v = (rng.standard_normal((heads, n, d)) for n, d in
                   ((n_q, d_k), (n_k, d_k), (n_k, d_v)))
        return Heads.of(q, k, v, causal_mask(n_q, n_k) if causal else None)
    x = rng.standard_normal((n_k, d_model))
    scale = 1.0 / np.sqrt(d_model)
    w_q, w_k = (scale * rng.standard_normal((heads, d_model, d_k)) for _ in range(2))
    w_v = scale * rng.standard_normal((heads, d_model, d_v))
    return project(x, w_q, w_k, w_v, heads, normalise=normalise, causal=causal)
