"""The diagram report of an attention spec: per head and ε, each view against the others."""

from __future__ import annotations

import numpy as np

from hjdsl.views.report import CONVEX_RTOL, Row, failures
from hjdsl.views.tolerances import BOUND_ULPS, ULP, identity_ulps

IDENTITY = "network + hopf_cole = |q|^2/(4t)"
BOUNDS = "network - tropical in [0, eps log N]"
HARD = "|output - hard output| <= (1 - pi_max) spread"
CONVEX = "convex = hopf_cole"
CONVEX_PI = "convex pi = attention row"


def diagram_rows(ds) -> list[tuple[int, Row]]:
    """(head, row) for every arrow of every head at every ε of an attention compare Dataset."""
    rows = []
    for a in ds["head"].values.tolist():
        for i, eps in enumerate(ds["eps"].values.tolist()):
            s = ds.isel(head=a, eps=i)
            identity, slack = _identity(s, eps, ds.sizes["dim"])
            rows += [(a, r) for r in (identity, _bounds(s, eps, slack), _hard(s, eps),
                                      *_convex(s, eps))]
    return rows


def _identity(s, eps, d) -> tuple[Row, float]:
    r, scale = s["identity_residual"].values, s["identity_scale"].values
    rtol = identity_ulps(d) * ULP
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(scale))):
        return Row(eps, IDENTITY, "exact", np.inf, rtol, "FAIL", "non-finite residuals"), np.inf
    rel = np.abs(r) / np.maximum(scale, np.finfo(float).tiny)
    worst = int(np.argmax(rel))
    return (Row(eps, IDENTITY, "exact", float(rel[worst]), rtol,
                "PASS" if rel[worst] <= rtol else "FAIL",
                f"relative to S; |r| = {abs(r[worst]):.1e} at query {worst}"),
            rtol * float(scale.max()))


def _bounds(s, eps, slack) -> Row:
    """0 ≤ f_ε − f_0 ≤ ε log N_i, N_i the keys query i attends to."""
    diff = s["network"].values - s["tropical"].values
    bound = eps * np.log(s["n_allowed"].values)
    if not np.all(np.isfinite(diff)):
        return Row(eps, BOUNDS, "exact", np.inf, np.nan, "FAIL", "non-finite f or f_0")
    slack = max(slack, BOUND_ULPS * ULP * float(np.abs(s["tropical"].values).max()))
    excess = float(np.max(diff - bound))
    ok = diff.min() >= -slack and excess <= slack
    detail = f"below 0 by {-diff.min():.1e}" if diff.min() < -slack else f"slack {slack:.1e}"
    return Row(eps, BOUNDS, "exact", float(diff.max()), float(bound.max()) + slack,
               "PASS" if ok else "FAIL", detail)


def _hard(s, eps) -> Row:
    """|Σπ_j v_j − v_a|_∞ ≤ (1 − π_a)·max_j |v_j − v_a|_∞ ≤ min(1, (N−1)e^{−Δ/ε})·spread,
    a = the argmax key: the attention output tends to hard attention's as ε → 0."""
    out, hard = s["output"].values, s["hard_output"].values
    pi, a = s["attention"].values, s["hard_key"].values
    spread = s["value_spread"].values
    pi_a = np.take_along_axis(pi, a[:, None], axis=1)[:, 0]
    dist = np.abs(out - hard).max(axis=1)
    bound = (1.0 - pi_a) * spread
    n, gap = s["n_allowed"].values, s["logit_gap"].values
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        tail = np.where(n > 1, np.minimum(1.0, (n - 1) * np.exp(-gap / eps)) if eps > 0
                        else 0.0, 0.0)
    slack = 4 * n.max() * ULP * max(float(np.abs(s["v"].values).max()), 1.0)
    ok = np.all(dist <= bound + slack) and np.all(1.0 - pi_a <= tail + slack)
    worst = int(np.argmax(np.maximum(dist - bound, 1.0 - pi_a - tail)))
    detail = ("at every query; 1 - pi_max <= (N-1)e^(-gap/eps)" if ok else
              f"query {worst}: {dist[worst]:.1e} > {bound[worst]:.1e} or 1 - pi_max "
              f"{1.0 - pi_a[worst]:.1e} > {tail[worst]:.1e}")
    return Row(eps, HARD, "exact", float(dist.max()), float((tail * spread).max()) + slack,
               "PASS" if ok else "FAIL", detail)


def _convex(s, eps) -> list[Row]:
    status = s["convex_status"].values.astype(str)
    audited = status != "not audited"
    if not audited.any():
        return [Row(eps, CONVEX, "exact", np.nan, np.nan, "skip", "not audited (--audit 0)")]
    value, ref = s["convex"].values[audited], s["hopf_cole"].values[audited]
    bad = [x for x in status[audited] if not x.startswith("optimal")]
    err = np.abs(value - ref) / np.maximum(1.0, np.abs(ref))
    worst = float(err.max()) if np.all(np.isfinite(err)) else np.inf
    detail = f"{int(audited.sum())} queries" + (f", {len(bad)} not optimal ({bad[0]})" if bad
                                                  else "")
    rows = [Row(eps, CONVEX, "exact", worst, CONVEX_RTOL,
                "PASS" if worst <= CONVEX_RTOL and not bad else "FAIL", detail)]
    if eps > 0:
        # π is held to the bound each solve certifies (attention/dataset.py: pi_bound), plus
        # the round-off of the softmax row itself, a few ulp
        pi_err = np.abs(s["convex_attention"].values - s["attention"].values)[audited].max(axis=1)
        allowed = s["convex_pi_bound"].values[audited] + 16 * ULP
        ok = np.all(pi_err <= allowed) and not bad
        rows.append(Row(eps, CONVEX_PI, "exact", float(pi_err.max()), float(allowed.max()),
                        "PASS" if ok else "FAIL",
                        "bound: each solve's sqrt((gap + rounding)/(2 eps))"))
    return rows


def render(ds, rows) -> str:
    """The table: a header per head, one block per ε, then the verdict."""
    h = ds.attrs
    lines = [f"{h.get('model', '')}: attention, {ds.sizes['head']} head(s), "
             f"{ds.sizes['query']} queries x {ds.sizes['key']} keys, d_k = {ds.sizes['dim']}, "
             f"d_v = {ds.sizes['value_dim']}, t = {h.get('t', '')}"
             + (", causal mask" if int(h.get("causal", 0)) else "")
             + (", LayerNorm" if int(h.get("layernorm", 0)) else ""),
             "each query q_i is a point of an LSE layer with W_j = k_j, b_j = 0: atoms "
             "y_j = 2t k_j, g_j = -t|k_j|^2",
             f"tolerances: identity {identity_ulps(ds.sizes['dim']):g} ulp of S; convex "
             f"{CONVEX_RTOL:g}*max(1,|u|), pi each solve's certified bound"]
    width = max(len(r.arrow) for _, r in rows)
    for head in dict.fromkeys(a for a, _ in rows):
        lines += ["", f"head {head}: mean entropy " + ", ".join(
            f"{float(ds['entropy'].sel(head=head, eps=e).mean()):.3f} at eps = {e:g}"
            for e in ds["eps"].values)]
        for eps in dict.fromkeys(r.eps for a, r in rows if a == head):
            lines.append(f"  eps = {eps:g}")
            for r in (r for a, r in rows if a == head and r.eps == eps):
                value = "-" if np.isnan(r.value) else f"{r.value:.2e}"
                bound = "-" if np.isnan(r.bound) else f"{r.bound:.2e}"
                lines.append(f"    {r.arrow:<{width}}  {r.kind:<6}  {value:>9}  {bound:>9}  "
                             f"{r.status:<4}  {r.detail}".rstrip())
    failed = failures([r for _, r in rows])
    lines += ["", f"FAIL: {len(failed)} exact relation(s) failed" if failed
              else "all exact relations hold"]
    return "\n".join(lines)
