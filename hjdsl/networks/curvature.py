"""Curvature of a stack at its readout: ∇²f = E_π[∇²z] + Cov_π(∇z)/ε, by autodiff (JAX float64)."""

from __future__ import annotations

import numpy as np

from hjdsl.networks.stack import Stack

# The curvature rows of compare look at this many evaluation points at most (a d × d Hessian
# and N readout Hessians per point, by forward-over-reverse autodiff).
CURVATURE_POINTS = 16


def _readout(stack: Stack):
    """jax functions x ↦ z(x) (the readout's logits, N) and x ↦ f(x), x of shape (d,)."""
    from hjdsl.jaxsetup import jax_x64
    from hjdsl.views.closed_form.lse import lse

    jax_x64()
    import jax.numpy as jnp

    layers = [(jnp.asarray(la.W), jnp.asarray(la.b), la.eps) for la in stack.layers]

    def features(x):
        h = x
        for W, b, eps in layers[:-1]:
            h = lse(jnp.einsum("d,ujd->uj", h, W) + b, eps)
        return h

    W, b, eps = layers[-1]

    def logits(x):
        return jnp.einsum("d,jd->j", features(x), W[0]) + b[0]

    return logits, (lambda x: lse(logits(x), eps)), eps


def curvature(stack: Stack, x) -> dict:
    """At points x (n, d): the Hessian of f by autodiff and its two terms, by autodiff of z.

    Returns hessian (n, d, d) = jax.hessian(f), expectation (n, d, d) = Σ_j π_j ∇²z_j,
    covariance (n, d, d) = Cov_π(∇z)/ε, pi (n, N), and scale (n,): the size of the terms that
    cancel (max |entry| of |E_π∇²z| + Σ_j π_j |∇z_j − E_π∇z|²/ε + |∇²f|), for a relative check.
    The readout's ε must be > 0 (f_0 is piecewise affine: no curvature to speak of).
    """
    from hjdsl.jaxsetup import jax_x64
    from hjdsl.views.closed_form.lse import softmax_weights

    jax = jax_x64()
    logits, f, eps = _readout(stack)
    # One jitted function for every quantity: op-by-op autodiff of the stack compiles each
    # primitive separately (20 s of CPU for a 3-layer stack; one compilation is a few seconds).
    def parts(point):
        return (logits(point), jax.jacfwd(logits)(point), jax.jacfwd(jax.jacrev(logits))(point),
                jax.hessian(f)(point))

    x = np.asarray(x, dtype=np.float64)
    z, Z, Hz, H = (np.asarray(a) for a in jax.jit(jax.vmap(parts))(x))
    pi = np.asarray(softmax_weights(z, eps))
    mean = np.einsum("pj,pjd->pd", pi, Z)
    centred = Z - mean[:, None, :]
    cov = np.einsum("pj,pjd,pje->pde", pi, centred, centred) / eps
    expectation = np.einsum("pj,pjde->pde", pi, Hz)
    abs_sizes = (np.einsum("pj,pjde->pde", pi, np.abs(Hz)) + np.abs(cov) + np.abs(H))
    return {"hessian": H, "expectation": expectation, "covariance": cov, "pi": pi,
            "scale": abs_sizes.reshape(len(x), -1).max(axis=1)}


def single_layer_certificate(stack: Stack) -> float | None:
    """max_j |W_j|²/ε, which bounds ‖∇²f‖₂ when the stack is one LSE layer (z affine in x).

    None at depth > 1: there ∇²z ≠ 0 and the bound does not follow (see docs/networks.md).
    """
    if stack.depth != 1:
        return None
    W, eps = stack.layers[0].W[0], stack.layers[0].eps
    return float(np.max(np.sum(W * W, axis=-1)) / eps)


def attribute_stack(stack: Stack, at):
    """Readout Gibbs weights and curvature at query points (a Dataset with `point`, `dim` dims)."""
    import xarray as xr

    from hjdsl.networks.stack_views import check_points
    from hjdsl.results import stamp

    x = check_points(stack, at)
    readout = stack.layers[-1]
    if readout.eps <= 0:
        from hjdsl.errors import UsageError

        raise UsageError.single("the readout layer has eps = 0: its Gibbs weights are one-hot and "
                                "f is piecewise affine, so there is no curvature to attribute")
    c = curvature(stack, x)
    eig = np.linalg.eigvalsh(c["hessian"])
    bound = single_layer_certificate(stack)
    ds = xr.Dataset(
        {"x": (("point", "dim"), x),
         "readout_weight": (("point", "readout_atom"), c["pi"]),
         "hessian": (("point", "dim", "dim2"), c["hessian"]),
         "hessian_expectation": (("point", "dim", "dim2"), c["expectation"]),
         "hessian_covariance": (("point", "dim", "dim2"), c["covariance"]),
         "hessian_norm": ("point", np.max(np.abs(eig), axis=1))},
        coords={"point": np.arange(len(x)), "dim": np.arange(stack.dim),
                "dim2": np.arange(stack.dim), "readout_atom": np.arange(readout.atoms)})
    ds["readout_weight"].attrs["long_name"] = "Gibbs weight pi_j of the readout's atom j"
    ds["hessian_expectation"].attrs["long_name"] = "E_pi[hessian of z_j], z the readout logits"
    ds["hessian_covariance"].attrs["long_name"] = "Cov_pi(grad z_j) / eps at the readout"
    ds["readout_atom"].attrs["long_name"] = "atom index j of the readout unit"
    extra = {"kind": "stack", "depth": stack.depth, "readout_eps": readout.eps}
    if stack.training is not None and stack.training.loss_end is not None:
        t = stack.training  # the curvature above is that of the trained weights
        extra.update(train_steps=t.steps, train_lr=t.lr, train_points=t.data.size,
                     train_loss_start=t.loss_start, train_loss_end=t.loss_end)
    if bound is not None:
        ds["bound_max_norm"] = ((), bound)
    else:
        extra["bound_max_norm"] = ("not applicable: depth > 1, the readout's logits are not "
                                   "affine in x (their Hessians enter)")
    return stamp(ds, stack, **extra)
