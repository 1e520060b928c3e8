"""Pruning a max-affine fit: drop duplicate and redundant pieces by a greedy set cover in blocks."""

from __future__ import annotations

import numpy as np

_CHUNK = 2_000_000  # entries of the (pieces × points) cover block held at once


def prune_pieces(W, b, x, phi, *, tol: float):
    """Drop duplicate and redundant affine pieces, keeping f_0(x_i) within tol of φ_i.

    A piece "covers" the points where it is within tol of the fitted value; a greedy set cover
    keeps pieces until every data point is covered. The cover is built in column blocks and held
    sparse (a point is covered by the few pieces through it), so memory is O(block + cover), not
    the n² booleans of one block (80 GB of values at n = 10⁵).

    >>> x = np.array([[-1.0], [0.0], [1.0]]); W = np.array([[-1.0], [-1.0], [1.0]])
    >>> prune_pieces(W, np.array([-1.0, -1.0, -1.0]), x, np.array([0.0, -1.0, 0.0]), tol=1e-9)[0]
    array([[-1.],
           [ 1.]])
    """
    from scipy import sparse

    m, n = W.shape[0], x.shape[0]
    cols = max(1, _CHUNK // max(1, m))
    rows, points = [], []
    for start in range(0, n, cols):
        jj = np.arange(start, min(n, start + cols))
        r, c = np.nonzero(W @ x[jj].T + b[:, None] >= phi[None, jj] - tol)  # (pieces, points)
        rows.append(r)
        points.append(jj[c])
    r, c = np.concatenate(rows), np.concatenate(points)
    cover = sparse.csr_matrix((np.ones(r.size, dtype=np.int64), (r, c)), shape=(m, n))
    by_point = cover.tocsc()
    uncovered = np.ones(n, dtype=bool)
    counts = np.asarray(cover.sum(axis=1)).ravel()
    keep = []
    while uncovered.any():
        best = int(np.argmax(counts))
        keep.append(best)
        newly = cover.indices[cover.indptr[best]:cover.indptr[best + 1]]
        newly = newly[uncovered[newly]]
        uncovered[newly] = False
        counts -= np.asarray(by_point[:, newly].sum(axis=1)).ravel()
    keep = np.sort(np.asarray(keep))
    return W[keep], b[keep]
