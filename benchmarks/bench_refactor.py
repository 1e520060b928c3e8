"""Speed of the closed-form views at two commits, measured in one run: does a refactor cost anything?

    python benchmarks/bench_refactor.py --base REV [--points 20000] [--atoms 500] [--dim 4]
                                        [--rounds 5]

Checks REV out into a temporary git worktree and times, for each commit in turn (alternating,
`--rounds` times, so machine load hits both alike), the jitted views on one random model:
network_view, hopf_cole_view and tropical_view for H = |p|^2, p' A p and 1.5|p|_2, values only,
and one grid solve (1-D at ε = 0.1, 2-D at ε = 0) for |p|^2, each after a warm-up call (compile time excluded). Prints the best time per view and commit, and the
ratio head/base: 1.00 means no change; the spread of the rounds is printed as the noise to read
it against.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs inside one commit's tree: imports the views from wherever that commit keeps them.
TIMER = r"""
import json, sys, time
import numpy as np
from hjdsl.jaxsetup import jax_x64
jax_x64()
from hjdsl.model.ir import Model
try:
    from hjdsl.views.closed_form.network import network_view
    from hjdsl.views.closed_form.hopf_cole import hopf_cole_view
    from hjdsl.views.closed_form.tropical import tropical_view
except ImportError:
    from hjdsl.views.network import network_view
    from hjdsl.views.hopf_cole import hopf_cole_view
    from hjdsl.views.tropical import tropical_view
n, N, d = (int(a) for a in sys.argv[1:4])
rng = np.random.default_rng(0)
y, g, x = rng.normal(size=(N, d)), rng.uniform(0, 1, N), rng.normal(size=(n, d))
B = rng.normal(size=(d, d))
eps = np.array([0.1])
models = {"|p|^2": Model.from_atoms(y, g, t=1.0),
          "p'Ap": Model.from_atoms(y, g, t=1.0, A=B @ B.T + d * np.eye(d)),
          "1.5|p|_2": Model.from_atoms(y, g, t=1.0, hamiltonian="l2")}
try:
    import dataclasses
    from hjdsl.hamiltonians import norm
    models["1.5|p|_2"] = dataclasses.replace(models["1.5|p|_2"], hamiltonian=norm("l2", 1.5))
except ImportError:
    import dataclasses
    m = models["1.5|p|_2"]
    models["1.5|p|_2"] = dataclasses.replace(m, hamiltonian=dataclasses.replace(m.hamiltonian, scale=1.5))
out = {}
for name, m in models.items():
    jobs = {"hopf_cole": lambda: hopf_cole_view(x, m.y, m.g, m.t, m.hamiltonian, eps, weights=False),
            "tropical": lambda: tropical_view(m, x)}
    if name != "1.5|p|_2":
        W, b = m.weights()
        jobs["network"] = lambda: network_view(x, W, b, eps, weights=False)
    for view, fn in jobs.items():
        fn()  # compile
        start = time.perf_counter(); fn(); out[f"{view} {name}"] = time.perf_counter() - start
try:
    from hjdsl.views.grid.pde import solve_domain
    from hjdsl.views.grid.solver import solve
except ImportError:
    from hjdsl.views.grid_pde import solve_domain
    from hjdsl.views.grid_solver import solve
g = lambda y: np.sqrt(1.0 + np.sum(y * y, axis=-1))
for d, eps, cells in ((1, 0.1, 400), (2, 0.0, 120)):
    ham = Model.from_atoms(np.zeros((1, d)), [0.0]).hamiltonian
    xs = np.linspace(-1, 1, 11)[:, None] * np.ones(d)
    dom = solve_domain(g, ham, 0.5, eps, xs, cells)
    fn = lambda: solve(g, ham, eps, 0.5, dom)
    fn()
    start = time.perf_counter(); fn(); out[f"grid {d}-D |p|^2"] = time.perf_counter() - start
print(json.dumps(out))
"""


def run(tree: str, args) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    proc = subprocess.run([sys.executable, "-c", TIMER, str(args.points), str(args.atoms),
                           str(args.dim)], env=env, capture_output=True, text=True, cwd=tree)
    if proc.returncode != 0:
        sys.exit(f"timing at {tree} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="the commit to compare the working tree with")
    p.add_argument("--points", type=int, default=20_000)
    p.add_argument("--atoms", type=int, default=500)
    p.add_argument("--dim", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="hjdsl-bench-") as tmp:
        base_tree = os.path.join(tmp, "base")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-q", base_tree, args.base],
                       check=True)
        try:
            times = {"base": [], "head": []}
            for _ in range(args.rounds):
                times["base"].append(run(base_tree, args))
                times["head"].append(run(ROOT, args))
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", base_tree], check=False)
    print(f"{args.points} points, {args.atoms} atoms, d = {args.dim}, one ε, best of {args.rounds} "
          f"alternating rounds; base = {args.base}")
    print(f"{'view':<22} {'base s':>8} {'head s':>8} {'head/base':>10} {'base spread':>12}")
    for key in times["base"][0]:
        base = [r[key] for r in times["base"]]
        head = [r[key] for r in times["head"]]
        spread = max(base) / min(base)
        print(f"{key:<22} {min(base):8.4f} {min(head):8.4f} {min(head) / min(base):10.2f} "
              f"{spread:12.2f}")


if __name__ == "__main__":
    main()
