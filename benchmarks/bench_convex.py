"""Benchmark the convex view: warm DPP re-solves vs the first; an ε × point sweep on 1 vs 2 cores.

Run: /tmp/venv/bin/python benchmarks/bench_convex.py [--atoms 100] [--points 200] [--eps 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def per_solve(n_atoms: int, repeats: int, rng) -> None:
    """First solve (canonicalisation included) vs warm re-solves vs rebuilding per point."""
    import cvxpy  # noqa: F401  (imported before timing: the first solve should not pay for it)

    from hjdsl.views.convex.simplex import SimplexPrograms

    SimplexPrograms(3).solve(np.zeros(3), np.ones(3, bool), 1.0)  # solver libraries warm
    # count full canonicalisations (cvxpy's reduction chain); warm re-solves must not add any
    from cvxpy.reductions.solvers.solving_chain import SolvingChain

    full_apply, compiles = SolvingChain.apply, []
    SolvingChain.apply = lambda self, *a, **k: compiles.append(1) or full_apply(self, *a, **k)
    costs = rng.uniform(0, 3, (repeats + 1, n_atoms))
    eps = 10 ** rng.uniform(-2, 0.5, repeats + 1)
    reach = np.ones(n_atoms, bool)
    t0, cpu0 = time.perf_counter(), time.process_time()
    progs = SimplexPrograms(n_atoms)
    progs.solve(costs[0], reach, eps[0])
    first, first_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    warm = []
    cpu0 = time.process_time()
    for c, e in zip(costs[1:], eps[1:]):
        t0 = time.perf_counter()
        progs.solve(c, reach, e)
        warm.append(time.perf_counter() - t0)
    cpu = (time.process_time() - cpu0) / repeats
    n_compiles = len(compiles)
    SolvingChain.apply = full_apply
    rebuilt = []
    for c, e in zip(costs[1:6], eps[1:6]):  # what a per-point rebuild would cost
        t0 = time.perf_counter()
        SimplexPrograms(n_atoms).solve(c, reach, e)
        rebuilt.append(time.perf_counter() - t0)
    med = float(np.median(warm))
    print(f"per solve, N = {n_atoms}: first solve (build + canonicalise) {first * 1e3:.1f} ms "
          f"(CPU {first_cpu * 1e3:.1f} ms); "
          f"warm re-solve median {med * 1e3:.2f} ms (p90 {np.quantile(warm, 0.9) * 1e3:.2f} ms, "
          f"{repeats} solves; CPU {cpu * 1e3:.2f} ms each); "
          f"rebuild per point {np.median(rebuilt) * 1e3:.1f} ms")
    print(f"  first / warm = {first / med:.1f}x, rebuild / warm = {np.median(rebuilt) / med:.1f}x; "
          f"warm cost of the last 10 vs first 10 re-solves: "
          f"{np.median(warm[-10:]) / np.median(warm[:10]):.2f}x; full canonicalisations for "
          f"{repeats + 1} solves: {n_compiles}")


def sweep(n_atoms: int, n_points: int, n_eps: int, rng) -> None:
    """convex_view on n_eps ε × n_points points with 1 worker, then 2 (cold and warm pool)."""
    from hjdsl.model.ir import Model
    from hjdsl.views.convex import pool as convex_pool
    from hjdsl.views.convex import convex_view

    y, g = rng.uniform(-2, 2, (n_atoms, 2)), rng.uniform(-1, 1, n_atoms)
    x = rng.uniform(-2.5, 2.5, (n_points, 2))
    eps = np.geomspace(0.01, 3.0, n_eps)
    model = Model.from_atoms(y, g, eps=eps, x=x)
    timings, results = {}, {}
    runs = (("1 worker", 1), ("2 workers, cold pool", 2), ("2 workers, warm pool", 2))
    for label, workers in runs:
        t0, cpu0 = time.perf_counter(), time.process_time()
        results[label] = convex_view(model, eps, x, audit=-1, workers=workers)
        timings[label] = time.perf_counter() - t0
        print(f"sweep {n_eps} ε × {n_points} points, N = {n_atoms}: {label}: "
              f"{timings[label]:.2f} s wall, {time.process_time() - cpu0:.2f} s CPU in this "
              f"process ({results[label].note}; load average {os.getloadavg()[0]:.1f})")
    serial, warm = results["1 worker"], results["2 workers, warm pool"]
    diff = np.nanmax(np.abs(serial.value - warm.value))
    serial_s, cold_s, warm_s = timings.values()
    print(f"  speed-up 2 workers vs 1: cold {serial_s / cold_s:.2f}x, "
          f"warm {serial_s / warm_s:.2f}x; "
          f"max |serial − pool| = {diff:.1e}; statuses: "
          f"{dict(zip(*np.unique(warm.status, return_counts=True)))}")
    convex_pool.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=100)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--eps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, python {platform.python_version()}")
    rng = np.random.default_rng(0)
    per_solve(args.atoms, args.repeats, rng)
    sweep(args.atoms, args.points, args.eps, rng)


if __name__ == "__main__":
    main()
