"""Speed of the closed-form views: hjdsl's chunked JAX kernel vs plain numpy vs the arithmetic floor.

    python benchmarks/bench_views.py [--points 100000] [--atoms 1000] [--dim 8] [--repeat 3]
                                     [--cli examples/quickstart.hj]

Prints the times (best of --repeat) and the ratios measured in this one run:
  numpy   the straightforward formula: logits over the full (points × atoms) matrix, max-shift,
          exp, row sum, log (what a user would write first);
  floor   one float64 matrix product of that shape plus one exp and one row sum (numpy);
  hjdsl   `network_view` (jitted, chunked, float64) for one ε, values only.
and, with --cli, the wall time of `hjdsl compare FILE` end to end split into import, JIT + views,
convex solves, grid solver and table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def numpy_formula(x, W, b, eps):
    z = (x @ W.T + b) / eps
    m = z.max(axis=1, keepdims=True)
    return eps * (m[:, 0] + np.log(np.exp(z - m).sum(axis=1)))


def floor(x, W):
    z = x @ W.T
    np.exp(z, out=z)
    return z.sum(axis=1)


def closed_form(args) -> None:
    from hjdsl.views.closed_form.network import chunk_size, network_view

    rng = np.random.default_rng(0)
    n, N, d = args.points, args.atoms, args.dim
    x = rng.normal(size=(n, d))
    W = rng.normal(size=(N, d)) / np.sqrt(d)
    b = rng.normal(size=N)
    eps = 0.1
    # accuracy first: the kernel and the numpy formula agree
    ours = network_view(x, W, b, [eps], weights=False)["f"][0]
    reference = numpy_formula(x[:2000], W, b, eps)
    err = np.abs(ours[:2000] - reference).max() / np.abs(reference).max()
    t_numpy = best_of(lambda: numpy_formula(x, W, b, eps), args.repeat)
    t_floor = best_of(lambda: floor(x, W), args.repeat)
    t_ours = best_of(lambda: network_view(x, W, b, [eps], weights=False), args.repeat)
    chunk = chunk_size(N)
    print(f"closed-form views: {n} points x {N} atoms x d = {d}, float64, one eps; "
          f"chunk {chunk} points ({chunk * N * 8 / 2**20:.0f} MiB of logits per chunk)")
    print(f"  numpy formula (full matrix) {t_numpy:7.3f} s")
    print(f"  floor (matmul + exp + sum)  {t_floor:7.3f} s")
    print(f"  hjdsl network_view          {t_ours:7.3f} s   (max rel. diff vs numpy {err:.1e})")
    print(f"  speed-up over numpy  {t_numpy / t_ours:5.2f}x   (target >= 2.5x)")
    print(f"  ratio to the floor   {t_ours / t_floor:5.2f}x   (target <= 1.3x)")


def cli(path: str) -> None:
    """Time `hjdsl compare FILE` end to end, and its stages in-process."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hjdsl", "compare", path, "-q"], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(f"hjdsl compare {path}: {wall:.2f} s end to end (exit {proc.returncode})")
    stages = ("import hjdsl, jax, xarray", "load spec", "closed-form views (incl. JIT)",
              "convex view", "grid solver", "Dataset + table")
    code = f"""
import time; t0 = time.perf_counter(); marks = []
import hjdsl, jax, xarray
from hjdsl.jaxsetup import jax_x64; jax_x64()
from hjdsl.views import compare as c
from hjdsl.views.report import diagram_rows, render_table
marks.append(time.perf_counter())
m = hjdsl.load({path!r}); marks.append(time.perf_counter())
eps, x = c.check_eps(m, None), c.check_points(m, None)
closed = c.closed_form(m, eps, x); marks.append(time.perf_counter())
convex = c.convex_part(m, eps, x, None); marks.append(time.perf_counter())
grid = c.grid_part(m, eps, x); marks.append(time.perf_counter())
ds = c.build_dataset(m, eps, x, closed, convex, grid); render_table(ds, diagram_rows(ds))
marks.append(time.perf_counter())
print(' '.join(f'{{b - a:.3f}}' for a, b in zip([t0] + marks, marks)))
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr)
        return
    for name, seconds in zip(stages, out.stdout.split()):
        print(f"  {name:<30} {float(seconds):6.2f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--atoms", type=int, default=1000)
    p.add_argument("--dim", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cli", metavar="FILE", default=None, help="also time `hjdsl compare FILE`")
    args = p.parse_args()
    closed_form(args)
    if args.cli:
        cli(args.cli)


if __name__ == "__main__":
    main()
