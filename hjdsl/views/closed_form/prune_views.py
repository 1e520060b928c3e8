"""The pruned network and Hopf–Cole views: one index, a plan per ε, the search, the dense rest.

Both return the dense views' keys (f, f0 / u, pi, entropy, ε axis first) plus the certificate
of prune.py per (ε, point): `neglected` R̄ (0 where dense), `value_bound` ε·log1p(R̄) on f and u,
`entropy_bound`, `support` (atoms evaluated: N where dense) and `pruned` per ε.
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

from hjdsl.views.closed_form import prune
from hjdsl.views.closed_form.prune import Pruning, search, worth_pruning
from hjdsl.views.closed_form.prune_index import atoms_index, layer_index

_INDEXES: dict = {}  # the last few indexes by (kind, digest of their arrays): compare calls twice


def _cached(kind: str, build: Callable, *arrays):
    digest = hashlib.blake2b(digest_size=16)
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
        digest.update(str(np.shape(a)).encode())
    key = (kind, digest.hexdigest())
    if key not in _INDEXES:
        while len(_INDEXES) >= 2:
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[key] = build(*arrays)
    return _INDEXES[key]


def network_pruned(x, W, b, eps, *, weights: bool, pruning: Pruning | None, dense: Callable):
    """f_ε of the layer (W, b) at x, pruned where the plan says so; `dense(x, eps)` the rest."""
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)

    def logits(rows, idx):
        return np.einsum("nkd,nd->nk", W[idx], x[rows]) + b[idx]

    def offset(index):
        xq = x @ index.whiten  # the layer's cost is |x|²/(4τ) − z_j = |q(x)|² − z_j
        return np.einsum("nd,nd->n", xq, xq)

    return _run(lambda: _cached("layer", layer_index, W, b), x, eps, logits, offset, W.shape[0],
                weights, pruning, dense, "f", sign=1.0)


def hopf_cole_pruned(x, y, g, t: float, hamiltonian, eps, *, weights: bool,
                     pruning: Pruning | None, dense: Callable):
    """u_ε of a quadratic H's atoms at x, pruned where the plan says; `dense(x, eps)` the rest."""
    y, g = np.asarray(y, dtype=np.float64), np.asarray(g, dtype=np.float64)
    factor = np.asarray(hamiltonian.factor, dtype=np.float64)
    xs, ys = x @ factor, y @ factor  # the costs as the dense kernel forms them (kernel_costs)

    def logits(rows, idx):
        diff = xs[rows][:, None, :] - ys[idx]
        return -(g[idx] + np.einsum("nkd,nkd->nk", diff, diff) / (4.0 * t))

    return _run(lambda: _cached("atoms", lambda y_, g_, f_: atoms_index(y_, g_, t, f_), y, g,
                                factor),
                x, eps, logits, lambda index: np.zeros(x.shape[0]), y.shape[0], weights,
                pruning, dense, "u", sign=-1.0)


def should_prune(x, n_atoms: int, pruning: Pruning | None) -> bool:
    return worth_pruning(np.shape(x)[0], n_atoms, pruning)


def _run(build, x, eps, logits, offset_of, N, weights, pruning, dense, key, sign):
    pruning = pruning or Pruning()
    E, n = eps.size, x.shape[0]
    # an ε whose sampled supports are wide runs dense; when every ε does, no index is built
    wide = prune.wide_supports(logits, N, n, eps, pruning.delta)
    if wide.all():
        choice = [None] * E
    else:
        index = build()
        q, offset = index.lift(x), offset_of(index)
        choice = prune.plan(index, q, offset, logits, eps, pruning.delta, skip=wide)
    out = {key: np.empty((E, n)), "entropy": np.empty((E, n)), "neglected": np.zeros((E, n)),
           "entropy_bound": np.zeros((E, n)), "support": np.full((E, n), N, dtype=np.int64),
           "pruned": np.array([c is not None for c in choice])}
    if weights:
        out["pi"] = np.zeros((E, n, N))
    dense_eps = np.flatnonzero(~out["pruned"])
    if dense_eps.size:
        _fill(out, dense(x, eps[dense_eps]), dense_eps, slice(None), key, weights)
    top = out.pop("f0", np.full(n, np.nan))  # f0 = max_j z_j: from any run, dense or pruned
    for i in np.flatnonzero(out["pruned"]):
        # the plan's cap: a point whose support outgrows it costs more than a dense row
        rows = search(index, q, offset, logits, np.arange(n), float(eps[i]), pruning.delta,
                      choice[i], N // prune.DENSE_RATIO, weights)
        done = np.ones(n, bool)
        done[rows.undone] = False
        out[key][i, done] = sign * rows.value[done]
        for name in ("entropy", "neglected", "entropy_bound"):
            out[name][i, done] = getattr(rows, name)[done]
        out["support"][i, done] = rows.size[done]
        for sel, idx, pi in rows.pieces:
            r, c = np.nonzero(idx >= 0)  # −1: a padded slot, no atom
            out["pi"][i, sel[r], idx[r, c]] = pi[r, c]
        top[done] = rows.top[done]
        if rows.undone.size:  # the few points whose support outgrew the plan: dense, exact
            part = dense(x[rows.undone], eps[i:i + 1])
            _fill(out, part, [i], rows.undone, key, weights)
            if "f0" in part:
                top[rows.undone] = part["f0"]
    if key == "f":  # f at ε = 0 equals f0 bit for bit, as in the dense view
        zero = np.flatnonzero(eps == 0)
        out["f0"] = out["f"][zero[0]].copy() if zero.size else top
    if not weights:  # as the dense view: no entropy without the weights
        out.pop("entropy")
    out["value_bound"] = eps[:, None] * np.log1p(out["neglected"])
    return out


def _fill(out, part, eps_at, rows, key, weights):
    for name in (key,) + (("entropy", "pi") if weights else ()):
        block = np.asarray(part[name])
        for j, i in enumerate(eps_at):
            out[name][i, rows] = block[j]
    if "f0" in part and isinstance(rows, slice):
        out.setdefault("f0", np.asarray(part["f0"]))

