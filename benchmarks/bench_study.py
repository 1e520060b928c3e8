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

    python benchmarks/bench_study.py --plan [--steps 60]

predicts the wall time of the full reproduction (trained_d1, _d2, _d4 in one `hjdsl study`
run): for every configuration it times one seed at --steps and 2 × --steps Adam steps (CPU
s; the difference is the per-step cost, the rest compiling and data), scales to the
study's seeds and 3000 steps, splits and orders the tasks as `hjdsl study` does and
schedules them longest first on 1 and 2 workers.

    python benchmarks/bench_study.py --step [--repeat 15]

times one Adam step's loss and gradient (wall ms, best of --repeat) for the first task of
every configuration of the reproduction, at its seeds: autodiff of the max-shifted loss over
all points at once against the tiled closed form `hjdsl study` runs (task.py), the ratio, and
the largest relative difference of the two gradients.
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
    p.add_argument("--plan", action="store_true", help="predict the full reproduction's time")
    p.add_argument("--steps", type=int, default=60, help="--plan: Adam steps per timing")
    p.add_argument("--step", action="store_true", help="tiled against autodiff gradient")
    args = p.parse_args()
    if args.plan:
        return plan_reproduction(args.steps)
    if args.step:
        return compare_steps(max(args.repeat, 5))
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


def plan_reproduction(steps: int) -> None:
    import heapq

    import hjdsl
    from hjdsl.study.plan import tasks
    from hjdsl.study.task import run_config

    def cpu(study, config, n_steps):
        s = dataclasses.replace(study, steps=n_steps)
        start = time.process_time()
        run_config(s, dataclasses.replace(config, seeds=config.seeds[:1]))
        return time.process_time() - start

    estimate = {}  # task key -> predicted CPU s
    print(f"per configuration, 1 seed timed at {steps} and {2 * steps} steps (CPU s):")
    all_tasks = []
    for d in (1, 2, 4):
        study = hjdsl.load(ROOT / "examples" / "studies" / f"trained_d{d}.hj")
        for c in study.configurations():
            short, long = cpu(study, c, steps), cpu(study, c, 2 * steps)
            per_step = max(long - short, 0.0) / steps
            fixed = max(short - steps * per_step, 0.0)
            for t in tasks(study, [c]):
                estimate[(d, t.key)] = fixed + len(t.seeds) * study.steps * per_step
                all_tasks.append((estimate[(d, t.key)], d, t.key))
            total = fixed + len(c.seeds) * study.steps * per_step
            print(f"  d = {d}  N = {c.width:5d}  {1e3 * per_step:7.2f} ms/step/seed  "
                  f"full configuration {total:7.1f} s  in {len(tasks(study, [c]))} task(s)")
    all_tasks.sort(reverse=True)  # the order `hjdsl study` submits them in
    cpu_total = sum(t for t, _, _ in all_tasks)
    print(f"{len(all_tasks)} tasks, {cpu_total:.0f} CPU s in all; the longest {all_tasks[0][0]:.0f} s")
    for workers in (1, 2):
        free = [0.0] * workers
        for cost, _, _ in all_tasks:  # longest first, each to the worker free first
            heapq.heapreplace(free, free[0] + cost)
        print(f"  {workers} worker(s): predicted wall {max(free):.0f} s ({max(free) / 60:.1f} min)")


def compare_steps(repeat: int) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import hjdsl
    from hjdsl.jaxsetup import float64
    from hjdsl.study.plan import tasks
    from hjdsl.study.task import draw_data, lse_mse, tile_points, tiled_value_and_grad

    def best_ms(fn, *a):
        jax.block_until_ready(fn(*a))  # compile
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            jax.block_until_ready(fn(*a))
            times.append(time.perf_counter() - start)
        return 1e3 * min(times)

    print("one step's loss and gradient, all seeds of a task (wall ms, best of "
          f"{repeat}): autodiff / tiled")
    with float64():
        for d in (1, 2, 4):
            study = hjdsl.load(ROOT / "examples" / "studies" / f"trained_d{d}.hj")
            for c in study.configurations():
                t = tasks(study, [c])[0]
                S, n, N, eps = len(t.seeds), t.n, t.width, t.eps
                data = [draw_data(study, t, s) for s in t.seeds]
                x = jnp.asarray(np.stack([p[0] for p in data]))
                v = jnp.asarray(np.stack([p[1] for p in data]))
                rng = np.random.default_rng(0)
                p = {"W": jnp.asarray(rng.uniform(-1, 1, (S, N, d))),
                     "b": jnp.asarray(rng.uniform(-1, 0, (S, N)))}

                auto = jax.jit(jax.vmap(jax.value_and_grad(lambda q, xi, vi, e=eps:
                                                            lse_mse(q, xi, vi, e))))
                tile = tile_points(S, N, n)
                tiled = jax.jit(jax.vmap(tiled_value_and_grad(eps, n, tile)))
                a, b = best_ms(auto, p, x, v), best_ms(tiled, p, x, v)
                ga, gb = auto(p, x, v)[1]["W"], tiled(p, x, v)[1]["W"]
                diff = float(jnp.max(jnp.abs(ga - gb)) / jnp.max(jnp.abs(ga)))
                print(f"  d = {d}  N = {N:5d}  {S} seed(s)  tile {tile:4d}  "
                      f"{a:8.2f} / {b:7.2f} ms = {a / b:5.2f}x   gradient diff {diff:.1e}")


if __name__ == "__main__":
    main()
