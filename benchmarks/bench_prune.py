"""Certified pruning vs the dense network view: time ratios, supports and errors taken in one run.

Atoms uniform in [−2, 2]^d with g ~ U(0, 1), points uniform in the same box, one ε per call.
`dense` is the network view with --exact-dense (jit-compiled before timing), `pruned` the same
call with pruning on, its index built inside the timing (cache cleared). Usage:

    python benchmarks/bench_prune.py            # --quick: N ∈ {1e4, 1e5}, 2,000 points (< 1 min)
    python benchmarks/bench_prune.py --full     # adds N = 1e6 and uses 5,000 points
    python benchmarks/bench_prune.py --sizes 1e6 --points 5000 --eps 1e-3   # one slice
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def one_row(d: int, N: int, n: int, eps: float, seed: int = 0, repeat: int = 1) -> dict:
    """One table row; with `repeat` > 1 each path is timed that often, alternately, and the
    least time kept (on a loaded machine a single sub-second timing varies by 2×)."""
    from hjdsl.model.ir import Model
    from hjdsl.views.closed_form import prune_views
    from hjdsl.views.closed_form.lse import chunk_size
    from hjdsl.views.closed_form.network import network_view
    from hjdsl.views.closed_form.prune import Pruning

    rng = np.random.default_rng(seed)
    model = Model.from_atoms(rng.uniform(-2, 2, (N, d)), rng.uniform(0, 1, N))
    W, b = model.weights()
    x = rng.uniform(-2, 2, (n, d))
    e = np.array([eps])
    dense_opts = Pruning(dense=True)
    network_view(x[:min(n, chunk_size(N))], W, b, e, weights=False, pruning=dense_opts)  # compile
    dense_s, pruned_s = np.inf, np.inf
    def timed(opts):
        prune_views._INDEXES.clear()  # the index build is inside every pruned timing
        start = time.perf_counter()
        out = network_view(x, W, b, e, weights=False, pruning=opts)
        return out, time.perf_counter() - start

    for i in range(repeat):  # alternate which path runs first: the second one ran slower
        first, second = (dense_opts, None) if i % 2 == 0 else (None, dense_opts)
        (a, ta), (c, tc) = timed(first), timed(second)
        (dense, t_dense), (pruned, t_pruned) = ((a, ta), (c, tc)) if i % 2 == 0 else \
            ((c, tc), (a, ta))
        dense_s, pruned_s = min(dense_s, t_dense), min(pruned_s, t_pruned)
    support = pruned.get("support", np.full((1, n), N))[0]  # atoms certified (N where dense)
    path = "pruned" if pruned.get("pruned", [0])[0] else "dense"
    return {"d": d, "N": N, "eps": eps, "path": path,
            "support_median": float(np.median(support)) / N, "support_max": support.max() / N,
            "dense_s": dense_s, "pruned_s": pruned_s, "speedup": dense_s / pruned_s,
            "error": float(np.abs(pruned["f"] - dense["f"]).max()),
            "bound": float(pruned.get("value_bound", np.zeros(1)).max())}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default: N ∈ {1e4, 1e5}")
    parser.add_argument("--full", action="store_true", help="add N = 1e6, 5,000 points")
    parser.add_argument("--sizes", type=float, nargs="+", help="atom counts N (overrides)")
    parser.add_argument("--points", type=int, help="evaluation points n (overrides)")
    parser.add_argument("--eps", type=float, nargs="+", default=[1e-1, 1e-2, 1e-3])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--repeat", type=int, default=1, help="time each path this often, keep "
                                                              "the least (default 1)")
    args = parser.parse_args(argv)
    import scipy.spatial  # noqa: F401  (imported once per process, like jax: not in the timings)
    sizes, n = ((10_000, 100_000, 1_000_000), 5000) if args.full else ((10_000, 100_000), 2000)
    sizes = tuple(int(v) for v in args.sizes) if args.sizes else sizes
    n = args.points or n
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"{n:,} points; times in seconds, one run (least of {args.repeat})")
    print(f"{'d':>2} {'N':>9} {'eps':>6} {'path':>6} {'supp med':>9} {'supp max':>9} "
          f"{'dense':>7} {'pruned':>7} {'speedup':>8} {'max err':>9} {'bound':>9}")
    for N in sizes:
        for d in args.dims:
            for eps in args.eps:
                r = one_row(d, N, n, eps, repeat=args.repeat)
                print(f"{r['d']:>2} {r['N']:>9,} {r['eps']:>6g} {r['path']:>6} "
                      f"{r['support_median']:>9.2%} {r['support_max']:>9.2%} {r['dense_s']:>7.3f} "
                      f"{r['pruned_s']:>7.3f} {r['speedup']:>7.1f}x {r['error']:>9.1e} "
                      f"{r['bound']:>9.1e}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
