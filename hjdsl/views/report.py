"""The diagram report: the largest discrepancy along each arrow per ε, against stated tolerances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.views.tolerances import (BOUND_ULPS, ULP, hopf_lax_pde_ulps, identity_ulps,
                                    kink_points, pde_ulps)

# Solver and approximation tolerances (round-off tolerances are derived: views/tolerances.py).
CONVEX_RTOL = 1e-6      # |convex − u_ε| ≤ 1e-6 · max(1, |u_ε|)
CONVEX_PI_TOL = 1e-5    # |π_convex − π| ≤ 1e-5 (checked for ε ≥ 0.01)
GRID_RTOL = 1e-2        # grid vs its reference: small enough outright, or ...
GRID_MIN_ORDER = 0.7    # ... converging under refinement (observed order of a first-order scheme)

TOLERANCE_NOTE = (
    "tolerances: identity and PDE relative to the size S of the terms that cancel (identity "
    "4(d+2) ulp, PDE 8(d+2) ulp x cond(A));\n"
    "            bounds + slack = identity tol at the worst point; convex "
    f"{CONVEX_RTOL:g}*max(1,|u|), pi {CONVEX_PI_TOL:g} (eps >= 0.01);\n"
    f"            grid {GRID_RTOL:g}*max(1,|ref|) or observed order >= {GRID_MIN_ORDER:g} "
    "(warn only); a non-finite value where a finite one is expected fails")
# Added to the note only for an H whose PDE row is the ε = 0 Hopf–Lax residual alone.
HOPF_LAX_PDE_NOTE = ("            PDE at eps = 0 for this H: the active atom's cost, 2(2d+21) "
                     "ulp of S = |u_t| + |v||grad u| + |H(grad u)|")


@dataclass(frozen=True)
class Row:
    """One arrow of the diagram at one ε; `value` and `bound` are exactly what was compared."""

    eps: float
    arrow: str
    kind: str          # exact | structural | approx | n/a
    value: float       # the judged discrepancy (+inf when a value is not finite; NaN: none)
    bound: float       # the tolerance or bound it is held against
    status: str        # PASS | FAIL | WARN | skip
    detail: str = ""

    @property
    def fails_run(self) -> bool:
        return self.kind == "exact" and self.status == "FAIL"

    @property
    def reason(self) -> str:
        """Why the row did not pass, in one phrase."""
        if self.detail and (not np.isfinite(self.value) or self.value <= self.bound):
            return self.detail
        return f"{self.value:.3e} > {self.bound:.3e}" + (f" ({self.detail})" if self.detail else "")


def _max(a) -> float:
    """The largest entry (NaN for none); callers check finiteness first (see `_nonfinite`)."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.max(a)) if a.size else float("nan")


def _nonfinite(*arrays) -> int:
    return int(sum(np.count_nonzero(~np.isfinite(np.asarray(a, dtype=np.float64)))
                   for a in arrays))


def _status(ok: bool, kind: str) -> str:
    if ok:
        return "PASS"
    return "FAIL" if kind == "exact" else "WARN"


def _bad(n: int, what: str) -> str:
    return f"{n} non-finite {what} where finite values are expected"


def _label(ds, view: str) -> str:
    """The Hamiltonian's label for `view` as compare stored it (exact / structural / none).

    Every compare Dataset carries `label_<view>` for each view; one without it (built by hand)
    is judged by the strictest rule, exact.
    """
    return str(ds.attrs.get(f"label_{view}", "exact"))


def _row_kind(label: str) -> str:
    return {"exact": "exact", "structural": "structural"}.get(label, "n/a")


def diagram_rows(ds) -> list[Row]:
    """Every arrow of the commutative diagram for every ε of a compare Dataset.

    Which arrows exist and whether each is exact (FAIL on a miss) or structural (WARN) is the
    Hamiltonian's say, through the labels compare stored (`label_<view>` attributes).
    """
    layer = _label(ds, "network") == "exact"
    rows: list[Row] = []
    for i, eps in enumerate(ds.eps.values.tolist()):
        at_zero = eps == 0  # u_0 is the Hopf–Lax value itself: exact for every convex H
        hopf = "exact" if at_zero else _row_kind(_label(ds, "hopf_cole"))
        convex = _row_kind(_label(ds, "convex_lp" if at_zero else "convex_entropic"))
        if layer:
            identity, slack = _identity_row(ds, i, eps)
            rows += [identity, _network_bound_row(ds, i, eps, slack)]
        else:
            u = ds.hopf_cole.values[i]
            finite = np.isfinite(u)
            slack = BOUND_ULPS * ULP * (_max(np.abs(u[finite])) if finite.any() else 0.0)
            why = str(ds.attrs.get("exact_network", "")).removeprefix("not defined").strip(" ()")
            rows.append(Row(eps, "network + hopf_cole = x'A^-1x/(4t)", "n/a", np.nan, np.nan,
                            "skip", "no LSE layer" + (f" ({why})" if why else "")))
        rows.append(_hopf_bound_row(ds, i, eps, slack, hopf))
        rows.extend(_convex_rows(ds, i, eps, ds.hopf_cole.values[i], convex))
        rows.append(_pde_row(ds, i, eps))
        rows.append(_grid_row(ds, i, eps))
    return rows


def _identity_row(ds, i: int, eps: float) -> tuple[Row, float]:
    """|f + u − q| / S at the worst point against identity_ulps(d)·ULP; also the bounds' slack."""
    arrow = "network + hopf_cole = x'A^-1x/(4t)"
    r, scale = ds.identity_residual.values[i], ds.identity_scale.values[i]
    rtol = identity_ulps(ds.sizes["dim"]) * ULP
    bad = _nonfinite(r, scale)
    if bad:
        return Row(eps, arrow, "exact", np.inf, rtol, "FAIL", _bad(bad, "residuals")), np.inf
    rel = np.abs(r) / np.maximum(scale, np.finfo(np.float64).tiny)
    worst = int(np.argmax(rel))
    detail = f"relative to S; |r| = {abs(r[worst]):.1e} at point {worst}, S = {scale[worst]:.1e}"
    row = Row(eps, arrow, "exact", float(rel[worst]), rtol,
              _status(rel[worst] <= rtol, "exact"), detail)
    return row, rtol * _max(scale)


def _network_bound_row(ds, i: int, eps: float, slack: float) -> Row:
    """0 ≤ f_ε − f_0 ≤ ε log N and the gap form, each up to the slack."""
    arrow = "network - tropical in [0, eps log N]"
    f, f0, n_log = ds.network.values[i], ds.tropical.values, float(ds.eps_log_n.values[i])
    bad = _nonfinite(f, f0)
    if bad or not np.isfinite(slack):
        return Row(eps, arrow, "exact", np.inf, n_log, "FAIL", _bad(bad, "values of f or f_0")
                   if bad else "no round-off slack: the identity row has non-finite values")
    diff = f - f0
    excess = _max(diff - ds.gap_bound.values[i])
    low, high = _max(-diff), _max(diff)
    ok = low <= slack and high <= n_log + slack and excess <= slack
    detail = f"gap-form excess {max(excess, 0.0):.1e}, slack {slack:.1e}"
    if low > slack:
        detail = f"below 0 by {low:.1e} > slack {slack:.1e}"
    elif excess > slack:
        detail = f"gap-form excess {excess:.1e} > slack {slack:.1e}"
    return Row(eps, arrow, "exact", high, n_log + slack, _status(ok, "exact"), detail)


def _hopf_bound_row(ds, i: int, eps: float, slack: float, kind: str) -> Row:
    """0 ≤ u_0 − u_ε ≤ ε log N; both +inf (no atom reaches the point) agree."""
    arrow = "hopf_lax - hopf_cole in [0, eps log N]"
    u, u0, n_log = ds.hopf_cole.values[i], ds.hopf_lax.values, float(ds.eps_log_n.values[i])
    unreached = np.isposinf(u) & np.isposinf(u0)
    compared = ~unreached
    bad = _nonfinite(u[compared], u0[compared])
    note = f"{int(unreached.sum())} points unreachable (+inf in both)" if unreached.any() else ""
    if bad or not np.isfinite(slack):
        why = _bad(bad, "values of u or u_0") if bad else "no round-off slack"
        return Row(eps, arrow, kind, np.inf, n_log, _status(False, kind), why)
    gap = u0[compared] - u[compared]
    low, high = _max(-gap), _max(gap)
    if not compared.any():
        return Row(eps, arrow, kind, np.nan, n_log, "PASS", note)
    ok = low <= slack and high <= n_log + slack
    detail = f"below 0 by {low:.1e} > slack {slack:.1e}" if low > slack else note
    return Row(eps, arrow, kind, high, n_log + slack, _status(ok, kind), detail)


def _reason(ds, column: str) -> str:
    """The reason in compare's `exact_<column>` text ("not defined (why)" → "why")."""
    text = str(ds.attrs.get(f"exact_{column}", ""))
    if text.startswith("not defined ("):
        return text.removeprefix("not defined (").removesuffix(")")
    return text


def _pde_row(ds, i: int, eps: float) -> Row:
    """|PDE residual| / S at the worst point against the derived relative tolerance.

    Quadratic H (`pde_residual` exact): every ε, pde_ulps(d)·ULP (S includes cond(A)), kinks
    excluded at ε = 0. Any other H: only the ε = 0 Hopf–Lax value is claimed smooth
    (`pde_residual_hopf_lax`), judged against hopf_lax_pde_ulps(d)·ULP off the points compare
    marked in `pde_excluded`; ε > 0, or an H without autodiff costs, is a skip with the reason.
    """
    arrow = "PDE residual (autodiff)"
    if _label(ds, "pde_residual") != "exact":
        if eps > 0:
            return Row(eps, arrow, "n/a", np.nan, np.nan, "skip", _reason(ds, "pde"))
        if _label(ds, "pde_residual_hopf_lax") != "exact":
            return Row(eps, arrow, "n/a", np.nan, np.nan, "skip",
                       f"not computed: {_reason(ds, 'pde_hopf_lax')}")
        excluded = ds.pde_excluded.values != 0 if "pde_excluded" in ds else \
            kink_points(ds.logit_gap.values, ds.hopf_lax.values)
        return _judged_pde_row(ds, i, eps, hopf_lax_pde_ulps(ds.sizes["dim"]) * ULP, excluded,
                               "kinks, unreached points and the boundary of dom L excluded")
    # at ε = 0 the kinks of u_0 are excluded (NaN there by design), nowhere else
    r = ds.pde_residual.values[i]
    excluded = kink_points(ds.logit_gap.values, ds.hopf_lax.values) if eps == 0 else \
        np.zeros(r.shape, bool)
    return _judged_pde_row(ds, i, eps, pde_ulps(ds.sizes["dim"]) * ULP, excluded,
                           "kinks of u_0 excluded" if eps == 0 else "")


def _judged_pde_row(ds, i: int, eps: float, rtol: float, excluded, note: str) -> Row:
    """The worst |r|/S over the points not `excluded`; a non-finite one judged fails."""
    arrow = "PDE residual (autodiff)"
    r, scale = ds.pde_residual.values[i], ds.pde_scale.values[i]
    judged = ~excluded
    bad = _nonfinite(r[judged], scale[judged])
    if bad:
        return Row(eps, arrow, "exact", np.inf, rtol, "FAIL", _bad(bad, "residuals"))
    if not judged.any():
        return Row(eps, arrow, "exact", np.nan, rtol, "PASS", note)
    rel = np.abs(r[judged]) / np.maximum(scale[judged], np.finfo(np.float64).tiny)
    worst = int(np.argmax(rel))
    detail = f"relative to S; |r| = {abs(r[judged][worst]):.1e}, S = {scale[judged][worst]:.1e}"
    return Row(eps, arrow, "exact", float(rel[worst]), rtol, _status(rel[worst] <= rtol, "exact"),
               "; ".join(filter(None, [detail, note])))


def _convex_rows(ds, i: int, eps: float, u, kind: str) -> list[Row]:
    audited = ds.convex_audited.values.astype(bool)
    arrow = "convex = hopf_cole"
    if not audited.any():
        return [Row(eps, arrow, kind, np.nan, np.nan, "skip", ds.attrs.get("convex_note", ""))]
    value, ref = ds.convex.values[i][audited], u[audited]
    statuses = ds.convex_status.values[i][audited].astype(str)
    # Points no atom reaches (norm H) are +inf in both views: equal infinities agree, and the
    # program's "infeasible" there is the certificate of that +inf, not a failure.
    both_inf = np.isposinf(value) & np.isposinf(ref)
    bad = [s for s, inf in zip(statuses, both_inf)
           if not s.startswith("optimal") and not (inf and s == "infeasible")]
    n_bad = _nonfinite(value[~both_inf], ref[~both_inf])
    solver = str(ds.convex_solver.values[i])
    detail = f"{audited.sum()} pts, {solver or 'no solver'}"
    if both_inf.any():
        detail += f", {int(both_inf.sum())} unreachable (+inf in both)"
    if bad:
        detail += f", {len(bad)} not optimal ({bad[0]})"
    if n_bad:
        worst = np.inf
        detail = _bad(n_bad, "values") + "; " + detail
    else:
        v, r = value[~both_inf], ref[~both_inf]
        worst = _max(np.abs(v - r) / np.maximum(1.0, np.abs(r))) if v.size else 0.0
    ok = worst <= CONVEX_RTOL and not bad
    rows = [Row(eps, arrow, kind, worst, CONVEX_RTOL, _status(ok, kind), detail)]
    if eps >= 0.01:
        reached = audited & np.isfinite(u)  # no Gibbs measure where no atom reaches
        a = ds.convex_attribution.values[i][reached]
        b = ds.attribution.values[i][reached]
        n_pi = _nonfinite(a, b)
        pi_err = np.inf if n_pi else (_max(np.abs(a - b)) if a.size else 0.0)
        rows.append(Row(eps, "convex pi = Gibbs pi", kind, pi_err, CONVEX_PI_TOL,
                        _status(pi_err <= CONVEX_PI_TOL, kind),
                        _bad(n_pi, "weights") if n_pi else ""))
    return rows


def _grid_row(ds, i: int, eps: float) -> Row:
    arrow = "grid solver - reference"
    if not int(ds.attrs.get("grid_ran", 0)):
        return Row(eps, arrow, "approx", np.nan, np.nan, "skip", ds.attrs.get("grid_note", ""))
    from hjdsl.views.grid.pde import reference_subset

    # In 2-D only a strided subset of the points gets a reference (NaN elsewhere, by design):
    # judge the grid at every point, the reference and the difference on that subset only.
    grid, ref = ds.grid.values[i], ds.grid_reference.values[i]
    if eps > 0 and ds.attrs.get("label_hopf_cole") != "exact":
        # No exact reference exists for ε > 0 with this H (the Hopf–Cole quadrature needs a
        # quadratic H): the reference is NaN by design; the solver's own values must be finite.
        n_bad = _nonfinite(grid)
        if n_bad:
            return Row(eps, arrow, "approx", np.inf, np.nan, "WARN", _bad(n_bad, "grid values"))
        return Row(eps, arrow, "approx", np.nan, np.nan, "skip",
                   f"no exact reference for eps > 0 with H(p) = {ds.attrs.get('hamiltonian', '?')}")
    n_bad = _nonfinite(grid, ref[reference_subset(ref.size, ds.sizes["dim"])])
    if n_bad:
        return Row(eps, arrow, "approx", np.inf, np.nan, "WARN", _bad(n_bad, "grid values"))
    err = float(ds.grid_error.values[i])
    if not np.isfinite(err):
        err = _max(np.abs(grid - ref))
    bound = GRID_RTOL * max(1.0, _max(np.abs(ref)))
    order = ds.attrs.get("grid_order")
    converging = order is not None and float(order) >= GRID_MIN_ORDER
    detail = f"observed order {float(order):.2f}" if order is not None else ""
    return Row(eps, arrow, "approx", err, bound, "PASS" if err <= bound or converging else "WARN",
               detail)


def failures(rows: list[Row]) -> list[Row]:
    """The rows that fail an exact relation (these make `hjdsl compare` exit 1)."""
    return [r for r in rows if r.fails_run]


def _num(v: float) -> str:
    return "-" if np.isnan(v) else f"{v:.2e}"


def render_table(ds, rows: list[Row]) -> str:
    """A compact plain-text table, one block per ε."""
    head = (f"{ds.attrs.get('model', '')}: H(p) = {ds.attrs.get('hamiltonian', '')}, "
            f"t = {ds.attrs.get('t', '')}, N = {ds.sizes['particle']} atoms, "
            f"d = {ds.sizes['dim']}, {ds.sizes['point']} points")
    if ds.attrs.get("fit_file"):
        head += f"; atoms fitted in {ds.attrs['fit_file']}"
    lines = [head, TOLERANCE_NOTE]
    if _label(ds, "pde_residual") != "exact" and _label(ds, "pde_residual_hopf_lax") == "exact":
        lines.append(HOPF_LAX_PDE_NOTE)
    width = max(len(r.arrow) for r in rows)
    for eps in dict.fromkeys(r.eps for r in rows):
        lines.append("")
        lines.append(f"eps = {eps:g}")
        lines.append(f"  {'arrow':<{width}}  {'kind':<10}  {'max discrepancy':>15}  "
                     f"{'tol/bound':>9}  status")
        for r in (r for r in rows if r.eps == eps):
            line = (f"  {r.arrow:<{width}}  {r.kind:<10}  {_num(r.value):>15}  {_num(r.bound):>9}  "
                    f"{r.status:<6}")
            lines.append((line + ("  " + r.detail if r.detail else "")).rstrip())
    failed = failures(rows)
    if ds.attrs.get("convex_hopf_lax_note"):
        lines.extend(["", f"note: {ds.attrs['convex_hopf_lax_note']}"])
    lines.append("")
    lines.append(f"FAIL: {len(failed)} exact relation(s) failed" if failed
                 else "all exact relations hold")
    return "\n".join(lines)
