"""Speed of an attention compare: the closed-form views against a bare softmax and the convex view.

    python benchmarks/bench_attention.py [--quick | --full] [--heads H] [--tokens N] [--d-k D]
                                         [--repeat 3] [--audit 4]

Prints the times (best of --repeat) and the ratios measured in this one run:
  softmax  softmax(QKᵀ/√d_k)V in plain numpy, every head at once (what a user would write);
  closed   hjdsl's network, tropical and Hopf–Cole views of the same heads (one ε), with the
           identity's scale S: attention.views.closed_form;
  convex   the entropic program per query (Clarabel), over the first --audit queries of
           each head, per solve;
and the wall time of `hjdsl compare examples/attention/digits_attention.hj` end to end.
--quick (the default) uses 2 heads × 32 tokens × d_k 16, --full 8 × 128 × 64 (a small
transformer layer); the machine's load changes every
figure, so read the ratios, taken in one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def softmax_attention(q, k, v):
    s = q @ np.swapaxes(k, 1, 2) / np.sqrt(q.shape[-1])
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="2 heads x 32 tokens x d_k 16 (default)")
    size.add_argument("--full", action="store_true", help="8 heads x 128 tokens x d_k 64")
    p.add_argument("--heads", type=int)
    p.add_argument("--tokens", type=int)
    p.add_argument("--d-k", type=int)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--audit", type=int, default=4)
    args = p.parse_args(argv)
    base = (8, 128, 64) if args.full else (2, 32, 16)
    heads, n, d_k = args.heads or base[0], args.tokens or base[1], args.d_k or base[2]

    from hjdsl.attention.heads import synthetic
    from hjdsl.attention.model import AttentionModel
    from hjdsl.attention.views import closed_form, convex_view
    from hjdsl.model.ir import Viscosity

    h = synthetic(0, heads, n, n, d_k, d_k)
    eps = np.array([np.sqrt(d_k)])
    model = AttentionModel("bench", 1.0, Viscosity(eps), h, "synthetic")
    out = closed_form(model, eps)
    err = np.abs(out["output"][:, 0] - softmax_attention(h.q, h.k, h.v)).max()
    t_soft = best_of(lambda: softmax_attention(h.q, h.k, h.v), args.repeat)
    t_closed = best_of(lambda: closed_form(model, eps), args.repeat)
    convex_view(model, eps, out["cost"], 1)  # import cvxpy and compile once, untimed
    t_convex = best_of(lambda: convex_view(model, eps, out["cost"], args.audit), 1)
    solves = heads * args.audit
    print(f"{heads} heads x {n} tokens, d_k = {d_k}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores; max |closed - softmax| output = {err:.1e}")
    print(f"  softmax  {t_soft * 1e3:9.3f} ms")
    print(f"  closed   {t_closed * 1e3:9.3f} ms   closed / softmax = {t_closed / t_soft:.1f}")
    print(f"  convex   {t_convex / solves * 1e3:9.3f} ms per solve   per-solve / closed = "
          f"{t_convex / solves / t_closed:.1f}")
    import resource

    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run([sys.executable, "-m", "hjdsl", "compare",
                          str(ROOT / "examples" / "attention" / "digits_attention.hj"), "-q"],
                         capture_output=True, text=True)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"  hjdsl compare digits_attention.hj: {time.perf_counter() - start:.2f} s wall, "
          f"{used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime:.2f} s CPU "
          f"(exit {run.returncode})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
