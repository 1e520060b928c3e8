"""Benchmark: the ε = 0 convex fit — hull cuts vs envelope cuts vs sparse working set vs cutting
planes vs all pairs.

Each case runs in its own subprocess so peak RSS (resource.getrusage) belongs to that case only;
|Δφ| is the largest difference of the fitted values from the first method of the same n, and the
ratio is that method's time over the hull method's (or, without it, the envelope's, then the
sparse one's), both from this one run; --timeout caps each case (the cutting planes need ~650 s
at n = 2,000).

    python benchmarks/bench_convex_fit.py            # --quick: n = 200 all five, n = 1,000 hull
    python benchmarks/bench_convex_fit.py --n 2000 --methods hull envelope sparse cutting_planes
    python benchmarks/bench_convex_fit.py --n 10000 --methods hull            # ~minutes
    python benchmarks/bench_convex_fit.py --n 100000 --d 10 --methods envelope  # ~12 min
"""

from __future__ import annotations

import argparse
import json
import os
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
fit = fit_max_affine(x, v, **{options})
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(fit.certificate, wall=seconds, peak_mb=peak, phi=fit.phi.tolist())))
"""

OPTIONS = {"hull": {"method": "hull"}, "envelope": {"method": "envelope"},
           "sparse": {"method": "sparse"},
           "cutting_planes": {"method": "cutting_planes"},
           "naive": {"naive": True}}


def run_case(n: int, d: int, method: str, seed: int = 0, timeout: float = 3600) -> dict:
    code = CASE.format(n=n, d=d, seed=seed, options=OPTIONS[method])
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(n: int, d: int, methods, timeout: float) -> None:
    load = os.getloadavg()[0]
    results = {m: run_case(n, d, m, timeout=timeout) for m in methods}
    print(f"# n = {n}: load average {load:.1f} before, {os.getloadavg()[0]:.1f} after", flush=True)
    first = next((r for r in results.values() if "phi" in r), None)
    base = (results.get("hull") or results.get("envelope") or results.get("sparse")
            or {}).get("wall")
    for name, r in results.items():
        if "error" in r:
            print(f"{n:>7} {d:>3} {name:>15}  failed: {r['error']}", flush=True)
            continue
        diff = max(abs(a - b) for a, b in zip(r["phi"], first["phi"]))
        ratio = r["wall"] / base if base else float("nan")
        gap = r["duality_gap"] / max(1.0, r["objective"])
        print(f"{n:>7} {d:>3} {name:>15} {r['wall']:>9.2f} {ratio:>6.1f} {r['peak_mb']:>8.0f} "
              f"{r['constraints']:>11.0f} {r['rounds']:>6.0f} {r['max_violation']:>9.1e} "
              f"{r['kkt_residual']:>9.1e} {gap:>9.1e} {diff:>9.1e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", help="sizes (default: the quick set)")
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--methods", nargs="+", choices=sorted(OPTIONS),
                        default=["hull", "envelope", "sparse", "cutting_planes", "naive"])
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per case")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    print(f"{'n':>7} {'d':>3} {'method':>15} {'seconds':>9} {'ratio':>6} {'peak MB':>8} "
          f"{'constraints':>11} {'rounds':>6} {'max viol':>9} {'KKT res':>9} {'rel gap':>9} "
          f"{'|Δφ|max':>9}")
    if args.n:
        for n in args.n:
            report(n, args.d, args.methods, args.timeout)
        return
    report(200, args.d, args.methods, args.timeout)  # --quick
    report(1000, args.d, ["hull"], args.timeout)


if __name__ == "__main__":
    main()
