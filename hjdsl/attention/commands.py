"""`hjdsl compare` and `hjdsl attribute` on an attention spec (their verbs dispatch here)."""

from __future__ import annotations

import sys

from hjdsl.errors import Diagnostic, UsageError


def _refuse(args, options: dict) -> None:
    """A usage error for an option that has no meaning for attention heads."""
    for attr, why in options.items():
        if getattr(args, attr, None):
            flag = "--" + attr.replace("_", "-")
            raise UsageError((Diagnostic("error", f"{flag} does not apply to an attention spec: "
                                         f"{why}", code="U072"),))


def run_compare(model, args) -> int:
    """The per-head diagram table (or --json), the Dataset with -o; exit 1 if an exact row fails."""
    from hjdsl.attention.report import diagram_rows, render
    from hjdsl.output import write_outputs
    from hjdsl.views.report import failures

    _refuse(args, {"fit": "its keys come from the spec, not from a fit"})
    _warn_if_long(model, args)
    ds = model.compare(eps=args.eps, audit=args.audit)
    rows = diagram_rows(ds)
    talk = not (args.quiet or args.json)
    if talk:
        print(render(ds, rows))
    from hjdsl.attention.plot import plot_heads

    write_outputs(args, ds, talk, plot=plot_heads)
    failed = failures([r for _, r in rows])
    if args.json:
        from hjdsl.commands.json_output import dumps

        print(dumps({
            "model": {"name": model.name, "kind": "attention", "heads": ds.sizes["head"],
                      "queries": ds.sizes["query"], "keys": ds.sizes["key"],
                      "d_k": ds.sizes["dim"], "d_v": ds.sizes["value_dim"], "t": model.t,
                      "causal": bool(model.heads.causal)},
            "eps": ds["eps"].values,
            "rows": [{"head": a, "eps": r.eps, "arrow": r.arrow, "kind": r.kind, "value": r.value,
                      "bound": r.bound, "status": r.status, "detail": r.detail,
                      "fails_run": r.fails_run} for a, r in rows],
            "all_exact_hold": not failed,
            "failures": [{"head": a, "eps": r.eps, "arrow": r.arrow, "reason": r.reason}
                         for a, r in rows if r.fails_run],
            "warnings": [w.to_json() for w in model.warnings],
            "outputs": {"dataset": args.output, "plot": args.plot}}))
    for a, r in ((a, r) for a, r in rows if r.fails_run):
        print(f"error: head {a}: {r.arrow} fails at eps = {r.eps:g}: {r.reason}", file=sys.stderr)
    return 1 if failed else 0


SECONDS_PER_SOLVE = 0.02  # one entropic program of a few dozen keys (Clarabel, measured)
LONG_RUN_SECONDS = 120


def _warn_if_long(model, args) -> None:
    """Say before a compare that will take minutes (its convex solves) how to shorten it."""
    from hjdsl.attention.views import check_audit, check_eps

    h = model.heads
    solves = h.n_heads * check_eps(model, args.eps).size * check_audit(args.audit, h.n_queries)
    if solves * SECONDS_PER_SOLVE > LONG_RUN_SECONDS:
        print(f"warning: this compare solves {solves:,} convex programs ({h.n_heads} heads × "
              f"ε values × audited queries): roughly {solves * SECONDS_PER_SOLVE / 60:.0f} "
              "minutes; --audit 0 or a smaller --audit makes it shorter", file=sys.stderr)


def run_attribute(model, args) -> int:
    """Per-head entropy and regime (table or --json), the Dataset with -o."""
    import json

    from hjdsl.attention.attribution import format_table, to_json

    _refuse(args, {"at": "the query points are the heads' queries",
                   "fit": "its keys come from the spec, not from a fit",
                   "robustness": "the curvature sweep is for atom specs",
                   "robustness_plot": "the curvature sweep is for atom specs"})
    ds = model.attribute(eps=args.eps, top=args.top)
    if args.json:
        print(json.dumps(to_json(ds), indent=2))
    elif not args.quiet:
        print(format_table(ds))
    if args.output:
        from hjdsl.output import write_dataset

        write_dataset(ds, args.output)
    if args.plot:
        from hjdsl.attention.plot import plot_heads

        plot_heads(ds, args.plot)
    return 0
