"""`hjdsl bifurcate`: critical points of the entropy landscape continued in ε, with fold events."""

from __future__ import annotations

import re

from hjdsl.commands.common import (add_output_args, check_outputs, load_fit, load_model,
                                   number_arg, parse_floats)

HELP = "critical points of the entropy landscape x -> Ent(pi(x; eps)) continued in eps"
DESCRIPTION = """\
Finds every critical point of x -> Ent(pi(x; eps)) in the box [LO, HI]^d (Newton on the autodiff
gradient from deterministic seeds, classified by the Hessian's Morse index), continues them along
the eps levels, and reports where the counts change: folds (a pair of adjacent index merges or is
born), points leaving or entering the box. Event eps are refined by bisection to --tol (1e-3;
at least 1e-12 x the largest eps). At most 10,000 levels; the critical-point search's memory is
checked against HJDSL_MAX_MEMORY (default 4GiB) before it starts.

examples:
  hjdsl bifurcate examples/paper/two_clusters.hj --box=-3,3 --eps-range 0.05,0.6,56
  hjdsl bifurcate examples/abs_1d.hj --eps-range 0.05,1,40 -o bif.nc --plot bif.png

A negative bound is fine: `--box -3,3` (or `--box=-3,3`).
"""


# argparse takes `-0.5,0.8` for an unknown flag; let number lists with a leading minus through
# (the parser has no option that looks like a number, so nothing is shadowed).
NUMBER_LIST = re.compile(r"^-[0-9.][0-9.,eE+-]*$")


def configure(p) -> None:
    p._negative_number_matcher = NUMBER_LIST
    p.add_argument("file", metavar="FILE", help="the .hj spec (- for stdin)")
    p.add_argument("--eps-range", type=lambda s: parse_floats(s, "--eps-range"), metavar="LO,HI[,N]",
                   help="eps levels linspace(LO, HI, N) (default eps*/4 .. 4 eps*, 41 levels)")
    p.add_argument("--box", type=lambda s: parse_floats(s, "--box"), metavar="LO,HI",
                   help="analysis box [LO, HI]^d (default: the atoms' range widened by half)")
    p.add_argument("--fit", metavar="FIT.nc", help="use fitted atoms y_hat, g_hat from a solve result")
    p.add_argument("--tol", type=number_arg("--tol"), default=1e-3,
                   help="bisection tolerance in eps (1e-3; at least 1e-12 x the largest eps)")
    p.add_argument("--snapshots", metavar="OUT.png",
                   help="landscape snapshots with critical points (d = 1 or 2)")
    add_output_args(p)


def run(args) -> int:
    from hjdsl.analysis.bifurcation import bifurcate, format_report

    check_outputs(args, "snapshots")
    model = load_model(args.file, args.set)
    if args.fit:
        model = load_fit(model, args.fit)
    if args.snapshots:  # refused now rather than after the whole analysis
        from hjdsl.plot.analysis import _need_low_dim

        _need_low_dim(model.dim, "landscape")
    box = None if args.box is None else tuple(args.box)
    _warn_if_long(model, args.eps_range)
    ds = bifurcate(model, eps_range=args.eps_range, box=box, tol=args.tol, quiet=args.quiet)
    if not args.quiet:
        print(format_report(ds))
    if args.output:
        from hjdsl.output import write_dataset

        write_dataset(ds, args.output)
    if args.plot:
        from hjdsl.plot.analysis import plot_bifurcation

        plot_bifurcation(ds, args.plot)
    if args.snapshots:
        from hjdsl.plot.analysis import plot_snapshots

        plot_snapshots(model, ds, args.snapshots)
    return 0


LONG_RUN_SECONDS = 120  # warn past this (never refuse: the estimate is rough, a long run legitimate)


def _warn_if_long(model, eps_range) -> None:
    import sys

    from hjdsl.analysis.bifurcation import bifurcate_seconds, eps_levels

    levels = eps_levels(model, eps_range).size
    seconds = bifurcate_seconds(model.n_atoms, model.dim, levels)
    if seconds > LONG_RUN_SECONDS:
        print(f"warning: this bifurcate ({levels:,} ε levels, {model.n_atoms:,} atoms, d = "
              f"{model.dim}) will take roughly {seconds / 60:.0f} minutes; fewer levels (N in "
              "--eps-range LO,HI,N) make it shorter", file=sys.stderr)
