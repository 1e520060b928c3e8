"""Speed of the co-state recursion against jax.grad of the unrolled loss, for tanh ResNets and LSTMs.

    python benchmarks/bench_pmp.py [--quick | --full] [--repeat 3]

Prints, per network, the times (best of --repeat, after one warm-up call that compiles) and the
ratio measured in this one run:
  pmp       hjdsl.networks.costate.pmp: the state recursion forward and the co-state
            recursion backward, one jitted step function per step (a Python loop over k);
  autodiff  hjdsl.networks.costate.autodiff: jax.grad of the whole loss as one lax.scan,
            compiled on every call (its loss closes over the net; compare calls it once);
and the two identities' errors (so a fast wrong answer shows). --quick (the default) runs
K = 10 and 100 on 64 samples, --full adds K = 1000 and 1024 samples; the machine's load
changes every figure, so read the ratios, taken in one run.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def best_of(fn, repeat: int) -> float:
    fn()  # compile
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def network(cell: str, steps: int, n: int, width: int, seed: int = 0):
    from hjdsl.networks.cells import CELLS, draw_params
    from hjdsl.networks.costate import Net

    c, rng = CELLS[cell], np.random.default_rng(seed)
    if c.kind == "residual":
        theta = draw_params(c, width, 0, steps, seed, 1.0)
        return Net(c, theta, rng.normal(size=(n, width)), None, rng.normal(size=n),
                   1.0 / steps, steps)
    d = c.state_width(width)
    theta = draw_params(c, d, 1, None, seed, 1.0)
    return Net(c, theta, np.zeros((n, d)), rng.normal(size=(steps, n)), rng.normal(size=n),
               1.0, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="K = 10, 100; 64 samples (default)")
    size.add_argument("--full", action="store_true", help="also K = 1000; 1024 samples")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from hjdsl.jaxsetup import float64
    from hjdsl.networks.costate import autodiff, pmp, relative_error
    from hjdsl.networks.train import weight_gradient

    steps = (10, 100, 1000) if args.full else (10, 100)
    n = 1024 if args.full else 64
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {n} samples")
    print(f"{'network':<22} {'pmp s':>9} {'autodiff s':>11} {'pmp/autodiff':>13} "
          f"{'co-state err':>13} {'grad err':>10}")
    with float64():
        for cell, width in (("tanh", 8), ("lstm", 8)):
            for K in steps:
                net = network(cell, K, n, width)
                t_pmp = best_of(lambda: pmp(net), args.repeat)
                t_ad = best_of(lambda: autodiff(net), args.repeat)
                run, (d_x, d_theta) = pmp(net), autodiff(net)
                grads = weight_gradient(net, run)
                e_p = float(relative_error(run.costates, -d_x, axis=(1, 2)).max())
                e_g = max(float(relative_error(grads[k], d_theta[k], axis=None)) for k in grads)
                print(f"{cell + f' K={K}':<22} {t_pmp:>9.4f} {t_ad:>11.4f} {t_pmp / t_ad:>13.2f} "
                      f"{e_p:>13.2e} {e_g:>10.2e}")


if __name__ == "__main__":
    main()
