"""Sparse attribution: per (ε, point) the certified support of the Gibbs measure, not all N weights.

Where the dense (ε × points × atoms) weights would not fit in memory, `attribute` evaluates each
point on the atoms the pruning search keeps (views/closed_form/prune.py, at the user's δ, never
the cost model: here the point is memory) and reports the top atoms with the remainder: the
weight of the other atoms of the support, `remainder`, and of every atom outside the top,
at most `remainder + neglected` (R̄, the certified mass outside the support). The moments come
from the support too: ∇f = E_π[W] and ∇²f = Cov_π(W)/ε, each off by at most what R̄ allows.
"""

from __future__ import annotations

import numpy as np


def sparse_gibbs(W, b, g, x, eps, top: int, delta: float) -> dict:
    """Top atoms, remainder, f, entropy, gap, moments and certificates for every ε > 0 and point.

    Returns arrays with an ε axis first: f, entropy, top_atom and top_weight (E, P, top),
    remainder, neglected (R̄), entropy_bound, support, soft = Σ_j π_j g_j, grad (E, P, d) and
    hessian (E, P, d, d); and gap (P,) = the two largest logits' difference.
    """
    from hjdsl.views.closed_form.prune import search
    from hjdsl.views.closed_form.prune_index import layer_index

    W, b, g, x = (np.asarray(a, dtype=np.float64) for a in (W, b, g, x))
    index = layer_index(W, b)
    q = index.lift(x)
    offset = np.einsum("nd,nd->n", x @ index.whiten, x @ index.whiten)
    E, P, N, d = len(eps), x.shape[0], W.shape[0], W.shape[1]

    def logits(rows, idx):
        return np.einsum("nkd,nd->nk", W[idx], x[rows]) + b[idx]

    out = {"f": np.empty((E, P)), "entropy": np.empty((E, P)), "remainder": np.empty((E, P)),
           "neglected": np.empty((E, P)), "entropy_bound": np.empty((E, P)),
           "support": np.empty((E, P), np.int64), "top_atom": np.empty((E, P, top), np.int64),
           "top_weight": np.empty((E, P, top)), "grad": np.empty((E, P, d)),
           "hessian": np.empty((E, P, d, d)), "gap": np.empty(P), "soft": np.empty((E, P))}
    for i, e in enumerate(eps):
        rows = search(index, q, offset, logits, np.arange(P), float(e), delta, 2 * max(top, 8),
                      N, weights=True, radius=False)  # at least 2·top atoms to rank
        for name in ("entropy", "neglected", "entropy_bound"):
            out[name][i] = getattr(rows, name)
        out["f"][i], out["support"][i] = rows.value, rows.size
        for sel, idx, pi in rows.pieces:
            order = np.argsort(-pi, axis=1, kind="stable")[:, :top]
            weight = np.take_along_axis(pi, order, axis=1)
            out["top_atom"][i, sel] = np.take_along_axis(idx, order, axis=1)
            out["top_weight"][i, sel] = weight
            out["remainder"][i, sel] = np.maximum(1.0 - weight.sum(axis=1), 0.0)
            Ws = W[idx]
            grad = np.einsum("rk,rkd->rd", pi, Ws)
            centred = Ws - grad[:, None, :]  # centred form: no cancellation
            out["grad"][i, sel] = grad
            out["soft"][i, sel] = np.einsum("rk,rk->r", pi, g[idx])
            out["hessian"][i, sel] = np.einsum("rk,rkd,rke->rde", pi, centred, centred) / e
            if i == 0:  # the two largest logits are among the k ≥ 2 nearest lifted atoms
                z = np.sort(logits(sel, idx), axis=1)
                out["gap"][sel] = z[:, -1] - z[:, -2]
    return out


def nearest_distance(y, x) -> np.ndarray:
    """min_j |x − y_j| per point by an exact k-d tree (no points × atoms array)."""
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(np.asarray(y, dtype=np.float64)).query(np.asarray(x, dtype=np.float64), k=1)
    return np.asarray(dist, dtype=np.float64)


def sparse_memory(n_eps: int, n_points: int, d: int, top: int, support: int) -> int:
    """Bytes of a sparse run: the per-(ε, point) arrays, and one ε's supports (atom numbers,
    weights and a transient copy) when each holds `support` atoms (N in the worst case).

    >>> sparse_memory(1, 1, 1, 1, 1)
    120
    """
    per_row = 8 + 2 * int(top) + int(d) + int(d) ** 2
    return 8 * (int(n_eps) * int(n_points) * per_row + 3 * int(n_points) * int(support))
