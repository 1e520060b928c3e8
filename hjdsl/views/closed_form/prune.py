"""Certified pruning: the Gibbs measure of a quadratic-cost model on the atoms that carry weight.

For a point x and ε > 0 let S be the atoms the lifted index returns (prune_index.py: those of
cost ≤ T = c_u + ε·log(N/δ), c_u the nearest lifted atom's, at most k of them; or the k nearest),
c_min their least cost, and L ≤ c_j for every atom j ∉ S (the index's bound; L ≥ T when fewer
than k came back).
With s = (L − c_min)/ε, each neglected atom has relative weight e^{−(c_j − c_min)/ε} ≤ e^{−s},
so the neglected mass relative to the cheapest atom is

    R ≤ R̄ = (N − k)·e^{−s},

and S is accepted once R̄ ≤ δ, i.e. L − c_min ≥ ε·log((N − k)/δ) — the threshold ε·log(N/δ)
with the count of atoms actually neglected. With Z_S ≥ 1 the mass of S (the cheapest atom gives
1), the values evaluated on S differ from the full ones by

    0 ≤ u_S − u = f − f_S = ε·log(1 + R/Z_S) ≤ ε·log1p(R̄) ≤ ε·δ,
    |π_S,j − π_j| ≤ R̄ for every j (π_j ≤ e^{−s} ≤ R̄ on the neglected atoms),
    |Ent_S − Ent| ≤ max(R̄ + Q̄, s_S·R̄),  Q̄ = (N − k)·max_{σ ≥ s} σe^{−σ},

s_S the largest (c_j − c_min)/ε over S: Ent = log Z + Σ_j w_j σ_j/Z, and the neglected atoms add
log(1 + R/Z_S) ≤ R and at most Q̄ to the second sum while rescaling it by Z_S/(Z_S + R).
At ε = 0 S is accepted once L > c_min (every tie is in S): the values are then exact, R̄ = 0.

A cost model picks, per ε, pruned or dense: supports counted on a few points' full logits
send the wide ε dense before any index is built (`wide_supports`); for the others it times
the search on a sample of points against a dense proxy on the same points (`plan`). At large
ε every atom matters, in high d the tree itself gets slow, and either way the ε runs dense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hjdsl.errors import UsageError
from hjdsl.views.closed_form.lse import EPS_FLOOR, gibbs_numpy

# The default δ: R̄ ≤ 1e-17 keeps every weight's error under a tenth of an ulp of 1 and the value's
# under ε·1e-17 — below the round-off of the dense evaluation itself.
DELTA = 1e-17
DENSE_RATIO = 24      # prune an ε when its sampled supports are ≤ N/24 atoms (bench_prune.py)
# points × atoms below which the dense path always runs: at N = 1e4 the index build, the plan and
# the search's fixed costs are ~20 ms, against ~3 ns per dense logit on an idle machine: pruned
# there with 2,000 points, d = 8 ran at 0.6–0.8× of dense, d = 2 and 4 only 3× faster
# (bench_prune.py)
MIN_WORK = 1 << 26
MIN_ATOMS = 2048      # fewer atoms: a dense row costs about what one tree query does
SAMPLE_POINTS = 48
# Prune an ε when the sample's search beats the numpy dense proxy by this factor (both in CPU
# time of one thread): the jitted dense kernel uses every core and fuses its loops, so it runs
# faster than the proxy (bench_prune.py calibrates this).
PRUNE_MARGIN = 2.5
PROXY_POINTS = 8      # points the dense proxy is timed on (its cost is the same for every point)
WIDE_POINTS = 8       # points whose full logits judge the supports before an index is built
K_START = 16
GROWTH = 2
GATHER_ELEMENTS = 1 << 21  # floats of one gathered (points × k × d) block
FAR = 1000.0               # e^{−FAR} is 0 in float64


@dataclass(frozen=True)
class Pruning:
    """How the closed-form views prune: the certificate's δ, or `dense` to force the dense path."""

    delta: float = DELTA
    dense: bool = False

    def __post_init__(self):
        delta = self.delta
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating)) \
                or not 0 < float(delta) < 1:
            raise UsageError.single(f"the pruning δ must be a number in (0, 1), got {delta!r}",
                                    hint="e.g. --prune-delta 1e-12; the default is 1e-17")


def prunable(hamiltonian) -> bool:
    """Only the quadratic family has a cost that is a squared Euclidean distance (its factor)."""
    return getattr(hamiltonian, "kind", None) == "quadratic" and hasattr(hamiltonian, "factor")


def worth_pruning(n_points: int, n_atoms: int, pruning: Pruning | None) -> bool:
    """Whether to build an index at all: never when forced dense or when the dense work is small."""
    pruning = pruning or Pruning()
    return not pruning.dense and n_atoms >= MIN_ATOMS and n_points * n_atoms >= MIN_WORK


@dataclass
class Rows:
    """Per-point results of one ε: values, entropy, certificate, support size, weights (sparse)."""

    value: np.ndarray
    entropy: np.ndarray
    neglected: np.ndarray       # R̄
    entropy_bound: np.ndarray
    size: np.ndarray
    top: np.ndarray             # max_j z_j: the cheapest atom is always in a certified support
    pieces: list                # (rows, idx (r, k), π (r, k)) blocks
    undone: np.ndarray          # rows whose support exceeded the cap: the dense path does them


def search(index, q, offset, logits: Callable, rows: np.ndarray, eps: float, delta: float,
           k0: int, cap: int, weights: bool, workers: int = -1,
           budget: float = np.inf, radius: bool = True) -> Rows:
    """Grow k (×GROWTH from k0) per point until the certificate holds or k passes `cap`
    (or the search has used `budget` seconds of this thread's CPU time).

    `logits(rows, idx)` gives the exact logits of atoms idx (r, k) — or (1, k), the same atoms
    for every row — at those points (z for a layer, −c for Hopf–Cole); `offset[rows]` turns
    them into the index's cost, offset − z.
    With `radius` (the default) each point first finds its nearest lifted atom u (k = 1), and
    the k-NN queries are bounded by the threshold T = c_u + ε·log(N/δ) (`LiftedIndex.within`):
    a support is then the atoms within T, often far fewer than k, and it is certified at once
    unless k of them came back. Without it the k nearest atoms are the support (`nearest`);
    `attribute` uses that, so every point has at least k0 atoms to rank.
    """
    import time

    started = time.thread_time()
    n, N = len(rows), index.n_atoms
    out = Rows(np.full(n, np.nan), np.full(n, np.nan), np.zeros(n), np.zeros(n),
               np.zeros(n, np.int64), np.full(n, np.nan), [], np.zeros(0, np.int64))
    threshold = None
    if radius:
        near = np.asarray(index.tree.query(q[rows], k=1, workers=workers)[1]).reshape(n, 1)
        tau = eps * np.log(N / delta) if eps > 0 else 0.0
        threshold = offset[rows] - logits(rows, near)[:, 0] + tau  # ≥ c_min + τ: a real atom
    where = np.arange(n)
    k, undone = int(min(k0, N)), []
    d = q.shape[1]
    while where.size:
        batch = max(1, GATHER_ELEMENTS // (k * d))
        failed = []
        for start in range(0, where.size, batch):
            part = where[start:start + batch]
            if radius:
                idx, found, bound = index.within(q[rows[part]], threshold[part], k, workers)
            else:
                idx, bound = index.nearest(q[rows[part]], k, workers)
                found = np.ones(idx.shape, bool)
            # the tree returns each row nearest first, its padding (distance inf) last
            width = max(1, int(found.sum(axis=1).max()))
            idx, found = idx[:, :width], found[:, :width]
            idx = np.where(found, idx, 0)  # a real atom under the padding (masked below)
            z = logits(rows[part], idx)
            z_max = np.where(found, z, -np.inf).max(axis=1)
            gap = bound - (offset[rows[part]] - z_max)  # L − c_min
            size = found.sum(axis=1)
            rest = N - size
            if eps > 0:
                s = gap / eps
                with np.errstate(under="ignore", over="ignore", invalid="ignore"):
                    r_bar = np.where(rest > 0, rest * np.exp(-s), 0.0)  # rest = 0: L = −inf
                ok = r_bar <= delta
            else:
                s, r_bar = np.full(part.size, np.inf), np.zeros(part.size)
                ok = (gap > 0) | (rest == 0)
            if not ok.all():
                failed.append(part[~ok])
            sel, keep = part[ok], ok
            if not sel.size:
                continue
            f, pi, ent = _gibbs(z[keep], idx[keep], found[keep], z_max[keep], eps)
            out.value[sel], out.entropy[sel], out.size[sel] = f, ent, size[keep]
            out.top[sel] = z_max[keep]
            out.neglected[sel] = r_bar[keep]
            if eps > 0:
                with np.errstate(under="ignore", over="ignore", invalid="ignore"):
                    s_in = np.where(found[keep], z_max[keep, None] - z[keep], 0.0) \
                        .max(axis=1) / eps
                    s_k, rest_k = s[keep], rest[keep]
                    q_bar = np.where(rest_k > 0, rest_k * np.where(
                        s_k >= 1.0, s_k * np.exp(-s_k), np.exp(-1.0)), 0.0)
                out.entropy_bound[sel] = np.maximum(r_bar[keep] + q_bar, s_in * r_bar[keep])
            if weights:
                out.pieces.append((sel, np.where(found[keep], idx[keep], -1), pi))
        where = np.concatenate(failed) if failed else np.zeros(0, np.int64)
        if k >= N:
            break
        k = min(k * GROWTH, N)
        if k > cap or time.thread_time() - started > budget:
            undone.append(where)
            break
    out.undone = np.concatenate(undone) if undone else np.zeros(0, np.int64)
    return out


def _gibbs(z, idx, found, z_max, eps):
    """gibbs_numpy of the found atoms of each row (padding weighs exactly 0).

    At ε = 0 the weight goes to the maximiser of least atom number, as the dense kernel's
    first maximiser (the rows are in distance order, not atom order).

    The measure of a = (z − z_max)/ε at ε = 1 (the same shift and sums as the dense kernel);
    padding, and atoms FAR below the top, have weight e^{−FAR} = 0 and entropy term 0·FAR = 0.
    """
    if eps == 0:
        top = found & (z == z_max[:, None])
        first = np.where(top, idx, np.iinfo(np.int64).max).min(axis=1)
        hard = top & (idx == first[:, None])
        return z_max, hard.astype(np.float64), np.zeros(z.shape[0])
    with np.errstate(under="ignore", over="ignore"):
        a = np.where(found, (z - z_max[:, None]) / max(float(eps), EPS_FLOOR), -FAR)
    f, pi, ent = gibbs_numpy(np.maximum(a, -FAR), 1.0)
    return z_max + eps * f, np.where(found, pi, 0.0), ent


def plan(index, q, offset, logits: Callable, eps: np.ndarray, delta: float,
         skip: np.ndarray | None = None) -> list:
    """Per ε the k to start from (pruned), or None (dense), timed on a sample of the points.

    The sample's search is timed against a dense proxy on the same points (the logits and
    exponentials over all N atoms); an ε is pruned when its search is PRUNE_MARGIN times
    faster and its supports stay below N/DENSE_RATIO. Both are timed single-threaded in this
    thread's CPU time, so a loaded machine does not tip the choice; the tree's cost grows with d
    (in d + 1 ≳ 8 a k-NN query visits much of the tree), which support sizes alone would not see.
    Supports grow with ε, so once one ε goes dense every larger one does; the ε in `skip`
    (wide_supports) are dense without a trial.
    """
    import time

    n, N = q.shape[0], index.n_atoms
    sample = np.unique(np.linspace(0, n - 1, int(np.clip(n // 32, 8, SAMPLE_POINTS)))
                       .astype(np.int64))
    start = time.thread_time()
    _dense_proxy(index, q[sample[:PROXY_POINTS]])
    dense_time = (time.thread_time() - start) * sample.size / min(sample.size, PROXY_POINTS)
    cap = N // DENSE_RATIO
    choice, dense_from = [None] * eps.size, np.inf
    for i in np.argsort(eps, kind="stable"):
        if skip is not None and skip[i]:
            dense_from = min(dense_from, eps[i])
        if eps[i] >= dense_from:
            continue
        start = time.thread_time()
        trial = search(index, q, offset, logits, sample, float(eps[i]), delta, K_START, cap,
                       weights=False, workers=1, budget=dense_time / PRUNE_MARGIN)
        if trial.undone.size or (time.thread_time() - start) * PRUNE_MARGIN > dense_time:
            dense_from = eps[i]
            continue
        # the queries are bounded by the threshold, so a k above most supports costs little,
        # and every point it covers is certified in one query
        choice[i] = int(max(K_START, 2 * np.quantile(trial.size, 0.9)))
    return choice


def wide_supports(logits: Callable, n_atoms: int, n_points: int, eps: np.ndarray,
                  delta: float) -> np.ndarray:
    """Per ε, whether the supports are too wide to prune, judged before any index is built.

    On WIDE_POINTS points spread over the input every logit is computed (atoms in blocks), and
    the support an ε certifies, {j : z_j ≥ max z − ε·log(N/δ)}, is counted: past N/DENSE_RATIO
    in the median the ε runs dense. It costs a few dense rows, where building the index and
    timing a trial would cost a fraction of the dense run itself.
    """
    rows = np.unique(np.linspace(0, n_points - 1, min(WIDE_POINTS, n_points)).astype(np.int64))
    z = np.empty((rows.size, n_atoms))
    block = max(1, GATHER_ELEMENTS // (16 * rows.size))  # a (rows × block × d) product, d ≲ 16
    for start in range(0, n_atoms, block):
        atoms = np.arange(start, min(start + block, n_atoms))
        # one row of atom numbers, broadcast against the rows: each atom gathered once
        z[:, start:start + atoms.size] = logits(rows, atoms[None, :])
    gap = z.max(axis=1, keepdims=True) - z
    tau = np.asarray(eps, dtype=np.float64) * np.log(n_atoms / delta)
    size = np.array([np.median((gap <= t).sum(axis=1)) for t in tau])
    return size > n_atoms / DENSE_RATIO


def _dense_proxy(index, q) -> float:
    """What the dense path does per point, in numpy: N logits and their exponentials."""
    data = index.tree.data
    z = q[:, :1] * data[:, 0]  # elementwise, not BLAS: one thread, as the timing assumes
    for k in range(1, data.shape[1]):
        z += q[:, k:k + 1] * data[:, k]
    return float(np.exp(z - z.max(axis=1, keepdims=True)).sum())


def pruning_options(delta=None, exact_dense=False) -> Pruning:
    """The Pruning of the options `prune_delta` (None: DELTA) and `exact_dense` (a bool)."""
    if not isinstance(exact_dense, (bool, np.bool_)):
        raise UsageError.single(f"exact_dense must be True or False, got {exact_dense!r}")
    return Pruning(DELTA if delta is None else delta, bool(exact_dense))
