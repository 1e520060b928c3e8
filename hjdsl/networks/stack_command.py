"""`hjdsl compare` and `hjdsl attribute` on a stack spec: the stack's rows, Dataset and JSON."""

from __future__ import annotations

import sys

from hjdsl.errors import Diagnostic, UsageError

# compare's single-layer options, and why a stack does not take them
NOT_FOR_STACKS = {
    "eps": "--eps: each layer has its own eps (set it on the layer line)",
    "fit": "--fit: a stack is not fitted by hjdsl solve",
    "audit": "--audit: the convex view is per single-layer spec",
    "plot": "--plot: there is no stack figure yet (write the Dataset with -o and plot it)",
}


def _refuse_options(args) -> None:
    given = [why for key, why in NOT_FOR_STACKS.items() if getattr(args, key, None) not in
             (None, False)]
    if given:
        raise UsageError(tuple(Diagnostic("error", f"not applicable to a stack spec: {why}",
                                          code="U020") for why in given))


def compare_command(args, stack) -> int:
    """Print the stack's report (or its JSON), write the Dataset; exit 1 if an exact row fails."""
    from hjdsl.networks.stack_report import render_stack, stack_rows
    from hjdsl.output import write_outputs
    from hjdsl.views.report import failures

    _refuse_options(args)
    warnings = [w.to_json() for w in stack.warnings]
    ds = stack.compare(quiet=args.quiet or args.json)
    rows = stack_rows(ds, stack)
    talk = not (args.quiet or args.json)
    if talk:
        print(render_stack(ds, rows))
    write_outputs(args, ds, talk)
    if args.json:
        from hjdsl.commands.json_output import dumps

        print(dumps(summary(ds, rows, warnings, args.output)))
    failed = failures(rows)
    for row in failed:
        print(f"error: {row.arrow} fails: {row.reason}", file=sys.stderr)
    return 1 if failed else 0


def summary(ds, rows, warnings, output) -> dict:
    """The --json report of a stack compare (NaN → null, ±inf → "inf" via `portable`)."""
    from hjdsl.commands.json_output import portable
    from hjdsl.views.report import failures

    return portable({
        "model": ds.attrs.get("model", ""), "kind": "stack", "depth": ds.sizes["layer"],
        "layers": [{"name": str(n), "kind": str(k), "eps": float(e), "t": float(t),
                    "width": int(w), "atoms": int(a), "lipschitz": float(lip)}
                   for n, k, e, t, w, a, lip in zip(
                       ds.layer_name.values, ds.layer_kind.values, ds.layer_eps.values,
                       ds.layer_t.values, ds.layer_width.values, ds.layer_atoms.values,
                       ds.lipschitz.values)],
        "stack_bound": float(ds.stack_bound), "max_stack_gap": float(ds.stack_gap.max()),
        "training": ({k[len("train_"):]: ds.attrs[k] for k in ("train_points", "train_steps",
                      "train_lr", "train_loss_start", "train_loss_end")}
                     if "train_loss_end" in ds.attrs else None),
        "rows": [{"eps": r.eps, "arrow": r.arrow, "kind": r.kind, "value": r.value,
                  "bound": r.bound, "status": r.status, "detail": r.detail,
                  "fails_run": r.fails_run} for r in rows],
        "all_exact_hold": not failures(rows),
        "failures": [r.arrow for r in failures(rows)],
        "warnings": list(warnings), "outputs": {"dataset": output},
    })


def attribute_command(args, stack) -> int:
    """Readout Gibbs weights and curvature of a stack at --at points (default: the first
    evaluation points), as a table, JSON or a Dataset."""
    import numpy as np

    from hjdsl.networks.curvature import CURVATURE_POINTS
    from hjdsl.output import write_dataset

    refused = {"fit": NOT_FOR_STACKS["fit"], "eps": NOT_FOR_STACKS["eps"],
               "plot": NOT_FOR_STACKS["plot"], "robustness": "--robustness: the uniform "
               "curvature bounds are single-layer bounds", "robustness_plot": "--robustness-plot"}
    given = [why for key, why in refused.items() if getattr(args, key, None) not in (None, False)]
    if given:
        raise UsageError(tuple(Diagnostic("error", f"not applicable to a stack spec: {why}",
                                          code="U020") for why in given))
    at = np.stack(args.at) if args.at else stack.evaluate[:CURVATURE_POINTS]
    ds = stack.attribute(at)
    if args.json:
        from hjdsl.commands.json_output import dumps, portable

        print(dumps(portable({
            "model": stack.name, "kind": "stack", "depth": stack.depth,
            "readout_eps": stack.layers[-1].eps,
            "bound_max_norm": (float(ds.bound_max_norm) if "bound_max_norm" in ds
                               else ds.attrs["bound_max_norm"]),
            "points": [{"x": np.atleast_1d(ds.x.values[p]).tolist(),
                        "hessian": ds.hessian.values[p].tolist(),
                        "hessian_norm": float(ds.hessian_norm[p]),
                        "readout_weight": ds.readout_weight.values[p].tolist()}
                       for p in range(ds.sizes["point"])]})))
    elif not args.quiet:
        print(f"{stack.name}: stack of {stack.depth} layer(s), readout eps = "
              f"{stack.layers[-1].eps:g}; hessian f = E_pi[hessian z] + Cov_pi(grad z)/eps")
        for p in range(ds.sizes["point"]):
            x = ",".join(f"{v:.4g}" for v in np.atleast_1d(ds.x.values[p]))
            top = int(np.argmax(ds.readout_weight.values[p]))
            print(f"  x = {x:>12}: ||Hess f||_2 = {float(ds.hessian_norm[p]):9.4g}  "
                  f"(E_pi part {_norm(ds.hessian_expectation.values[p]):9.4g}, Cov/eps part "
                  f"{_norm(ds.hessian_covariance.values[p]):9.4g}); top readout atom {top} "
                  f"(pi = {float(ds.readout_weight[p, top]):.3f})")
        if "bound_max_norm" in ds:
            print(f"single-layer certificate max_j |W_j|^2/eps = {float(ds.bound_max_norm):.4g}")
        else:
            print(f"single-layer certificate: {ds.attrs['bound_max_norm']}")
    if args.output:
        write_dataset(ds, args.output)
    return 0


def _norm(matrix) -> float:
    import numpy as np

    return float(np.max(np.abs(np.linalg.eigvalsh(matrix))))
