"""Run batches of convex solves in this process or spread over a pool of worker processes."""

from __future__ import annotations

import atexit
import hashlib
import multiprocessing
import os
import pickle
import sys
from contextlib import contextmanager

import numpy as np

# Below this many solves the batch runs in-process only. A worker must start an interpreter and
# import cvxpy (≈2 s of CPU here) before its first solve, while a warm re-solve costs ≈5 ms of CPU
# at N = 100 (benchmarks/bench_convex.py): a smaller batch would finish before a worker is ready.
SERIAL_BELOW = 600

_POOL = None
_POOL_WORKERS = 0
_PROGRAMS: dict[bytes, object] = {}  # per process: compiled programs, keyed by their spec


def default_workers() -> int:
    """Both cores of this machine (at most two: the solves are short, the pool is not free)."""
    return max(1, min(2, os.cpu_count() or 1))


def run(kind: str, spec, rows: dict[str, np.ndarray], workers: int,
        advance=None) -> tuple[dict, str]:
    """Solve every row of `rows` with `workers` processes (this one included).

    Returns the stacked outputs and a note on how they ran. kind "simplex": spec = (n_atoms,
    options), rows = costs (k,) (an object array: each row's support costs, convex_support.py),
    eps, rest, shift (k,); its output pi is an object array over each support. kind "hopf_lax":
    spec = (HopfLaxSpec, options), rows = x (k, d). The rows are cut into chunks; the pool takes
    chunks from the front while this process, which needs no start-up, takes them from the back.
    `advance(n)` hears of every n rows solved (a progress bar), whichever process solved them.
    """
    advance = advance or (lambda n=1: None)
    size = len(next(iter(rows.values())))
    if workers <= 1 or size < SERIAL_BELOW:
        out = work(kind, spec, rows)
        advance(size)
        return out, "in-process"
    bounds = np.linspace(0, size, 8 * workers + 1).astype(int)  # small chunks balance the split
    chunks = [{k: v[a:b] for k, v in rows.items()}
              for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    parts: list = [None] * len(chunks)
    try:
        with _main_module_hidden():  # worker processes start inside submit()
            pool = _pool(workers - 1)
            futures = [pool.submit(work, kind, spec, chunk) for chunk in chunks]
        for i in reversed(range(len(chunks))):
            if not futures[i].cancel():
                break  # the pool has this chunk and, taking them in order, all before it
            parts[i] = work(kind, spec, chunks[i])
            advance(len(next(iter(chunks[i].values()))))
        pooled = sum(part is None for part in parts)
        for i, future in enumerate(futures):
            if parts[i] is None:
                parts[i] = future.result()
                advance(len(next(iter(chunks[i].values()))))
    except Exception as exc:  # a broken pool must not lose the audit: solve here, and say so
        shutdown()
        note = f"worker pool failed ({type(exc).__name__}); solved in-process"
        out = work(kind, spec, rows)
        advance(size)
        return out, note
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return out, (f"{workers} processes: this one and {workers - 1} worker"
                 f"{'s' if workers > 2 else ''}, which solved {pooled} of {len(chunks)} chunks")


def work(kind: str, spec, rows: dict[str, np.ndarray]) -> dict:
    """Solve a chunk with this process's compiled program (built on first use)."""
    compiled = program(kind, spec)
    if kind == "simplex":
        records = [compiled.solve_support(c, float(e), float(r), float(s))
                   for c, e, r, s in zip(rows["costs"], rows["eps"], rows["rest"], rows["shift"])]
        pi = np.empty(len(records), dtype=object)
        pi[:] = [r.pi for r in records]
        return {
            "value": np.array([r.value for r in records], dtype=float),
            "pi": pi,
            "gap": np.array([r.gap for r in records], dtype=float),
            "status": np.array([r.status for r in records], dtype=object),
            "solver": np.array([r.solver for r in records], dtype=object),
        }
    solved = [compiled.solve(x) for x in rows["x"]]
    return {
        "value": np.array([s[0] for s in solved], dtype=float),
        "argmin": np.array([s[1] for s in solved], dtype=float).reshape(len(solved), -1),
        "status": np.array([s[2] for s in solved], dtype=object),
        "solver": np.array([s[3] for s in solved], dtype=object),
    }


def program(kind: str, spec):
    """This process's compiled program for (kind, spec), built on first use."""
    # a Hopf–Lax spec names its own identity (the Hamiltonian's caches excluded)
    ident = spec[0].cache_key() if hasattr(spec[0], "cache_key") else spec[0]
    key = hashlib.sha256(pickle.dumps((kind, ident, spec[1:]))).digest()
    if key not in _PROGRAMS:
        if len(_PROGRAMS) > 16:  # a long session with many models: keep memory bounded
            _PROGRAMS.clear()
        if kind == "simplex":
            from hjdsl.views.convex.simplex import SimplexPrograms

            _PROGRAMS[key] = SimplexPrograms(spec[0], spec[1])
        else:
            from hjdsl.views.convex.hopf_lax import HopfLaxProgram

            _PROGRAMS[key] = HopfLaxProgram(spec[0], spec[1])
    return _PROGRAMS[key]


def _pool(workers: int):
    """One pool per session, reused across calls (its workers keep their compiled programs).

    Workers come from a fork server (or are spawned), never forked from this process: JAX may
    already be running threads here, and fork() with live threads can deadlock.
    """
    global _POOL, _POOL_WORKERS
    from concurrent.futures import ProcessPoolExecutor

    if _POOL is not None and _POOL_WORKERS == workers:
        return _POOL
    shutdown()
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # the server imports cvxpy once; each worker forked from it then starts warm
        ctx.set_forkserver_preload(["cvxpy", "hjdsl.views.convex.simplex"])
    else:
        ctx = multiprocessing.get_context("spawn")
    _POOL, _POOL_WORKERS = ProcessPoolExecutor(max_workers=workers, mp_context=ctx), workers
    # release it while the interpreter is still whole (a pool collected during module teardown
    # prints an ignored AttributeError from concurrent.futures)
    atexit.unregister(shutdown)
    atexit.register(shutdown)
    return _POOL


@contextmanager
def _main_module_hidden():
    """Start workers without re-running the caller's script in them.

    multiprocessing imports the parent's __main__ (found by __file__ / __spec__) into every
    non-forked child, so a user script without an `if __name__ == "__main__"` guard would run
    again inside each worker. The workers only need hjdsl, so hide the script while they start.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def shutdown() -> None:
    """Stop the worker pool (it is also stopped at interpreter exit)."""
    global _POOL, _POOL_WORKERS
    if _POOL is not None:
        _POOL.shutdown(wait=True, cancel_futures=True)
    _POOL, _POOL_WORKERS = None, 0
