"""`hjdsl study FILE`: run a study's configurations on dask, store each, fit the exponents."""

from __future__ import annotations

from hjdsl.commands.common import add_output_args, check_outputs, number_arg

HELP = "run a scaling-law / generalisation-rate study (a sweep of fits) on dask"
DESCRIPTION = """\
Runs every configuration of the spec's `study` block as a dask.distributed task: a
LocalCluster with one single-threaded worker process per core by default, --workers K
processes, or an existing cluster with --scheduler tcp://HOST:PORT. --workers 1 runs the
tasks in this process. With -o OUT.nc each finished configuration is stored at once in
OUT.nc.parts/; a run that is killed and started again computes only what is missing and
gives the same result. Prints the losses per swept value and the fitted exponents with
their 95 % bootstrap CIs next to the theory slope.

examples:
  hjdsl study examples/studies/quadrature_d1.hj --workers 1
  hjdsl study examples/studies/trained_d1.hj -o d1.nc --plot d1.png
  hjdsl study examples/studies/trained_d1.hj -o d1.nc --workers 2
  dask scheduler --port 8786 &  dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 &
  hjdsl study examples/studies/trained_d1.hj --scheduler tcp://127.0.0.1:8786 -o d1.nc

exit codes: 0 success, 1 a fit failed or the scheduler is unreachable, 2 invalid input.
"""


def configure(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .hj spec with a `study` block (- for stdin)")
    add_output_args(p)
    p.add_argument("--workers", type=number_arg("--workers", low=1, inclusive=True, integer=True),
                   metavar="K", help="worker processes of the local cluster (default: one per "
                                     "core; 1 runs in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing dask cluster, e.g. tcp://127.0.0.1:8786")


def run(args) -> int:
    import sys

    from hjdsl.commands.common import print_warnings
    from hjdsl.errors import UsageError
    from hjdsl.frontend.driver import load, parse
    from hjdsl.study.report import format_report
    from hjdsl.study.runner import default_store, verify_workers
    from hjdsl.study.spec import Study

    check_outputs(args)
    verify_workers(args.workers, args.scheduler)
    study = parse(sys.stdin.read(), name="<stdin>", overrides=args.set) if args.file == "-" \
        else load(args.file, args.set)
    print_warnings(study)
    if not isinstance(study, Study):
        raise UsageError.single(f"{args.file} declares no study", code="U303",
                                hint="add a `study NAME { ... }` block (docs/studies.md), or "
                                     "use `hjdsl solve` for one fit")
    ds = study.run(workers=args.workers, scheduler=args.scheduler,
                   store=default_store(args.output), quiet=args.quiet)
    if not args.quiet:
        print(format_report(ds))
    if args.output:
        from hjdsl.output import write_dataset

        write_dataset(ds, args.output)
    if args.plot:
        from hjdsl.study.plot import plot_study

        plot_study(ds, args.plot)
    return 0
