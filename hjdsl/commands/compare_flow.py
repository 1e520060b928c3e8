"""`hjdsl compare` for a residual or recurrent network spec: the PMP report and its Dataset."""

from __future__ import annotations

import json
import sys

from hjdsl.errors import UsageError

# compare's options for atom models, and why a flow spec has no use for them
NOT_FOR_FLOWS = {
    "eps": "--eps sweeps the atoms' viscosity; a network's cell sets its own (`eps =` on its line)",
    "audit": "--audit picks points for the convex view, which a network spec does not have",
    "fit": "--fit reads fitted atoms; fit a network with `learn = STEPS` on its line",
    "plot": "--plot draws the four views of an atom model; use -o and plot the Dataset",
}


def run_flow(model, args) -> int:
    """Print the report (or JSON), write the Dataset; exit 1 if an exact identity fails."""
    from hjdsl.networks.flow_report import flow_rows, render
    from hjdsl.output import write_outputs

    for option, why in NOT_FOR_FLOWS.items():
        if getattr(args, option, None) not in (None, False):
            raise UsageError.single(f"--{option} does not apply to a {model.kind} network "
                                    f"spec: {why}", code="U090")
    as_json = bool(getattr(args, "json", False))
    ds = model.compare(quiet=args.quiet or as_json)
    rows = flow_rows(ds)
    talk = not (args.quiet or as_json)
    if talk:
        print(render(ds, rows))
    write_outputs(args, ds, talk)
    if as_json:
        print(json.dumps({
            "model": model.name, "network": model.kind, "cell": model.cell_name,
            "steps": model.steps, "h": model.h, "rows": [r.to_json() for r in rows],
            "costate_error_per_step": [None if v != v else float(v)
                                       for v in ds.costate_error.values],
            "all_exact_hold": not any(r.fails_run for r in rows),
            "warnings": [w.to_json() for w in model.warnings],
            "outputs": {"dataset": args.output},
        }, indent=2))
    failed = [r for r in rows if r.fails_run]
    for r in failed:
        print(f"error: {r.check} fails: {r.value:.3e} > {r.bound:.3e}", file=sys.stderr)
    return 1 if failed else 0
