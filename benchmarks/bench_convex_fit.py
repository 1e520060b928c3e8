"""Benchmark: the cutting-plane ε = 0 convex fit against the all-pairs QP (time, peak memory).

Each case runs in its own subprocess so peak RSS (resource.getrusage) belongs to that case only.

    python benchmarks/bench_convex_fit.py                 # n = 200, 400 both ways; d = 3
    python benchmarks/bench_convex_fit.py --n 200 400 800 --large   # + cutting planes at n = 2,000
    python benchmarks/bench_convex_fit.py --per-piece 0 --per-point 4  # the former cut selection
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CASE = """
import json, resource, time
import numpy as np
from hjdsl.fit.max_affine import fit_max_affine
rng = np.random.default_rng({seed})
x = rng.uniform(-1, 1, size=({n}, {d}))
v = np.abs(x).sum(1) + 0.5 * (x ** 2).sum(1) + 0.2 * rng.normal(size={n})
start = time.perf_counter()
fit = fit_max_affine(x, v, naive={naive}, **{cuts})
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(fit.certificate, wall=seconds, peak_mb=peak, phi=fit.phi.tolist())))
"""


def run_case(n: int, d: int, naive: bool, seed: int = 0, timeout: float = 3600,
             cuts: dict | None = None) -> dict:
    code = CASE.format(n=n, d=d, naive=naive, seed=seed, cuts={} if naive else (cuts or {}))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also cutting planes at n = 2,000")
    parser.add_argument("--per-piece", type=int, default=1, help="cuts per violating piece")
    parser.add_argument("--per-point", type=int, default=0, help="cuts per violated point")
    args = parser.parse_args()
    cuts = {"per_piece": args.per_piece, "per_point": args.per_point}
    print(f"{'n':>6} {'method':>15} {'seconds':>9} {'peak MB':>8} {'constraints':>12} "
          f"{'rounds':>6} {'max viol':>9} {'|Δφ|max':>9}")
    for n in args.n:
        cut = run_case(n, args.d, naive=False, cuts=cuts)
        naive = run_case(n, args.d, naive=True)
        for name, r in (("cutting planes", cut), ("naive QP", naive)):
            if "error" in r:
                print(f"{n:>6} {name:>15}  failed: {r['error']}")
                continue
            diff = max(abs(a - b) for a, b in zip(cut.get("phi", []), naive.get("phi", [])))\
                if "phi" in cut and "phi" in naive else float("nan")
            print(f"{n:>6} {name:>15} {r['wall']:>9.2f} {r['peak_mb']:>8.0f} "
                  f"{r['constraints']:>12.0f} {r['rounds']:>6.0f} {r['max_violation']:>9.1e} "
                  f"{diff:>9.1e}", flush=True)
    if args.large:
        r = run_case(2000, 3, naive=False, cuts=cuts)
        print(f"{2000:>6} {'cutting planes':>15} {r['wall']:>9.2f} {r['peak_mb']:>8.0f} "
              f"{r['constraints']:>12.0f} {r['rounds']:>6.0f} {r['max_violation']:>9.1e}")


if __name__ == "__main__":
    main()
