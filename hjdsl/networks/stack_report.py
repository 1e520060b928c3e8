"""The report of a stack compare: per-layer identity and bounds, the stack bound, curvature rows."""

from __future__ import annotations

import numpy as np

from hjdsl.views.report import Row, failures
from hjdsl.views.tolerances import ULP, identity_ulps


def curvature_ulps(d: int, depth: int) -> float:
    """Roundings per term of ∇²f − E_π∇²z − Cov_π(∇z)/ε: d-long sums, once per layer traversed."""
    return 16.0 * (d + 2) * depth


def stack_rows(ds, stack=None) -> list[Row]:
    """Every row of a stack's report; `stack` (for the curvature rows) may be None to skip them.

    A row's `eps` is the layer's ε (per-layer rows) or NaN (rows about the whole stack).
    """
    rows: list[Row] = []
    slack = 0.0
    for l in ds.layer.values:
        layer = ds.isel(layer=l)
        name, eps = str(layer.layer_name.values), float(layer.layer_eps)
        width, d = int(layer.layer_width), int(ds.layer_width[l - 1]) if l else ds.sizes["dim"]
        sel = {"unit": slice(0, width)}
        r = np.abs(layer.identity_residual.isel(sel).values)
        scale = layer.identity_scale.isel(sel).values
        rtol = identity_ulps(d) * ULP
        rel = r / np.maximum(scale, np.finfo(np.float64).tiny)
        bad = int(np.count_nonzero(~np.isfinite(rel)))
        worst = float(np.max(np.where(np.isfinite(rel), rel, np.inf)))
        rows.append(Row(eps, f"layer {name}: network + hopf_cole = |h|^2/(4t)", "exact", worst,
                        rtol, "PASS" if worst <= rtol else "FAIL",
                        f"{bad} non-finite residuals" if bad else
                        f"relative to S, over {width} unit(s) at the layer's input"))
        layer_slack = rtol * float(np.max(scale)) if scale.size else np.inf
        slack += layer_slack
        n_log = eps * np.log(int(layer.layer_atoms))
        for arrow, diff in (("network - tropical", layer.layer_network - layer.layer_tropical),
                            ("hopf_lax - hopf_cole", layer.layer_hopf_lax - layer.layer_hopf_cole)):
            diff = diff.isel(sel).values
            low, high = float(np.max(-diff)), float(np.max(diff))
            ok = np.isfinite(high) and low <= layer_slack and high <= n_log + layer_slack
            rows.append(Row(eps, f"layer {name}: {arrow} in [0, eps log N]", "exact", high,
                            n_log + layer_slack, "PASS" if ok else "FAIL",
                            f"below 0 by {low:.1e}" if low > layer_slack else ""))
    rows.extend(_bound_rows(ds, slack))
    rows.extend(_curvature_rows(ds, stack))
    rows.extend(_not_applicable(ds))
    return rows


def _bound_rows(ds, slack: float) -> list[Row]:
    """|h_l − h_l^0|∞ ≤ the partial bound after every layer; the last one is the stack bound.

    The slack is the round-off of both forward passes: each layer's identity tolerance at its
    worst point (the size of its logits' terms), summed, times the Lipschitz factor ahead.
    """
    rows = []
    lips = ds.lipschitz.values
    for l in ds.layer.values:
        ahead = float(np.prod(lips[l + 1:]))
        gap = ds.hidden_gap.values[l]
        bound = float(ds.hidden_bound.values[l])
        last = l == ds.sizes["layer"] - 1
        arrow = ("stack: |f_eps - f_0| <= sum_l (prod_{k>l} Lip_k) eps_l log N_l" if last else
                 f"after layer {ds.layer_name.values[l]}: |h - h_0|_inf <= partial bound")
        high = float(np.max(gap)) if np.all(np.isfinite(gap)) else np.inf
        tol = bound + slack * max(ahead, 1.0)
        detail = (f"tight to {high / bound:.1%} of the bound (at point {int(np.argmax(gap))})"
                  if bound > 0 and np.isfinite(high) else "")
        rows.append(Row(np.nan, arrow, "exact", high, tol, "PASS" if high <= tol else "FAIL",
                        detail))
    return rows


def _curvature_rows(ds, stack) -> list[Row]:
    from hjdsl.networks.curvature import CURVATURE_POINTS, curvature, single_layer_certificate

    arrow = "curvature: hessian f = E_pi[hessian z] + Cov_pi(grad z)/eps"
    cert = "curvature: |hessian f|_2 <= max_j |W_j|^2/eps (single-layer certificate)"
    if stack is None:
        return []
    if stack.layers[-1].eps <= 0:
        why = "not applicable: the readout has eps = 0 (f is piecewise affine)"
        return [Row(np.nan, arrow, "n/a", np.nan, np.nan, "skip", why),
                Row(np.nan, cert, "n/a", np.nan, np.nan, "skip", why)]
    from hjdsl.results import points

    x = points(ds)[:CURVATURE_POINTS]
    c = curvature(stack, x)
    err = np.abs(c["hessian"] - c["expectation"] - c["covariance"]).reshape(len(x), -1).max(axis=1)
    rel = err / np.maximum(c["scale"], np.finfo(np.float64).tiny)
    tol = curvature_ulps(stack.dim, stack.depth) * ULP
    worst = float(np.max(rel)) if np.all(np.isfinite(rel)) else np.inf
    rows = [Row(np.nan, arrow, "exact", worst, tol, "PASS" if worst <= tol else "FAIL",
                f"autodiff, relative to the terms' size, at {len(x)} point(s)")]
    bound = single_layer_certificate(stack)
    if bound is None:
        rows.append(Row(np.nan, cert, "n/a", np.nan, np.nan, "skip",
                        "not applicable at depth > 1: the readout's logits are not affine in x"))
    else:
        norm = float(np.max(np.abs(np.linalg.eigvalsh(c["hessian"]))))
        tol = bound * (1 + curvature_ulps(stack.dim, 1) * ULP)
        rows.append(Row(np.nan, cert, "exact", norm, tol, "PASS" if norm <= tol else "FAIL",
                        f"at {len(x)} point(s)"))
    return rows


def _not_applicable(ds) -> list[Row]:
    depth = ds.sizes["layer"]
    why = ("not applicable: a stack is a composition of HJ steps, one per layer in its own "
           "input coordinates, not one HJ solution in x" if depth > 1 else
           "per layer: see the layer rows (hjdsl compare on the layer's atoms has them all)")
    return [Row(np.nan, "stack as one Hopf-Cole solution / PDE residual in x", "n/a", np.nan,
                np.nan, "skip", why),
            Row(np.nan, "convex program and grid solver", "n/a", np.nan, np.nan, "skip",
                "not applicable to stacks: run per layer on a single-layer spec")]


def _num(v: float) -> str:
    return "-" if np.isnan(v) else f"{v:.2e}"


def render_stack(ds, rows: list[Row]) -> str:
    """A plain-text table: a header per layer, then the stack's rows."""
    shape = " -> ".join([str(ds.sizes["dim"])] + [str(int(w)) for w in ds.layer_width.values])
    lines = [f"{ds.attrs.get('model', '')}: stack of {ds.sizes['layer']} layer(s), widths "
             f"{shape}, {ds.sizes['point']} points",
             "tolerances: identities 4(d+2) ulp of S (d = the layer's inputs); bounds + the "
             "layers' round-off slack; curvature 16(d+2)L ulp; Lip_l = max_ij |W_ij|_1 (inf-norm)"]
    if "train_loss_end" in ds.attrs:
        a = ds.attrs
        lines.append(f"learned W, b from {a['train_points']} data points ({a['train_steps']} Adam "
                     f"steps, lr = {a['train_lr']:g}): training loss mean (f - value)^2 "
                     f"{a['train_loss_start']:.4g} -> {a['train_loss_end']:.4g}; every row "
                     "below is on the trained weights")
    width = max(len(r.arrow) for r in rows)
    head = f"  {'arrow':<{width}}  {'kind':<10}  {'max discrepancy':>15}  {'tol/bound':>9}  status"
    groups = [(f"layer {n} ({k}, eps = {e:g}, t = {t:g}, {int(w)} x {int(a)} atoms, "
               f"Lip = {lip:.3g})", f"layer {n}:")
              for n, k, e, t, w, a, lip in zip(ds.layer_name.values, ds.layer_kind.values,
                                              ds.layer_eps.values, ds.layer_t.values,
                                              ds.layer_width.values, ds.layer_atoms.values,
                                              ds.lipschitz.values)]
    groups.append(("stack", None))
    for title, prefix in groups:
        chosen = [r for r in rows if (r.arrow.startswith(prefix) if prefix else
                                      not r.arrow.startswith("layer "))]
        lines += ["", title, head]
        for r in chosen:
            line = (f"  {r.arrow:<{width}}  {r.kind:<10}  {_num(r.value):>15}  "
                    f"{_num(r.bound):>9}  {r.status:<6}")
            lines.append((line + ("  " + r.detail if r.detail else "")).rstrip())
    failed = failures(rows)
    lines += ["", f"FAIL: {len(failed)} exact relation(s) failed" if failed
              else "all exact relations hold"]
    return "\n".join(lines)
