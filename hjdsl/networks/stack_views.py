"""Compare a stack: each unit's single-layer views at its input, the max-plus stack, the bound."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Diagnostic, UsageError
from hjdsl.networks.stack import Stack, bound_terms, layer_forward

# Long names of the stack Dataset's own variables (CF long_name; units are all "1").
LONG_NAMES = {
    "layer": "layer index l", "unit": "unit index i within a layer",
    "layer_name": "layer name", "layer_kind": "layer kind (lse or softplus)",
    "layer_eps": "eps_l of the layer", "layer_t": "t_l of the layer",
    "layer_width": "units of the layer", "layer_atoms": "atoms N_l of each unit",
    "lipschitz": "Lip_l = max_ij |W_ij|_1, the layer's Lipschitz constant in the inf-norm",
    "bound_term": "(prod_{k>l} Lip_k) eps_l log N_l",
    "network": "f_eps(x), the stack's output",
    "tropical": "f_0(x), the max-plus stack (every eps_l -> 0)",
    "stack_gap": "|f_eps(x) - f_0(x)|", "stack_bound": "sum_l (prod_{k>l} Lip_k) eps_l log N_l",
    "hidden": "h_l(x), the features after layer l (eps stack)",
    "hidden_tropical": "h_l^0(x), the features after layer l of the max-plus stack",
    "hidden_gap": "|h_l - h_l^0|_inf after layer l",
    "hidden_bound": "the bound on |h_l - h_l^0|_inf after layer l",
    "layer_network": "unit i of layer l at its input h_{l-1}: f_eps",
    "layer_tropical": "unit i of layer l at its input h_{l-1}: f_0 = max_j z_ij",
    "layer_hopf_cole": "unit i of layer l at its input: u_eps (Hopf-Cole, atoms y = 2tW)",
    "layer_hopf_lax": "unit i of layer l at its input: u_0 (Hopf-Lax)",
    "identity_residual": "f_eps + u_eps - |h|^2/(4t) at the layer's input",
    "identity_scale": "size S of the terms that cancel in the identity",
}


def _usage(message: str) -> UsageError:
    return UsageError((Diagnostic("error", message, code="U021"),))


def check_points(stack: Stack, x) -> np.ndarray:
    points = stack.evaluate if x is None else np.asarray(x, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None] if stack.dim == 1 else points[None, :]
    if points.ndim != 2 or points.shape[1] != stack.dim or points.shape[0] == 0:
        raise _usage(f"x must hold points of dimension {stack.dim} (shape (n, {stack.dim})), "
                     f"got shape {np.shape(x)}")
    if not np.all(np.isfinite(points)):
        raise _usage("x must be finite")
    return points


def check_memory(stack: Stack, n: int) -> None:
    """Refuse, before any work, a compare whose arrays exceed the memory budget."""
    from hjdsl.model.limits import over_memory

    width = max(layer.width for layer in stack.layers)
    atoms = max(layer.atoms for layer in stack.layers)
    # ~10 (layer × unit × point) arrays, and one unit's views (π and its copies, points × atoms)
    nbytes = 8 * (10 * stack.depth * width * n + 6 * n * atoms)
    message = over_memory(nbytes, f"compare of a stack of {stack.depth} layers × {width:,} units "
                                  f"× {n:,} points")
    if message:
        raise UsageError((Diagnostic("error", message, hint="compare fewer points", code="U011"),))


def unit_views(y, g, t: float, eps: float, h: np.ndarray) -> dict:
    """One unit as today's single LSE layer on atoms (y, g) at inputs h: the same view calls."""
    from hjdsl.model.ir import Model
    from hjdsl.views.closed_form.hopf_cole import hopf_cole_view
    from hjdsl.views.closed_form.network import network_view
    from hjdsl.views.closed_form.tropical import tropical_view
    from hjdsl.views.tolerances import identity_scale

    model = Model.from_atoms(y, g, t=t, eps=[eps], x=h)
    e = np.array([eps])
    W, b = model.weights()
    trop = tropical_view(model, h)
    net = network_view(h, W, b, e)
    hc = hopf_cole_view(h, model.y, model.g, model.t, model.hamiltonian, e, weights=False)
    quad = model.hamiltonian.quadratic_term(h, model.t)
    scale = identity_scale(model, h, net["pi"], net["f"], hc["u"], quad, trop["active"])
    return {"network": net["f"][0], "tropical": net["f0"], "hopf_cole": hc["u"][0],
            "hopf_lax": trop["u0"], "identity": (net["f"] + hc["u"] - quad)[0],
            "identity_scale": scale[0]}


def compare_stack(stack: Stack, x=None, quiet: bool = True):
    """The stack's Dataset: per-layer views (`layer`, `unit` dims), the max-plus stack, the bound.

    Unit i of layer l is evaluated exactly as today's single-layer compare evaluates a layer,
    on the atoms y = 2t·W_i, g = −b_i − t|W_i|², at that layer's input h_{l−1}(x) of the ε
    stack. The stack itself (f_ε, the max-plus f_0 and every hidden layer's gap) runs on the
    layers' own W and b.
    """
    import xarray as xr

    from hjdsl.progress import progress
    from hjdsl.results import stamp

    x = check_points(stack, x)
    check_memory(stack, x.shape[0])
    L, n, width = stack.depth, x.shape[0], max(layer.width for layer in stack.layers)
    names = ("network", "tropical", "hopf_cole", "hopf_lax", "identity", "identity_scale")
    per_unit = {k: np.full((L, width, n), np.nan) for k in names}
    hidden, hidden0 = np.full((L, width, n), np.nan), np.full((L, width, n), np.nan)
    h, h0 = x, x
    units = sum(layer.width for layer in stack.layers)
    with progress(f"stack layers ({units} units)", units, enabled=not quiet) as advance:
        for l, layer in enumerate(stack.layers):
            for i in range(layer.width):
                y, g = layer.atoms_of_unit(i)
                views = unit_views(y, g, layer.t, layer.eps, h)
                for k in names:
                    per_unit[k][l, i] = views[k]
                advance()
            h, h0 = layer_forward(layer, h, layer.eps), layer_forward(layer, h0, 0.0)
            hidden[l, :layer.width], hidden0[l, :layer.width] = h.T, h0.T
    terms = bound_terms(stack.layers)
    lips = np.array([layer.lipschitz for layer in stack.layers])
    # the bound after layer l: Σ_{m ≤ l} (Π_{m<k≤l} Lip_k) ε_m log N_m
    partial = np.zeros(L)
    for l, layer in enumerate(stack.layers):
        partial[l] = (partial[l - 1] * lips[l] if l else 0.0) + layer.eps * np.log(layer.atoms)
    hidden_gap = np.nanmax(np.abs(hidden - hidden0), axis=1)
    f, f0 = h[:, 0], h0[:, 0]
    layers = stack.layers
    ds = xr.Dataset(
        {
            "x": (("point", "dim"), x),
            "network": ("point", f), "tropical": ("point", f0),
            "stack_gap": ("point", np.abs(f - f0)), "stack_bound": ((), float(terms.sum())),
            "layer_name": ("layer", np.array([la.name for la in layers], dtype=object)),
            "layer_kind": ("layer", np.array([la.kind for la in layers], dtype=object)),
            "layer_eps": ("layer", np.array([la.eps for la in layers])),
            "layer_t": ("layer", np.array([la.t for la in layers])),
            "layer_width": ("layer", np.array([la.width for la in layers])),
            "layer_atoms": ("layer", np.array([la.atoms for la in layers])),
            "lipschitz": ("layer", lips), "bound_term": ("layer", terms),
            "hidden": (("layer", "unit", "point"), hidden),
            "hidden_tropical": (("layer", "unit", "point"), hidden0),
            "hidden_gap": (("layer", "point"), hidden_gap), "hidden_bound": ("layer", partial),
            **{f"layer_{k}": (("layer", "unit", "point"), per_unit[k])
               for k in ("network", "tropical", "hopf_cole", "hopf_lax")},
            "identity_residual": (("layer", "unit", "point"), per_unit["identity"]),
            "identity_scale": (("layer", "unit", "point"), per_unit["identity_scale"]),
        },
        coords={"layer": np.arange(L), "unit": np.arange(width), "point": np.arange(n),
                "dim": np.arange(stack.dim)},
    )
    for name, text in LONG_NAMES.items():
        if name in ds.variables:
            ds[name].attrs["long_name"] = text
    learned = {}
    if stack.training is not None and stack.training.loss_end is not None:
        t = stack.training  # the views above ran on the trained weights
        learned = dict(train_steps=t.steps, train_lr=t.lr, train_points=t.data.size,
                       train_loss_start=t.loss_start, train_loss_end=t.loss_end)
    return stamp(ds, stack, kind="stack", depth=L,
                 norm="inf (Lip_l in the inf-norm of the layer's input and output)", **learned)
