"""Size budgets: how large grids, data sets, atom sets and ε sweeps may be (checked before allocating)."""

from __future__ import annotations

import math

MAX_POINTS = 10_000_000  # evaluation or data points
MAX_ATOMS = 1_000_000  # particles y_j
MAX_EPS = 10_000  # values in one ε sweep
MAX_DIM = 1_000  # spatial dimension d

LIMITS = {"points": MAX_POINTS, "atoms": MAX_ATOMS, "eps": MAX_EPS, "dim": MAX_DIM}


def grid_size(counts) -> int:
    """Number of points of a grid with these per-axis counts, as an exact integer.

    >>> grid_size([1000, 1000, 1000])
    1000000000
    """
    return math.prod(int(c) for c in counts)


def over_budget(n: int, kind: str) -> str | None:
    """A message if `n` items of `kind` (points, atoms, eps, dim) exceed the budget, else None.

    >>> over_budget(10**9, "points")
    '1,000,000,000 points exceed the limit of 10,000,000'
    """
    limit = LIMITS[kind]
    if n > limit:
        return f"{n:,} {kind} exceed the limit of {limit:,}"
    return None
