"""The runners: MAP (Adam, best of restarts, L-BFGS polish), SVI (Gaussian guide) and NUTS."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hjdsl.errors import run_error
from hjdsl.fit.init import initial_point, optimiser_scales

# Number of progress-bar updates per run; each is one jitted lax.scan over a block of steps.
BLOCKS = 20
# L-BFGS-B polish settings (shared with the generated code so both give the same numbers).
POLISH = {"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20}
# numpyro's NUTS extra fields -> ArviZ's sample_stats names (the renaming of arviz.from_numpyro)
NUTS_STATS = {"diverging": "diverging", "potential_energy": "lp", "accept_prob": "acceptance_rate",
              "num_steps": "n_steps", "energy": "energy", "adapt_state.step_size": "step_size"}


@dataclass
class FitOutcome:
    """What a runner found, before it becomes a result Dataset / DataTree."""

    method: str
    params: dict                      # constrained point estimate per site (y, g, sigma, eps, ...)
    final_loss: float
    loss: np.ndarray | None = None    # loss curve (MAP: −log joint; SVI: −ELBO)
    samples: dict | None = None       # site -> (chain, draw, ...)
    sample_stats: dict | None = None  # ArviZ names (diverging, lp, ...): (chain, draw)
    info: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    arrays: dict = field(default_factory=dict)  # name -> (dims, values, description): extras


def _blocks(steps: int) -> list[int]:
    size = max(1, steps // BLOCKS)
    out = [size] * (steps // size)
    if steps % size:
        out.append(steps % size)
    return out


def _scan_blocks(step, state, steps: int, label: str, quiet: bool):
    """Run `step` `steps` times as jitted lax.scan blocks, advancing a progress bar per block."""
    import jax

    from hjdsl.progress import progress

    run = jax.jit(lambda s, n: jax.lax.scan(step, s, None, length=n), static_argnums=1)
    losses = []
    with progress(label, steps, enabled=not quiet) as advance:
        for n in _blocks(steps):
            state, loss = run(state, n)
            losses.append(np.asarray(loss))
            advance(n)
    return state, np.concatenate(losses, axis=0)


def map_objective(pm, x, value):
    """(loss(u), constrain(u), unconstrain(c)): −log joint over unconstrained parameters u."""
    from numpyro.distributions.transforms import biject_to
    from numpyro.infer.util import log_density

    transforms = {k: biject_to(p.support) for k, p in pm.priors.items()}

    def constrain(u):
        return {k: transforms[k](u[k]) for k in transforms}

    def unconstrain(c):
        return {k: transforms[k].inv(c[k]) for k in transforms}

    def loss(u):
        log_joint, _ = log_density(pm.fn, (x, value), {}, constrain(u))
        return -log_joint

    return loss, constrain, unconstrain


def run_map(model, pm, x, value, *, steps, lr, restarts, seed, polish, eps, quiet=True):
    """Adam on −log p(θ, data) from `restarts` starting points (vectorised), then L-BFGS per restart;
    the lowest final loss wins."""
    import jax
    import jax.numpy as jnp
    from numpyro.optim import Adam

    scales = optimiser_scales(model, pm, np.asarray(x), np.asarray(value))
    x, value = jnp.asarray(x), jnp.asarray(value)
    loss_u, constrain_u, unconstrain_u = map_objective(pm, x, value)

    # the optimiser works on w = u / scale (see optimiser_scales): the same objective
    def loss(w):
        return loss_u({k: w[k] * scales[k] for k in w})

    def constrain(w):
        return constrain_u({k: w[k] * scales[k] for k in w})

    def unconstrain(c):
        return {k: v / scales[k] for k, v in unconstrain_u(c).items()}

    starts = [initial_point(model, pm, np.asarray(x), np.asarray(value), k, seed, eps)
              for k in range(restarts)]
    u0 = jax.tree.map(lambda *a: jnp.stack(a), *[unconstrain(s) for s in starts])
    opt = Adam(lr)
    grad = jax.value_and_grad(loss)

    def step(state, _):
        value_, g = jax.vmap(grad)(jax.vmap(opt.get_params)(state))
        return jax.vmap(opt.update)(g, state), value_

    state, curve = _scan_blocks(step, jax.vmap(opt.init)(u0), steps, "map (adam)", quiet)
    u_adam = jax.vmap(opt.get_params)(state)
    if polish:
        u_adam = _polish(loss, u_adam)
    finals = np.asarray(jax.jit(jax.vmap(loss))(u_adam))
    points = [jax.tree.map(lambda a: a[k], u_adam) for k in range(restarts)]
    if not np.any(np.isfinite(finals)):
        raise run_error("the MAP fit failed: the loss is not finite at any restart",
                        hint="try a smaller --lr, a different --seed or a larger observation scale")
    best = int(np.nanargmin(np.where(np.isfinite(finals), finals, np.nan)))
    params = {k: np.asarray(v) for k, v in constrain(points[best]).items()}
    params = {**{k: np.asarray(v) for k, v in pm.fixed.items()}, **params}
    return FitOutcome("map", params, float(finals[best]), loss=np.asarray(curve[:, best]),
                      info={"restarts": restarts, "best_restart": best, "steps": steps, "lr": lr,
                            "seed": seed, "polish": int(bool(polish)),
                            "restart_losses": finals.tolist()})


def _polish(loss, u):
    """L-BFGS-B (scipy) of each restart from its Adam point, with jitted JAX gradients; a restart
    whose polish ends non-finite keeps its Adam point."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    restarts = jax.tree.leaves(u)[0].shape[0]
    points = [jax.tree.map(lambda a: a[k], u) for k in range(restarts)]
    _, unravel = ravel_pytree(points[0])
    fun = jax.jit(jax.value_and_grad(lambda v: loss(unravel(v))))  # compiled once for all restarts

    def scipy_fun(v):
        val, g = fun(v)
        return float(val), np.asarray(g, dtype=float)

    out = []
    # L-BFGS-B's small dense algebra is much slower with threaded BLAS on a busy machine
    with threadpool_limits(1):
        for point in points:
            flat = np.asarray(ravel_pytree(point)[0], dtype=float)
            res = minimize(scipy_fun, flat, jac=True, method="L-BFGS-B", options=POLISH)
            out.append(unravel(jnp.asarray(res.x if np.isfinite(res.fun) else flat)))
    return jax.tree.map(lambda *a: jnp.stack(a), *out)


def run_svi(model, pm, x, value, *, steps, lr, seed, draws, start, quiet=True):
    """Mean-field Gaussian guide (AutoNormal) started at `start` (the MAP point); Trace_ELBO, Adam."""
    import jax
    import jax.numpy as jnp
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.infer.initialization import init_to_value
    from numpyro.optim import Adam

    x, value = jnp.asarray(x), jnp.asarray(value)
    guide = AutoNormal(pm.fn, init_loc_fn=init_to_value(values=start))
    svi = SVI(pm.fn, guide, Adam(lr), Trace_ELBO())
    key_init, key_draw = jax.random.split(jax.random.PRNGKey(seed))
    state = svi.init(key_init, x, value)

    def step(s, _):
        s, loss = svi.update(s, x, value)
        return s, loss

    state, curve = _scan_blocks(step, state, steps, "svi", quiet)
    if not np.all(np.isfinite(curve[-max(1, steps // 10):])):
        raise run_error("the SVI fit failed: the ELBO is not finite",
                        hint="try a smaller --lr or a different --seed")
    params = svi.get_params(state)
    samples = guide.sample_posterior(key_draw, params, sample_shape=(draws,))
    samples = {k: np.asarray(v)[None] for k, v in samples.items() if k in pm.priors}
    point = {k: np.asarray(v) for k, v in guide.median(params).items() if k in pm.priors}
    return FitOutcome("svi", {**{k: np.asarray(v) for k, v in pm.fixed.items()}, **point},
                      float(np.mean(curve[-max(1, steps // 10):])), loss=np.asarray(curve),
                      samples=samples, info={"steps": steps, "lr": lr, "seed": seed,
                                             "guide": "AutoNormal"})


def run_nuts(model, pm, x, value, *, chains, warmup, draws, seed, start, quiet=True):
    """NUTS (vectorised chains) started at `start`; ArviZ's r_hat, ess_bulk / ess_tail and the
    divergences are recorded."""
    import jax.numpy as jnp
    from numpyro.infer import NUTS
    from numpyro.infer.initialization import init_to_value

    from hjdsl.fit.arviz_groups import ESTIMATORS, diagnostics

    x, value = jnp.asarray(x), jnp.asarray(value)
    kernel = NUTS(pm.fn, init_strategy=init_to_value(values=start))
    samples, extra = nuts_chains(kernel, (x, value), chains=chains, warmup=warmup, draws=draws,
                                 seed=seed, quiet=quiet)
    samples = {k: v for k, v in samples.items() if k in pm.priors}
    stats = arviz_stats(extra)
    if not all(np.all(np.isfinite(v)) for v in samples.values()):
        raise run_error("NUTS failed: the chains produced non-finite samples",
                        hint="check the priors and the observation scale")
    # ArviZ's own estimators, so the figures reported equal az.rhat / az.ess on the posterior
    diag = diagnostics(samples)
    max_r_hat = float(max(np.max(v) for v in diag["r_hat"].values()))
    n_div = int(stats["diverging"].sum())
    warnings = []
    if n_div:
        warnings.append(f"{n_div} divergent transition(s) after warm-up: the posterior may be "
                        "biased; increase --warmup or reparameterise")
    if not max_r_hat < 1.05:
        warnings.append(f"r_hat = {max_r_hat:.3f} > 1.05: the chains have not mixed; increase "
                        "--warmup/--draws or use more chains before trusting this posterior")
    point = _summary_point(samples, stats, learned_atoms=model.particles.learned)
    return FitOutcome("nuts", {**{k: np.asarray(v) for k, v in pm.fixed.items()}, **point},
                      float(-np.mean(stats["lp"])), samples=samples,
                      sample_stats=stats,
                      info={"chains": chains, "warmup": warmup, "draws": draws, "seed": seed,
                            "divergences": n_div, "max_r_hat": max_r_hat,
                            "min_ess": float(min(np.min(v) for v in diag["ess_bulk"].values())),
                            "min_ess_tail": float(min(np.min(v) for v in diag["ess_tail"].values())),
                            "diagnostics": ESTIMATORS, **diag},
                      warnings=warnings)


def nuts_chains(kernel, args: tuple, *, chains: int, warmup: int, draws: int, seed: int,
                quiet: bool = True):
    """Run `chains` vectorised NUTS chains: warm-up, then `draws` kept draws, as jitted lax.scan
    blocks with a progress bar per phase. Returns (constrained samples, extra fields), each
    (chain, draw, ...).

    The step is numpyro's own kernel and adaptation (the schedule lives in the state), so the
    chains are bit for bit those of `MCMC(chain_method="vectorized")` with warmup then run; only
    the loop is ours, so that progress can be shown while the chains move.
    """
    import jax

    from hjdsl.progress import progress

    keys = jax.random.split(jax.random.PRNGKey(seed), chains) if chains > 1 else \
        jax.random.PRNGKey(seed)
    state = kernel.init(keys, warmup, None, model_args=args, model_kwargs={})
    constrain = kernel.postprocess_fn(args, {})
    if chains > 1:
        constrain = jax.vmap(constrain)

    def step(s, _):
        s = kernel.sample(s, args, {})
        return s, (constrain(s.z), {name: _field(s, name) for name in NUTS_STATS})

    run = jax.jit(lambda s, n: jax.lax.scan(step, s, None, length=n), static_argnums=1)
    size = _block_size(warmup, draws)
    kept = []
    label = f"{chains} chain{'s' if chains > 1 else ''}, vectorised"
    for phase, steps in ((f"nuts warm-up ({label})", warmup), (f"nuts draws ({label})", draws)):
        with progress(phase, steps, enabled=not quiet) as advance:
            for n in _blocks_of(steps, size):
                state, out = run(state, n)
                if phase.startswith("nuts draws"):
                    kept.append(out)
                advance(n)
    # scan stacks draws first; chains (when vectorised) come second
    samples, extra = jax.tree.map(lambda *b: np.concatenate([np.asarray(a) for a in b]), *kept)
    to_chain_draw = (lambda a: np.swapaxes(a, 0, 1)) if chains > 1 else (lambda a: a[None])
    return ({k: to_chain_draw(v) for k, v in samples.items()},
            {k: to_chain_draw(v) for k, v in extra.items()})


def _field(state, dotted: str):
    for part in dotted.split("."):
        state = getattr(state, part)
    return state


def _block_size(warmup: int, draws: int) -> int:
    """The scan length for both phases: about (warmup + draws) / (2 BLOCKS), and a divisor of both
    counts when one is near it. Every distinct length is another compilation of the whole NUTS
    step (seconds each): 500 + 1,000 in blocks of 37 took three (37, 19, 1), blocks of 25 one."""
    target = max(1, (warmup + draws) // (2 * BLOCKS))
    common = math.gcd(warmup, draws)
    size = max((k for k in range(1, min(target, common) + 1) if common % k == 0), default=1)
    return size if 2 * size >= target else target  # not so small that the bar floods


def _blocks_of(steps: int, size: int) -> list[int]:
    """`steps` as blocks of `size` and one remainder block (a second compiled length, a third
    when the other phase's remainder differs)."""
    return [size] * (steps // size) + ([steps % size] if steps % size else [])


def arviz_stats(extra: dict) -> dict:
    """numpyro's extra fields under ArviZ's sample_stats names and dtypes: `diverging` bool (an
    int would mark a divergence at every draw 0 in az.plot_trace), `lp` = −potential energy,
    `n_steps` and `tree_depth` integers (as arviz.from_numpyro builds them)."""
    stats = {name: np.asarray(extra[field]) for field, name in NUTS_STATS.items()}
    stats["diverging"] = stats["diverging"].astype(bool)
    stats["lp"] = -stats["lp"].astype(float)
    stats["n_steps"] = stats["n_steps"].astype(np.int64)
    stats["tree_depth"] = np.log2(stats["n_steps"]).astype(np.int64) + 1
    for name in ("acceptance_rate", "energy", "step_size"):
        stats[name] = stats[name].astype(float)
    return stats


def _summary_point(samples, stats, learned_atoms: bool) -> dict:
    """Posterior mean; with free atoms (exchangeable, labels may switch) the most probable draw."""
    if learned_atoms:
        c, d = np.unravel_index(np.argmax(stats["lp"]), stats["lp"].shape)
        return {k: v[c, d] for k, v in samples.items()}
    return {k: v.mean(axis=(0, 1)) for k, v in samples.items()}


# Elements of one (draws × points × atoms) block of predict: 32 MB, so the intermediate logits of
# many draws never exceed what the run's budget counted (the predictions themselves).
PREDICT_BLOCK = 2**22


def predict(pm, params_by_draw: dict, x) -> np.ndarray:
    """The likelihood mean at x for each draw: params (S, ...) -> (S, len(x)), vectorised over
    blocks of draws (the last block padded, so one compiled program serves them all)."""
    import jax
    import jax.numpy as jnp

    fixed = {k: jnp.asarray(v) for k, v in pm.fixed.items()}
    x = jnp.asarray(x)
    fn = jax.jit(jax.vmap(lambda p: pm.forward({**fixed, **p}, x)))
    n_draws = len(next(iter(params_by_draw.values())))
    n_atoms = np.shape(params_by_draw.get("g", pm.fixed.get("g")))[-1]
    size = int(min(n_draws, max(1, PREDICT_BLOCK // max(x.shape[0] * n_atoms, 1))))
    pad = -n_draws % size
    padded = {k: np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]) if pad else v
              for k, v in ((k, np.asarray(v)) for k, v in params_by_draw.items())}
    out = [np.asarray(fn({k: jnp.asarray(v[i:i + size]) for k, v in padded.items()}))
           for i in range(0, n_draws + pad, size)]
    return np.concatenate(out)[:n_draws]
