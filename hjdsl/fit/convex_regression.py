"""ε = 0 convex fit with a sparse working set: cutting planes that drop inactive pairs.

Profiled on n = 1,000, d = 3 (docs/fitting_convex.md): a Clarabel solve on the former cutting
planes' working set (each point with its 2d + 4 nearest neighbours in both directions, plus ~20
hub pairs per point) takes 18–46 s per round, but on the final active set (≈ 3 pairs per point)
0.1–0.5 s. Which pairs, not how many, make the factorisation dense: row i's subgradient s_i
couples all of i's partners, so k neighbours in both directions put a 2k-clique around every
point of a 3-D cloud. Here the working set starts sparse (d + 1 neighbours, one direction, plus
the hub pairs, which bound boundary slopes in the first round), each round adds the worst point
of every violating piece, and pairs whose multiplier is zero are dropped again, so W stays near
the active set. A dropped pair that comes back is kept for good, which rules out cycling.
"""

from __future__ import annotations

import numpy as np

from hjdsl.errors import run_error

_DROP_BELOW = 1e-9  # a pair whose multiplier is below this × max(1, max λ) leaves W


def sparse_start(x: np.ndarray, k: int) -> np.ndarray:
    """(n·k, 2) pairs (i, j): each point with its k nearest neighbours, one direction only."""
    from scipy.spatial import cKDTree

    n = x.shape[0]
    k = max(1, min(k, n - 1))
    _, nbr = cKDTree(x).query(x, k=k + 1)
    i = np.repeat(np.arange(n), k)
    j = nbr[:, 1:].ravel()
    keep = i != j  # duplicate points can put a point's twin before itself
    return np.stack([i[keep], j[keep]], 1)


def solve_sparse(x, v, *, tol, neighbours=None, max_rounds=200, slope_cap=None,
                 solver_options=None, log=None):
    """The working-set loop on standardised data; returns (φ, s, λ, pairs, status, rounds, worst).

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(60, 2))
    >>> phi, s, lam, pairs, status, rounds, worst = solve_sparse(x, (x ** 2).sum(1), tol=1e-7)
    >>> bool(worst <= 1e-7)
    True
    """
    from hjdsl.fit.max_affine import _unique_pairs, hull_pairs, solve_qp, violations

    n, d = x.shape
    pairs = _unique_pairs(np.concatenate([sparse_start(x, neighbours or d + 1),
                                          hull_pairs(x)]), n)
    dropped = np.empty(0, dtype=np.int64)  # codes i·n + j of pairs ever dropped
    kept = np.empty(0, dtype=np.int64)  # dropped pairs that came back: never dropped again
    for rounds in range(1, max_rounds + 1):
        phi, s, duals, status = solve_qp(x, v, pairs, max_slope=slope_cap,
                                         solver_options=solver_options)
        worst, new = violations(x, phi, s, per_piece=1, tol=tol)
        if log is not None:
            log(rounds, pairs.shape[0], worst, new.shape[0])
        if worst <= tol:
            return phi, s, duals, pairs, status, rounds, worst
        codes = pairs[:, 0].astype(np.int64) * n + pairs[:, 1]
        new_codes = new[:, 0].astype(np.int64) * n + new[:, 1]
        kept = np.union1d(kept, new_codes[np.isin(new_codes, dropped)])
        active = (duals > _DROP_BELOW * max(1.0, float(duals.max(initial=0.0))))
        active |= np.isin(codes, kept)
        dropped = np.union1d(dropped, codes[~active])
        pairs = _unique_pairs(np.concatenate([pairs[active], new]), n)
    raise run_error(f"convex fit: the sparse working set did not converge in {max_rounds} rounds "
                    f"(max violation {worst:.3g} > tol {tol:.3g})",
                    hint="raise max_rounds or tol, or use method='cutting_planes'")
