"""One study configuration, fitted: every seed of it in one jitted, vmapped program."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import run_error
from hjdsl.model import distributions as D
from hjdsl.model.limits import over_memory

# Arrays of (seeds, points, atoms) float64 that a step holds at once: logits, their exp and the
# backward pass's copies (measured peak / one array on the d = 1 study ≈ 4).
LIVE_ARRAYS = 5


def draw_data(study, config, seed: int):
    """(x_train, v_train, x_test, v_test_clean) for one seed: x from the study's distribution,
    v = target(x) plus Gaussian noise on the training values only (the test error is against
    the noise-free target, so it measures estimation error)."""
    rng = np.random.default_rng([seed, config.dim, config.n])
    x = D.FAMILIES[study.x_family].draw(rng, dict(study.x_params),
                                        (config.n + study.test, config.dim)).astype(float)
    v = np.asarray(target_values(study, x), dtype=float)
    noisy = v[:config.n] + (rng.normal(0.0, study.noise, config.n) if study.noise > 0 else 0.0)
    return x[:config.n], noisy, x[config.n:], v[config.n:]


def target_values(study, x, xp=np):
    """The target expression at points x (n, d): one value per point."""
    from hjdsl.model.lower import evaluate

    pts = x[:, 0] if x.shape[1] == 1 else x
    return xp.broadcast_to(evaluate(study.target, {"x": pts}, xp=xp, pointwise={"x"}), (x.shape[0],))


def fit_trained(study, config) -> dict:
    """Full-batch Adam (numpyro's, as `solve --method map`) on the MSE of one LSE layer
    f(x) = ε log Σ_j exp((W_j·x + b_j)/ε), all seeds vmapped in one lax.scan of `steps` steps;
    optional L-BFGS polish (the MAP path's). Returns per-seed train / test RMSE and the layer."""
    import jax
    import jax.numpy as jnp
    from numpyro.optim import Adam

    from hjdsl.jaxsetup import float64

    S, n, N = len(config.seeds), config.n, config.width
    problem = over_memory(LIVE_ARRAYS * 8 * S * (n + study.test) * N,
                          f"configuration {config.key} ({S} seeds × {n} points × {N} atoms)")
    if problem:
        raise run_error(f"study {study.name}: {problem}", hint="use fewer seeds, points or atoms")
    data = [draw_data(study, config, s) for s in config.seeds]
    with float64():
        xs, vs = (jnp.asarray(np.stack([p[k] for p in data])) for k in (0, 1))
        xt, vt = (jnp.asarray(np.stack([p[k] for p in data])) for k in (2, 3))
        eps = config.eps
        params0 = jax.tree.map(jnp.asarray, INITS[study.init](study, config, data))

        def loss(p, x, v):
            return lse_mse(p, x, v, eps)

        opt = Adam(study.lr)
        grad = tiled_value_and_grad(eps, n, tile_points(S, N, n))

        def step(state, _):
            p = jax.vmap(opt.get_params)(state)
            value, g = jax.vmap(grad)(p, xs, vs)
            return jax.vmap(opt.update)(g, state), value

        run = jax.jit(lambda s: jax.lax.scan(step, s, None, length=study.steps))
        state, curve = run(jax.vmap(opt.init)(params0))
        params = jax.vmap(opt.get_params)(state)
        if study.polish:
            params = _polish(loss, params, xs, vs)
        rmse = jax.jit(jax.vmap(lambda p, x, v: jnp.sqrt(loss(p, x, v))))
        train, test = np.asarray(rmse(params, xs, vs)), np.asarray(rmse(params, xt, vt))
        out = {k: np.asarray(v) for k, v in params.items()}
    if not np.all(np.isfinite(train)):
        raise run_error(f"study {study.name}: the fit of {config.key} diverged (loss not finite)",
                        hint="lower lr")
    # the smallest loss the run passed through: at ε = N^(-1/d) Adam at the paper's lr can
    # spike in its last steps, leaving the final iterate above what the fit had reached
    return {"train_rmse": train, "test_rmse": test, "final_loss": np.asarray(curve[-1]),
            "min_loss": np.asarray(curve).min(axis=0),
            "W": out["W"], "b": out["b"]}


def lse_mse(p, x, v, eps: float):
    """The MSE of f(x) = ε log Σ_j exp((W_j·x + b_j)/ε) at points x (n, d), max-shifted. The
    shift carries no gradient, so autodiff of it is the exact softmax gradient (the polish and
    benchmarks/bench_study.py differentiate it; the Adam steps use `tiled_value_and_grad`)."""
    import jax
    import jax.numpy as jnp

    z = (x @ p["W"].T + p["b"]) / eps
    top = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    f = eps * (top[..., 0] + jnp.log(jnp.sum(jnp.exp(z - top), axis=-1)))
    return jnp.mean((f - v) ** 2)


# Points per tile of the tiled gradient: seeds × tile × atoms float64 logits of about 2 MiB,
# which stay in the cache through a tile's forward and backward pass. Per Adam step against
# autodiff (benchmarks/bench_study.py --step, idle machine): 2.1-3.0x faster on the
# reproduction's tasks with N >= 200 in d = 2 and 4, 1.0-1.4x at d = 1, N >= 200, and
# 0.56-0.85x on the small tasks (N <= 100 in d = 1), which take seconds.
TILE_FLOATS = 2**18


def tile_points(seeds: int, width: int, n: int) -> int:
    return int(min(n, max(16, TILE_FLOATS // (seeds * width))))


def tiled_value_and_grad(eps: float, n: int, tile: int):
    """(loss, grad) of one seed's MSE of f(x) = ε log Σ_j exp((W_j·x + b_j)/ε), in closed form
    over tiles of `tile` points (a lax.scan): per tile the logits z, e = exp(z − max z),
    s = Σ e, f, r = f − v, then ∂/∂(W, b) of mean r² is Σ_i (2/n)(r_i/s_i) e_ij (x_i, 1).
    Autodiff of the same loss keeps (points × atoms) arrays alive between its passes, which
    at n = 4000 fall out of the cache; a tile's stay in it. Points past n (the last tile's
    padding) carry weight 0."""
    import jax
    import jax.numpy as jnp

    tiles = -(-n // tile)
    pad = tiles * tile - n

    def value_and_grad(p, x, v):
        d = x.shape[-1]
        w = jnp.concatenate([jnp.full(n, 1.0 / n), jnp.zeros(pad)]).reshape(tiles, tile)
        xt = jnp.concatenate([x, jnp.zeros((pad, d))]).reshape(tiles, tile, d)
        vt = jnp.concatenate([v, jnp.zeros(pad)]).reshape(tiles, tile)

        def one_tile(acc, batch):
            xi, vi, wi = batch
            z = (xi @ p["W"].T + p["b"]) / eps
            top = jnp.max(z, axis=-1, keepdims=True)
            e = jnp.exp(z - top)
            s = jnp.sum(e, axis=-1)
            r = eps * (top[:, 0] + jnp.log(s)) - vi
            c = 2 * wi * r / s  # ∂L/∂z_ij = c_i e_ij
            # plain sums over the tile's points, not products: XLA splits a product's
            # contraction among its threads, so its bits depend on the core count (one
            # worker with two threads and two pinned workers would give other fits). The
            # barrier keeps XLA from turning a sum of products back into a product.
            terms = [e * (c * xi[:, k])[:, None] for k in range(d)] + [e * c[:, None]]
            sums = [jnp.sum(t, axis=0) for t in jax.lax.optimization_barrier(terms)]
            gW = jnp.stack(sums[:d], axis=-1)
            return (acc[0] + jnp.sum(wi * r * r), acc[1] + gW, acc[2] + sums[d]), None

        zero = (jnp.zeros(()), jnp.zeros_like(p["W"]), jnp.zeros_like(p["b"]))
        (value, gW, gb), _ = jax.lax.scan(one_tile, zero, (xt, vt, w))
        return value, {"W": gW, "b": gb}

    return value_and_grad


def _tangent_init(study, config, data) -> dict:
    """Per seed: atoms at N training points, each the target's tangent plane there
    (W_j = ∇v(p_j), b_j = v(p_j) − W_j·p_j), so max_j z_j already follows a convex target;
    the seed picks the points. Gradients by JAX through the target expression."""
    import jax
    import jax.numpy as jnp

    def total(x):
        return jnp.sum(target_values(study, x, xp=jnp))

    Ws, bs = [], []
    for seed, (x, _, _, _) in zip(config.seeds, data):
        rng = np.random.default_rng([seed, 7919])
        pick = rng.choice(len(x), size=config.width, replace=config.width > len(x))
        # a small jitter keeps duplicated points (N > n) and gradient kinks apart
        p = x[pick] + rng.normal(0.0, 1e-3, (config.width, config.dim))
        W = np.asarray(jax.grad(total)(jnp.asarray(p)))
        v = np.asarray(target_values(study, p))
        Ws.append(W)
        bs.append(v - np.einsum("jk,jk->j", W, p))
    return {"W": np.stack(Ws), "b": np.stack(bs)}


def _uniform_init(study, config, data) -> dict:
    """Per seed: W, b ~ U(−1/√d, 1/√d), a common default of linear layers (the paper's
    scripts train from such a start)."""
    N, d = config.width, config.dim
    bound = 1.0 / np.sqrt(d)
    Ws, bs = [], []
    for seed in config.seeds:
        rng = np.random.default_rng([seed, 7919])
        Ws.append(rng.uniform(-bound, bound, (N, d)))
        bs.append(rng.uniform(-bound, bound, N))
    return {"W": np.stack(Ws), "b": np.stack(bs)}


def _conjugate_init(study, config, data) -> dict:
    """Per seed: atoms y_j on the uniform grid of the data's interval (d = 1; in d > 1 drawn
    uniformly in the data's box), W_j = y_j/(2t), and g from the target: b_j = −f*(W_j) with
    f*(p) = max_i (p·x_i − v_i) the Legendre conjugate of the training data, so each plane
    touches the data from below and max_j z_j is the convex envelope the grid resolves.

    The d = 1 grid spreads the slopes over the whole range at once: from U(−1, 1) most atoms
    start dead (π ≈ 0 everywhere at ε = N^(−1)) and Adam is still far from converged at 3000
    steps (docs/studies.md)."""
    N, d = config.width, config.dim
    Ws, bs = [], []
    for seed, (x, v, _, _) in zip(config.seeds, data):
        low, high = x.min(axis=0), x.max(axis=0)
        if d == 1:
            y = np.linspace(low[0], high[0], N)[:, None]
        else:
            y = np.random.default_rng([seed, 7919]).uniform(low, high, (N, d))
        W = y / (2 * study.t)
        Ws.append(W)
        bs.append(np.min(v[None, :] - W @ x.T, axis=1))
    return {"W": np.stack(Ws), "b": np.stack(bs)}


INITS = {"tangent": _tangent_init, "uniform": _uniform_init, "conjugate": _conjugate_init}


def _polish(loss, params, xs, vs):
    """The MAP path's L-BFGS-B polish, one seed at a time (each with its own data)."""
    import jax
    import jax.numpy as jnp

    from hjdsl.fit.infer import _polish as polish_restarts

    out = []
    for k in range(xs.shape[0]):
        one = jax.tree.map(lambda a: a[k:k + 1], params)
        out.append(polish_restarts(lambda p, k=k: loss(p, xs[k], vs[k]), one))
    return jax.tree.map(lambda *a: jnp.concatenate(a), *out)


def quadrature(study, config) -> dict:
    """The no-training check at the study's test points: the sup of `quadrature_error`."""
    d = config.dim
    rng = np.random.default_rng([config.seeds[0], d])
    x = D.FAMILIES[study.x_family].draw(rng, dict(study.x_params), (study.test, d)).astype(float)
    per_axis = int(round(config.width ** (1.0 / d)))
    err = quadrature_error(x, per_axis, config.eps, study.normalise, study.t)
    return {"test_rmse": np.array([float(np.max(np.abs(err)))])}


def quadrature_error(x, per_axis: int, eps: float, normalise: str = "interval", t: float = 1.0):
    """Normalised layer minus continuum at points x (n, d), for atoms on the uniform grid of
    `per_axis` points per axis of [−2, 2]^d with g(y) = |y|²/2: ε log(w Σ_j exp(z_j/ε)) minus
    its continuum limit ε log(|Ω|⁻¹ ∫ exp(z(y)/ε) dy), |Ω| = 4^d.

    w = (k − 1)^(−d) ("interval": h/|Ω| per axis, the Riemann weight, k = per_axis) or k^(−d)
    ("count": the paper's 1/N, which adds the bias −dε log(k/(k − 1)) ≈ −dε/k). For t = 1 the
    continuum ε log(|Ω|⁻¹ ∫ exp(z(y)/ε) dy) over ℝ^d is |x|²/12 + (d/2)ε log(4πε/3) − dε log 4."""
    from hjdsl.jaxsetup import float64
    from hjdsl.views.closed_form.lse import lse

    n, d = x.shape
    axis = np.linspace(-2.0, 2.0, per_axis)
    y = np.stack(np.meshgrid(*[axis] * d, indexing="ij"), axis=-1).reshape(-1, d)
    y2 = np.sum(y**2, axis=1)
    W, b = y / (2 * t), -y2 / 2 - y2 / (4 * t)
    weight = per_axis - 1 if normalise == "interval" else per_axis
    with float64():
        layer = np.asarray(lse(x @ W.T + b, eps)) - d * eps * np.log(weight)
    # the continuum value for general t: the Gaussian integral of exp(z(y)/eps), z concave in y
    a = 0.5 + 1 / (4 * t)  # z(y) = x·y/(2t) − a|y|²
    r2 = np.sum(x**2, axis=1)
    continuum = r2 / (16 * t**2 * a) + d / 2 * eps * np.log(np.pi * eps / a) - d * eps * np.log(4.0)
    return layer - continuum


RUNNERS = {"trained": fit_trained, "quadrature": quadrature}


def run_config(study, config) -> dict:
    """The task a dask worker runs: one configuration's arrays (numpy), by the study's kind,
    with its wall time in seconds."""
    import time

    start = time.perf_counter()
    out = RUNNERS[study.kind](study, config)
    return {**out, "seconds": np.array(time.perf_counter() - start)}
