"""The four views of every head and query: network, tropical, viscous (Hopf–Cole), convex."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Diagnostic, UsageError
from hjdsl.model.limits import over_memory


def masked_gibbs(z: np.ndarray, allowed: np.ndarray, eps: float):
    """(f, π, Ent) of logits z (…, n_k) over the allowed keys, at ε > 0, max-shifted.

    The LSE kernels (views/closed_form/lse.py) take finite logits only: a masked key is a
    logit of −∞ (a cost of +∞), whose 0·∞ entropy term they would turn into NaN.

    >>> f, pi, ent = masked_gibbs(np.array([0.0, 0.0, 9.0]), np.array([True, True, False]), 1.0)
    >>> round(float(f), 12), pi.tolist(), round(float(ent), 12)
    (0.69314718056, [0.5, 0.5, 0.0], 0.69314718056)
    """
    m = np.where(allowed, z, -np.inf).max(axis=-1)
    a = np.where(allowed, (z - m[..., None]) / eps, 0.0)
    with np.errstate(under="ignore"):
        w = np.where(allowed, np.exp(a), 0.0)
    rest = w.sum(axis=-1) - 1.0  # the maximiser contributes exactly 1
    log_s = np.log1p(rest)
    entropy = log_s + (w * -a).sum(axis=-1) / (1.0 + rest)
    return m + eps * log_s, w / (1.0 + rest)[..., None], entropy


def atoms(model):
    """Atoms of each head's LSE layer: y_j = 2t·k_j (H, n_k, d_k), g_j = −t|k_j|² (H, n_k)."""
    k, t = model.heads.k, model.t
    return 2.0 * t * k, -t * np.einsum("hkd,hkd->hk", k, k)


def check_eps(model, eps) -> np.ndarray:
    values = model.eps if eps is None else np.atleast_1d(np.asarray(eps, dtype=float))
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or \
            np.any(values < 0):
        raise UsageError((Diagnostic("error", f"ε values must be finite and ≥ 0, got "
                                     f"{np.asarray(values).tolist()}", code="U003"),))
    return values


DEFAULT_AUDIT = 16  # queries per head the convex view solves by default (≈ 20 ms a solve)


def check_audit(audit, n_queries: int) -> int:
    """How many queries per head the convex view solves (None: the first DEFAULT_AUDIT,
    "all": every one)."""
    if audit is None:
        return min(DEFAULT_AUDIT, n_queries)
    if audit == "all":
        return n_queries
    try:
        n = int(str(audit))
    except ValueError:
        n = -1
    if n < 0:
        raise UsageError((Diagnostic("error", f"--audit takes a whole number ≥ 0 or `all`, got "
                                     f"{audit!r}", code="U002"),))
    return min(n, n_queries)


def view_memory(h: int, e: int, q: int, k: int, d: int, dv: int) -> int:
    """Bytes of the run at its peak: q − y_j (H·Q·K·d), the value spread (H·Q·K·d_v, 2 copies),
    logits, costs and their transients (H·Q·K, 8 copies), and per ε the weights of both views
    and the softmax's transients (H·E·Q·K, 6 copies) and the outputs (H·E·Q·d_v, 3 copies).
    Measured with tracemalloc it is 1.1–1.5 times the true peak (never under) for
    d, d_v ∈ {4, …, 64} and 1–5 ε values."""
    return 8 * (h * q * k * (d + 2 * dv + 8) + 6 * h * e * q * k + 3 * h * e * q * dv)


def check_memory(model, n_eps: int) -> None:
    """Refuse, before allocating, views that would exceed the memory budget."""
    h = model.heads
    too_big = over_memory(view_memory(h.n_heads, n_eps, h.n_queries, h.n_keys, h.d_k, h.d_v),
                          f"the views of {h.n_heads} head(s) × {n_eps} ε × {h.n_queries:,} "
                          f"queries × {h.n_keys:,} keys")
    if too_big:
        raise UsageError((Diagnostic("error", too_big + "; use fewer ε values", code="U013"),))


def compare(model, eps=None, audit=None):
    """The Dataset of every view of every head (dims head, eps, query, key, ...)."""
    eps = check_eps(model, eps)
    n_audit = check_audit(audit, model.heads.n_queries)
    check_memory(model, eps.size)
    closed = closed_form(model, eps)
    convex = convex_view(model, eps, closed["cost"], n_audit)
    from hjdsl.attention.dataset import build

    return build(model, eps, closed, convex, n_audit)


def closed_form(model, eps: np.ndarray) -> dict:
    """Network, tropical and Hopf–Cole views in numpy, vectorised over heads, ε and queries."""
    h = model.heads
    q, k, v, allowed, t = h.q, h.k, h.v, h.allowed, model.t
    y, g = atoms(model)
    z = np.einsum("hqd,hkd->hqk", q, k)  # W_j = k_j, b_j = 0
    diff = q[:, :, None, :] - y[:, None, :, :]
    # the Hopf–Cole costs from the atoms, not from z: the identity then checks the map itself
    cost = np.where(allowed, g[:, None, :] + np.einsum("hqkd,hqkd->hqk", diff, diff) / (4 * t),
                    np.inf)
    quad = np.einsum("hqd,hqd->hq", q, q) / (4 * t)
    f0 = np.where(allowed, z, -np.inf).max(axis=-1)
    hard = np.argmax(np.where(allowed, z, -np.inf), axis=-1)
    u0 = cost.min(axis=-1)
    one_hot = (np.arange(h.n_keys) == hard[..., None]).astype(float)
    shape = (h.n_heads, eps.size, h.n_queries)
    f, u, ent = np.empty(shape), np.empty(shape), np.empty(shape)
    pi = np.empty(shape + (h.n_keys,))
    for i, e in enumerate(eps):  # a handful of ε; each step is vectorised over everything else
        if e == 0:
            f[:, i], u[:, i], pi[:, i], ent[:, i] = f0, u0, one_hot, 0.0
            continue
        f[:, i], pi[:, i], ent[:, i] = masked_gibbs(z, allowed, e)
        u[:, i] = -masked_gibbs(-cost, allowed, e)[0]
    hard_output = np.take_along_axis(v, hard[..., None], axis=1)  # (H, Q, d_v)
    n_allowed = allowed.sum(axis=1)
    second = np.sort(np.where(allowed, z, -np.inf), axis=-1)[..., -2] if h.n_keys > 1 else \
        np.full(f0.shape, -np.inf)  # one key: no second logit, an infinite gap
    with np.errstate(invalid="ignore"):
        gap = np.where(n_allowed > 1, f0 - second, np.inf)
    spread = np.abs(np.where(allowed[None, :, :, None], v[:, None, :, :], hard_output[:, :, None])
                    - hard_output[:, :, None]).max(axis=(2, 3))
    return {"z": z, "cost": cost, "y": y, "g": g, "quad": quad, "f": f, "u": u, "pi": pi,
            "entropy": ent, "output": np.einsum("heqk,hkv->heqv", pi, v), "f0": f0, "u0": u0,
            "hard": hard, "hard_output": hard_output, "gap": gap, "spread": spread,
            "n_allowed": n_allowed, "scale": identity_scale(q, y, g, pi, f, u, quad, hard, t)}


def identity_scale(q, y, g, pi, f, u, quad, hard, t) -> np.ndarray:
    """S (H, E, Q): the size of the terms that cancel in f + u − |q|²/(4t) (views/tolerances):
    every product in z_j, c_j and the quadratic term is at most
    T_ij = |g_j| + (|q_i| + |y_j|)²/(4t)."""
    qn, yn = np.linalg.norm(q, axis=-1), np.linalg.norm(y, axis=-1)
    T = np.abs(g)[:, None, :] + (qn[:, :, None] + yn[:, None, :]) ** 2 / (4 * t)
    active = np.take_along_axis(T, hard[..., None], axis=-1)[..., 0]
    return (np.einsum("heqk,hqk->heq", pi, T) + active[:, None] + np.abs(f) + np.abs(u)
            + np.abs(quad)[:, None])


def convex_view(model, eps: np.ndarray, cost: np.ndarray, n_audit: int) -> dict:
    """The entropic program over the simplex (the LP at ε = 0) at the first `n_audit` queries
    of every head, solved by views/convex's SimplexPrograms; its π is the attention row."""
    h = model.heads
    shape = (h.n_heads, eps.size, h.n_queries)
    value, gap = np.full(shape, np.nan), np.full(shape, np.nan)
    pi = np.full(shape + (h.n_keys,), np.nan)
    status = np.full(shape, "not audited", dtype=object)
    solver = np.full(shape, "", dtype=object)
    if n_audit:
        from hjdsl.views.convex.simplex import SimplexPrograms

        programs = SimplexPrograms(h.n_keys)
        for a in range(h.n_heads):
            for i, e in enumerate(eps):
                for p in range(n_audit):
                    rec = programs.solve(cost[a, p], h.allowed[p], float(e))
                    value[a, i, p], gap[a, i, p], pi[a, i, p] = rec.value, rec.gap, rec.pi
                    status[a, i, p], solver[a, i, p] = rec.status, rec.solver
    return {"value": value, "gap": gap, "pi": pi, "status": status.astype(str),
            "solver": solver.astype(str)}
