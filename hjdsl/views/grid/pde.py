"""The grid view: the finite-difference solution at the evaluation points, its reference and its order.

`grid_view(model, eps, x)` is what `compare` calls; `convergence_study` refines one case and
measures the observed order. Both work on a plain callable g(points) so they can be tested
without a spec; `initial_function(model)` lowers the spec's expression g(y) to such a callable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.errors import HJError
from hjdsl.views.grid import schemes as fd
from hjdsl.views.grid.solver import Domain, solve
from hjdsl.views.grid.kinks import Kinks, kinks_of
from hjdsl.views.grid.quadrature import TAIL, coarse_search, dependence_box, hopf_cole, hopf_lax

DEFAULT_CELLS = {1: 400, 2: 120}   # cells along the longest axis of the solved domain
MAX_CELLS = {1: 20_000, 2: 400}    # the cap on what a caller may ask for
REFERENCE_TOL = 1e-5               # quadrature self-check in grid_view: far below the grid error
REFERENCE_NODES = {1: 16385, 2: 129}  # quadrature nodes per axis and point, at most (kinks in g)
REFERENCE_POINTS = {1: None, 2: 400}  # points that get a reference (None: all)


@dataclass(frozen=True)
class GridResult:
    """Grid-solver values and references at the points, one row per ε (see `grid_view`)."""

    value: np.ndarray
    reference: np.ndarray
    error: np.ndarray
    order: float | None
    cells: int
    note: str


@dataclass(frozen=True)
class ConvergenceStudy:
    """Max-norm errors against the reference at each resolution, and the log-log slope."""

    cells: tuple[int, ...]
    h: np.ndarray
    errors: np.ndarray
    order: float
    reference: np.ndarray


def initial_function(model):
    """g(points) from the spec's expression: points (n,) when d = 1, (n, d) otherwise."""
    from hjdsl.model.lower import evaluate

    names, expr = _expression_names(model), model.initial.expr

    def g(points):
        values = evaluate(expr, {**names, "y": points}, xp=np, pointwise={"y"})
        return np.broadcast_to(np.asarray(values, dtype=float), points.shape[:1])

    return g


def initial_kinks(model) -> Kinks:
    """The kinks of the spec's g(y) (abs, norm, min, max, ...), where the quadrature cuts."""
    return kinks_of(model.initial.expr, _expression_names(model), int(model.dim))


def _expression_names(model) -> dict:
    names = {**dict(model.constants), "t": float(model.t)}
    if model.eps.size == 1:  # `eps` is a name in expressions only when it is a single value
        names["eps"] = float(model.eps[0])
    return names


def solve_domain(g, ham, t: float, eps: float, x, cells: int, *, coarse=None) -> Domain:
    """The grid for one ε: the dependence box of the points plus a numerical-diffusion buffer.

    `cells` counts intervals along the domain's longest axis (in units of the spacing √D_kk
    scaling of `grid_schemes.spacing_ratio`). The buffer, 3·√(2νt) + 2h with the scheme's
    numerical viscosity ν ≈ speed·h/2, keeps the linear-extrapolation ghosts away from x.
    """
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    lo, hi, reach = dependence_box(g, ham, t, eps, x, coarse=coarse)
    ratio = fd.spacing_ratio(fd.diffusion_matrix(ham, x.shape[1]))
    scale = float(np.max((hi - lo) / ratio)) / cells
    buffer = 3.0 * np.sqrt(reach * scale) + 2.0 * scale
    scale = float(np.max((hi - lo + 2.0 * buffer) / ratio)) / cells
    return Domain.covering(lo - buffer, hi + buffer, scale * ratio)


def grid_values(g, ham, t: float, eps: float, x, *, cells: int, scheme: str = "auto",
                domain: Domain | None = None):
    """u at the points from one grid solve (domain from `solve_domain` unless given)."""
    dom = domain or solve_domain(g, ham, t, eps, x, cells)
    sol = solve(g, ham, eps, t, dom, scheme=scheme)
    return sol.at(x), sol


def reference_values(g, ham, t: float, eps: float, x, *, tol: float = 1e-10,
                     max_nodes: int | None = None, coarse=None, kinks: Kinks | None = None):
    """(values, accuracy estimate): Hopf–Lax at ε = 0 (any convex H), Hopf–Cole quadrature at
    ε > 0 where the Hamiltonian labels it exact (quadratic H; cut at `kinks` of g); (None, nan)
    for ε > 0 otherwise, where no exact reference exists."""
    if eps == 0.0:
        return hopf_lax(g, ham, t, x, coarse=coarse), 0.0
    if has_viscous_reference(ham):
        return hopf_cole(g, ham, t, eps, x, tol=tol, max_nodes=max_nodes, coarse=coarse,
                         kinks=kinks)
    return None, np.nan


def has_viscous_reference(ham) -> bool:
    """The Hopf–Cole quadrature is an exact reference at ε > 0 (quadratic H only)."""
    return ham.exactness("hopf_cole").label == "exact"


def convergence_study(g, ham, t: float, eps: float, x, *, cells=(50, 100, 200, 400),
                      scheme: str = "auto", reference=None) -> ConvergenceStudy:
    """Solve at each resolution on one fixed box and fit log(error) against log(h).

    >>> from hjdsl.hamiltonians import quadratic
    >>> ham = quadratic(np.eye(1))
    >>> x = np.linspace(-1, 1, 21)[:, None]
    >>> study = convergence_study(lambda y: np.sqrt(1 + y**2), ham, 0.5, 0.0, x, cells=(100, 200, 400))
    >>> 0.8 < study.order < 1.3
    True
    """
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    ref = reference_values(g, ham, t, eps, x)[0] if reference is None else np.asarray(reference)
    if ref is None:
        raise ValueError(f"no exact reference for ε > 0 with H(p) = {ham.text} (the Hopf–Cole "
                         "quadrature is exact only for quadratic H); pass `reference`")
    box = solve_domain(g, ham, t, eps, x, min(cells))  # the coarsest buffer is the widest
    length = box.hi - box.lo
    ratio = box.h / np.max(box.h)
    errors, hs = [], []
    for n in cells:
        h = float(np.max(length / ratio)) / n * ratio
        value, _ = grid_values(g, ham, t, eps, x, cells=n, scheme=scheme,
                               domain=Domain.covering(box.lo, box.hi, h))
        errors.append(float(np.max(np.abs(value - ref))))
        hs.append(float(h[0]))
    hs, errors = np.asarray(hs), np.asarray(errors)
    order = float(np.polyfit(np.log(hs), np.log(errors), 1)[0])
    return ConvergenceStudy(tuple(int(n) for n in cells), hs, errors, order, ref)


def grid_view(model, eps: np.ndarray, x: np.ndarray, *, cells: int | None = None,
              advance=None) -> GridResult | None:
    """The finite-difference view for `compare`; None unless d ≤ 2 and g is an expression.

    For every ε: solve on a domain covering the points' dependence box, interpolate, and compare
    with Hopf–Cole quadrature (ε > 0, quadratic H) or Hopf–Lax (ε = 0). `order` comes from a
    second solve with half the cells: log2(max_ε error(cells/2) / max_ε error(cells)) (None when
    the grid is exact, e.g. for linear g, or there is no reference). An ε whose
    solve or reference fails gets NaN rows and a line in `note` (compare reports it; never raises).

    >>> import hjdsl
    >>> m = hjdsl.parse("model m\\ndim 1\\nviscosity eps in [0.5, 0]\\nhamiltonian H(p) = |p|^2\\n"
    ...                 "particles y = grid(-1, 1, 3)\\ninitial g(y) = 2*y + 1\\nevaluate x = grid(-1, 1, 5)")
    >>> r = grid_view(m, m.eps, m.evaluate)   # g linear: u = g(x) − t·|∇g|² exactly, for every ε
    >>> bool(np.all(r.error < 1e-9)), round(float(r.value[0, 2]), 9)
    (True, -3.0)
    """
    d = int(model.dim)
    if d > 2 or model.initial.source != "expr" or model.initial.expr is None:
        return None
    eps = np.atleast_1d(np.asarray(eps, dtype=float))
    x = np.asarray(x, dtype=float).reshape(-1, d)
    n = int(min(cells or DEFAULT_CELLS[d], MAX_CELLS[d]))
    g, ham, t = initial_function(model), model.hamiltonian, float(model.t)
    kinks = initial_kinks(model)
    value = np.full((eps.size, x.shape[0]), np.nan)
    reference = np.full_like(value, np.nan)
    half_errors, schemes, accuracy, failures, unsplit = [], set(), [], [], 0
    advance = advance or (lambda n=1: None)  # a progress bar's, told of each ε solved
    for i, e in enumerate(eps):
        try:
            value[i], reference[i], half_error, scheme, estimate, off = _one_eps(
                g, ham, t, float(e), x, n, kinks)
        except (ValueError, HJError) as exc:
            failures.append(f"eps = {e:g} failed: {str(exc).strip()}")
            continue
        finally:
            advance()
        schemes.add(scheme)
        unsplit = max(unsplit, off)
        if half_error is not None:
            half_errors.append(half_error)
        if e > 0 and not np.isnan(estimate):  # inf: the quadrature hit its node cap unconverged
            accuracy.append(estimate)
    error = np.array([np.nanmax(row) if np.any(np.isfinite(row)) else np.nan
                      for row in np.abs(value - reference)])  # over the points with a reference
    fine = float(np.nanmax(error)) if np.any(np.isfinite(error)) else np.nan
    order = None
    if half_errors and fine > 1e-8:  # below that the grid is exact up to the reference's accuracy
        order = float(np.log2(max(half_errors) / fine))
    note = _note(ham, eps, schemes, n, d, max(accuracy, default=None), unsplit)
    audited = reference_subset(x.shape[0], d).size
    if audited < x.shape[0]:
        note += f"; reference at {audited} of {x.shape[0]} points (NaN elsewhere)"
    return GridResult(value, reference, error, order, n, "; ".join([note, *failures]))


def _one_eps(g, ham, t: float, eps: float, x: np.ndarray, cells: int, kinks: Kinks | None = None):
    """(value, reference, error at half the cells or None, scheme, reference accuracy, kinks of g
    the quadrature could not cut at) for one ε.

    In 2-D the reference is computed at most at REFERENCE_POINTS[2] evenly strided points (NaN
    elsewhere): the quadrature, not the solver, dominates the cost of large 2-D point sets.
    """
    coarse = None  # one search serves domain and reference (bounded dom L at ε > 0: neither)
    if eps == 0.0 or ham.domain is None:
        coarse = coarse_search(g, ham, t, x, TAIL * eps)
    dom = solve_domain(g, ham, t, eps, x, cells, coarse=coarse)
    value, sol = grid_values(g, ham, t, eps, x, cells=cells, domain=dom)
    audit = reference_subset(x.shape[0], x.shape[1])
    ref, estimate = reference_values(g, ham, t, eps, x[audit], tol=REFERENCE_TOL,
                                     max_nodes=REFERENCE_NODES[x.shape[1]],
                                     coarse=None if coarse is None else coarse.subset(audit),
                                     kinks=kinks)
    reference = np.full_like(value, np.nan)
    if ref is None:
        return value, reference, None, sol.scheme, np.nan, 0
    reference[audit] = ref
    off = kinks.lines(dom.lo, dom.hi).unsplit if kinks is not None and eps > 0 else 0
    half = Domain.covering(dom.lo, dom.hi, 2.0 * dom.h)
    half_value = grid_values(g, ham, t, eps, x[audit], cells=cells // 2, domain=half)[0]
    return value, reference, float(np.max(np.abs(half_value - ref))), sol.scheme, estimate, off


def reference_subset(n: int, d: int) -> np.ndarray:
    """Indices of the points that get a reference: all, or an even stride of REFERENCE_POINTS[d]."""
    cap = REFERENCE_POINTS[d]
    if cap is None or n <= cap:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, cap).round().astype(int))


def _note(ham, eps, schemes, cells: int, d: int, accuracy: float | None, unsplit: int = 0) -> str:
    scheme = "/".join(sorted(schemes)) or "no"
    parts = [f"{scheme} scheme, forward Euler, {cells} cells on the longest axis (d = {d}); "
             "first order"]
    viscous = has_viscous_reference(ham)
    if not viscous and np.any(eps > 0):
        parts.append(f"no exact reference for eps > 0 with H(p) = {ham.text} (reference NaN)")
    reference = "reference: Hopf-Lax search at eps = 0"
    if viscous:
        reference += ", Hopf-Cole quadrature at eps > 0"
    if accuracy is not None and np.isfinite(accuracy):
        reference += f" (quadrature self-check {_rounded_up(accuracy)})"
    elif accuracy is not None:
        reference += " (quadrature did not converge within its node cap: no self-check)"
    parts.append(reference)
    if accuracy is not None and unsplit:
        parts.append(f"g has {unsplit} kink set(s) off the coordinate lines, which the quadrature "
                     "cannot cut at: the self-check may understate the reference's error there")
    return "; ".join(parts)


def _rounded_up(value: float) -> str:
    """One significant digit, rounded up: a printed error bound must not shrink in printing.

    >>> _rounded_up(2.6e-4), _rounded_up(3e-12), _rounded_up(0.0)
    ('3e-04', '3e-12', '0e+00')
    """
    if not value > 0.0:
        return f"{value:.0e}"
    exponent = int(np.floor(np.log10(value)))
    digit = np.ceil(value / 10.0 ** exponent * (1 - 1e-12))  # 3e-12 stays 3e-12 despite rounding
    return f"{digit * 10.0 ** exponent:.0e}"
