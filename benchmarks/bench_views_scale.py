"""Every closed-form view against the network view on the same points, compare's peak memory, and
the start-up of `hjdsl compare` with a cold and a warm compilation cache — ratios from one run.

    python benchmarks/bench_views_scale.py [--points 20000] [--atoms 1000] [--dim 2]
                                           [--base REV] [--rounds 2] [--calls 5]
                                           [--no-startup]

`--quick` sizes are the default (20,000 points; issue 13 measured 100,000: pass --points 100000).
Times are CPU seconds of the process (all threads; on a loaded shared machine wall time mostly
measures the queue), the best of --calls calls after the first (compile excluded), the views
taking turns, one ε = 0.1. The network view is the dense one (the views it is measured against
are dense too). Peak memory is
the resident high-water mark of a `compare(audit=0, grid=False)` in a fresh process, less the
resident size before it (after a warm-up at three points). With `--base REV` the same timer runs
in a temporary worktree of REV in the same rounds, alternating, so machine load hits both alike.
Start-up: `hjdsl compare examples/quickstart.hj --audit 0 --no-grid` twice with an empty cache
dir, and once with HJDSL_NO_JAX_CACHE=1, wall and CPU seconds. Prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TIMER = r"""
import json, sys, time
import numpy as np
from hjdsl.jaxsetup import jax_x64
jax_x64()
from hjdsl.model.ir import Model
from hjdsl.views.closed_form import network
from hjdsl.views.closed_form.hopf_cole import hopf_cole_view
from hjdsl.views.closed_form.tropical import tropical_view
from hjdsl.views.closed_form.pde import residual_view
n, N, d, rounds = (int(a) for a in sys.argv[1:5])
rng = np.random.default_rng(0)
m = Model.from_atoms(rng.uniform(-2, 2, (N, d)), rng.uniform(0, 1, N), t=1.0, eps=[0.1],
                     x=rng.uniform(-2, 2, (n, d)))
x, eps, (W, b) = m.evaluate, np.array([0.1]), m.weights()
dense = getattr(network, "_dense_view", None)
net = (lambda: dense(x, W, b, eps, False, None)) if dense else \
      (lambda: network.network_view(x, W, b, eps, weights=False))
jobs = {"network": net,
        "hopf_cole": lambda: hopf_cole_view(x, m.y, m.g, m.t, m.hamiltonian, eps, weights=False),
        "tropical": lambda: tropical_view(m, x),
        "pde_residual": lambda: residual_view(m, x, eps)}
out = {name: np.inf for name in jobs}
for fn in jobs.values():
    fn()  # compile
for _ in range(rounds):  # the views take turns, so a change of machine load hits them alike
    for name, fn in jobs.items():
        start = time.process_time(); fn(); out[name] = min(out[name], time.process_time() - start)
print(json.dumps(out))
"""

MEMORY = r"""
import json, sys, time
import numpy as np
from hjdsl.model.ir import Model
def status(key):
    line = next(l for l in open("/proc/self/status") if l.startswith(key + ":"))
    return int(line.split()[1]) * 1024
n, N, d = (int(a) for a in sys.argv[1:4])
rng = np.random.default_rng(0)
m = Model.from_atoms(rng.uniform(-2, 2, (N, d)), rng.uniform(0, 1, N), t=1.0, eps=[0.1],
                     x=rng.uniform(-2, 2, (n, d)))
m.compare(eps=[0.1], x=m.evaluate[:3], audit=0, grid=False, quiet=True)
open("/proc/self/clear_refs", "w").write("5")
base = status("VmRSS")
start = time.process_time()
m.compare(eps=[0.1], audit=0, grid=False, quiet=True)
print(json.dumps({"compare s": time.process_time() - start, "peak MB": (status("VmHWM") - base) / 1e6}))
"""


def _python(script: str, tree: str, *args) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env,
                          capture_output=True, text=True, cwd=tree)
    if proc.returncode != 0:
        sys.exit(f"run at {tree} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(tree: str, args) -> dict:
    out = _python(TIMER, tree, args.points, args.atoms, args.dim, args.calls)
    out.update(_python(MEMORY, tree, args.points, args.atoms, args.dim))
    return out


def startup(cache: str) -> list[tuple[str, float, float]]:
    """(label, wall s, CPU s) of `hjdsl compare quickstart` runs: cold, warm, no cache."""
    rows = []
    cmd = [sys.executable, "-m", "hjdsl", "compare", "examples/quickstart.hj", "--audit", "0",
           "--no-grid", "-q", "-o", os.path.join(cache, "out.nc")]
    for label, extra in (("cold cache", {}), ("warm cache", {}),
                         ("no cache", {"HJDSL_NO_JAX_CACHE": "1"})):
        env = {**os.environ, "HJDSL_JAX_CACHE_DIR": os.path.join(cache, "jax"), **extra}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows.append((label, wall, after.ru_utime + after.ru_stime - before.ru_utime
                     - before.ru_stime))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=20_000)
    p.add_argument("--atoms", type=int, default=1_000)
    p.add_argument("--dim", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds (with --base)")
    p.add_argument("--calls", type=int, default=5,
                   help="timed calls of each view per round, taking turns (the best counts)")
    p.add_argument("--base", help="a commit to measure alongside the working tree")
    p.add_argument("--no-startup", action="store_true", help="skip the start-up runs")
    args = p.parse_args()
    print(f"{args.points:,} points, {args.atoms:,} atoms, d = {args.dim}, ε = 0.1; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = {"head": []}
    with tempfile.TemporaryDirectory(prefix="hjdsl-bench-") as tmp:
        if args.base:
            results["base"] = []
            tree = os.path.join(tmp, "base")
            subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-q", tree,
                            args.base], check=True)
        try:
            for _ in range(args.rounds):
                if args.base:
                    results["base"].append(measure(tree, args))
                results["head"].append(measure(ROOT, args))
        finally:
            if args.base:
                subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree],
                               check=False)
        best = {k: {key: min(r[key] for r in runs) for key in runs[0]}
                for k, runs in results.items()}
        print(f"{'':<14}" + "".join(f"{k + ' s':>10}{k + '/net':>10}" for k in best))
        for key in ("network", "hopf_cole", "tropical", "pde_residual"):
            print(f"{key:<14}" + "".join(f"{b[key]:10.3f}{b[key] / b['network']:10.2f}"
                                         for b in best.values()))
        for key in ("compare s", "peak MB"):
            print(f"{key:<14}" + "".join(f"{b[key]:10.1f}{'':>10}" for b in best.values()))
        if "base" in best:
            print("head/base: " + ", ".join(f"{k} {best['head'][k] / best['base'][k]:.2f}"
                                            for k in best["head"]))
        if not args.no_startup:
            rows = startup(tmp)
            print("hjdsl compare examples/quickstart.hj --audit 0 --no-grid:")
            for label, wall, cpu in rows:
                print(f"  {label:<11} wall {wall:6.2f} s  CPU {cpu:6.2f} s  "
                      f"(CPU {cpu / rows[0][2]:.2f}x the cold run)")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
