"""`solve --method hopf_lax`: fit g with fixed atoms at ε = 0 through the Hopf–Lax value, any convex H.

The model is the atomic Hopf–Lax value u_0(x_i) = min_j {g_j + C_ij}, C_ij = t·L((x_i − y_j)/t)
from `ham.costs(x, y, 0, t)` (+inf where atom j does not reach x_i). Which estimator, and why:

* Least squares on u_0 is not convex in g: the fitted vectors {u_0[g] at the data} form a
  tropical (min-plus) polytope, not a convex set, so no convex program fits g by least squares.
* The one-sided problem is an LP: "g_j + C_ij ≥ v_i for every reachable (i, j)" (u_0 ≥ v) with
  the least total slack Σ_i (u_0(x_i) − v_i). u_0 is non-decreasing in every g_j, and the
  feasible set has a least element, ĝ_j = max_i {v_i − C_ij} (the c-transform of the data), so
  ĝ minimises every slack at once: it is the LP's solution in closed form, O(n·N), no solver
  and no solver tolerance. On noise-free data v = u_0[g*] it recovers g*_j exactly for every
  atom active at some data point (ĝ ≤ g* from feasibility of g*, and ĝ_j ≥ v_i − C_ij = g*_j at
  a point i where j is active), to round-off.
* On noisy data ĝ is biased upwards by about the largest noise near each atom (it is an upper
  envelope). So when ĝ leaves a residual above round-off, we refine it by MAP under the normal
  likelihood (least squares, flat prior): the min is smoothed to −τ log Σ_j exp(−(g_j + C_ij)/τ),
  τ annealed from the data's spread to ~0 with scipy's L-BFGS-B warm-started from ĝ, then the
  hard min is polished by fixing each point's active atom and taking the mean of v_i − C_ij
  (the exact least-squares step for that assignment). The candidate with the least hard-min loss
  wins, so noise-free data keep the exact ĝ. Starting from ĝ matters: it is already within the
  noise of g*, so the non-convex refinement only has a local job.

Identifiability. The reported g is the least element that reproduces the fitted values u,
g_j = max_i {u_i − C_ij} (ĝ itself on noise-free data). Atom j's g is pinned only if j is the
unique minimiser at some data point under it: if another atom ties with j wherever j is active,
g_j can rise without changing any fitted value (or the two atoms can swap roles). Pinned atoms
are reported `identifiable`; for the others g_j is only the least value the data allow, and +inf
when no data point is reached by them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.errors import DataError, UsageError
from hjdsl.model.limits import over_memory

# Work arrays of one (points × atoms) cost matrix alive at once (costs, shifted costs, weights).
WORK_ARRAYS = 4
# Residuals within this many ulps of the data's magnitude count as round-off (ĝ is then exact).
ROUND_OFF_ULPS = 64
# Annealing: τ from TAU_START × the spread of the values down by TAU_FACTOR per stage to TAU_END.
TAU_START, TAU_FACTOR, TAU_END = 0.1, 0.1, 1e-9
POLISH_ROUNDS = 50
LBFGS = {"maxiter": 500, "ftol": 1e-15, "gtol": 1e-12}


@dataclass(frozen=True)
class HopfLaxFit:
    """Fitted g (N,), which atoms the data identify, the fitted u at the data and how."""

    g: np.ndarray
    identifiable: np.ndarray
    fitted: np.ndarray
    envelope: np.ndarray   # ĝ, the LP solution (least g with u_0 ≥ v); −inf where unreached
    loss: float            # mean squared residual of `fitted`
    formulation: str       # "envelope" (ĝ was exact) or "smoothed_min" (refined)


def atom_costs(ham, x, y, t: float) -> np.ndarray:
    """C_ij = t·L((x_i − y_j)/t), +inf where atom j does not reach x_i; refuses to exhaust memory."""
    n, N = len(x), len(y)
    message = over_memory(WORK_ARRAYS * n * N * 8, f"the Hopf–Lax fit's cost matrix ({n:,} "
                          f"points × {N:,} atoms)")
    if message:
        raise UsageError.single(message, hint="fit fewer data points or atoms", code="U107")
    return np.asarray(ham.costs(x, y, np.zeros(N), float(t)), dtype=float)


def envelope(C: np.ndarray, v: np.ndarray) -> np.ndarray:
    """ĝ_j = max_i {v_i − C_ij}: the least g with u_0 ≥ v (−inf for atoms reaching no point).

    >>> envelope(np.array([[0.0, np.inf], [1.0, 0.0]]), np.array([2.0, 1.0])).tolist()
    [2.0, 1.0]
    """
    return np.max(v[:, None] - C, axis=0)


def fit_hopf_lax(ham, x, v, y, t: float) -> HopfLaxFit:
    """Fit g_j of fixed atoms y to values v ≈ u_0(x) (see the module docstring).

    >>> from hjdsl.hamiltonians import norm
    >>> x = np.linspace(-2, 2, 9)[:, None]; y = np.array([[-1.0], [1.0]])
    >>> fit = fit_hopf_lax(norm("l2"), x, np.where(x[:, 0] <= 0, 0.5, 2.0), y, 1.0)
    >>> fit.g.tolist(), fit.identifiable.tolist()
    ([0.5, 2.0], [True, True])
    """
    x, v, y = np.asarray(x, float), np.asarray(v, float).reshape(-1), np.asarray(y, float)
    C = atom_costs(ham, x, y, t)
    unreached = ~np.isfinite(C).any(axis=1)
    if unreached.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(unreached)[:5])
        raise DataError.single(
            f"{int(unreached.sum())} data point(s) lie where no atom reaches at t = {t:g} "
            f"(rows {rows}): u_0 is +inf there for every g", code="D011",
            hint="add atoms near those points, raise t, or drop the points")
    g0 = envelope(C, v)
    used = np.isfinite(g0)
    scale = float(np.max(np.abs(v))) + float(np.max(np.abs(np.where(np.isfinite(C), C, 0.0))))
    tol = ROUND_OFF_ULPS * np.finfo(float).eps * max(scale, 1.0)
    candidates = {"envelope": g0}
    if np.max(_hard_min(g0, C) - v) > tol:
        refined = _anneal(g0, C, v, used)
        candidates["smoothed_min"] = refined
        candidates["polished"] = _polish(refined, C, v, used)
    losses = {k: float(np.mean((_hard_min(g, C) - v) ** 2)) for k, g in candidates.items()}
    best = min(losses, key=losses.get)  # ties keep the envelope (inserted first)
    fitted = _hard_min(candidates[best], C)
    # The least g with u_0[g] ≥ fitted reproduces the fit exactly and is its least element, so
    # an atom is pinned iff it is the unique minimiser somewhere under it (module docstring).
    g = envelope(C, fitted)
    ident = _identifiable(g, C, tol)
    return HopfLaxFit(np.where(used, g, np.inf), ident, fitted, g0, losses[best],
                      "envelope" if best == "envelope" else "smoothed_min")


def _total(g, C) -> np.ndarray:
    """g_j + C_ij, with atoms that reach no point (g_j = −inf) left out as +inf."""
    return np.where(np.isfinite(g), g, np.inf) + C


def _hard_min(g, C) -> np.ndarray:
    return np.min(_total(g, C), axis=1)


def _identifiable(g, C, tol) -> np.ndarray:
    """Atoms that are the unique minimiser (by more than `tol`) at some data point."""
    c = _total(g, C)
    if c.shape[1] == 1:
        return np.isfinite(c).any(axis=0)
    two = np.partition(c, 1, axis=1)[:, :2]
    unique = two[:, 1] - two[:, 0] > tol
    out = np.zeros(c.shape[1], dtype=bool)
    out[np.argmin(c, axis=1)[unique]] = True
    return out


def _smooth(g, C, v, tau):
    """½ Σ_i (s_i − v_i)² with s_i = −τ log Σ_j exp(−(g_j + C_ij)/τ), and its gradient in g."""
    c = g + C
    m = np.min(c, axis=1, keepdims=True)
    w = np.exp(-(c - m) / tau)
    total = w.sum(axis=1, keepdims=True)
    s = m[:, 0] - tau * np.log(total[:, 0])
    r = s - v
    return 0.5 * float(r @ r), (w / total).T @ r


def _anneal(g0, C, v, used) -> np.ndarray:
    """L-BFGS-B on the smoothed least squares, τ annealed towards 0, warm-started at ĝ."""
    from scipy.optimize import minimize

    Cu = C[:, used]
    spread = max(float(np.ptp(v)), float(np.std(v)), 1e-300)
    g = g0[used].copy()
    tau = TAU_START * spread
    while tau >= TAU_END * spread:
        res = minimize(_smooth, g, args=(Cu, v, tau), jac=True, method="L-BFGS-B",
                       options=LBFGS)
        if np.all(np.isfinite(res.x)):
            g = res.x
        tau *= TAU_FACTOR
    out = g0.copy()
    out[used] = g
    return out


def _polish(g, C, v, used) -> np.ndarray:
    """Fix each point's active atom, set g_j to the mean of v_i − C_ij over its points, repeat
    while the hard-min loss falls (the exact least-squares step for a fixed assignment)."""
    best, best_loss = g.copy(), float(np.mean((_hard_min(g, C) - v) ** 2))
    current = g.copy()
    rows = np.arange(len(v))
    for _ in range(POLISH_ROUNDS):
        active = np.argmin(_total(current, C), axis=1)
        counts = np.bincount(active, minlength=len(g))
        sums = np.bincount(active, weights=v - C[rows, active], minlength=len(g))
        nxt = np.where(counts > 0, sums / np.maximum(counts, 1), current)
        nxt = np.where(used, nxt, g)
        loss = float(np.mean((_hard_min(nxt, C) - v) ** 2))
        if loss >= best_loss:
            break
        best, best_loss, current = nxt, loss, nxt
    return best


def run_hopf_lax(model, x, v, eps=None):
    """`solve --method hopf_lax`: check what the method needs, fit, and return a FitOutcome."""
    from hjdsl.errors import SpecError
    from hjdsl.fit.infer import FitOutcome

    ham, obs = model.hamiltonian, model.observe
    if eps is not None and float(eps) != 0:
        raise UsageError.single(f"--method hopf_lax fits at eps = 0 (the Hopf–Lax value), not "
                                f"--eps {float(eps):g}", hint="omit --eps", code="U105")
    if model.particles.learned:
        hint = ("--method convex fits free atoms at eps = 0 (max-affine regression)"
                if ham.exactness("fit_convex").label != "none"
                else "give the atoms (`particles y = grid(...)` or a list) and learn g")
        raise UsageError.single("--method hopf_lax fits g with fixed atoms; this spec learns the "
                                "atoms y", hint=hint, code="F008")
    if obs is None:
        raise SpecError.single("nothing is observed: add an `observe u ~ normal(sigma = ...)` "
                               "line", code="F003")
    if not model.initial.learned:
        from hjdsl.fit.bayes import nothing_to_fit

        raise nothing_to_fit(model, "`initial g ~ normal(0, 1)`")
    if obs.likelihood != "normal":
        raise SpecError.single(f"--method hopf_lax fits by least squares (the normal "
                               f"likelihood), not {obs.likelihood}", obs.span, code="F007",
                               hint="observe with `normal(sigma = ...)`")
    v = np.asarray(v, dtype=float).reshape(-1)
    if obs.quantity == "f":
        if not ham.has_layer:
            raise SpecError.single(
                f"observing f needs an LSE layer, which H(p) = {ham.text} has not: "
                f"{ham.exactness('network').reason}", obs.span, code="F006",
                hint="observe u, the Hopf–Lax value")
        v = _quadratic_term(ham, x, model.t) - v  # f_0 + u_0 = xᵀA⁻¹x/(4t)
    fit = fit_hopf_lax(ham, x, v, model.y, model.t)
    warnings = []
    lost = np.flatnonzero(~fit.identifiable)
    if lost.size:
        shown = ", ".join(str(j) for j in lost[:10]) + (" …" if lost.size > 10 else "")
        warnings.append(f"{lost.size} of {len(fit.g)} atoms are not identifiable from these data "
                        f"(never the unique active atom at a data point: particle {shown}); their "
                        "g_hat is only the least value the data allow (+inf where no data point "
                        "is reached), see `identifiable`")
    arrays = {"identifiable": ("particle", fit.identifiable,
                               "the data pin g_j (atom j is the unique active atom somewhere)"),
              "g_envelope": ("particle", fit.envelope,
                             "the least g with u_0 >= the data (the LP solution; -inf: no point "
                             "reached)")}
    info = {"formulation": fit.formulation, "identifiable_atoms": int(fit.identifiable.sum())}
    return FitOutcome("hopf_lax", {"y": np.asarray(model.y, dtype=float), "g": fit.g, "eps": 0.0},
                      fit.loss, info=info, warnings=warnings, arrays=arrays)


def _quadratic_term(ham, x, t: float) -> np.ndarray:
    """t·L(x/t), the cost of one atom at y = 0 with g = 0: xᵀA⁻¹x/(4t) for the quadratic H, the
    term f_0 + u_0 equals whenever an LSE layer exists."""
    return np.asarray(ham.costs(x, np.zeros((1, np.shape(x)[1])), np.zeros(1), t))[:, 0]
