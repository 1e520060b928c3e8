"""The convex view: u_ε as an entropy-regularised program over the simplex, point by point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.errors import SpecError, UsageError
from hjdsl.model.limits import over_memory
from hjdsl.views.convex.support import check_program_memory

DEFAULT_AUDIT = 25  # points audited when `audit` is None: evenly spaced, so `compare` stays quick


@dataclass(frozen=True)
class ConvexResult:
    """The convex view on an ε sweep × evaluation points (NaN / "" where a point was not audited).

    value (n_eps, n_point) = u_ε from the solver; pi (n_eps, n_point, N) the optimal weights;
    duality_gap (n_eps, n_point) = P(π̂) − D(λ) ≥ 0 (docs/convex.md); status (n_eps, n_point) the
    solver status; audited (n_point,); solver (n_eps,) the solvers used at each ε; exact: whether
    the program is the exact u_ε (False for norm H at ε > 0); hopf_lax_value (n_point,) and
    hopf_lax_argmin (n_point, d) from the continuous program when g is an expression, else None,
    with hopf_lax_status; solved_by (n_eps, n_point) the solver behind each value; support_size
    and neglected (n_eps, n_point): how many atoms each program kept and the bound ε·log1p(R) on
    how far pruning the others can have moved its value (views/convex/support.py).
    """

    value: np.ndarray
    pi: np.ndarray
    duality_gap: np.ndarray
    status: np.ndarray
    audited: np.ndarray
    solver: np.ndarray
    exact: bool
    hopf_lax_value: np.ndarray | None
    hopf_lax_argmin: np.ndarray | None
    note: str
    hopf_lax_status: np.ndarray | None = None
    solved_by: np.ndarray | None = None  # (n_eps, n_point): the solver of each solve ("" if none)
    support_size: np.ndarray | None = None  # (n_eps, n_point): atoms in each program (0: none)
    neglected: np.ndarray | None = None  # (n_eps, n_point): bound on u_S − u from the pruning


def audit_points(n_point: int, audit: int | None) -> np.ndarray:
    """Which points the convex view solves at: a boolean mask of length n_point.

    None → up to DEFAULT_AUDIT evenly spaced points (first and last included); 0 → none;
    -1 or a count ≥ n_point → all; k → k evenly spaced points. Deterministic.

    >>> audit_points(9, 3).nonzero()[0].tolist()
    [0, 4, 8]
    """
    count = DEFAULT_AUDIT if audit is None else n_point if audit == -1 else int(audit)
    if count < 0:
        raise UsageError.single(f"audit must be a count ≥ 0 or -1 (all points), got {audit}")
    mask = np.zeros(n_point, dtype=bool)
    if count > 0 and n_point > 0:
        chosen = np.round(np.linspace(0, n_point - 1, min(count, n_point))).astype(int)
        mask[np.unique(chosen)] = True
    return mask


def atom_costs(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Costs c_j(x) (n, N) and reachability (n, N) at points x (n, d), vectorised (numpy).

    Both come from the Hamiltonian: c_j = g_j + t·L((x − y_j)/t) (`ham.costs`) and the reach set
    (`ham.reached`: (x − y_j)/t in the domain of L, with the rounding slack every view shares).
    Where an atom does not reach, its cost is reported as g_j (finite) and the mask says so.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5])
    >>> atom_costs(m, np.array([[0.0]]))[0].tolist()
    [[0.25, 0.75]]
    """
    x = np.asarray(x, dtype=float).reshape(-1, model.dim)
    ham, y, g, t = model.hamiltonian, model.y, model.g, float(model.t)
    costs = np.asarray(ham.costs(x, y, g, t, xp=np), dtype=float)
    reach = np.asarray(ham.reached(x, y, t, xp=np), dtype=bool) & np.isfinite(costs)
    return np.where(reach, costs, np.broadcast_to(g, costs.shape)), reach


def convex_view(model, eps: np.ndarray, x: np.ndarray, *, audit: int | None = None,
                workers: int | None = None, solver_options: dict | None = None,
                advance=None, pruning=None) -> ConvexResult:
    """Solve the convex programs for every ε and every audited point (see docs/convex.md).

    `solver_options` maps a solver name (CLARABEL, SCS, HIGHS) to extra keyword options;
    `advance(n)` (a progress bar's) is told of every n programs solved. For a quadratic H
    with many atoms the supports come from the lifted k-d tree (support.indexed_supports) unless
    `pruning` (a closed_form.prune.Pruning) says dense.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> r = convex_view(m, np.array([1.0, 0.0]), np.array([[0.7]]))
    >>> r.value.round(6).tolist(), r.status.tolist(), r.solver.tolist()
    ([[-0.514908], [0.31]], [['optimal'], ['optimal']], ['CLARABEL', 'HIGHS'])
    """
    from hjdsl.views.convex import pool as convex_pool

    eps = np.atleast_1d(np.asarray(eps, dtype=float))
    x = np.asarray(x, dtype=float).reshape(-1, model.dim)
    if np.any(~np.isfinite(eps)) or np.any(eps < 0):
        raise UsageError.single(f"the convex view needs finite ε ≥ 0, got {eps.tolist()}")
    workers = convex_pool.default_workers() if workers is None else max(1, int(workers))
    n_eps, n_point, n_atoms = eps.size, x.shape[0], model.n_atoms
    audited = audit_points(n_point, audit)
    points = np.flatnonzero(audited)
    options = solver_options or {}

    problem = over_memory(8 * n_eps * n_point * n_atoms, "the convex view's weights π "
                          f"({n_eps:,} ε × {n_point:,} points × {n_atoms:,} atoms)")
    if problem:
        raise UsageError.single(problem, hint="audit fewer points or evaluate at fewer points")
    hopf_lax = _hopf_lax(model, x, points, workers, options, advance)  # first: a non-convex g fails fast
    sup = _supports(model, eps, x[points], pruning)  # every (ε, point) pair, ε-major
    e_idx, p_idx = np.divmod(np.arange(n_eps * points.size), max(points.size, 1))
    entropic = sup.size[eps[e_idx] > 0]
    if entropic.size:  # refuse an oversized program before cvxpy allocates anything
        check_program_memory(int(entropic.max()), n_atoms)
    out, how = convex_pool.run("simplex", (n_atoms, options), {
        "costs": sup.costs, "eps": eps[e_idx], "rest": sup.rest, "shift": sup.shift}, workers,
        advance) \
        if points.size else (None, "nothing audited")

    value = np.full((n_eps, n_point), np.nan)
    # π over every point: NaN off the audited ones. With none audited it is a read-only
    # broadcast NaN that holds no memory (filling ε × points × atoms NaNs took seconds).
    pi = np.full((n_eps, n_point, n_atoms), np.nan) if points.size else \
        np.broadcast_to(np.float64(np.nan), (n_eps, n_point, n_atoms))
    gap = np.full((n_eps, n_point), np.nan)
    neglected = np.full((n_eps, n_point), np.nan)
    size = np.zeros((n_eps, n_point), dtype=int)
    status = np.full((n_eps, n_point), "", dtype=object)
    solved_by = np.full((n_eps, n_point), "", dtype=object)
    solver = np.full(n_eps, "", dtype=object)
    if out is not None:
        cols = points[p_idx]
        value[e_idx, cols], gap[e_idx, cols] = out["value"], out["gap"]
        neglected[e_idx, cols], size[e_idx, cols] = sup.neglected, sup.size
        status[e_idx, cols], solved_by[e_idx, cols] = out["status"], out["solver"]
        for r in np.flatnonzero(sup.size):  # π over each support, zero on the pruned atoms
            pi[e_idx[r], cols[r]] = 0.0
            pi[e_idx[r], cols[r], sup.index[r]] = out["pi"][r]
        for i in range(n_eps):  # each solver that produced a value at this ε, once, in order
            names = "+".join(out["solver"][e_idx == i]).split("+")
            solver[i] = "+".join(dict.fromkeys(name for name in names if name))

    # ε = 0 is the LP (exact for every convex H); ε > 0 the entropic program, per its label
    exact = bool(model.hamiltonian.exactness("convex_entropic").label == "exact"
                 or not np.any(eps > 0))
    note = _note(model, eps, points.size, n_point, exact, how, size, neglected, sup.method)
    return ConvexResult(value, pi, gap, status.astype(str), audited, solver.astype(str), exact,
                        *hopf_lax[:2], note, hopf_lax[2], solved_by.astype(str), size, neglected)


def _supports(model, eps, x, pruning=None):
    """The pruned programs of every (ε, point), ε-major (convex_support.py), costs in chunks."""
    from hjdsl.views.convex.support import Supports, indexed_supports, supports, use_index

    if x.shape[0] and use_index(model, pruning):
        return indexed_supports(model, eps, x)

    chunk = max(1, (8 << 20) // max(1, model.n_atoms * model.dim))  # ≈ 64 MB of differences
    parts = [[] for _ in eps]
    for start in range(0, x.shape[0], chunk):
        costs, reach = atom_costs(model, x[start:start + chunk])
        for i, e in enumerate(eps):
            parts[i].append(supports(costs, reach, float(e)))
    flat = [part for per_eps in parts for part in per_eps]
    if not flat:
        empty = np.empty(0)
        return Supports(empty.astype(object), empty.astype(object), empty, empty,
                        empty.astype(int), empty)
    return Supports(*(np.concatenate([getattr(p, f) for p in flat])
                      for f in ("index", "costs", "shift", "rest", "size", "neglected")))


def _hopf_lax(model, x, points, workers, options, advance=None):
    """The continuous-g program at the audited points, when g is an expression of y."""
    if model.initial.source != "expr" or model.initial.expr is None:
        return None, None, None
    from hjdsl.views.convex import pool as convex_pool
    from hjdsl.views.convex.hopf_lax import HopfLaxSpec

    spec = (HopfLaxSpec.from_model(model), options)
    try:  # build (and cache) it here: lowering and the convexity check come before any solve
        convex_pool.program("hopf_lax", spec)
    except SpecError as exc:  # attach the spec text so the diagnostic shows the source line
        raise SpecError(exc.diagnostics, source=model.source or None) from None
    value = np.full(x.shape[0], np.nan)
    argmin = np.full(x.shape, np.nan)
    status = np.full(x.shape[0], "", dtype=object)
    if points.size:
        out, _ = convex_pool.run("hopf_lax", spec, {"x": x[points]}, workers, advance)
        value[points], argmin[points], status[points] = out["value"], out["argmin"], out["status"]
    return value, argmin, status.astype(str)


def _note(model, eps, n_audited, n_point, exact, how, size, neglected, method="scan") -> str:
    parts = [f"audited {n_audited} of {n_point} points ({how})"]
    pruned = size[eps > 0][size[eps > 0] > 0]
    if pruned.size:  # the support pruning of convex_support.py, and what it can have moved
        parts.append(f"ε > 0 programs over {pruned.min()}–{pruned.max()} of {model.n_atoms} atoms "
                     f"(value moved by ≤ {np.nanmax(neglected[eps > 0]):.1e} by the pruning)")
    if method == "index" and size[size > 0].size:  # the tree's certified supports, every ε
        parts.append(f"supports from the lifted k-d tree: {size[size > 0].min()}–"
                     f"{size[size > 0].max()} of {model.n_atoms} atoms per program, the rest "
                     f"certified below δ = 1e-14 of the cheapest atom's weight")
    if not exact:
        ham = model.hamiltonian
        parts.append(f"H(p) = {ham.text}: for ε > 0 the entropic program is "
                     f"{ham.exactness('convex_entropic').label} "
                     f"({ham.exactness('convex_entropic').reason}); the ε = 0 program is "
                     f"{ham.exactness('convex_lp').label}")
    return "; ".join(parts)


def to_cvxpy(model, x=None, eps=None, program: str = "simplex"):
    """The convex program of `model` as a cvxpy Problem and a dict of its Parameters/Variables.

    program "simplex" (default): min_π c(x)·π − ε·Σ entr(π), Σπ = 1, with params `costs` (the
    Parameter c, set to c(x)), `eps` (a nonneg Parameter) and the Variable `pi`. x defaults to the
    first evaluation point and ε to the first of the sweep. For norm Hamiltonians there is also
    a Parameter `reach` (1 for atoms within reach of x, else 0) and the constraint π ≤ reach.
    program "hopf_lax" (g an expression): min_y g(y) + t·L((x−y)/t), params `x` and Variable `y`.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0], eps=[1.0])
    >>> problem, params = to_cvxpy(m, x=[0.7])
    >>> round(float(problem.solve(solver="CLARABEL")), 6)
    -0.514908
    """
    x = model.evaluate[0] if x is None else np.asarray(x, dtype=float).reshape(model.dim)
    if program == "hopf_lax":
        from hjdsl.views.convex.hopf_lax import HopfLaxProgram, HopfLaxSpec

        if model.initial.source != "expr" or model.initial.expr is None:
            raise UsageError.single("the Hopf–Lax program needs initial data given as g(y) = …")
        hl = HopfLaxProgram(HopfLaxSpec.from_model(model))
        hl.x.value = x
        return hl.problem, {"x": hl.x, "y": hl.y}
    if program != "simplex":
        raise UsageError.single(f"unknown convex program `{program}` (use simplex or hopf_lax)")
    from hjdsl.views.convex.simplex import entropic_problem

    costs, reach = atom_costs(model, x[None, :])
    problem, params = entropic_problem(model.n_atoms, with_reach=not model.hamiltonian.exact)
    params["costs"].value = costs[0]
    params["eps"].value = float(model.eps[0] if eps is None else eps)
    if "reach" in params:
        params["reach"].value = reach[0].astype(float)
    return problem, params
