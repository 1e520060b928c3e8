"""`hjdsl attribute`: Gibbs weights, entropy, regime, hallucination indicator and certificates."""

from __future__ import annotations

import json
import re

import numpy as np

from hjdsl.commands.common import (add_output_args, check_outputs, eps_arg, load_fit, load_model,
                                   number_arg, parse_floats)
from hjdsl.errors import Diagnostic

HELP = "attribution (Gibbs weights), entropy, regime and robustness certificates at query points"
DESCRIPTION = """\
At each query point x and each ε > 0: the Gibbs weights π_j = ∂f/∂b_j, ∂f/∂W_j = π_j x, the
entropy Ent(π) and Ent/log N, the regime (particle < 0.33 ≤ mixed ≤ 0.66 < wave), the critical
scale ε* = N^(-1/d), the hallucination indicator ρ = Δ/(ε log N) with the drift bound
ε log(1 + (N-1) e^(-Δ/ε)), whether x lies within √(2εt) of an atom, ∇f, ‖∇²f‖₂ against the bounds
and the certified radius for an output change δf.

examples:
  hjdsl attribute examples/abs_1d.hj --at 0.7 --at 0 --eps 1,0.1
  hjdsl attribute examples/digits.hj --at=-0.5,0.8 --top 5 --json
  hjdsl attribute examples/paper/robustness.hj --fit fit.nc --robustness --robustness-plot rob.png
  hjdsl attribute examples/attention/digits_attention.hj --eps 2.83   per-head entropy, regime
  hjdsl attribute examples/networks/stack_3layer.hj --at 0.2,-0.3   a stack: readout curvature
  hjdsl attribute examples/networks/resnet.hj -o attr.nc --plot steps.png   per step: p_k, dH/dθ

A point may start with a minus sign: `--at -0.5,0.8` (or `--at=-0.5,0.8`).
Without --at the model's `evaluate` points are used.
"""

MAX_TABLE_POINTS = 12


# argparse takes `-0.5,0.8` for an unknown flag; let number lists with a leading minus through
# (the parser has no option that looks like a number, so nothing is shadowed).
NUMBER_LIST = re.compile(r"^-[0-9.][0-9.,eE+-]*$")


def configure(p) -> None:
    p._negative_number_matcher = NUMBER_LIST
    p.add_argument("file", metavar="FILE", help="the .hj spec (- for stdin)")
    p.add_argument("--at", action="append", metavar="X", type=lambda s: parse_floats(s, "--at"),
                   help="a query point: d comma-separated numbers (repeat for more points)")
    p.add_argument("--eps", type=eps_arg, metavar="LIST", help="ε values (default: the spec's)")
    p.add_argument("--top", type=number_arg("--top", low=1, inclusive=True, integer=True), default=3,
                   metavar="K", help="how many top atoms to list (3)")
    p.add_argument("--fit", metavar="FIT.nc", help="use fitted atoms y_hat, g_hat from a solve result")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--robustness", action="store_true",
                   help="print the ε-sweep of max ‖∇²f‖₂ over the points against the bounds")
    p.add_argument("--delta-f", type=number_arg("--delta-f"), default=0.1, metavar="DF",
                   help="output change the certified radius guards against (0.1)")
    p.add_argument("--robustness-plot", metavar="OUT.png", help="plot measured curvature against bounds")
    add_output_args(p)


def run(args) -> int:
    from hjdsl.analysis.attribution import attribute, to_records

    check_outputs(args, "robustness_plot")
    model = load_model(args.file, args.set)
    if getattr(model, "heads", None) is not None:  # an attention spec: views per head
        from hjdsl.attention.commands import run_attribute

        return run_attribute(model, args)
    if getattr(model, "kind", None) == "stack":  # a stack of LSE layers: readout curvature
        from hjdsl.networks.stack_command import attribute_command

        return attribute_command(args, model)
    if getattr(model, "kind", None) in ("residual", "recurrent"):  # per step: p_k, dH/dθ, A_k
        from hjdsl.networks.flow_attribute_report import attribute_command as attribute_flow

        return attribute_flow(args, model)
    if args.fit:
        model = load_fit(model, args.fit)
    if args.plot:  # refused now rather than after the analysis
        from hjdsl.plot.analysis import _need_low_dim

        _need_low_dim(model.dim, "attribution")
    at = None if not args.at else args.at
    if at is not None:
        at = _stack_points(at, model.dim)
    ds = attribute(model, at, eps=args.eps, top=args.top, delta_f=args.delta_f)

    if args.json:
        out = {"model": model.name, "n_atoms": model.n_atoms, "dim": model.dim,
               "eps_star": ds.attrs["eps_star"], "log_n": ds.attrs["log_n"], "points": to_records(ds)}
        if args.robustness:
            out["robustness"] = _sweep_records(ds)
        print(json.dumps(out, indent=2))
    elif not args.quiet:
        print(format_table(ds))
        if args.robustness:
            from hjdsl.analysis.robustness import format_sweep, robustness_sweep

            print("\nrobustness (max over the points of ||Hess f||_2 against the uniform bounds):")
            print(format_sweep(robustness_sweep(ds)))
    if args.output:
        from hjdsl.output import write_dataset

        write_dataset(ds, args.output)
    if args.plot:
        from hjdsl.plot.analysis import plot_attribution

        plot_attribution(model, ds, args.plot)
    if args.robustness_plot:
        from hjdsl.analysis.robustness import robustness_sweep
        from hjdsl.plot.analysis import plot_robustness

        plot_robustness(robustness_sweep(ds), args.robustness_plot)
    return 0


def _stack_points(points, dim: int) -> np.ndarray:
    from hjdsl.errors import UsageError

    for p in points:
        if p.size != dim:
            raise UsageError((Diagnostic(
                "error", f"--at {','.join(f'{v:g}' for v in p)} has {p.size} coordinate(s) but the "
                f"model has dim {dim}", hint=f"give {dim} comma-separated numbers per --at",
                code="U011"),))
    return np.stack(points)


def _sweep_records(ds) -> list[dict]:
    from hjdsl.analysis.robustness import robustness_sweep

    sweep = robustness_sweep(ds)
    return [{"eps": float(e), "measured": float(sweep["measured"][i]),
             "bound_max_norm": float(sweep["bound_max_norm"][i]),
             "bound_diameter": float(sweep["bound_diameter"][i]), "holds": bool(sweep["holds"][i])}
            for i, e in enumerate(sweep["eps"].values)]


def format_table(ds) -> str:
    """A readable table: one block per ε, one line per point, then its top atoms."""
    n_points = ds.sizes["point"]
    lines = [f"{ds.attrs['model']}: N = {ds.sizes['particle']} atoms, d = {ds.sizes['dim']}, "
             f"eps* = N^(-1/d) = {ds.attrs['eps_star']:.4g}, log N = {ds.attrs['log_n']:.4g}, "
             f"delta_f = {ds.attrs['delta_f']:g}"]
    if n_points > MAX_TABLE_POINTS:
        lines.append(f"({n_points} points: showing the first {MAX_TABLE_POINTS}; use --json or -o)")
    head = (f"  {'x':>16}  {'Ent':>7}  {'Ent/logN':>8}  {'regime':>8}  {'rho':>8}  {'drift<=':>9}  "
            f"{'in-dist':>7}  {'|grad f|':>8}  {'||Hess||':>9}  {'r_cert':>8}")
    for i, e in enumerate(ds["eps"].values):
        lines.append(f"\neps = {e:g}   (sqrt(2 eps t) = {float(ds['diffusion_radius'][i]):.4g}, "
                     f"bounds: max|W|^2/eps = {float(ds['bound_max_norm'][i]):.4g}, "
                     f"diam^2/(4eps) = {float(ds['bound_diameter'][i]):.4g})")
        lines.append(head)
        for p in range(min(n_points, MAX_TABLE_POINTS)):
            s = ds.isel(eps=i, point=p)
            x = ",".join(f"{v:.4g}" for v in np.atleast_1d(s["x"].values))
            lines.append(
                f"  {x:>16}  {float(s['entropy']):7.4f}  {float(s['entropy_normalised']):8.4f}  "
                f"{str(s['regime'].values):>8}  {float(s['rho']):8.3g}  {float(s['drift_bound']):9.3g}  "
                f"{'yes' if s['in_distribution'] else 'no':>7}  {float(s['grad_norm']):8.4g}  "
                f"{float(s['hessian_norm']):9.4g}  {float(s['certified_radius']):8.4g}")
            tops = []
            for r in range(ds.sizes["rank"]):
                j = int(s["top_atom"].values[r])
                y = ",".join(f"{v:.3g}" for v in ds["y"].values[j])
                tops.append(f"#{j} (y={y}, g={float(ds['g'].values[j]):.3g}) pi={float(s['top_weight'][r]):.4f}")
            lines.append("      top: " + "; ".join(tops))
    return "\n".join(lines)

