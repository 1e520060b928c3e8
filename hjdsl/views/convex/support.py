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
WIDE = 16  # supports past N/WIDE atoms are scanned, not searched (a k-NN heap of N/16 is slow)
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
    method: str = "scan"  # "scan": every atom's cost; "index": the lifted k-d tree's support


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


def use_index(model, pruning=None) -> bool:
    """Whether the supports come from the lifted k-d tree: a quadratic H, enough atoms."""
    from hjdsl.views.closed_form.prune import MIN_ATOMS, prunable

    return prunable(model.hamiltonian) and model.n_atoms >= MIN_ATOMS \
        and not (pruning is not None and pruning.dense)


def indexed_supports(model, eps, x, delta: float = DELTA) -> Supports:
    """The supports of `supports` for every (ε, point), ε-major, without any N-wide cost row.

    The lifted k-d tree of the closed-form pruning (views/closed_form/prune_index.py) returns
    the atoms whose cost is within ε·log(N/δ) of the nearest lifted atom's, and a lower bound L
    on every other atom's cost; their exact costs then decide S as `supports` does. R adds the
    found atoms left out (exactly) and the N − found never seen, each at most e^{−(L−c_min)/ε}:
    R̄ ≥ R, so ε·log1p(R̄) still bounds u_S − u and the dual of the full program (simplex.py)
    with R̄ for R stays a lower bound on u. At ε = 0, S is the atoms tied at c_min, and every
    other atom costs more than L > c_min, so the LP over S has the full LP's value.
    """
    from hjdsl.views.closed_form.prune_index import atoms_index

    ham, y, g, t = model.hamiltonian, model.y, model.g, float(model.t)
    x = np.asarray(x, dtype=float).reshape(-1, model.dim)
    n, N = x.shape[0], model.n_atoms
    index = atoms_index(y, g, t, ham.factor)
    q = index.lift(x)
    near = np.asarray(index.tree.query(q, k=1)[1]).reshape(n)

    def cost(r, atoms):
        return np.asarray(ham.costs(x[r:r + 1], y[atoms], g[atoms], t, xp=np), dtype=float)[0]

    c_near = np.array([cost(r, near[r:r + 1])[0] for r in range(n)])
    parts = []
    for e in np.asarray(eps, dtype=float):
        tau = e * np.log(N / delta) if e > 0 else 0.0
        found, bound = _within(index, q, c_near + tau)
        rows = Supports(*(np.empty(n, dtype=object) for _ in range(2)), np.empty(n),
                        np.empty(n), np.empty(n, dtype=int), np.empty(n), "index")
        for r in range(n):
            atoms = found[r]
            if atoms is None:  # a wide support: the scan is cheaper than the tree
                _scan_row(rows, r, model, x, float(e), delta)
                continue
            c = cost(r, atoms)
            c_min = float(c.min())
            shifted = c - c_min
            keep = shifted <= tau if e > 0 else shifted <= 0.0
            if e > 0:
                with np.errstate(under="ignore", over="ignore"):
                    rest = float(np.exp(-shifted[~keep] / e).sum()) + (
                        (N - atoms.size) * float(np.exp(-(bound[r] - c_min) / e))
                        if atoms.size < N else 0.0)
            else:
                rest = 0.0 if bound[r] > c_min or atoms.size == N else np.inf
            if not rest <= delta:  # round-off at the threshold: this point scans every atom
                _scan_row(rows, r, model, x, float(e), delta)
                continue
            order = np.argsort(atoms[keep], kind="stable")  # atom order, as the scan keeps them
            rows.index[r], rows.costs[r] = atoms[keep][order], shifted[keep][order]
            rows.shift[r], rows.rest[r], rows.size[r] = c_min, rest, int(keep.sum())
            rows.neglected[r] = e * np.log1p(rest)
        parts.append(rows)
    return Supports(*(np.concatenate([getattr(p, f) for p in parts]) if parts else np.empty(0)
                      for f in ("index", "costs", "shift", "rest", "size", "neglected")),
                    "index")


def _scan_row(rows: Supports, r: int, model, x, eps: float, delta: float) -> None:
    """Row r of `rows` from every atom's cost, as `supports` finds it."""
    costs, reach = _all_costs(model, x[r:r + 1])
    one = supports(costs, reach, eps, delta)
    rows.index[r], rows.costs[r] = one.index[0], one.costs[0]
    rows.shift[r], rows.rest[r], rows.size[r] = one.shift[0], one.rest[0], one.size[0]
    rows.neglected[r] = one.neglected[0]


def _within(index, q, threshold, k: int = 64):
    """Per point the atoms of lifted cost ≤ threshold (all of them: k grows ×4 until fewer
    than k come back) and the bound on every other atom's cost; None past N/WIDE atoms,
    where a k-NN query costs more than the scan of every atom."""
    n, N = q.shape[0], index.n_atoms
    found = np.empty(n, dtype=object)
    bound = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        k = min(k, N)
        idx, ok, low = index.within(q[todo], threshold[todo], k)
        done = ~ok.all(axis=1) | (k == N)
        for j in np.flatnonzero(done):
            found[todo[j]], bound[todo[j]] = idx[j][ok[j]], low[j]
        todo, k = todo[~done], 4 * k
        if todo.size and k > N // WIDE:
            found[todo] = None
            break
    return found, bound


def _all_costs(model, x):
    from hjdsl.views.convex.view import atom_costs

    return atom_costs(model, x)


def check_program_memory(size: int, n_atoms: int) -> None:
    """Refuse, before cvxpy allocates it, an entropic program over `size` atoms too large."""
    message = over_memory(PROGRAM_BYTES_PER_ATOM_PAIR * size * size,
                          f"the convex view's entropic program over {size:,} of {n_atoms:,} atoms "
                          f"(those within ε·log(N/δ) of the cheapest)")
    if message:
        raise UsageError.single(message, hint="audit fewer points (--audit 0 skips the convex "
                                              "view) or use a smaller ε")
