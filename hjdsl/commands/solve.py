"""`hjdsl solve`: fit the initial data of a spec to its observations and report the fit."""

from __future__ import annotations

import sys

import numpy as np

from hjdsl.commands.common import add_output_args, eps_arg, load_model
from hjdsl.errors import UsageError

HELP = "fit initial data to the observations (map, svi, nuts, convex, hopf_lax)"
DESCRIPTION = """\
Fit the learned initial data (atoms y_j, values g_j, and any learned sigma, nu, eps) of a spec to
its observations. Methods: map (Adam, best of --restarts, L-BFGS polish), svi (Gaussian guide),
nuts (MCMC; r_hat, ess and divergences reported), convex (cvxpy). Prints a summary table;
-o writes the result (netCDF), --plot a figure of data, fit, bands and recovered initial data.
Warnings (stderr, exit 0) flag a fit whose RMSE exceeds 3x the data's noise level, collapsed or
uninfluential atoms, and NUTS divergences or r_hat > 1.05. Option ranges and the run's memory
(HJDSL_MAX_MEMORY, default 4 GiB) are checked before any work.

examples:
  hjdsl solve examples/paper/recovery.hj --eps 0.04 -o fit.nc --plot fit.png
  hjdsl solve examples/abs_1d.hj --method nuts --chains 2 --draws 500
  hjdsl solve examples/abs_1d.hj --method nuts --prior-draws 500 -o fit.nc  (prior checks)
  hjdsl solve examples/abs_1d.hj --data other.csv --method svi
  hjdsl solve examples/abs_1d.hj -o fit.nc --json > fit.json

--json prints the summary as JSON on stdout instead of the table (also with -q): model, method,
eps, data, metrics, fitted scalars, atoms, sampling (nuts), solver (convex), warnings and the
files written. NaN is null and an infinite value the string "inf". Warnings still go to stderr too.
"""


def configure(p) -> None:
    p.add_argument("file", metavar="FILE", help="the .hj spec ('-' reads stdin)")
    p.add_argument("--method", choices=["map", "svi", "nuts", "convex", "hopf_lax"],
                   help="fit method (default: the spec's `fit method`, else map)")
    p.add_argument("--data", metavar="PATH", help="fit these observations instead of the spec's "
                   "(CSV with a header, or NetCDF; the spec's column names)")
    p.add_argument("--steps", type=int, help="optimisation steps (map, svi)")
    p.add_argument("--lr", type=float, help="Adam learning rate (map, svi)")
    p.add_argument("--restarts", type=int, help="map: starting points, best one kept")
    p.add_argument("--seed", type=int, help="random seed (restarts, svi, nuts)")
    p.add_argument("--no-polish", dest="polish", action="store_false", default=None,
                   help="map: skip the L-BFGS polish after Adam")
    p.add_argument("--chains", type=int, help="nuts: number of chains")
    p.add_argument("--warmup", type=int, help="nuts: warm-up iterations per chain")
    p.add_argument("--draws", type=int, help="nuts: draws per chain; svi: posterior draws")
    p.add_argument("--prior-draws", type=int, default=0, metavar="N",
                   help="svi, nuts: also draw N times from the prior (groups prior and "
                   "prior_predictive, for az.plot_ppc(idata, group='prior')); default 0, none")
    p.add_argument("--eps", type=eps_arg, metavar="E",
                   help="the viscosity to fit at (default: the spec's; smallest > 0 of a sweep)")
    p.add_argument("--json", action="store_true",
                   help="print the fit summary as JSON on stdout instead of the table")
    add_output_args(p)


def run(args) -> int:
    model = load_model(args.file, args.set)
    eps = None
    if args.eps is not None:
        if len(args.eps) != 1:
            raise UsageError.single("--eps takes one value: solve fits one viscosity at a time",
                                    code="U106")
        eps = float(args.eps[0])
    options = {k: getattr(args, k) for k in ("steps", "lr", "restarts", "seed", "polish",
                                              "chains", "warmup", "draws")}
    result = model.solve(method=args.method, data=args.data, eps=eps, quiet=args.quiet,
                         prior_draws=args.prior_draws, **options)
    from hjdsl.fit.results import root_of, write_result

    root = root_of(result)
    quality = list(filter(None, str(root.attrs.get("warnings", "")).split(" | ")))
    for warning in quality:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output:
        write_result(result, args.output)
    if args.plot:
        from hjdsl.plot.fit import plot_fit

        plot_fit(result, model, args.plot)
    if args.json:  # stdout is the JSON alone
        from hjdsl.commands.json_output import dumps, fit_summary, warning

        warnings = [w.to_json() for w in model.warnings] + [warning(w) for w in quality]
        print(dumps(fit_summary(root, warnings=warnings,
                                outputs={"result": args.output, "plot": args.plot})))
    elif not args.quiet:
        print(summary_table(root))
        for path in filter(None, (args.output, args.plot)):
            print(f"wrote {path}")
    return 0


def summary_table(root) -> str:
    """The rows a user reads after a fit, as aligned text."""
    a = root.attrs
    rows = [("model", a.get("model", "")), ("method", a["method"]), ("eps", _num(a["eps"])),
            ("data", f"{a.get('data_source', '')} ({a['n_data']} points, {a['n_train']} for training)")]
    if "final_loss" in a and np.isfinite(a["final_loss"]):
        rows.append(("final loss", _num(a["final_loss"])))
    rows.append(("fit error (MSE, train)", _num(a["fit_mse"])))
    if "fit_rmse" in a:
        against = [f"data noise ≈ {_num(a['noise_level'])}"]
        if "likelihood_sd" in a:
            against.append(f"likelihood sd {_num(a['likelihood_sd'])}")
        rows.append(("fit error (RMSE, train)", f"{_num(a['fit_rmse'])} ({', '.join(against)})"))
    if "heldout_mse" in a:
        rows.append(("held-out error (MSE)", _num(a["heldout_mse"])))
    if "deviation" in a:
        rows.append(("influence-weighted deviation", _num(a["deviation"])))
    for name in ("sigma", "nu", "eps"):
        if f"{name}_hat" in root:
            rows.append((f"{name} (fitted)", _num(float(root[f"{name}_hat"]))))
    if "max_r_hat" in a:
        # ArviZ's estimators (az.rhat, az.ess bulk / tail); older results hold only min_ess
        tail = f", {a['min_ess_tail']:.0f}" if "min_ess_tail" in a else ""
        rows += [("max r_hat (ArviZ)", f"{a['max_r_hat']:.4f}"),
                 ("min ess_bulk, ess_tail" if tail else "min ess", f"{a['min_ess']:.0f}{tail}"),
                 ("divergences", str(a["divergences"]))]
    if "status" in a:
        rows += [("solver", f"{a.get('solver', '')} ({a['status']})"),
                 ("formulation", str(a.get("formulation", "")))]
        rows += [(k.replace("certificate_", ""), _num(v)) for k, v in a.items()
                 if k.startswith("certificate_")]
    if "atoms_used" in a:
        rows.append(("atoms used", f"{a['atoms_used']} distinct of {len(root['g_hat'])} "
                     f"({a['collapsed_atoms']} collapsed, {a['uninfluential_atoms']} without "
                     "influence)"))
    g = root["g_hat"].values
    rows.append(("g_hat", f"{len(g)} atoms, min {g.min():.4g}, mean {g.mean():.4g}, "
                          f"max {g.max():.4g}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _num(v) -> str:
    try:
        return f"{float(v):.6g}"
    except (TypeError, ValueError):
        return str(v)
