"""Speed of a study's task: its seeds vmapped in one jitted program against one program per seed.

    python benchmarks/bench_study.py [--quick | --full] [--repeat 3]

Prints the CPU-process time of one configuration (best of --repeat, after a warm-up that
compiles) and the ratio measured in this one run:
  vmapped  every seed in one jitted lax.scan (what `hjdsl study` runs);
  looped   one run per seed, each compiled once and reused (a Python loop over seeds);
and the CPU time of the d = 1 quadrature example through the in-process runner.
--quick (the default) is d = 1, N = 50, n = 1000, 300 steps, 5 seeds; --full is the paper's
N = 200, n = 4000, 3000 steps. The machine's load changes every figure, so read the ratios,
taken in one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_time(fn, repeat: int) -> float:
    fn()  # compile
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    import hjdsl
    from hjdsl.study.task import run_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the default: seconds")
    p.add_argument("--full", action="store_true", help="the paper's N = 200 configuration")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    study = hjdsl.load(ROOT / "examples" / "studies" / "trained_d1.hj")
    width, n, steps = (200, 4000, 3000) if args.full else (50, 1000, 300)
    q = {**study.quantities, "n": float(n)}
    study = dataclasses.replace(study, values=(float(width),), quantities=q, steps=steps)
    config = study.configurations()[0]
    vmapped = cpu_time(lambda: run_config(study, config), args.repeat)
    singles = [dataclasses.replace(config, seeds=(s,)) for s in config.seeds]
    looped = cpu_time(lambda: [run_config(study, c) for c in singles], args.repeat)
    quad = hjdsl.load(ROOT / "examples" / "studies" / "quadrature_d1.hj")
    quadrature = cpu_time(lambda: quad.run(workers=1), 1)
    print(f"one configuration: d = 1, N = {width}, n = {n}, {steps} steps, "
          f"{len(config.seeds)} seeds (CPU s, best of {args.repeat})")
    print(f"  vmapped  {vmapped:8.2f} s")
    print(f"  looped   {looped:8.2f} s   looped / vmapped = {looped / vmapped:.2f}")
    print(f"quadrature_d1 study, in process: {quadrature:.2f} s")


if __name__ == "__main__":
    main()
