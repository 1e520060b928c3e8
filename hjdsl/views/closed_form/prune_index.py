"""The lifted k-d tree of quadratic costs: c_j(x) = g_min + |q(x) − p_j|² in d + 1 dimensions.

For H(p) = pᵀAp with A⁻¹ = L·Lᵀ (the Hamiltonian's one factor) the atomic cost is

    c_j(x) = g_j + (x − y_j)ᵀA⁻¹(x − y_j)/(4t) = g_min + |xM − y_jM|² + (√(g_j − g_min))²,

M = L/√(4t): a squared Euclidean distance between the query q(x) = (xM, 0) and the lifted atom
p_j = (y_jM, √(g_j − g_min)) in ℝ^{d+1}. So the k cheapest atoms of a point are its k nearest
neighbours, and the k-th distance bounds the cost of every atom not returned from below.

An LSE layer z_j = W_j·x + b_j is the case A = I for any time τ > 0 (y_j = 2τW_j,
g_j = −b_j − τ|W_j|²): c_j(x) = |x|²/(4τ) − z_j, so its largest logits are the nearest lifted
atoms too (`layer_index` picks τ).

scipy's cKDTree: exact k-NN, built in O(N log N) and queried in about O(log N + k) per point for
d + 1 ≤ ~11; an approximate library (faiss, annoy) would void the certificate, and exact search at
these dimensions needs no GPU or quantisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Relative size of the round-off in a lifted squared distance (coordinates formed by a product
# with M and a square root, then squared and summed): far above the few ulps it is in practice,
# so the lower bound on a neglected atom's cost is safe.
ROUNDOFF = 1e-12


@dataclass(frozen=True, eq=False)
class LiftedIndex:
    """A cKDTree over the lifted atoms p_j, with what turns a query point into q(x) and a bound."""

    tree: object           # scipy.spatial.cKDTree over (N, d + 1)
    whiten: np.ndarray     # M (d, d): q(x) = (x·M, 0)
    g_min: float
    scale: float           # max_j |p_j|² + |g_min|: the size the round-off slack is relative to
    n_atoms: int

    def lift(self, x: np.ndarray) -> np.ndarray:
        """The query points q(x) = (x·M, 0), shape (n, d + 1)."""
        xm = np.asarray(x, dtype=np.float64) @ self.whiten
        return np.concatenate([xm, np.zeros((xm.shape[0], 1))], axis=1)

    def nearest(self, q: np.ndarray, k: int, workers: int = -1):
        """(idx (n, k) of the k cheapest atoms, a lower bound on the cost of every other atom).

        The bound is g_min + (k-th distance)² minus the round-off slack (−inf when k = N).
        """
        k = int(min(k, self.n_atoms))
        dist, idx = self.tree.query(q, k=k, workers=workers)
        dist, idx = dist.reshape(len(q), k), idx.reshape(len(q), k)
        if k == self.n_atoms:
            return idx, np.full(len(q), -np.inf)
        last = dist[:, -1] ** 2
        slack = ROUNDOFF * (self.scale + np.einsum("nd,nd->n", q, q) + last)
        return idx, self.g_min + last - slack


    def within(self, q: np.ndarray, threshold: np.ndarray, k: int, workers: int = -1,
               groups: int = 16):
        """(idx (n, k), found (n, k), bound (n,)): the atoms of cost ≤ threshold, at most k.

        One bounded k-NN query per group of points with similar thresholds (cKDTree takes
        one distance_upper_bound per call): the search prunes every node beyond the radius from
        the start instead of filling a heap of k first, and rows come back padded (found False,
        idx N) instead of as Python lists. The bound on every atom not returned is the radius
        when fewer than k came back, else the k-th distance (as in `nearest`).
        """
        k = int(min(k, self.n_atoms))
        n = len(q)
        qq = np.einsum("nd,nd->n", q, q)
        room = np.asarray(threshold, dtype=np.float64) - self.g_min
        # widened by twice the slack, so the bound below stays above the threshold itself
        radius2 = np.maximum(room + 2.0 * ROUNDOFF * (self.scale + qq + np.abs(room)), 0.0)
        idx = np.empty((n, k), np.int64)
        dist = np.empty((n, k))
        cut = np.empty(n)
        order = np.argsort(radius2, kind="stable")
        # a query call has a fixed cost (threads, setup): small batches share one radius
        for part in np.array_split(order, int(np.clip(n // 512, 1, groups))):
            if not part.size:
                continue
            r2 = float(radius2[part].max())
            cut[part] = r2
            d_, i_ = self.tree.query(q[part], k=k, workers=workers,
                                     distance_upper_bound=np.nextafter(np.sqrt(r2), np.inf))
            dist[part], idx[part] = np.reshape(d_, (part.size, k)), np.reshape(i_, (part.size, k))
        found = np.isfinite(dist)
        if k == self.n_atoms:
            last = np.where(found.all(axis=1), np.inf, cut)
        else:
            last = np.where(found[:, -1], dist[:, -1] ** 2, cut)
        slack = ROUNDOFF * (self.scale + qq + np.where(np.isfinite(last), last, 0.0))
        with np.errstate(invalid="ignore"):
            bound = np.where(np.isfinite(last), self.g_min + last - slack, -np.inf)
        if k == self.n_atoms:  # every atom can come back: nothing neglected then
            bound = np.where(found.all(axis=1), -np.inf, bound)
        return np.where(found, idx, 0), found, bound


def lifted_index(y, g, whiten) -> LiftedIndex:
    """The index of atoms y (N, d) with values g (N,) under the metric whiten (d, d)."""
    from scipy.spatial import cKDTree

    y = np.asarray(y, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    g_min = float(g.min())
    points = np.concatenate([y @ whiten, np.sqrt(g - g_min)[:, None]], axis=1)
    scale = float(np.einsum("nd,nd->n", points, points).max()) + abs(g_min)
    # balanced_tree=False (sliding midpoint) builds several times faster at equal query speed
    tree = cKDTree(points, balanced_tree=False, compact_nodes=False)
    return LiftedIndex(tree, np.asarray(whiten, dtype=np.float64), g_min, scale, y.shape[0])


def atoms_index(y, g, t: float, factor) -> LiftedIndex:
    """The index of a quadratic Hamiltonian's atoms: M = L/√(4t) with L·Lᵀ = A⁻¹."""
    return lifted_index(y, g, np.asarray(factor, dtype=np.float64) / np.sqrt(4.0 * float(t)))


def layer_index(W, b) -> LiftedIndex:
    """The index of an LSE layer's logits z_j = W_j·x + b_j (its cost is |x|²/(4τ) − z_j).

    Any τ > 0 lifts the layer (y_j = 2τW_j, g_j = −b_j − τ|W_j|²), but the heights √(g_j − g_min)
    should spread as little as possible: a layer made from atoms with time t has
    −b_j = g_j + t|W_j|², so τ is the least-squares slope of −b on |W|² (≈ t), not a fixed number —
    with τ far from t every atom sits high above the query points and the tree prunes poorly.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    tau = layer_time(W, b)
    g = -b - tau * np.einsum("jd,jd->j", W, W)
    return lifted_index(2.0 * tau * W, g, np.eye(W.shape[1]) / np.sqrt(4.0 * tau))


def layer_time(W, b) -> float:
    """The τ of `layer_index`: the slope of −b against |W|², or 1/2 if that is not positive.

    >>> W = np.array([[0.0], [1.0], [2.0]])
    >>> round(layer_time(W, -np.array([0.3, 0.3, 0.3]) - 0.7 * (W ** 2).sum(1)), 12)
    0.7
    """
    sq = np.einsum("jd,jd->j", W, W)
    spread = sq - sq.mean()
    denom = float(spread @ spread)
    tau = float(spread @ (-b - (-b).mean())) / denom if denom > 0 else 0.0
    return tau if np.isfinite(tau) and tau > 0 else 0.5
