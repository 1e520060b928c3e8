"""Which atoms a convex solve keeps: the support S(x) and a bound on what pruning leaves out.

At ε > 0 the Gibbs weight of atom j is π_j = e^{−(c_j − c_min)/ε} / Z with Z ≥ 1 (the cheapest
atom contributes 1), so an atom with c_j − c_min > ε·log(N/δ) carries π_j < δ/N. The program is
solved over

    S(x) = {j reachable : c_j(x) − c_min(x) ≤ ε·log(N/δ)},   δ = DELTA = 1e-14,

which is small and well conditioned (no weights of 1e-26 for an interior-point solver to resolve).
With R = Σ_{j ∉ S, reachable} e^{−(c_j − c_min)/ε} < δ (the neglected mass, relative to the
cheapest atom), the pruned program's optimum u_S and the full one's u satisfy

    0 ≤ u_S − u = ε·log(1 + R/Z_S) ≤ ε·log1p(R) ≤ ε·R,    ‖π_S − π‖_∞ ≤ R,

far below the report's 1e-6·max(1, |u|) and 1e-5. The certificate of each solve does not rely on
this bound alone: its duality gap is that of the FULL program (convex_simplex.py adds the
neglected atoms' terms to the dual), so it brackets u itself. At ε = 0 (the LP) S is every
reachable atom and R = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.errors import UsageError
from hjdsl.model.limits import over_memory

DELTA = 1e-14
# Peak memory of canonicalising and solving the k-atom entropic program with cvxpy + Clarabel:
# 32·k² bytes (measured with tracemalloc: 8.9 MB at k = 500, 33 MB at 1,000, 130 MB at 2,000;
# cvxpy's parameter-to-data map is dense in (parameter, variable)). The LP grows only linearly.
PROGRAM_BYTES_PER_ATOM_PAIR = 32


@dataclass(frozen=True)
class Supports:
    """The pruned program of each (ε, point) row: ragged per-row arrays (object arrays).

    index[r] the atoms kept, costs[r] their costs minus shift[r] = c_min (≥ 0), rest[r] = R (0
    at ε = 0 or when nothing was pruned), size[r] = |S| (0: no atom reachable), neglected[r] the
    bound ε·log1p(R) on u_S − u.
    """

    index: np.ndarray
    costs: np.ndarray
    shift: np.ndarray
    rest: np.ndarray
    size: np.ndarray
    neglected: np.ndarray


def supports(costs: np.ndarray, reach: np.ndarray, eps: float, delta: float = DELTA) -> Supports:
    """The support of every point (rows of `costs` (n, N), `reach` (n, N)) at one ε.

    >>> s = supports(np.array([[0.0, 0.1, 5.0]]), np.ones((1, 3), bool), 0.1)
    >>> s.index[0].tolist(), s.size.tolist(), bool(0 < s.rest[0] < 1e-14)
    ([0, 1], [2], True)
    """
    costs = np.asarray(costs, dtype=float)
    n, n_atoms = costs.shape
    reachable = np.asarray(reach, dtype=bool) & np.isfinite(costs)
    with np.errstate(invalid="ignore"):
        shift = np.where(reachable, costs, np.inf).min(axis=1)
        shifted = np.where(reachable, costs - shift[:, None], np.inf)
    if eps > 0:
        keep = shifted <= eps * np.log(n_atoms / delta)
        with np.errstate(under="ignore"):
            rest = np.where(reachable & ~keep, np.exp(-shifted / eps), 0.0).sum(axis=1)
    else:
        keep, rest = reachable, np.zeros(n)
    index = np.empty(n, dtype=object)
    part = np.empty(n, dtype=object)
    for r in range(n):  # ragged rows: one small array per solve
        index[r] = np.flatnonzero(keep[r])
        part[r] = shifted[r, index[r]]
    return Supports(index, part, shift, rest, keep.sum(axis=1), eps * np.log1p(rest))


def check_program_memory(size: int, n_atoms: int) -> None:
    """Refuse, before cvxpy allocates it, an entropic program over `size` atoms too large."""
    message = over_memory(PROGRAM_BYTES_PER_ATOM_PAIR * size * size,
                          f"the convex view's entropic program over {size:,} of {n_atoms:,} atoms "
                          f"(those within ε·log(N/δ) of the cheapest)")
    if message:
        raise UsageError.single(message, hint="audit fewer points (--audit 0 skips the convex "
                                              "view) or use a smaller ε")
