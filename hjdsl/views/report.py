"""The diagram report: the largest discrepancy along each arrow per ε, against stated tolerances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Tolerances (also printed in the table header and documented in docs/views.md).
IDENTITY_RTOL = 1e-12   # |f_ε + u_ε − xᵀA⁻¹x/(4t)| ≤ 1e-12 · scale (scale = max(1, |values|))
BOUND_SLACK = 1e-12     # round-off slack on the tropical bounds, relative to the same scale
CONVEX_RTOL = 1e-6      # |convex − u_ε| ≤ 1e-6 · max(1, |u_ε|)
CONVEX_PI_TOL = 1e-5    # |π_convex − π| ≤ 1e-5 (checked for ε ≥ 0.01)
PDE_RTOL = 1e-8         # |PDE residual| ≤ 1e-8 · (size of the terms that cancel)
GRID_RTOL = 1e-2        # grid vs its reference: small enough outright, or ...
GRID_MIN_ORDER = 0.7    # ... converging under refinement (observed order of a first-order scheme)

TOLERANCE_NOTE = (f"tolerances: identity {IDENTITY_RTOL:g}*scale; bounds +{BOUND_SLACK:g}*scale "
                  f"slack; convex {CONVEX_RTOL:g}*max(1,|u|), pi {CONVEX_PI_TOL:g} (eps >= 0.01);\n"
                  f"            PDE {PDE_RTOL:g}*term size; grid {GRID_RTOL:g}*max(1,|ref|) or "
                  f"observed order >= {GRID_MIN_ORDER:g} (warn only); scale = max(1, |values|)")


@dataclass(frozen=True)
class Row:
    """One arrow of the diagram at one ε."""

    eps: float
    arrow: str
    kind: str          # exact | structural | approx | n/a
    value: float       # the largest discrepancy (NaN when nothing was compared)
    bound: float       # the tolerance or bound it is held against
    status: str        # PASS | FAIL | WARN | skip
    detail: str = ""

    @property
    def fails_run(self) -> bool:
        return self.kind == "exact" and self.status == "FAIL"


def _max(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else float("nan")


def _status(ok: bool, kind: str) -> str:
    if ok:
        return "PASS"
    return "FAIL" if kind == "exact" else "WARN"


def diagram_rows(ds) -> list[Row]:
    """Every arrow of the commutative diagram for every ε of a compare Dataset."""
    exact_h = ds.attrs.get("hamiltonian_kind", "quadratic") == "quadratic"
    rows: list[Row] = []
    u0 = ds.hopf_lax.values
    finite_u0 = np.where(np.isfinite(u0), u0, np.nan)
    for i, eps in enumerate(ds.eps.values.tolist()):
        f, u = ds.network.values[i], ds.hopf_cole.values[i]
        scale = max(1.0, _max(np.abs(f)) if exact_h else 0.0, _max(np.abs(u)),
                    _max(np.abs(ds.quadratic_term.values)) if exact_h else 0.0)
        slack = BOUND_SLACK * scale
        n_log = float(ds.eps_log_n.values[i])
        structural = "exact" if exact_h or eps == 0 else "structural"
        if exact_h:
            ident = _max(np.abs(ds.identity_residual.values[i]))
            rows.append(Row(eps, "network + hopf_cole = x'A^-1x/(4t)", "exact", ident,
                            IDENTITY_RTOL * scale,
                            _status(ident <= IDENTITY_RTOL * scale, "exact")))
            diff = f - ds.tropical.values
            over = _max(diff - ds.gap_bound.values[i])
            ok = _max(-diff) <= slack and _max(diff) <= n_log + slack and over <= slack
            rows.append(Row(eps, "network - tropical in [0, eps log N]", "exact", _max(diff), n_log,
                            _status(ok, "exact"), f"gap-form excess {max(over, 0.0):.1e}"))
        else:
            rows.append(Row(eps, "network + hopf_cole = x'A^-1x/(4t)", "n/a", np.nan, np.nan,
                            "skip", "no LSE layer for a norm Hamiltonian"))
        both_inf = np.isinf(u) & np.isinf(u0)
        gap_u = np.where(both_inf, 0.0, finite_u0 - u)
        ok = _max(-gap_u) <= slack and _max(gap_u) <= n_log + slack
        unreached = int(np.isinf(u0).sum())
        rows.append(Row(eps, "hopf_lax - hopf_cole in [0, eps log N]", structural, _max(gap_u),
                        n_log, _status(ok, structural),
                        f"{unreached} points unreachable (+inf)" if unreached else ""))
        rows.extend(_convex_rows(ds, i, eps, u, "exact" if exact_h or eps == 0 else "structural"))
        if exact_h:
            r, sc = np.abs(ds.pde_residual.values[i]), ds.pde_scale.values[i]
            rel = _max(r / np.maximum(1.0, sc))
            rows.append(Row(eps, "PDE residual (autodiff)", "exact", _max(r),
                            PDE_RTOL * max(1.0, _max(sc)), _status(rel <= PDE_RTOL, "exact"),
                            "kinks of u_0 excluded" if eps == 0 else ""))
        rows.append(_grid_row(ds, i, eps))
    return rows


def _convex_rows(ds, i: int, eps: float, u, kind: str) -> list[Row]:
    audited = ds.convex_audited.values.astype(bool)
    arrow = "convex = hopf_cole"
    if not audited.any():
        return [Row(eps, arrow, kind, np.nan, np.nan, "skip", ds.attrs.get("convex_note", ""))]
    value = ds.convex.values[i][audited]
    statuses = ds.convex_status.values[i][audited].astype(str)
    bad = [s for s in statuses if not s.startswith("optimal")]
    err = np.abs(value - u[audited]) / np.maximum(1.0, np.abs(u[audited]))
    # Points the convex program cannot reach (norm H) are +inf in both views: they agree.
    err = np.where(np.isinf(value) & np.isinf(u[audited]) & (value == u[audited]), 0.0, err)
    worst = _max(err) if np.isfinite(err).all() else float("inf")
    solver = str(ds.convex_solver.values[i])
    detail = f"{audited.sum()} pts, {solver or 'no solver'}"
    if bad:
        detail += f", {len(bad)} not optimal ({bad[0]})"
    ok = worst <= CONVEX_RTOL and not bad
    rows = [Row(eps, arrow, kind, worst, CONVEX_RTOL, _status(ok, kind), detail)]
    if eps >= 0.01:
        pi_err = _max(np.abs(ds.convex_attribution.values[i][audited]
                             - ds.attribution.values[i][audited]))
        rows.append(Row(eps, "convex pi = Gibbs pi", kind, pi_err, CONVEX_PI_TOL,
                        _status(pi_err <= CONVEX_PI_TOL, kind)))
    return rows


def _grid_row(ds, i: int, eps: float) -> Row:
    arrow = "grid solver - reference"
    if not int(ds.attrs.get("grid_ran", 0)):
        return Row(eps, arrow, "approx", np.nan, np.nan, "skip", ds.attrs.get("grid_note", ""))
    err = float(ds.grid_error.values[i])
    if not np.isfinite(err):
        err = _max(np.abs(ds.grid.values[i] - ds.grid_reference.values[i]))
    bound = GRID_RTOL * max(1.0, _max(np.abs(ds.grid_reference.values[i])))
    order = ds.attrs.get("grid_order")
    converging = order is not None and float(order) >= GRID_MIN_ORDER
    detail = f"observed order {float(order):.2f}" if order is not None else ""
    return Row(eps, arrow, "approx", err, bound, "PASS" if err <= bound or converging else "WARN",
               detail)


def failures(rows: list[Row]) -> list[Row]:
    """The rows that fail an exact relation (these make `hjdsl compare` exit 1)."""
    return [r for r in rows if r.fails_run]


def _num(v: float) -> str:
    return "-" if not np.isfinite(v) and not np.isinf(v) else f"{v:.2e}"


def render_table(ds, rows: list[Row]) -> str:
    """A compact plain-text table, one block per ε."""
    head = (f"{ds.attrs.get('model', '')}: H(p) = {ds.attrs.get('hamiltonian', '')}, "
            f"t = {ds.attrs.get('t', '')}, N = {ds.sizes['particle']} atoms, "
            f"d = {ds.sizes['dim']}, {ds.sizes['point']} points")
    if ds.attrs.get("fit_file"):
        head += f"; atoms fitted in {ds.attrs['fit_file']}"
    lines = [head, TOLERANCE_NOTE]
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
