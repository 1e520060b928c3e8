"""Per-sample, per-step attribution of a residual or recurrent net: p_k, ∂_θℋ, step gates, π."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from hjdsl.networks.costate import Net, compiled, pmp

# Gauss–Legendre rules on the gate path α ∈ [0, 1]: 8, 16, … 256 nodes until two successive
# rules agree to QUAD_TOL relative. The integrand is analytic in α for every cell, so the rules
# converge geometrically, but not always fast: the trained Elman example's loss bends sharply
# near α = 1 and needs 256 nodes (64 leave 1e-4). Nodes run as one batch of copies of the
# samples, at most BATCH_ROWS rows at a time, so memory does not grow with the rule.
QUAD_START, QUAD_MAX, QUAD_TOL = 8, 256, 1e-12
BATCH_ROWS = 8192


@dataclass(frozen=True)
class GateAccount:
    """A_k^i = −h ∫_0^1 ℋ_k^i(α) dα for x_{k+1} = x_k + α·h·F (K, n); Σ_k A_k^i is sample i's
    share of Loss − Loss(α = 0), the loss of the net whose updates are all switched off."""

    attribution: np.ndarray
    baseline_loss: float
    nodes: int
    error_estimate: float     # max |A(rule) − A(previous rule)| / max |A(rule)|
    completeness: float       # max_i |Σ_k A_k^i − ΔLoss_i| / max_i |ΔLoss_i|


def attribution_memory(net: Net, atoms: int) -> int:
    """Bytes of the attribution arrays: the run, ∂_θℋ per sample, the gate rule, π (LSE)."""
    K, (n, d) = net.steps, net.x0.shape
    per_step = sum(int(np.prod(a.shape[1:] if net.cell.kind == "residual" else a.shape))
                   for a in net.theta.values())
    rows = int(np.clip(BATCH_ROWS // n, 1, QUAD_MAX)) * n
    values = 4 * (K + 1) * n * d + K * n * per_step + 3 * rows * d * (K + 1) \
        + 2 * K * n * d * max(atoms, 0)
    return 8 * values


def per_sample_dtheta(net: Net, run) -> dict:
    """∂_θℋ(x_k^i, p_{k+1}^i, θ_k) per step and sample: {name: (K, n, *θ shape)}.

    Its sum over the samples is `run.dtheta_h`; −h times that sum is ∂Loss/∂θ_k (residual),
    and the sum over the steps too is ∂Loss/∂θ of the shared weights (recurrent).
    """
    per_sample = _kernels(net.cell, net.eps)[1]
    grads = [per_sample(run.states[k], run.costates[k + 1], net.theta_at(k), net.u_at(k))
             for k in range(net.steps)]
    return {name: np.stack([np.asarray(g[name]) for g in grads]) for name in net.theta}


def gate_account(net: Net, final: np.ndarray) -> GateAccount:
    """Integrate the step gates' derivatives ∂Loss/∂α_k = −h·ℋ_k along α_k = α ∈ [0, 1].

    With every update scaled by one α, d Loss/dα = Σ_k ∂Loss/∂α_k = −h Σ_k ℋ_k(α), so
    Loss(1) − Loss(0) = Σ_k A_k exactly (Aumann–Shapley / integrated gradients on the gates);
    the quadrature's error is measured, not assumed. `final` is x_K of the net (α = 1).
    """
    x0, r, n = net.x0, net.readout, net.x0.shape[0]
    baseline = (x0 @ r - net.v) ** 2 / n
    previous, nodes = None, QUAD_START
    while True:
        t, w = np.polynomial.legendre.leggauss(nodes)
        alpha, weight = (t + 1.0) / 2.0, w / 2.0
        current = -net.h * np.einsum("q,kqn->kn", weight, _batched(net, alpha))
        if not np.all(np.isfinite(current)):
            _diverged(net)
        scale = max(float(np.max(np.abs(current))), np.finfo(float).tiny)
        error = np.inf if previous is None else float(np.max(np.abs(current - previous))) / scale
        if error <= QUAD_TOL or nodes >= QUAD_MAX:
            break
        previous, nodes = current, 2 * nodes
    change = (final @ r - net.v) ** 2 / n - baseline
    gap = np.max(np.abs(current.sum(axis=0) - change))
    completeness = float(gap / max(float(np.max(np.abs(change))), np.finfo(float).tiny))
    return GateAccount(current, float(baseline.sum()), nodes, error, completeness)


def _diverged(net: Net):
    """A net finite at α = 1 whose gated path overflows at some α in between: a failed run."""
    from hjdsl.errors import RunError

    raise RunError.single(
        f"the step-gate integral of this {net.cell.kind} net is not finite: the net with its "
        "updates scaled by some alpha in (0, 1) diverges, so the loss has no finite account "
        "along the path", code="R724", hint="use a smaller scale or h, or fewer steps")


def _batched(net: Net, alpha: np.ndarray) -> np.ndarray:
    """`_gated_hamiltonians` in batches of one fixed number of nodes (the last padded with
    α = 0), so every rule reuses one compiled shape instead of compiling one per rule."""
    n = net.x0.shape[0]
    size = int(np.clip(BATCH_ROWS // n, 1, QUAD_MAX))
    padded = np.concatenate([alpha, np.zeros(-alpha.size % size)])
    parts = [_gated_hamiltonians(net, padded[s:s + size]) for s in range(0, padded.size, size)]
    return np.concatenate(parts, axis=1)[:, :alpha.size]


def _gated_hamiltonians(net: Net, alpha: np.ndarray) -> np.ndarray:
    """ℋ_k(α_q) for every node α_q at once: the Q copies of the samples run as one batch of
    Q·n rows with step α_q·h, each copy's loss its own mean over the n samples."""
    F, _ = compiled(net.cell, net.eps)
    dx = _kernels(net.cell, net.eps)[0]
    Q, (n, d) = alpha.size, net.x0.shape
    step = np.repeat(alpha * net.h, n)[:, None]
    x = np.tile(net.x0, (Q, 1))
    u = None if net.u is None else np.tile(net.u, (1, Q))
    xs = [x]
    for k in range(net.steps):
        xs.append(xs[-1] + step * np.asarray(F(xs[-1], net.theta_at(k), _row(u, k))))
    r = net.readout
    p = -(2.0 / n) * (xs[-1] @ r - np.tile(net.v, Q))[:, None] * r[None, :]
    hams = np.empty((net.steps, Q * n))
    for k in reversed(range(net.steps)):
        th, uk = net.theta_at(k), _row(u, k)
        hams[k] = np.sum(p * np.asarray(F(xs[k], th, uk)), axis=1)
        p = p + step * np.asarray(dx(xs[k], p, th, uk))
    return hams.reshape(net.steps, Q, n)


def _row(u, k):
    return None if u is None else u[k]


def lse_weights(net: Net, states: np.ndarray) -> np.ndarray:
    """π_ij(x_k) = softmax_j((W_k,ij·x_k + b_k,ij)/ε) per step, sample, component: (K, n, d, m)."""
    K = net.steps
    z = np.stack([np.einsum("imc,nc->nim", net.theta_at(k)["W"], states[k]) + net.theta_at(k)["b"]
                  for k in range(K)]) / net.eps
    z = z - z.max(axis=-1, keepdims=True)  # max-shift: exp never overflows
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def entropy_normalised(pi: np.ndarray) -> np.ndarray:
    """Ent(π)/log m over the last axis (0: one atom carries everything, 1: uniform)."""
    m = pi.shape[-1]
    safe = np.where(pi > 0, pi, 1.0)
    ent = -np.sum(pi * np.log(safe), axis=-1)
    return ent / np.log(m) if m > 1 else np.zeros_like(ent)


@functools.lru_cache(maxsize=32)
def _kernels(cell, eps: float):
    """∂_xℋ for a batch, and ∂_θℋ per sample (vmapped): compiled once per cell and ε."""
    from hjdsl.jaxsetup import jax_x64, jit64

    jax = jax_x64()
    import jax.numpy as jnp

    def ham(x, p, th, u):
        return jnp.sum(p * cell.F(x, th, u, eps))

    def ham_one(x, p, th, u):  # one sample: a batch of one row
        return ham(x[None], p[None], th, None if u is None else u[None])

    recurrent = cell.kind == "recurrent"
    dx = jit64(jax.grad(ham, argnums=0))
    dtheta = jit64(jax.vmap(jax.grad(ham_one, argnums=2),
                            in_axes=(0, 0, None, 0 if recurrent else None)))
    return dx, dtheta


def not_applicable(cell_name: str, kind: str) -> dict[str, str]:
    """The single-layer attribute's outputs that a residual or recurrent spec has no use for."""
    lse = cell_name == "lse"
    rows = {
        "Gibbs weights pi over atoms": "" if lse else (
            f"the {cell_name} cell has no log-sum-exp atoms (only an lse cell's update is a "
            "softmax-weighted sum)"),
        "regime (particle / mixed / wave)": (
            "its thresholds classify one LSE layer over the data space; for an lse cell the "
            "entropy per step is given (atom_entropy), not classified") if lse else (
            "there are no Gibbs weights whose entropy it would classify"),
        "eps* = N^(-1/d)": "it is a fact of N atoms y_j placed in the data space; a network's "
                           "parameters are not atoms in the data space",
        "hallucination rho, drift bound": f"they bound one LSE layer's gap to its max-plus limit "
                                          f"from its atoms y_j, g_j; a {kind} net has none",
        "in-distribution (sqrt(2 eps t))": "there is no time t and there are no atoms to be "
                                           "near",
        "curvature bounds, certified radius": "max|W|^2/eps and diam^2/(4 eps) bound one LSE "
                                              "layer's Hessian; no such certificate is known "
                                              f"for a composition of {kind} updates",
    }
    return {name: why for name, why in rows.items() if why}


def flow_attribution(model, quiet: bool = True):
    """The attribution Dataset of a FlowModel (trained first if it has `learn`).

    Dims step (k = 0…K; per-update variables are NaN at the terminal K), sample, component, and
    one pair of dims per parameter; for an lse cell `atom`. See docs/residual.md for each variable.
    """
    import xarray as xr

    from hjdsl.errors import UsageError
    from hjdsl.jaxsetup import float64
    from hjdsl.model.limits import over_memory
    from hjdsl.networks.flow_results import _check_finite, _stamp
    from hjdsl.networks.train import adam
    from hjdsl.progress import progress
    from hjdsl.results import netcdf_safe

    net, losses = model.net(), None
    lse = model.cell_name == "lse"
    problem = over_memory(attribution_memory(net, model.atoms if lse else 0),
                          f"the attribution of {net.x0.shape[0]:,} samples × {net.steps:,} steps "
                          f"(state width {model.width})")
    if problem:
        raise UsageError.single(problem + "; use fewer data points or steps", code="U092")
    with float64():
        if model.learn:
            with progress("fitting θ (Adam, co-state gradient)", model.learn, not quiet) as adv:
                net, losses = adam(net, model.learn, model.lr, adv)
        run = pmp(net)
        _check_finite(run, model)
        dtheta = per_sample_dtheta(net, run)
        account = gate_account(net, run.states[-1])
    K, (n, d) = net.steps, net.x0.shape

    def pad(a):  # the terminal step K has no update
        return np.concatenate([a, np.full((1, *a.shape[1:]), np.nan)])

    coords = {"step": ("step", np.arange(K + 1), {"long_name": "update step k (layer or "
                                                               "sequence index; K: terminal)"}),
              "sample": ("sample", np.arange(n), {"long_name": "data point index"}),
              "component": ("component", np.arange(d), {"long_name": "component of the state x"})}
    grad = {name: -net.h * g.sum(axis=1) for name, g in dtheta.items()}
    norm = np.sqrt(sum(np.sum(g.reshape(K, -1) ** 2, axis=1) for g in grad.values()))
    data_vars = {
        "state": (("step", "sample", "component"), run.states, {"long_name": "state x_k"}),
        "costate": (("step", "sample", "component"), run.costates,
                    {"long_name": "co-state p_k = -dLoss/dx_k (backward recursion)"}),
        "hamiltonian": (("step", "sample"), pad(run.hamiltonian),
                        {"long_name": "H_k = p_{k+1} . F(x_k, theta_k)"}),
        "gate_derivative": (("step", "sample"), pad(-net.h * run.hamiltonian),
                            {"long_name": "-h H_k = dLoss/dalpha_k at alpha = 1, the step gate "
                                          "x_{k+1} = x_k + alpha_k h F"}),
        "step_attribution": (("step", "sample"), pad(account.attribution),
                             {"long_name": "-h int_0^1 H_k(alpha) dalpha: step k's share of "
                                           "Loss - baseline_loss (sums to it over step, sample)"}),
        "step_gradient_norm": ("step", pad(norm),
                               {"long_name": "|dLoss/dtheta_k| = |-h sum_i dH/dtheta| (recurrent: "
                                             "step k's share of the shared weights' gradient)"}),
        "terminal_loss": ((), run.loss, {"long_name": "mean (r . x_K - value)^2"}),
        "baseline_loss": ((), account.baseline_loss,
                          {"long_name": "the loss with every update switched off (alpha = 0)"}),
    }
    for name, g in dtheta.items():
        dims = param_dims(model.cell_name, name, g.ndim - 2)
        data_vars[f"dH_d{name}"] = (("step", "sample", *dims), pad(g),
                                    {"long_name": f"dH/d{name} (x_k^i, p_{{k+1}}^i, theta_k) per "
                                                  "sample"})
        for dim, size in zip(dims, g.shape[2:]):
            coords.setdefault(dim, (dim, np.arange(size), {"long_name": f"index of {dim}"}))
    if lse:
        pi = lse_weights(net, run.states)
        coords["atom"] = ("atom", np.arange(model.atoms), {"long_name": "LSE atom j of F_i"})
        data_vars["atom_weight"] = (("step", "sample", "component", "atom"), pad(pi),
                                    {"long_name": "pi_ij = softmax_j((W_k,ij . x_k + b_k,ij)/eps)"})
        data_vars["atom_entropy"] = (("step", "sample", "component"), pad(entropy_normalised(pi)),
                                     {"long_name": "Ent(pi_i.) / log m"})
    if losses is not None:
        data_vars["train_loss"] = ("iteration", losses, {"long_name": "loss per Adam step"})
        coords["iteration"] = ("iteration", np.arange(1, losses.size + 1),
                               {"long_name": "Adam step"})
    ds = xr.Dataset(data_vars, coords=coords)
    ds = _stamp(ds, model)
    ds.attrs.update(netcdf_safe({
        "attribution": "step gates: x_{k+1} = x_k + alpha_k h F, integrated along alpha_k = "
                       "alpha in [0, 1] (baseline: alpha = 0, every update off)",
        "quadrature_nodes": account.nodes, "quadrature_error": account.error_estimate,
        "completeness_residual": account.completeness,
        "not_applicable": "; ".join(f"{k}: {v}" for k, v in
                                    not_applicable(model.cell_name, model.kind).items()),
    }))
    return ds


def param_dims(cell_name: str, name: str, ndim: int) -> tuple[str, ...]:
    """Dim names of one parameter's axes (an lse cell's W_ij shares component and atom)."""
    if cell_name == "lse":
        return {"W": ("component", "atom", "W_col"), "b": ("component", "atom")}[name]
    return (f"{name}_row", f"{name}_col")[:ndim] if ndim == 2 else (f"{name}_index",)
