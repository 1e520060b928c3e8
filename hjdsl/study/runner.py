"""Run a study's configurations as dask.distributed tasks, storing each as it completes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from hjdsl.errors import UsageError, run_error

# Each LocalCluster worker keeps to its own share of the cores (CPU affinity: study/pinning.py),
# so its XLA thread pool has that many threads and n workers do not oversubscribe the machine
# (HJDSL_PIN_CORES=0 lets them share). Measured before the malloc fix below: a d = 2, N = 500
# two-seed task took 49 s pinned, 92 s unpinned beside another worker.

# dask starts its worker processes with MALLOC_TRIM_THRESHOLD_=65536 (to hand freed memory
# back to the OS). Any fixed value switches off glibc's adaptive mmap threshold, so the
# buffers a training step frees and takes again are unmapped and mapped anew every time: on
# the d = 4, N = 500 task that made a step 5.3x slower (13 s -> 67 s for 600 steps). hjdsl's
# LocalCluster leaves the variable unset.
MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"

# A task whose worker dies (killed, out of memory) is rerun on another worker this many times.
RETRIES = 2


def run_study(study, *, workers=None, scheduler=None, store=None, quiet=True):
    """Fit every configuration not already in `store`, then build the result Dataset.

    workers = 1 (and no scheduler) runs the tasks in this process, in order; otherwise a
    LocalCluster of `workers` processes (default: one per core) or the cluster at `scheduler`
    (tcp://HOST:PORT). Each finished task is written to `store` (a folder) at once, so a
    killed run that is started again computes only what is missing.
    """
    return run_studies([(study, store)], workers=workers, scheduler=scheduler, quiet=quiet)[0]


def run_studies(jobs, *, workers=None, scheduler=None, quiet=True) -> list:
    """`run_study` for several (study, store) pairs on one cluster: every missing task of
    every study is queued at once, longest first, so no worker idles while another study's
    long configuration runs. One Dataset per pair, in order."""
    from hjdsl.progress import progress
    from hjdsl.study.plan import cost, merge, split
    from hjdsl.study.results import build_result
    from hjdsl.study.store import read_task, write_task

    plans, found, missing = [], [], []
    for i, (study, store) in enumerate(jobs):
        plan = {c.key: (c, split(study, c)) for c in study.configurations()}
        stored = {}
        for _, parts in plan.values():
            for t in parts:
                arrays = read_task(store, study, t) if store is not None else None
                if arrays is None:
                    missing.append((i, t))
                else:
                    stored[t.key] = arrays
        plans.append(plan)
        found.append(stored)
    missing.sort(key=lambda job_task: -cost(jobs[job_task[0]][0], job_task[1]))
    results = [dict(stored) for stored in found]

    def finished(i, t, arrays):
        results[i][t.key] = arrays
        study, store = jobs[i]
        if store is not None:
            write_task(store, study, t, arrays)

    total = sum(len(parts) for plan in plans for _, parts in plan.values())
    label = f"study {jobs[0][0].name}" if len(jobs) == 1 else f"{len(jobs)} studies"
    with progress(label, total, enabled=not quiet) as advance:
        advance(total - len(missing))
        if missing and workers == 1 and scheduler is None:
            _run_here(jobs, missing, finished, advance)
        elif missing:
            _run_on_dask(jobs, missing, finished, advance, workers, scheduler)
    out = []
    for (study, _), plan, stored, got in zip(jobs, plans, found, results):
        configs = [c for c, _ in plan.values()]
        merged = {c.key: merge(study, c, [got[t.key] for t in parts]) for c, parts in plan.values()}
        resumed = sum(all(t.key in stored for t in parts) for _, parts in plan.values())
        out.append(build_result(study, configs, merged, resumed=resumed))
    return out


def _run_here(jobs, tasks, finished, advance):
    from hjdsl.study.task import run_config

    for i, t in tasks:
        finished(i, t, run_config(jobs[i][0], t))
        advance()


def _run_on_dask(jobs, tasks, finished, advance, workers, scheduler):
    from distributed import as_completed

    from hjdsl.study.plan import cost
    from hjdsl.study.task import run_config

    with _client(workers, scheduler) as client:
        # priority: dask starts the highest first, so the longest tasks never form the tail
        futures = {client.submit(run_config, jobs[i][0], t, retries=RETRIES, pure=False,
                                 key=f"hjdsl-{i}-{jobs[i][0].fingerprint}-{t.key}",
                                 priority=cost(jobs[i][0], t)): (i, t) for i, t in tasks}
        for future in as_completed(futures):
            i, t = futures[future]
            finished(i, t, future.result())
            advance()


@contextlib.contextmanager
def _client(workers, scheduler):
    """A dask Client on the given scheduler, or on a LocalCluster closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise run_error(f"cannot reach the dask scheduler at {scheduler}: {exc}",
                            hint="start one with `dask scheduler` and workers with "
                                 "`dask worker ADDRESS`, or leave out --scheduler") from None
        with client:
            yield client
        return
    import dask

    n = workers or os.cpu_count() or 1
    # ":0": a free port for its HTTP server (with None it still binds 8787, and two
    # clusters on one machine, e.g. two studies or parallel tests, collide)
    with dask.config.set({MALLOC_TRIM: None}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=50)
    try:
        with Client(cluster) as client:
            if hasattr(os, "sched_setaffinity") and os.environ.get("HJDSL_PIN_CORES") != "0":
                from hjdsl.study.pinning import PinCores

                client.register_plugin(PinCores(n), name="hjdsl-pin-cores")
            yield client
    finally:
        cluster.close()


def default_store(output) -> Path | None:
    """The task folder next to OUT.nc: OUT.nc.parts (None without an output file)."""
    return None if output is None else Path(str(output) + ".parts")


def verify_workers(workers, scheduler) -> None:
    if workers is not None and scheduler is not None:
        raise UsageError.single("--workers and --scheduler exclude each other: an existing "
                                "cluster has its own workers", code="U301")
