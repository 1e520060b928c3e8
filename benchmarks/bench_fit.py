"""Fitting benchmarks: MAP per-step cost, NUTS ess/s, and model overhead vs hand-written numpyro.

Run: python benchmarks/bench_fit.py [--quick]   (figures from one run; ratios, not timed tests)
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np

import hjdsl
from hjdsl.jaxsetup import jax_x64

MAP_SPEC = """
model bench_map "64 free atoms, 4000 points, d = 2"
dim 2
viscosity eps = 0.1
hamiltonian H(p) = |p|^2
particles y ~ normal(0, 1) [64]
initial g ~ normal(0, 1)
data synthetic n = 4000 seed = 0 {
  x ~ uniform(-2, 2)
  value = norm(x)
  noise = 0.01
}
observe f ~ normal(sigma = 0.05)
evaluate x = [[0, 0], [1, 1]]
"""

NUTS_SPEC = """
model bench_nuts "16 fixed atoms, learned g, 500 points"
dim 1
viscosity eps = 0.2
hamiltonian H(p) = |p|^2
particles y = grid(-2, 2, 16)
initial g ~ normal(0, 1)
data synthetic n = 500 seed = 1 {
  x ~ uniform(-2.5, 2.5)
  value = abs(x)
  noise = 0.05
}
observe f ~ normal(sigma = 0.05)
evaluate x = grid(-2, 2, 5)
"""


def per_call(fn, *args, rounds: int = 40, repeat: int = 20) -> float:
    """Seconds per call of a jitted function: the minimum over short rounds (after compiling).
    The minimum is the figure least disturbed by other processes on a shared machine."""
    import jax

    jax.block_until_ready(fn(*args))
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeat):
            out = fn(*args)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t0) / repeat)
    return float(best)


def hand_written(x, value):
    """The same model written by hand in numpyro (64 atoms, d = 2, normal likelihood)."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model(x, value=None):
        y = numpyro.sample("y", dist.Normal(0.0, 1.0).expand([64, 2]).to_event(2))
        g = numpyro.sample("g", dist.Normal(0.0, 1.0).expand([64]).to_event(1))
        w = y / 2.0
        b = -g - jnp.sum(y * y, axis=-1) / 4.0
        f = 0.1 * jax_logsumexp((x @ w.T + b) / 0.1)
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("obs", dist.Normal(f, 0.05), obs=value)

    return model


def jax_logsumexp(z):
    import jax

    return jax.nn.logsumexp(z, axis=-1)


def grad_step(model_fn, x, value):
    """The jitted (−log joint, gradient) of a numpyro model: the work of one MAP step."""
    import jax
    from numpyro.infer.util import log_density

    return jax.jit(jax.value_and_grad(lambda p: -log_density(model_fn, (x, value), {}, p)[0]))


def bench_map(quick: bool) -> None:
    import jax.numpy as jnp

    from hjdsl.codegen.numpyro_target import generate
    from hjdsl.fit.bayes import build

    model = hjdsl.parse(MAP_SPEC)
    steps = 300 if quick else 2000
    t0 = time.perf_counter()
    ds = model.solve(method="map", steps=steps, restarts=1, polish=False, seed=0)
    total = time.perf_counter() - t0
    x, value = jnp.asarray(model.data.x), jnp.asarray(model.data.value)
    params = {"y": jnp.asarray(np.random.default_rng(0).normal(size=(64, 2))), "g": jnp.zeros(64)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.py"
        path.write_text(generate(model))
        spec = importlib.util.spec_from_file_location("generated_bench", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    steps_by = {"hand": grad_step(hand_written(x, value), x, value),
                "hjdsl": grad_step(build(model).fn, x, value),
                "generated": grad_step(module.model, x, value)}
    times = {k: np.inf for k in steps_by}
    for _ in range(3):  # interleaved, so a burst of load hits every variant alike
        for k, fn in steps_by.items():
            times[k] = min(times[k], per_call(fn, params))
    t_hand, t_hjdsl, t_gen = times["hand"], times["hjdsl"], times["generated"]
    print(f"MAP, 64 atoms, 4000 points, d = 2, {steps} Adam steps, 1 restart, no polish:")
    print(f"  total (incl. compile) {total:.2f} s = {total / steps * 1e3:.2f} ms per step; "
          f"fit MSE {float(ds['fit_mse']):.3g}")
    print(f"  jitted gradient step: hand-written {t_hand * 1e3:.3f} ms, hjdsl {t_hjdsl * 1e3:.3f} ms "
          f"({t_hjdsl / t_hand - 1:+.1%}), generated {t_gen * 1e3:.3f} ms ({t_gen / t_hand - 1:+.1%})")


def bench_nuts(quick: bool) -> None:
    model = hjdsl.parse(NUTS_SPEC)
    warmup = draws = 100 if quick else 500
    t0 = time.perf_counter()
    tree = model.solve(method="nuts", chains=1, warmup=warmup, draws=draws, seed=0, steps=300)
    total = time.perf_counter() - t0
    root = tree.to_dataset()
    ess = float(tree["diagnostics"]["ess_g"].min())
    print(f"NUTS, 16 atoms, 500 points, {warmup} warm-up + {draws} draws, 1 chain:")
    print(f"  total (incl. MAP start and compile) {total:.2f} s; min ess {ess:.0f} "
          f"({ess / total:.1f} ess/s); max r_hat {root.attrs['max_r_hat']:.4f}; "
          f"divergences {root.attrs['divergences']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer steps and draws")
    args = parser.parse_args()
    jax_x64()
    bench_map(args.quick)
    bench_nuts(args.quick)


if __name__ == "__main__":
    main()
