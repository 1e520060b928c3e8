"""Run a study's configurations as dask.distributed tasks, storing each as it completes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from hjdsl.errors import UsageError, run_error

# One JAX / BLAS thread per worker process: workers are one per core, so threaded kernels
# inside each would oversubscribe the machine (and make runs slower, not faster).
PINNED_THREADS = {
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
}
# A task whose worker dies (killed, out of memory) is rerun on another worker this many times.
RETRIES = 2


def run_study(study, *, workers=None, scheduler=None, store=None, quiet=True):
    """Fit every configuration not already in `store`, then build the result Dataset.

    workers = 1 (and no scheduler) runs the tasks in this process, in order; otherwise a
    LocalCluster of `workers` processes (default: one per core) or the cluster at `scheduler`
    (tcp://HOST:PORT). Each finished configuration is written to `store` (a folder) at once,
    so a killed run that is started again computes only what is missing.
    """
    from hjdsl.progress import progress
    from hjdsl.study.results import build_result
    from hjdsl.study.store import read_task, write_task

    configs = study.configurations()
    results = {}
    if store is not None:
        for c in configs:
            found = read_task(store, study, c)
            if found is not None:
                results[c.key] = found
    missing = [c for c in configs if c.key not in results]

    def finished(config, arrays):
        results[config.key] = arrays
        if store is not None:
            write_task(store, study, config, arrays)

    with progress(f"study {study.name}", len(configs), enabled=not quiet) as advance:
        advance(len(configs) - len(missing))
        if missing and workers == 1 and scheduler is None:
            _run_here(study, missing, finished, advance)
        elif missing:
            _run_on_dask(study, missing, finished, advance, workers, scheduler)
    return build_result(study, configs, results, resumed=len(configs) - len(missing))


def _run_here(study, configs, finished, advance):
    from hjdsl.study.task import run_config

    for c in configs:
        finished(c, run_config(study, c))
        advance()


def _run_on_dask(study, configs, finished, advance, workers, scheduler):
    from distributed import as_completed

    from hjdsl.study.task import run_config

    with _client(workers, scheduler) as client:
        futures = {client.submit(run_config, study, c, key=f"hjdsl-{study.fingerprint}-{c.key}",
                                 retries=RETRIES, pure=False): c for c in configs}
        for future in as_completed(futures):
            config = futures[future]
            finished(config, future.result())
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
    n = workers or os.cpu_count() or 1
    with _pinned_environment():
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=50)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def _pinned_environment():
    """PINNED_THREADS in os.environ while the worker processes start (they inherit it)."""
    saved = {k: os.environ.get(k) for k in PINNED_THREADS}
    os.environ.update(PINNED_THREADS)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def default_store(output) -> Path | None:
    """The task folder next to OUT.nc: OUT.nc.parts (None without an output file)."""
    return None if output is None else Path(str(output) + ".parts")


def verify_workers(workers, scheduler) -> None:
    if workers is not None and scheduler is not None:
        raise UsageError.single("--workers and --scheduler exclude each other: an existing "
                                "cluster has its own workers", code="U301")
