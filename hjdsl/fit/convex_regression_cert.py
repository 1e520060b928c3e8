"""The exact certificate of a max-affine fit: all-pairs violation in blocks, KKT residuals, gap."""

from __future__ import annotations

import numpy as np

_CHUNK = 2_000_000  # entries of the (pieces × points) violation block held at once
_TILE = 2048  # pieces and points per tile of the tiled scan (32 MB, one matmul each)


def excess_tiles(x, phi, slopes, rows=None, cols=None):
    """Tiles (r0, c0, block) of φ_i + s_iᵀ(x_j − x_i) − φ_j, pieces i = rows[r0:], j = cols[c0:].

    One matmul per tile: [s_i, φ_i − s_iᵀx_i, 1] · [x_j, 1, −φ_j], so memory is O(n·d + tile²)
    and the offsets cost no extra pass over the block. rows, cols default to all points.
    """
    rows = np.arange(x.shape[0]) if rows is None else rows
    cols = np.arange(x.shape[0]) if cols is None else cols
    offset = phi[rows] - np.einsum("md,md->m", slopes[rows], x[rows])
    left = np.column_stack([slopes[rows], offset, np.ones(rows.size)])
    right = np.ascontiguousarray(np.column_stack([x[cols], np.ones(cols.size), -phi[cols]]).T)
    for r0 in range(0, rows.size, _TILE):
        for c0 in range(0, cols.size, _TILE):
            yield r0, c0, left[r0:r0 + _TILE] @ right[:, c0:c0 + _TILE]


def violations(x, phi, slopes, *, per_piece: int = 1, per_point: int = 0, tol: float):
    """Most violated constraints over all n² pairs, in chunks: piece i evaluated at x_j − φ_j.

    Returns (max violation, (m, 2) pairs (i, j) to add): for each violating piece i its
    `per_piece` worst points j, plus (if per_point > 0) for each violated point j its
    `per_point` worst pieces i, all with violation > tol.
    """
    n = x.shape[0]
    if per_piece <= 0 and per_point <= 0:  # the certificate's question: only the largest
        worst = max((float(block.max()) for _, _, block in excess_tiles(x, phi, slopes)),
                    default=0.0)
        return max(worst, 0.0), np.empty((0, 2), dtype=np.int64)
    b = phi - np.einsum("nd,nd->n", slopes, x)
    cols = max(1, _CHUNK // n)
    worst, new = 0.0, []
    # running top-`per_piece` violations of each piece (row) over the chunks seen so far
    best = np.full((n, 0), -np.inf)
    where = np.zeros((n, 0), dtype=np.int64)
    for start in range(0, n, cols):
        jj = np.arange(start, min(n, start + cols))
        block = b[:, None] + slopes @ x[jj].T - phi[jj]  # (pieces, points)
        worst = max(worst, float(block.max()))
        if per_piece > 0:
            vals = np.concatenate([best, block], axis=1)
            ids = np.concatenate([where, np.broadcast_to(jj, block.shape)], axis=1)
            k = min(per_piece, vals.shape[1])
            top = np.argpartition(-vals, k - 1, axis=1)[:, :k]
            best = np.take_along_axis(vals, top, axis=1)
            where = np.take_along_axis(ids, top, axis=1)
        bad = np.nonzero(block.max(axis=0) > tol)[0]
        if per_point <= 0 or bad.size == 0:
            continue
        k = min(per_point, n)
        sub = block[:, bad]
        top = np.argpartition(-sub, k - 1, axis=0)[:k]  # (k, bad)
        keep = np.take_along_axis(sub, top, axis=0) > tol
        ii = top[keep]
        jcol = np.broadcast_to(jj[bad], top.shape)[keep]
        new.append(np.stack([ii, jcol], 1))
    if per_piece > 0:
        keep = best > tol
        rows = np.broadcast_to(np.arange(n)[:, None], best.shape)[keep]
        new.append(np.stack([rows, where[keep]], 1))
    pairs = np.concatenate(new) if new else np.empty((0, 2), dtype=np.int64)
    return worst, pairs


def certificate(x, v, phi, slopes, pairs, duals, max_violation) -> dict:
    """KKT residuals and the duality gap of the FULL problem (duals zero off the working set).

    Lagrangian L = Σ(φ−v)² − Σ λ_ij (φ_j − φ_i − s_iᵀ(x_j − x_i)); with a = ∂/∂φ of the
    constraint sum, the dual function is q(λ) = −aᵀv − |a|²/4 when Σ_j λ_ij (x_j − x_i) = 0.
    """
    n, d = x.shape
    i, j = pairs[:, 0], pairs[:, 1]
    a = np.bincount(j, duals, n) - np.bincount(i, duals, n)
    grad_s = np.zeros((n, d))
    np.add.at(grad_s, i, duals[:, None] * (x[j] - x[i]))
    slack = phi[j] - phi[i] - np.einsum("md,md->m", slopes[i], x[j] - x[i])
    primal = float(np.sum((phi - v) ** 2))
    dual = float(-a @ v - a @ a / 4.0)
    scale = max(1.0, float(np.abs(v).max()))
    stationarity = max(float(np.abs(2 * (phi - v) - a).max()), float(np.abs(grad_s).max())) / scale
    complementarity = float(np.abs(duals * slack).max(initial=0.0)) / scale
    violation = float(max(max_violation, 0.0))
    return {
        "objective": primal,
        "dual_objective": dual,
        "duality_gap": primal - dual,
        "max_violation": violation,
        "kkt_stationarity": stationarity,
        "kkt_complementarity": complementarity,
        "kkt_residual": max(violation, stationarity, complementarity),
    }
