"""`hjdsl study FILE…`: run studies' configurations on dask, store each, fit the exponents."""

from __future__ import annotations

from pathlib import Path

from hjdsl.commands.common import add_output_args, check_outputs, number_arg

HELP = "run a scaling-law / generalisation-rate study (a sweep of fits) on dask"
DESCRIPTION = """\
Runs every configuration of the spec's `study` block as a dask.distributed task: a
LocalCluster with one single-threaded worker process per core by default, --workers K
processes, or an existing cluster with --scheduler tcp://HOST:PORT. --workers 1 runs the
tasks in this process. A large configuration's seeds are split over several tasks and the
longest tasks start first. With -o OUT.nc each finished task is stored at once in
OUT.nc.parts/; a run that is killed and started again computes only what is missing and
gives the same result. Prints the losses per swept value and the fitted exponents with
their 95 % bootstrap CIs next to the theory slope.

Several FILEs share one cluster (no worker idles between two tables); then -o and --plot
name one file per spec through {name}, the spec's file name without .hj.

examples:
  hjdsl study examples/studies/quadrature_d1.hj --workers 1
  hjdsl study examples/studies/trained_d1.hj -o d1.nc --plot d1.png
  hjdsl study examples/studies/trained_d1.hj -o d1.nc --workers 2
  hjdsl study examples/studies/trained_d*.hj -o 'paper/{name}.nc' --workers 2
  dask scheduler --port 8786 &  dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 &
  hjdsl study examples/studies/trained_d1.hj --scheduler tcp://127.0.0.1:8786 -o d1.nc

exit codes: 0 success, 1 a fit failed or the scheduler is unreachable, 2 invalid input.
"""


def configure(p) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="a .hj spec with a `study` block (- for stdin); several share a cluster")
    add_output_args(p)
    p.add_argument("--workers", type=number_arg("--workers", low=1, inclusive=True, integer=True),
                   metavar="K", help="worker processes of the local cluster (default: one per "
                                     "core; 1 runs in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing dask cluster, e.g. tcp://127.0.0.1:8786")


def run(args) -> int:
    from hjdsl.commands.common import print_warnings
    from hjdsl.study.report import format_report
    from hjdsl.study.runner import default_store, run_studies, verify_workers

    verify_workers(args.workers, args.scheduler)
    names = per_file_paths(args)
    studies = []
    for file, (output, plot) in zip(args.files, names):
        check_outputs(_Paths(output, plot))
        studies.append(load_study(file, args.set))
        print_warnings(studies[-1])
    jobs = [(s, default_store(output)) for s, (output, _) in zip(studies, names)]
    results = run_studies(jobs, workers=args.workers, scheduler=args.scheduler, quiet=args.quiet)
    for ds, (output, plot) in zip(results, names):
        if not args.quiet:
            print(format_report(ds))
        if output:
            from hjdsl.output import write_dataset

            write_dataset(ds, output)
        if plot:
            from hjdsl.study.plot import plot_study

            plot_study(ds, plot)
    return 0


class _Paths:
    """What check_outputs reads (args.output, args.plot) for one spec's own paths."""

    def __init__(self, output, plot):
        self.output, self.plot = output, plot


def per_file_paths(args) -> list[tuple]:
    """(output, plot) per FILE: as given for one FILE; for several, {name} filled in."""
    from hjdsl.errors import UsageError

    files = args.files
    if len(files) == 1:
        return [(args.output, args.plot)]
    if "-" in files:
        raise UsageError.single("stdin (-) is one spec: give several FILEs as paths",
                                code="U304")
    stems = [Path(f).stem for f in files]
    if len(set(stems)) < len(stems):
        raise UsageError.single("two FILEs have the same name " + ", ".join(
            sorted({s for s in stems if stems.count(s) > 1})) + ": {name} would not tell their "
            "outputs apart", code="U304", hint="rename one, or run them one at a time")
    for flag, value in (("-o", args.output), ("--plot", args.plot)):
        if value and "{name}" not in value:
            raise UsageError.single(f"{flag} {value} names one file for {len(files)} specs",
                                    code="U304", hint=f"put {{name}} in it, e.g. "
                                    f"{flag} 'out/{{name}}{Path(value).suffix or '.nc'}'")

    def fill(value, stem):
        return value.replace("{name}", stem) if value else value
    return [(fill(args.output, s), fill(args.plot, s)) for s in stems]


def load_study(file, overrides):
    """The Study of FILE (- for stdin); UsageError when it declares none."""
    import sys

    from hjdsl.errors import UsageError
    from hjdsl.frontend.driver import load, parse
    from hjdsl.study.spec import Study

    study = parse(sys.stdin.read(), name="<stdin>", overrides=overrides) if file == "-" \
        else load(file, overrides)
    if not isinstance(study, Study):
        raise UsageError.single(f"{file} declares no study", code="U303",
                                hint="add a `study NAME { ... }` block (docs/studies.md), or "
                                     "use `hjdsl solve` for one fit")
    return study
