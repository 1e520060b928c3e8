"""`hjdsl compare`: the four views side by side, the diagram report, the Dataset and a figure."""

from __future__ import annotations

import sys

from hjdsl.commands.common import add_output_args, check_outputs, eps_arg, load_model

HELP = "evaluate the four views for every ε and report where they agree"
DESCRIPTION = """\
Evaluate the network (LSE layer), tropical (ε = 0), viscous PDE (Hopf–Cole, autodiff residual,
grid solver) and convex views of a model at its evaluation points for every ε, and print the
largest discrepancy along each arrow of the diagram with PASS/FAIL against stated tolerances.

Exit 1 if a relation that is exact for this Hamiltonian fails; structural (non-exact) views are
labelled and never fail the run.

Before any work the whole run's memory (Gibbs weights and convex weights, ε × points × atoms;
per-ε arrays; the views' workspaces; the grid solver) is compared with the budget
(HJDSL_MAX_MEMORY, default 4GiB): over it, compare refuses and says by how much. A run that
will take minutes is only warned about (the estimate is rough and a long run is legitimate).

--fit takes a `hjdsl solve` result: atoms of another dimension or count are refused; a fit whose
spec hash differs (the spec was edited, perhaps only a comment, or is another spec) is used with
a warning that names what differs (model name, Hamiltonian, t).

examples:
  hjdsl compare examples/quickstart.hj
  hjdsl compare examples/paper/four_atoms.hj --eps 1,0.1,0 --plot views.png -o views.nc
  hjdsl compare model.hj --fit fit.nc --audit all
  hjdsl compare examples/networks/resnet.hj    a residual net: co-state = backprop, ODE order
  hjdsl compare examples/networks/stack_3layer.hj    a stack of LSE layers: per-layer identity, stack bound
  hjdsl compare examples/quickstart.hj --json > report.json
  hjdsl compare examples/attention/digits_attention.hj    attention heads: the diagram per head
  hjdsl compare model.hj --prune-delta 1e-12      # or --exact-dense: no pruning

With a quadratic H and many atoms, the network and Hopf–Cole views evaluate at each point only
the atoms whose cost is within eps*log(N/DELTA) of the cheapest, where a cost model finds that
faster (small eps); the Dataset reports the certified bound per (eps, point): prune_neglected,
prune_value_bound, prune_support, and the attribute `pruning`.

--json prints the report as JSON on stdout instead of the table (also with -q): the model, the
ε values, every row of the table (eps, arrow, kind, value, bound, status, detail, fails_run),
all_exact_hold, the failures, warnings and the files written. NaN (no value, `-` in the table)
is null and an infinite value is the string "inf". Warnings and errors still go to stderr too;
the exit code is the same as without --json.
"""


def configure(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .hj spec (`-` reads standard input)")
    p.add_argument("--eps", type=eps_arg, metavar="LIST",
                   help="comma-separated ε values (default: the spec's sweep)")
    p.add_argument("--audit", metavar="N|all", default=None,
                   help="how many points the convex view solves (default: a small subset; "
                        "0 skips it; `all` solves every point)")
    p.add_argument("--fit", metavar="FIT.nc",
                   help="use fitted initial data (y_hat, g_hat) from a `hjdsl solve` result")
    p.add_argument("--no-grid", action="store_true", help="skip the finite-difference solver")
    p.add_argument("--prune-delta", type=float, metavar="DELTA", default=None,
                   help="certified pruning of atoms (quadratic H): neglect at most Gibbs mass "
                        "DELTA relative to the top atom, so |error| <= eps*DELTA on the values "
                        "and <= DELTA on each weight (default 1e-17, below round-off)")
    p.add_argument("--exact-dense", action="store_true",
                   help="evaluate every atom at every point (no pruning)")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON on stdout instead of the table")
    add_output_args(p)


def run(args) -> int:
    from hjdsl.output import write_outputs
    from hjdsl.views.report import diagram_rows, failures, render_table

    check_outputs(args)
    model = load_model(args.file, args.set)
    from hjdsl.networks.flow import FlowModel

    if isinstance(model, FlowModel):  # a residual or recurrent network: the PMP checks
        from hjdsl.commands.compare_flow import run_flow

        return run_flow(model, args)
    if getattr(model, "heads", None) is not None:  # an attention spec: views per head
        from hjdsl.attention.commands import run_compare

        return run_compare(model, args)
    if getattr(model, "kind", None) == "stack":  # a stack of LSE layers: its own rows
        from hjdsl.networks.stack_command import compare_command

        return compare_command(args, model)
    warnings = [w.to_json() for w in model.warnings]  # load_model printed them to stderr
    if args.fit:
        model, fit_warnings = _load_fit(model, args.fit)
        warnings += fit_warnings
    warnings += _warn_if_long(model, args)
    ds = model.compare(eps=args.eps, audit=args.audit, grid=not args.no_grid,
                       quiet=args.quiet or bool(getattr(args, "json", False)),
                       prune_delta=args.prune_delta, exact_dense=args.exact_dense)
    if args.fit:
        ds.attrs["fit_file"] = str(args.fit)
    rows = diagram_rows(ds)
    talk = not (args.quiet or args.json)  # with --json, stdout is the JSON alone
    if talk:
        print(render_table(ds, rows))
    from hjdsl.plot.views import plot_views

    write_outputs(args, ds, talk, plot=plot_views)
    if args.json:
        from hjdsl.commands.json_output import compare_summary, dumps

        print(dumps(compare_summary(ds, rows, warnings=warnings,
                                    outputs={"dataset": args.output, "plot": args.plot})))
    failed = failures(rows)
    if failed:
        for row in failed:
            print(f"error: {row.arrow} fails at eps = {row.eps:g}: {row.reason}", file=sys.stderr)
        return 1
    return 0


def _load_fit(model, path: str):
    """load_fit, also returning its provenance warnings as JSON entries (for --json)."""
    from hjdsl.errors import Diagnostic
    from hjdsl.views.compare import fitted_model

    model, messages = fitted_model(model, path)
    diagnostics = [Diagnostic("warning", message, code="W101") for message in messages]
    for d in diagnostics:
        print(d.render(), file=sys.stderr)
    return model, [d.to_json() for d in diagnostics]


LONG_RUN_SECONDS = 120  # warn (never refuse: a long run is legitimate, and the guess varies) past this


def _warn_if_long(model, args) -> list[dict]:
    """Say before a run that will take minutes how long, roughly, and how to shorten it.

    Returns the warning as JSON entries (none for a short run), for --json.
    """
    from hjdsl.commands.json_output import warning
    from hjdsl.views.compare import check_audit, check_eps, check_memory, check_points, work_estimate

    eps, x = check_eps(model, args.eps), check_points(model, None)
    audit = check_audit(args.audit, x.shape[0])
    check_memory(model, eps.size, x.shape[0], audit, not args.no_grid)  # refuse before warning
    seconds = work_estimate(model, eps.size, x.shape[0], audit, not args.no_grid)
    if seconds <= LONG_RUN_SECONDS:
        return []
    message = (f"this compare ({eps.size:,} ε × {x.shape[0]:,} points × {model.n_atoms:,} "
               f"atoms) will take roughly {seconds / 60:.0f} minutes (convex audit and grid solver); "
               "--audit 0, --no-grid or fewer ε values make it shorter")
    print(f"warning: {message}", file=sys.stderr)
    return [warning(message)]
