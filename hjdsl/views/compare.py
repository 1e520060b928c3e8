"""The compare driver: every view of one model at the evaluation points, as one xarray Dataset."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import DataError, Diagnostic, SpecError, UsageError
from hjdsl.hamiltonians.base import VIEWS
from hjdsl.model.limits import MAX_EPS
from hjdsl.views.closed_form.prune_report import prune_attrs, prune_certificate, prune_variables

# A JAX view is called on blocks of ε whose workspace is about this many floats (see by_eps_blocks)
VIEW_ELEMENTS = 1 << 22
VIEW_CHUNK_POINTS = 4096  # the most points a view puts in one chunk (they choose fewer for many atoms)


def work_per_eps(d: int) -> int:
    """Floats per point, atom and ε a view holds in one call: the PDE residual's differences and
    their centred copy (2d), the weights, the costs and one moment in flight (3)."""
    return 2 * d + 3


def _usage(message: str, code: str = "U010") -> UsageError:
    return UsageError((Diagnostic("error", message, code=code),))


def check_eps(model, eps) -> np.ndarray:
    """The ε values to evaluate: the model's sweep, or `eps` (a number or a list, all ≥ 0)."""
    values = model.eps if eps is None else np.atleast_1d(np.asarray(eps, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise _usage(f"eps must be a number or a non-empty list, got shape {values.shape}")
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise _usage(f"eps values must be finite and ≥ 0, got {values.tolist()}")
    if values.size > MAX_EPS:
        raise _usage(f"{values.size:,} ε values exceed the limit of {MAX_EPS:,} for one sweep; "
                     "split the sweep into several runs")
    return values


def check_points(model, x) -> np.ndarray:
    """The evaluation points as an (n, d) float64 array (a 1-D array is n points when d = 1)."""
    points = model.evaluate if x is None else np.asarray(x, dtype=np.float64)
    d = model.dim
    if points.ndim == 1:
        points = points[:, None] if d == 1 else points[None, :]
    if points.ndim != 2 or points.shape[1] != d or points.shape[0] == 0:
        raise _usage(f"x must hold points of dimension {d} (shape (n, {d})), got shape "
                     f"{np.shape(x)}")
    if not np.all(np.isfinite(points)):
        raise _usage("x must be finite")
    return points


def check_audit(audit, n_points: int) -> int | None:
    """`audit`: None (the convex view's default subset), a count ≥ 0, or "all"."""
    if audit is None:
        return None
    if isinstance(audit, str):
        if audit.strip().lower() == "all":
            return n_points
        try:
            audit = int(audit)
        except ValueError:
            raise _usage(f"--audit takes a number of points or `all`, got {audit!r}") from None
    if isinstance(audit, bool) or not isinstance(audit, (int, np.integer)):
        raise _usage(f"--audit takes a number of points or `all`, got {audit!r}")
    if int(audit) < 0:
        raise _usage(f"--audit must be ≥ 0, got {audit}")
    return min(int(audit), n_points)


def compare(model, eps=None, x=None, audit=None, grid: bool = True, quiet: bool = False,
            **options):
    """The four views of `model` at points `x` for every ε, with residuals and bounds.

    `eps` defaults to the model's sweep and `x` to its evaluation points; `audit` is how many
    points the convex view solves (None: its default subset; 0: skip; "all"); `grid=False` skips
    the finite-difference solver; option `chunk` sets the points per JAX chunk. On a terminal
    each view shows a progress bar (the convex view per solved chunk, the grid solver per ε)
    unless `quiet`. Returns the Dataset described in docs/views.md.

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    >>> ds = m.compare(eps=[1.0, 0.1, 0.0], x=[0.0, 0.7], audit=0, grid=False)
    >>> ds.network.sel(eps=0.1).round(6).values.tolist()
    [-0.293185, -0.184505]
    """
    chunk = options.pop("chunk", None)
    from hjdsl.views.closed_form.prune import pruning_options

    pruning = pruning_options(options.pop("prune_delta", None), options.pop("exact_dense", False))
    if options:
        raise _usage(f"compare got unknown option(s) {', '.join(sorted(options))}; it takes eps, "
                     "x, audit, grid, quiet, chunk, prune_delta and exact_dense")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer))
                              or not 1 <= chunk <= 1 << 20):
        raise _usage(f"chunk (points per JAX call) must be a whole number from 1 to {1 << 20:,}, "
                     f"got {chunk!r}")
    eps = check_eps(model, eps)
    x = check_points(model, x)
    audit = check_audit(audit, x.shape[0])
    check_memory(model, eps.size, x.shape[0], audit, grid)
    from hjdsl.progress import progress

    with progress(f"closed-form views ({eps.size} ε)", 1, enabled=not quiet) as advance:
        closed = closed_form(model, eps, x, chunk=chunk, pruning=pruning)
        advance()
    convex = convex_part(model, eps, x, audit, quiet=quiet, pruning=pruning)
    grid_out = (grid_part(model, eps, x, quiet=quiet) if grid
                else skipped_grid(eps, x, "skipped (grid=False)"))
    return build_dataset(model, eps, x, closed, convex, grid_out, pruning=pruning)


def compare_memory(model, n_eps: int, n_points: int, audit: int | None = None,
                   grid: bool = True) -> dict[str, int]:
    """Bytes a compare run holds at its peak, by what holds them (the whole run, not one array).

    Measured on quickstart-sized runs to be an upper bound (tests/test_options.py checks it
    against the peak resident memory of a real run).
    """
    E, n, N, d = int(n_eps), int(n_points), int(model.n_atoms), int(model.dim)
    block = min(E, eps_block_size(model, n))
    pi = 8 * E * n * N
    memory = {
        # the Gibbs weights π, filled in place chunk by chunk (map_chunks) and ε block by ε
        # block (by_eps_blocks): π once, plus the block being joined
        "attribution (ε × points × atoms)": pi + 8 * block * n * N if E > block else pi,
        # only when the convex view runs: with audit 0 its π is a broadcast NaN (no memory)
        "convex attribution (ε × points × atoms)": 0 if audit == 0 else pi,
        # term sizes (rows × N × (d + 1)) and a NaN-free π block, SCALE_ELEMENTS each
        "identity tolerance (in point blocks)":
            2 * 8 * min(SCALE_ELEMENTS, E * n * N * (d + 1)) if model.hamiltonian.has_layer else 0,
        "per-ε/point arrays (values, residuals, bounds, statuses)": 40 * 8 * E * n,
        # one call of a JAX view: work_per_eps(d) floats per point, atom and ε of the block, held
        # by XLA and once more by its numpy copy
        "view workspaces (one ε block of one chunk)":
            2 * 8 * block * min(n, VIEW_CHUNK_POINTS) * N * work_per_eps(d),
        # h5netcdf converts a variable while it writes it: one more copy of the largest
        "writing the Dataset": pi,
    }
    if grid and d <= 2 and model.initial.source == "expr":
        # one ε at a time: the reference quadrature (points × nodes) dominates the solver's grid
        from hjdsl.views.grid.pde import REFERENCE_NODES, REFERENCE_POINTS

        ref_points = n if REFERENCE_POINTS[d] is None else min(n, REFERENCE_POINTS[d])
        memory["grid solver and its reference (one ε at a time)"] = \
            4 * 8 * ref_points * REFERENCE_NODES[d] ** d
    # The convex view budgets its own solver matrices (per program) before it builds them.
    return memory


def check_memory(model, n_eps: int, n_points: int, audit: int | None, grid: bool) -> None:
    """A UsageError with the figure, by part, if the whole run exceeds the memory budget."""
    from hjdsl.model.limits import format_bytes, over_memory

    parts = compare_memory(model, n_eps, n_points, audit, grid)
    message = over_memory(sum(parts.values()), f"compare of {n_eps:,} ε × {n_points:,} points × "
                          f"{model.n_atoms:,} atoms (d = {model.dim})")
    if message:
        largest = sorted(parts.items(), key=lambda kv: -kv[1])[:3]
        detail = ", ".join(f"{what} {format_bytes(size)}" for what, size in largest)
        raise _usage(f"{message}. Largest parts: {detail}. Compare fewer ε values or points",
                     code="U011")


def work_estimate(model, n_eps: int, n_points: int, audit: int | None, grid: bool) -> float:
    """Rough seconds a compare run takes on one core (the convex solves and grid solves dominate).

    Calibrated on quickstart (30 atoms): ~10 ms per convex solve, ~0.15 s per 1-D grid ε and
    ~2 s per 2-D one. A guess, not a promise: it only decides whether to warn.
    """
    from hjdsl.views.convex import DEFAULT_AUDIT

    audited = min(n_points, DEFAULT_AUDIT) if audit is None else min(int(audit), n_points)
    seconds = n_eps * audited * 0.01 * max(1.0, model.n_atoms / 30)
    if grid and model.dim <= 2 and model.initial.source == "expr":
        seconds += n_eps * (0.15 if model.dim == 1 else 2.0)
    return seconds


def closed_form(model, eps, x, chunk: int | None = None, pruning=None) -> dict:
    """Network, Hopf–Cole, tropical / Hopf–Lax, attribution, identity and PDE residuals.

    Which exist is the Hamiltonian's say: the network, tropical f_0 and identity rows when it has
    an exact LSE layer (`has_layer`), the PDE residual at every ε when its label for
    `pde_residual` is exact, and only at ε = 0 (the Hopf–Lax value's cone functions) when just
    `pde_residual_hopf_lax` is; the others are NaN (their labels say why).
    """
    from hjdsl.views.closed_form import pde as pde_view
    from hjdsl.views.closed_form.hopf_cole import hopf_cole_view
    from hjdsl.views.closed_form.network import network_view
    from hjdsl.views.closed_form.pde import residual_view
    from hjdsl.views.tolerances import kink_points
    from hjdsl.views.closed_form.tropical import tropical_view

    ham, n_eps, n = model.hamiltonian, eps.size, x.shape[0]
    trop = tropical_view(model, x)
    nan2 = np.full((n_eps, n), np.nan)
    out = {"hopf_lax": trop["u0"], "active": trop["active"], "reachable": trop["reachable"],
           "gap": trop["gap"], "pde": nan2, "pde_scale": nan2}
    if ham.has_layer:
        W, b = model.weights()
        net = by_eps_blocks(lambda e: network_view(x, W, b, e, chunk=chunk, pruning=pruning),
                            eps, model, n)
        hc = hopf_cole_view(x, model.y, model.g, model.t, ham, eps, weights=False, chunk=chunk,
                            pruning=pruning)
        quad = ham.quadratic_term(x, model.t)
        out.update(network=net["f"], tropical=net["f0"], hopf_cole=hc["u"], quadratic=quad,
                   attribution=net["pi"], entropy=net["entropy"],
                   identity=net["f"] + hc["u"] - quad,
                   identity_scale=_identity_scale(model, x, net, hc["u"], quad, trop["active"]),
                   **prune_certificate(net, hc, model.n_atoms))
    else:
        hc = by_eps_blocks(lambda e: hopf_cole_view(x, model.y, model.g, model.t, ham, e,
                                                     weights=True, chunk=chunk, pruning=pruning),
                           eps, model, n)
        out.update(prune_certificate(hc, hc, model.n_atoms))
        out.update(network=nan2, tropical=np.full(n, np.nan), hopf_cole=hc["u"],
                   quadratic=np.full(n, np.nan), attribution=hc["pi"], entropy=hc["entropy"],
                   identity=nan2, identity_scale=nan2)
    if ham.exactness("pde_residual").label == "exact":
        res = by_eps_blocks(lambda e: residual_view(model, x, e), eps, model, n)
        # At ε = 0, u_0 has kinks where two atoms tie; the residual is only defined off them.
        kink = kink_points(trop["gap"], trop["u0"])
        res["residual"][eps == 0] = np.where(kink, np.nan, res["residual"][eps == 0])
        out.update(pde=res["residual"], pde_scale=res["scale"],
                   pde_excluded=np.where(kink, pde_view.KINK, pde_view.JUDGED).astype(np.int8))
        return out
    # Any other H: only u_0 is claimed smooth (off kinks and the boundary of dom L), at ε = 0.
    out["pde_excluded"] = pde_view.hopf_lax_excluded(model, x, trop)
    if ham.exactness("pde_residual_hopf_lax").label == "exact" and np.any(eps == 0):
        res = pde_view.hopf_lax_residual_view(model, x, trop)
        pde, scale = np.full((n_eps, n), np.nan), np.full((n_eps, n), np.nan)
        pde[eps == 0], scale[eps == 0] = res["residual"], res["scale"]
        out.update(pde=pde, pde_scale=scale, pde_excluded=res["excluded"])
    return out


# Points per block of the identity's tolerance: its points × atoms × d workspace stays this small
SCALE_ELEMENTS = 1 << 20


def _identity_scale(model, x, net, u, quad, active) -> np.ndarray:
    """`identity_scale` over blocks of points: its term sizes and NaN-free π stay one block big
    (called on all points at once they are each a points × atoms array, π copied whole)."""
    from hjdsl.views.tolerances import identity_scale

    pi, f = net["pi"], net["f"]
    rows = max(1, SCALE_ELEMENTS // max(1, model.n_atoms * (model.dim + 1) * f.shape[0]))
    out = np.empty(f.shape)
    for start in range(0, x.shape[0], rows):
        block = slice(start, start + rows)
        out[:, block] = identity_scale(model, x[block], pi[:, block], f[:, block], u[:, block],
                                       quad[block], active[block])
    return out


def eps_block_size(model, n_points: int) -> int:
    """ε values per call of a JAX view, so its workspace stays near VIEW_ELEMENTS floats.

    The views vectorise over all ε at once within a chunk of points, holding about
    points × atoms × work_per_eps(d) floats per ε.
    """
    points = min(int(n_points), VIEW_CHUNK_POINTS)
    per_eps = points * model.n_atoms * work_per_eps(model.dim)
    return max(1, VIEW_ELEMENTS // max(per_eps, 1))


def by_eps_blocks(view, eps, model, n_points: int) -> dict:
    """`view(eps)` run over blocks of ε (see `eps_block_size`), its outputs joined along ε.

    Every block has the same length (the last is padded with its final ε), so JAX compiles
    once. An output has an ε axis when its first axis has the block's length (chosen unlike
    the number of points); others (f0, per point) come from the first block.
    """
    size = eps_block_size(model, n_points)
    if eps.size <= size:
        return view(eps)
    size += size == n_points  # so the first axis tells ε-arrays from point arrays
    out = {}
    for start in range(0, eps.size, size):
        block = eps[start:start + size]
        part = view(np.concatenate([block, np.repeat(block[-1:], size - block.size)]))
        for key, value in part.items():
            value = np.asarray(value)
            if value.ndim == 0 or value.shape[0] != size:
                out.setdefault(key, value)
                continue
            if key not in out:
                out[key] = np.empty((eps.size, *value.shape[1:]), dtype=value.dtype)
            out[key][start:start + block.size] = value[: block.size]
    return out


def convex_part(model, eps, x, audit, quiet: bool = True, pruning=None) -> dict:
    """The convex view's arrays, or NaN-filled ones with a note when it is skipped or missing."""
    n_eps, n, N = eps.size, x.shape[0], model.n_atoms
    # π is (ε × points × atoms): a view that did not run gets a read-only broadcast NaN, which
    # holds no memory (a filled array of that shape took seconds at 10⁵ points × 10³ atoms)
    nan_pi = lambda: no_values((n_eps, n, N))  # noqa: E731
    empty = {"value": np.full((n_eps, n), np.nan),
             "duality_gap": np.full((n_eps, n), np.nan),
             "status": np.full((n_eps, n), "", dtype=object), "audited": np.zeros(n, bool),
             "solver": np.full(n_eps, "", dtype=object), "exact": None, "note": "",
             "hopf_lax": np.full(n, np.nan), "hopf_lax_argmin": np.full((n, model.dim), np.nan),
             "hopf_lax_status": np.full(n, "", dtype=object), "hopf_lax_note": ""}
    if audit == 0:
        return {**empty, "pi": nan_pi(), "note": "skipped (audit 0)"}
    try:
        from hjdsl.views.convex import convex_view
    except ImportError as exc:
        return {**empty, "pi": nan_pi(), "note": f"convex view unavailable ({exc})"}
    from hjdsl.progress import progress
    from hjdsl.views.convex import audit_points

    rows = int(np.count_nonzero(audit_points(n, audit)))
    rows *= n_eps + (model.initial.source == "expr")  # the simplex programs, the Hopf–Lax program
    with progress("convex programs", rows, enabled=not quiet) as advance:
        try:
            result = convex_view(model, eps, x, audit=audit, advance=advance, pruning=pruning)
            skipped = ""
        except SpecError as err:
            # g(y) cannot be lowered to a convex program (e.g. sin): the continuous Hopf–Lax
            # program is impossible, but the simplex program over the atoms' values still is.
            skipped = f"continuous Hopf-Lax program not run: {err.diagnostics[0].message}"
            result = convex_view(model.with_atoms(model.y, model.g), eps, x, audit=audit,
                                 advance=advance, pruning=pruning)
    # The continuous Hopf–Lax program min_y g(y) + t·L((x − y)/t), when g is an expression.
    continuous = {}
    if getattr(result, "hopf_lax_value", None) is not None:
        continuous = {"hopf_lax": np.asarray(result.hopf_lax_value, dtype=np.float64),
                      "hopf_lax_argmin": np.asarray(result.hopf_lax_argmin, dtype=np.float64)}
        if getattr(result, "hopf_lax_status", None) is not None:
            continuous["hopf_lax_status"] = np.asarray(result.hopf_lax_status, dtype=object)
    return {**empty, **continuous, "hopf_lax_note": skipped,
            "value": np.asarray(result.value, dtype=np.float64),
            "pi": np.asarray(result.pi, dtype=np.float64),
            "duality_gap": np.asarray(result.duality_gap, dtype=np.float64),
            "status": np.asarray(result.status, dtype=object),
            "audited": np.asarray(result.audited, dtype=bool),
            "solver": np.asarray(result.solver, dtype=object),
            "exact": bool(result.exact), "note": str(getattr(result, "note", "") or "")}


def no_values(shape) -> np.ndarray:
    """An all-NaN array of `shape` that allocates nothing (read-only, every element one NaN)."""
    return np.broadcast_to(np.float64(np.nan), shape)


def skipped_grid(eps, x, note: str) -> dict:
    n_eps, n = eps.size, x.shape[0]
    return {"value": np.full((n_eps, n), np.nan), "reference": np.full((n_eps, n), np.nan),
            "error": np.full(n_eps, np.nan), "order": None, "note": note, "ran": False}


def grid_part(model, eps, x, quiet: bool = True) -> dict:
    """The finite-difference solver's arrays, or NaN-filled ones with a note."""
    try:
        from hjdsl.views.grid.pde import grid_view
    except ImportError as exc:
        return skipped_grid(eps, x, f"grid solver unavailable ({exc})")
    from hjdsl.progress import progress

    with progress("grid solver (per ε)", eps.size, enabled=not quiet) as advance:
        result = grid_view(model, eps, x, advance=advance)
    if result is None:
        return skipped_grid(eps, x, "not applicable (needs d ≤ 2 and initial data given as a "
                                    "continuous expression g(y))")
    return {"value": np.asarray(result.value, dtype=np.float64),
            "reference": np.asarray(result.reference, dtype=np.float64),
            "error": np.asarray(result.error, dtype=np.float64),
            "order": None if result.order is None else float(result.order),
            "note": str(result.note or ""), "ran": True}


# The compare columns and the Hamiltonian's view whose label each carries.
COLUMN_VIEWS = {"network": "network", "tropical": "network", "hopf_cole": "hopf_cole",
                "hopf_lax": "hopf_lax", "convex": "convex_entropic", "convex_lp": "convex_lp",
                "hopf_lax_program": "hopf_lax_program", "pde": "pde_residual",
                "pde_hopf_lax": "pde_residual_hopf_lax"}


def _label(ham, view: str) -> str:
    """The text of one exactness label: exact, or structural / not defined with the reason."""
    fact = ham.exactness(view)
    if fact.label == "exact":
        return "exact"
    word = "structural" if fact.label == "structural" else "not defined"
    if view in ("hopf_cole", "convex_entropic") and fact.label == "structural":
        word += " for eps > 0"  # at ε = 0 both are the Hopf–Lax value, exact
    return f"{word} ({fact.reason})" if fact.reason else word


def _exactness(model, eps, convex: dict, grid: dict) -> dict:
    """Attributes saying which views are exact, structural, undefined or approximate.

    `exact_<column>` is the text a person reads and `label_<view>` the bare label the diagram
    report judges by (exact / structural / none), both from `ham.exactness(view)`.
    """
    ham = model.hamiltonian
    labels = {column: _label(ham, view) for column, view in COLUMN_VIEWS.items()}
    if ham.exact:
        summary = "exact: all views agree to round-off (network, Hopf-Cole) or solver tolerance"
    else:
        exact = [c for c, v in COLUMN_VIEWS.items() if ham.exactness(v).label == "exact"]
        summary = (f"exact: {', '.join(exact) or 'none'} (and every view at eps = 0); eps > 0 "
                   "views are structural analogues, not viscous solutions")
    labels["grid"] = "approximate (finite differences)" if grid["ran"] else grid["note"]
    return {"exact": summary, **{f"exact_{k}": v for k, v in labels.items()},
            **{f"label_{v}": ham.exactness(v).label for v in VIEWS}}


def build_dataset(model, eps, x, closed: dict, convex: dict, grid: dict, pruning=None):
    """Assemble the compare Dataset: named dims with coordinates, views, residuals, attrs."""
    import xarray as xr

    from hjdsl.results import stamp

    n, N, d = x.shape[0], model.n_atoms, model.dim
    EP, E, P = ("eps", "point"), ("eps",), ("point",)
    n_log = eps * np.log(N)
    safe_eps = np.where(eps > 0, eps, 1.0)[:, None]
    ratio = np.where(eps[:, None] > 0, closed["gap"][None, :] / safe_eps, np.inf)
    gap_bound = eps[:, None] * np.log1p((N - 1) * np.exp(-ratio))
    data = {
        "x": (("point", "dim"), x), "y": (("particle", "dim"), np.asarray(model.y)),
        "g": (("particle",), np.asarray(model.g)),
        "network": (EP, closed["network"]), "tropical": (P, closed["tropical"]),
        "hopf_cole": (EP, closed["hopf_cole"]), "hopf_lax": (P, closed["hopf_lax"]),
        "convex": (EP, convex["value"]),
        "attribution": (("eps", "point", "particle"), closed["attribution"]),
        "entropy": (EP, closed["entropy"]), "identity_residual": (EP, closed["identity"]),
        "pde_residual": (EP, closed["pde"]), "pde_scale": (EP, closed["pde_scale"]),
        "pde_excluded": (P, closed["pde_excluded"]),
        "identity_scale": (EP, closed["identity_scale"]),
        "quadratic_term": (P, closed["quadratic"]),
        "active_atom": (P, closed["active"].astype(np.int64)),
        "reachable_atoms": (P, closed["reachable"].astype(np.int64)),
        "logit_gap": (P, closed["gap"]), "eps_log_n": (E, n_log), "gap_bound": (EP, gap_bound),
        "convex_attribution": (("eps", "point", "particle"), convex["pi"]),
        "convex_duality_gap": (EP, convex["duality_gap"]),
        "convex_status": (EP, convex["status"].astype(str)),
        "convex_solver": (E, convex["solver"].astype(str)),
        "convex_audited": (P, convex["audited"].astype(np.int8)),
        "convex_hopf_lax": (P, convex["hopf_lax"]),
        "convex_hopf_lax_argmin": (("point", "dim"), convex["hopf_lax_argmin"]),
        "convex_hopf_lax_status": (P, convex["hopf_lax_status"].astype(str)),
        "grid": (EP, grid["value"]), "grid_reference": (EP, grid["reference"]),
        "grid_error": (E, grid["error"]),
        **prune_variables(closed, eps.size, n, N),
    }
    coords = {"eps": eps, "point": np.arange(n), "particle": np.arange(N), "dim": np.arange(d)}
    ds = xr.Dataset(data, coords=coords)
    _describe(ds)
    solvers = sorted({s for s in convex["solver"].astype(str).ravel() if s})
    statuses = convex["status"].astype(str)
    counts = {s: int((statuses == s).sum()) for s in sorted(set(statuses.ravel())) if s}
    return stamp(ds, model, n_atoms=N, **_exactness(model, eps, convex, grid),
                 convex_solvers=",".join(solvers) or "none",
                 convex_statuses=", ".join(f"{k}: {v}" for k, v in counts.items()) or "none",
                 convex_note=convex["note"], convex_hopf_lax_note=convex["hopf_lax_note"],
                 grid_note=grid["note"], grid_order=grid["order"],
                 grid_ran=grid["ran"], **prune_attrs(pruning, closed, eps))


DESCRIPTIONS = {
    "x": "evaluation points", "y": "atoms y_j", "g": "initial data g_j at the atoms",
    "network": "f_eps(x) = eps log sum_j exp(z_j/eps), the LSE layer",
    "tropical": "f_0(x) = max_j z_j(x)", "hopf_cole": "u_eps(x,t) = -eps log sum_j exp(-c_j/eps)",
    "hopf_lax": "u_0(x,t) = min_j c_j(x) (+inf where no atom reaches x)",
    "convex": "value of the entropy-regularised convex program for u_eps (NaN: not audited)",
    "attribution": "Gibbs weights pi_j(x; eps) = d f_eps / d b_j",
    "entropy": "Ent(pi) = d f_eps / d eps",
    "identity_residual": "f_eps + u_eps - x'A^-1x/(4t)",
    "pde_residual": "u_t + H(grad u) - eps tr(A hess u) + eps d/(2t), from the Gibbs moments "
                    "(quadratic H) or autodiff (eps = 0, other H)",
    "pde_scale": "cond(A) (|u_t| + |H(grad u)| + eps|sum pi tr(A hess c)| + tr(A Cov grad c) "
                 "+ eps d/(2t)) (non-quadratic H, eps = 0: |u_t| + |v||grad u| + |H(grad u)|): "
                 "the size of the terms that cancel",
    "pde_excluded": "why the eps = 0 residual skips a point: 0 judged, 1 kink of u_0, 2 no atom "
                    "reaches, 3 v on or outside the boundary of dom L, 4 at an atom (v = 0)",
    "identity_scale": "size of the terms that cancel in the identity (see views/tolerances.py)",
    "quadratic_term": "x'A^-1x/(4t)", "active_atom": "argmin_j c_j(x) (-1: no atom reaches)",
    "reachable_atoms": "atoms whose cost c_j(x) is finite",
    "logit_gap": "Delta: gap between the two largest logits (two smallest costs)",
    "eps_log_n": "eps log N, the uniform tropical bound",
    "gap_bound": "eps log(1 + (N-1) exp(-Delta/eps)), the gap-form tropical bound",
    "convex_attribution": "optimal pi of the convex program", "convex_duality_gap": "duality gap",
    "convex_status": "solver status per solve ('' = not audited)",
    "convex_solver": "solver used per eps", "convex_audited": "1 where the convex view solved",
    "convex_hopf_lax": "min_y g(y) + t L((x-y)/t) for continuous g (convex program; NaN: not run)",
    "convex_hopf_lax_argmin": "the minimising y of the continuous Hopf-Lax program",
    "convex_hopf_lax_status": "solver status of the continuous Hopf-Lax program",
    "grid": "finite-difference grid solution at the points",
    "grid_reference": "the value the grid solution is compared with",
    "grid_error": "max abs grid error per eps",
}


def _describe(ds) -> None:
    for name, text in DESCRIPTIONS.items():
        ds[name].attrs["long_name"] = text


def load_fit_atoms(path: str):
    """(y_hat, g_hat) from the root group of a solve result; a DataError says what is missing."""
    y, g, _ = read_fit(path)
    return y, g


def read_fit(path: str):
    """(y_hat, g_hat, attrs) from the root group of a solve result (see `load_fit_atoms`)."""
    import os

    import xarray as xr

    if not os.path.isfile(path):
        raise DataError((Diagnostic("error", f"fit file {path} does not exist", code="D011"),))
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            missing = [name for name in ("y_hat", "g_hat") if name not in ds.variables]
            if missing:
                raise DataError((Diagnostic(
                    "error", f"{path}: not a solve result: no {' or '.join(missing)} in its root "
                    "group", hint="pass the file written by `hjdsl solve ... -o FIT.nc`",
                    code="D010"),))
            return np.asarray(ds["y_hat"].values, dtype=np.float64), \
                np.asarray(ds["g_hat"].values, dtype=np.float64), dict(ds.attrs)
    except (OSError, ValueError) as exc:
        raise DataError((Diagnostic("error", f"cannot read {path} as netCDF: {exc}",
                                    code="D011"),)) from None


def fitted_model(model, path: str):
    """(the model with the atoms of the fit at `path`, warnings about the fit's provenance).

    The atoms must have the model's dimension and count (else a DataError); another spec hash,
    name, Hamiltonian or t only warns (see hjdsl.results.check_provenance).
    """
    from hjdsl.results import check_provenance

    y, g, attrs = read_fit(path)
    if y.ndim != 2 or g.ndim != 1 or y.shape[0] != g.shape[0]:
        raise DataError((Diagnostic(
            "error", f"{path}: y_hat {y.shape} and g_hat {g.shape} do not describe atoms "
            "(y_hat must be (N, d) and g_hat (N,))", code="D012"),))
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(g))):
        raise DataError((Diagnostic("error", f"{path}: the fitted atoms hold NaN or infinite "
                                    "values", code="D012"),))
    warnings = check_provenance(attrs, model, path, n_atoms=y.shape[0], dim=y.shape[1])
    return model.with_atoms(y, g), warnings
