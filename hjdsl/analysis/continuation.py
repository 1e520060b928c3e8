"""Continuation of critical points in ε: predictor-corrector tracking, branches and fold/leave events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.analysis.critical_points import DEDUP_TOL, CriticalSet, Landscape

TRACK_SUBSTEPS = 4      # predictor-corrector sub-steps per ε interval
TRACK_MAX_MOVE = 0.5    # the corrector may move a point at most this·ℓ from the prediction
PAIR_DISTANCE = 1.0     # fold partners end within this·ℓ of each other
MAX_BISECTIONS = 64     # halvings of an ε interval: more than float64 can resolve in any interval


@dataclass
class Event:
    """A change in the critical set: fold (a pair merges or is born), leave / enter (the box), other."""

    eps: float
    kind: str
    x: np.ndarray
    entropy: float
    detail: str
    min_abs_eig: float = np.nan  # smallest |Hessian eigenvalue| at the refined end (→ 0 at a fold)


def track(land: Landscape, x, index, eps_from: float, eps_to: float, substeps: int = TRACK_SUBSTEPS):
    """Follow critical points from eps_from to eps_to; per point a status and the end position.

    Status: 'ok' (converged, same Morse index, near the prediction, in the box), 'outside' (converged
    with the same index but outside the box: the point left), 'lost' (Newton failed, the index
    changed or it jumped: the branch ended in a bifurcation).
    """
    x = np.asarray(x, dtype=float).reshape(-1, land.d).copy()
    index = np.asarray(index)
    status = np.full(x.shape[0], "ok", dtype=object)
    levels = np.linspace(eps_from, eps_to, substeps + 1)
    limit = TRACK_MAX_MOVE * land.scale
    for e0, e1 in zip(levels[:-1], levels[1:]):
        live = status == "ok"
        if not live.any():
            break
        start = x[live]
        # tangent predictor dx/dε·Δε (capped at a tenth of the box: near a fold dx/dε blows up
        # like (ε_f − ε)^(−1/2)); the corrector must land within `limit` of the prediction
        move = land.tangent(start, e0) * (e1 - e0)
        size = np.linalg.norm(move, axis=-1, keepdims=True)
        cap = np.minimum(1.0, 0.1 * (land.hi - land.lo) / np.maximum(size, 1e-300))
        move = np.where(np.isfinite(move).all(axis=-1, keepdims=True), move * cap, 0.0)
        new, ok, idx, _, _ = land.newton(start + move, e1, max_step=0.25 * limit, iters=60)
        good = ok & (idx == index[live]) & (np.linalg.norm(new - start - move, axis=-1) <= limit)
        out = good & ~land.inside(new)
        st = np.where(good, "ok", "lost").astype(object)
        st[out] = "outside"
        status[live] = st
        x[live] = np.where(good[:, None], new, start)
    return status, x


def match(land: Landscape, a: CriticalSet, b: CriticalSet, tracked_status, tracked_x) -> np.ndarray:
    """For each point of `a`, the index of the point of `b` its track reached (−1 if none)."""
    out = np.full(len(a), -1, dtype=int)
    taken: set[int] = set()
    tol = 100 * DEDUP_TOL * land.scale
    for i in range(len(a)):
        if tracked_status[i] != "ok" or len(b) == 0:
            continue
        dist = np.linalg.norm(b.x - tracked_x[i], axis=-1)
        dist[b.index != a.index[i]] = np.inf
        j = int(np.argmin(dist))
        if dist[j] <= tol and j not in taken:
            out[i] = j
            taken.add(j)
    return out


def refine(land: Landscape, x, index, eps_from: float, eps_to: float, tol: float):
    """Bisection in ε for where the branch through (x, eps_from) ends, to `tol`.

    Ends after at most MAX_BISECTIONS halvings, or earlier when the interval cannot be split
    (adjacent floats), whatever `tol` is.

    Returns (eps_last_alive, eps_first_dead, x_last_alive, status_at_first_dead).
    """
    lo, hi = eps_from, eps_to
    x_lo = np.asarray(x, dtype=float).reshape(1, -1)
    status_hi = track(land, x_lo, [index], lo, hi)[0][0]
    for _ in range(MAX_BISECTIONS):
        mid = 0.5 * (lo + hi)
        # Once lo and hi are adjacent floats the midpoint is one of them: no finer split exists.
        if abs(hi - lo) <= tol or mid == lo or mid == hi:
            break
        status, x_mid = track(land, x_lo, [index], lo, mid)
        if status[0] == "ok":
            lo, x_lo = mid, x_mid
        else:
            hi, status_hi = mid, status[0]
    return lo, hi, x_lo[0], status_hi


def sweep(land: Landscape, eps_levels, progress=lambda n=1: None) -> list[CriticalSet]:
    """Critical sets at every ε: seeded Newton, then forward and backward continuation as extra seeds.

    A point found at any level is followed to the neighbouring levels, so a point missed by the
    fixed seeds at one ε but present next to it is recovered there.
    """
    base = land.seeds()
    sets: list[CriticalSet] = []
    for k, e in enumerate(eps_levels):
        extra = None
        if k:
            status, x = track(land, sets[-1].x, sets[-1].index, eps_levels[k - 1], e)
            extra = np.concatenate([sets[-1].x, x[status == "ok"]])
        sets.append(land.solve(e, base if extra is None else np.concatenate([base, extra])))
        progress()
    for k in range(len(eps_levels) - 2, -1, -1):
        later = sets[k + 1]
        status, x = track(land, later.x, later.index, eps_levels[k + 1], eps_levels[k])
        if np.any(status == "ok"):
            merged = land.solve(eps_levels[k], np.concatenate([sets[k].x, x[status == "ok"]]))
            if len(merged) > len(sets[k]):
                sets[k] = merged
    return sets


def events(land: Landscape, sets: list[CriticalSet], tol: float = 1e-3):
    """Branch ids per level and the events between levels (each refined by bisection to `tol`)."""
    branch = [np.arange(len(sets[0]))]
    next_id = len(sets[0])
    found: list[Event] = []
    for k in range(len(sets) - 1):
        a, b = sets[k], sets[k + 1]
        fs, fx = track(land, a.x, a.index, a.eps, b.eps)
        forward = match(land, a, b, fs, fx)
        bs, bx = track(land, b.x, b.index, b.eps, a.eps)
        backward = match(land, b, a, bs, bx)
        ids = np.full(len(b), -1, dtype=int)
        linked = set()
        for i, j in enumerate(forward):
            if j >= 0:
                ids[j] = branch[k][i]
                linked.add(i)
        for j, i in enumerate(backward):
            if i >= 0 and ids[j] < 0 and i not in linked:
                ids[j] = branch[k][i]
                linked.add(i)
        born = np.flatnonzero(ids < 0).tolist()
        for j in born:
            ids[j] = next_id
            next_id += 1
        branch.append(ids)
        dying = [i for i in range(len(a)) if i not in linked]
        if dying or born:
            found.extend(_classify(land, a, b, dying, born, tol))
    return branch, found


def _classify(land, a, b, dying, born, tol) -> list[Event]:
    ends = []  # (eps, x, index, status, direction, min |λ| at the last accepted point)
    for i in dying:
        alive, dead, x, status = refine(land, a.x[i], a.index[i], a.eps, b.eps, tol)
        eig = float(land.newton(x, alive, iters=0)[4][0])
        ends.append((0.5 * (alive + dead), x, int(a.index[i]), status, "annihilate", eig))
    for j in born:
        alive, dead, x, status = refine(land, b.x[j], b.index[j], b.eps, a.eps, tol)
        eig = float(land.newton(x, alive, iters=0)[4][0])
        ends.append((0.5 * (alive + dead), x, int(b.index[j]), status, "create", eig))
    out, used = [], set()
    for n, (e, x, idx, status, direction, eig) in enumerate(ends):
        if status == "outside":
            used.add(n)
            kind = "leave" if direction == "annihilate" else "enter"
            out.append(Event(e, kind, x, float(land.entropy(x[None], e)[0]),
                             f"{_name(idx, land.d)} {'leaves' if kind == 'leave' else 'enters'} the box", eig))
    for n, (e, x, idx, status, direction, eig) in enumerate(ends):
        if n in used:
            continue
        best, best_d = None, PAIR_DISTANCE * land.scale
        for m, (e2, x2, idx2, _, dir2, _) in enumerate(ends):
            if m == n or m in used or dir2 != direction or abs(idx2 - idx) != 1:
                continue
            dist = float(np.linalg.norm(x - x2))
            if dist <= best_d and abs(e - e2) <= 4 * tol:
                best, best_d = m, dist
        if best is None:
            continue
        used.update((n, best))
        e2, x2, idx2 = ends[best][:3]
        mid = 0.5 * (x + x2)
        eps = 0.5 * (e + e2)
        pair = " + ".join(_name(i, land.d) for i in sorted((idx, idx2)))
        out.append(Event(eps, "fold", mid, float(land.entropy(mid[None], eps)[0]),
                         f"{pair} {'merge and vanish' if direction == 'annihilate' else 'are born'}",
                         max(eig, ends[best][5])))
    for n, (e, x, idx, status, direction, eig) in enumerate(ends):
        if n not in used:
            out.append(Event(e, "other", x, float(land.entropy(x[None], e)[0]),
                             f"{_name(idx, land.d)} {'ends' if direction == 'annihilate' else 'begins'} "
                             "without a fold partner (degenerate or symmetric bifurcation)", eig))
    return sorted(out, key=lambda ev: ev.eps)


def _name(index: int, d: int) -> str:
    if index == 0:
        return "minimum"
    if index == d:
        return "maximum"
    return "saddle" if d == 2 else f"index-{index} saddle"
