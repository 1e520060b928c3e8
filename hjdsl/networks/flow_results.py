"""The checks of a residual or recurrent spec as one Dataset (a `step` dim), CF-described."""

from __future__ import annotations

import datetime as _dt
import json

import numpy as np

from hjdsl.networks.costate import autodiff, pmp, relative_error
from hjdsl.networks.train import adam, weight_gradient

SIGN_CONVENTION = {
    "residual": "p_k = -dLoss/dx_k; H(x, p, theta) = p . F(x, theta); "
                "dLoss/dtheta_k = -h sum_i dH/dtheta(x_k^i, p_{k+1}^i, theta_k)",
    "recurrent": "x_{k+1} = x_k + F, F = f(x_k, u_k) - x_k (h = 1); p_k = -dLoss/dx_k; "
                 "H = p . F; dLoss/dtheta = -sum_k sum_i dH/dtheta(x_k^i, p_{k+1}^i, theta, u_k^i)",
}
NO_ODE = ("a recurrence x_{k+1} = f(x_k, u_k) has its step fixed at 1 by the sequence index: "
          "there is no h to refine toward an ODE")


def flow_dataset(model, quiet: bool = True):
    """Run (and, with `learn`, first fit) the network; compare PMP with autodiff; refine h.

    Variables: state, costate, backprop (step, sample, component); costate_error (step);
    hamiltonian (step, sample; NaN at the terminal step, which has no update); weight_grad_error
    (per step for a residual net, one number for a recurrent one); for a residual net the ODE
    refinement ode_error, ode_order (refinement, with coordinate h) and ode_hamiltonian.
    """
    import xarray as xr

    from hjdsl.jaxsetup import float64
    from hjdsl.progress import progress

    with float64():
        net, losses = model.net(), None
        if model.learn:
            with progress("fitting θ (Adam, co-state gradient)", model.learn, not quiet) as adv:
                net, losses = adam(net, model.learn, model.lr, adv)
        run = pmp(net)
        _check_finite(run, model)
        d_x, d_theta = autodiff(net)
        pmp_grad = weight_gradient(net, run)
        convergence = None
        if model.kind == "residual":
            from hjdsl.networks.ode import convergence as refine

            convergence = refine(net)
    K, (n, d) = net.steps, net.x0.shape
    steps = np.arange(K + 1)
    ham = np.full((K + 1, n), np.nan)
    ham[:K] = run.hamiltonian
    per_step = model.kind == "residual"
    if per_step:
        errs = np.stack([relative_error(g, d_theta[name], axis=tuple(range(1, g.ndim)))
                         for name, g in pmp_grad.items()]).max(axis=0)
        grad_err = ("step", np.append(errs, np.nan),
                    {"long_name": "max relative error of -h sum_i dH/dtheta_k against "
                                  "jax.grad dLoss/dtheta_k (NaN: the terminal step)"})
    else:
        grad_err = ((), max(float(relative_error(pmp_grad[k], d_theta[k], axis=None))
                            for k in pmp_grad),
                    {"long_name": "max relative error of -sum_k sum_i dH/dtheta against "
                                  "jax.grad dLoss/dtheta (weights shared by every step)"})
    data_vars = {
        "state": (("step", "sample", "component"), run.states, {"long_name": "state x_k"}),
        "costate": (("step", "sample", "component"), run.costates,
                    {"long_name": "co-state p_k by the backward recursion"}),
        "backprop": (("step", "sample", "component"), -d_x,
                     {"long_name": "-dLoss/dx_k by jax.grad of the unrolled loss"}),
        "costate_error": ("step", relative_error(run.costates, -d_x, axis=(1, 2)),
                          {"long_name": "max relative error of p_k against -dLoss/dx_k"}),
        "hamiltonian": (("step", "sample"), ham,
                        {"long_name": "H(x_k, p_{k+1}, theta_k) = p_{k+1} . F(x_k, theta_k) "
                                      "(NaN: the terminal step)"}),
        "weight_grad_error": grad_err,
        "terminal_loss": ((), run.loss, {"long_name": "mean (r . x_K - value)^2"}),
    }
    coords = {"step": ("step", steps, {"long_name": "update step k (layer or sequence index; "
                                                    "K: the terminal state)"}),
              "sample": ("sample", np.arange(n), {"long_name": "data point index"}),
              "component": ("component", np.arange(d), {"long_name": "component of the state x"})}
    if losses is not None:
        data_vars["train_loss"] = ("iteration", losses, {"long_name": "loss per Adam step"})
        coords["iteration"] = ("iteration", np.arange(1, losses.size + 1),
                               {"long_name": "Adam step"})
    if convergence is not None:
        hams = np.full((convergence.h.size, K + 1), np.nan)
        hams[:, :K] = convergence.hamiltonian
        coords["refinement"] = ("refinement", np.arange(convergence.h.size),
                                {"long_name": "refinement r: h / 2^r with K h fixed"})
        coords["h"] = ("refinement", convergence.h, {"long_name": "Euler step size"})
        data_vars.update({
            "ode_error": ("refinement", convergence.error,
                          {"long_name": "max |x_K(h) - x(T)| against the ODE solution"}),
            "ode_order": ("refinement", convergence.order,
                          {"long_name": "observed order log2(e(2h) / e(h)) (NaN: coarsest)"}),
            "ode_hamiltonian": (("refinement", "step"), hams,
                                {"long_name": "sample mean of H at s = k h along the refined "
                                              "trajectory"}),
        })
    ds = xr.Dataset(data_vars, coords=coords)
    return _stamp(ds, model)


def _check_finite(run, model) -> None:
    """A net whose states or co-states overflow has no gradient to check: a failed run."""
    from hjdsl.errors import RunError

    for name, values in (("state", run.states), ("co-state", run.costates)):
        bad = ~np.all(np.isfinite(values), axis=(1, 2))
        if bad.any():
            k = int(np.argmax(bad))
            raise RunError.single(
                f"the {name} of {model.kind} network {model.name!r} is not finite at step {k} "
                f"of {model.steps}: the network diverges", code="R720",
                hint="use a smaller scale or h, fewer steps, or a contracting A")


def _stamp(ds, model):
    from hjdsl.results import netcdf_safe
    from hjdsl.units import describe
    from hjdsl.version import __version__

    declared = model.declared
    ds.attrs.update(netcdf_safe({
        "model": model.name, "description": model.description, "network": model.kind,
        "cell": model.cell_name, "formula": model.cell.formula, "steps": model.steps,
        "h": model.h, "horizon_T": model.h * model.steps, "state_width": model.width,
        "cell_eps": model.eps, "parameters": model.param_source, "learn_steps": model.learn,
        "sign_convention": SIGN_CONVENTION[model.kind],
        "loss": "mean over samples of (r . x_K - value)^2, r the fixed readout",
        "declared_hamiltonian": declared.hamiltonian if declared else "",
        "declared_eps": list(declared.eps) if declared and declared.eps else None,
        "declared_label": "structural" if declared else "",
        "declared_reason": declared.reason if declared else "",
        "spec_sha256": model.spec_sha256, "spec_path": model.path or "",
        "overrides": json.dumps(dict(o.split("=", 1) for o in model.overrides)),
        "hjdsl_version": __version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }))
    return describe(ds)
