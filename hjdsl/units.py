"""CF metadata of result variables: a long_name and units for every name hjdsl writes."""

from __future__ import annotations

# CF's version string (CF §2.6.1: "CF-" and the version number).
CONVENTIONS = "CF-1.10"

# Every quantity of the model is dimensionless (x, t, eps, costs and values are pure numbers),
# so every variable carries CF's dimensionless unit "1" rather than leaving units out, which
# CF readers take as "unknown". Counts, indices and flags are dimensionless too.
DIMENSIONLESS = "1"

# Long names of the variables and coordinates that more than one builder writes, or that no
# builder describes itself. A builder's own `long_name` or `description` attribute wins.
LONG_NAMES = {
    # dimensions (index coordinates)
    "eps": "smoothing temperature eps", "point": "evaluation point index",
    "particle": "atom index j", "dim": "component of x", "dim2": "second component of x",
    "rank": "rank by Gibbs weight (1: largest)", "crit": "critical point slot (NaN padding)",
    "event": "bifurcation event index", "step": "optimiser step", "datum": "observation index",
    "chain": "chain", "draw": "draw",
    # shared quantities
    "x": "evaluation points", "y": "atoms y_j", "g": "initial data g_j at the atoms",
    "network": "f_eps(x) = eps log sum_j exp(z_j/eps), the LSE layer",
    "entropy": "Ent(pi) = d f_eps / d eps", "attribution": "Gibbs weights pi_j(x; eps)",
    "logit_gap": "gap between the two largest logits",
    # attribution
    "W": "layer weights W_j = A^-1 y_j / (2t)", "b": "layer biases b_j = -g_j - y_j'A^-1y_j/(4t)",
    "logits": "logits z_j(x) = W_j'x + b_j", "df_db": "d f_eps / d b_j (= pi_j)",
    "df_dW": "d f_eps / d W_jk (= pi_j x_k)", "soft_prediction": "E_pi[g], the soft prediction",
    "entropy_normalised": "Ent(pi) / log N", "regime": "particle, mixed or wave regime",
    "top_atom": "atoms ranked by Gibbs weight", "top_weight": "Gibbs weight of the ranked atom",
    "rho": "Delta / (eps log N)", "drift_bound": "eps log(1 + (N-1) exp(-Delta/eps))",
    "nearest_atom_distance": "distance from x to the nearest atom",
    "diffusion_radius": "sqrt(2 eps t), the diffusion radius",
    "in_distribution": "1 if the nearest atom is within the diffusion radius",
    "grad": "gradient of f_eps", "grad_norm": "norm of the gradient of f_eps",
    "hessian": "Hessian of f_eps", "hessian_norm": "spectral norm of the Hessian of f_eps",
    "bound_max_norm": "curvature bound max_j |W_j|^2 / eps",
    "bound_diameter": "curvature bound diam(W)^2 / (4 eps)",
    "certified_radius": "radius within which f changes by less than delta_f",
    # bifurcation
    "n_min": "number of entropy minima", "n_saddle": "number of entropy saddles",
    "n_max": "number of entropy maxima", "crit_x": "critical point of the entropy",
    "crit_entropy": "entropy at the critical point", "crit_index": "Morse index",
    "crit_branch": "continuation branch id", "event_eps": "eps of the event",
    "event_kind": "kind of event", "event_x": "location of the event",
    "event_entropy": "entropy at the event", "event_detail": "what happened at the event",
    "event_min_abs_eig": "smallest |Hessian eigenvalue| at the event",
    # solve
    "y_hat": "fitted atoms", "g_hat": "fitted initial data at the atoms",
    "prediction": "prediction at the evaluation points", "sigma_hat": "fitted noise scale",
    "nu_hat": "fitted Student-t degrees of freedom", "eps_hat": "fitted eps",
    "loss": "loss per optimiser step", "fit_mse": "mean squared error on the training data",
    "heldout_mse": "mean squared error on the held-out data", "g_true": "true initial data",
    "influence": "mean attribution of each atom over the training data",
    "deviation": "deviation of the influence from the truth",
    "x_data": "observation points", "obs": "observed values", "is_train": "used for training",
    "prediction_mean": "posterior mean prediction",
    "sigma": "noise scale", "nu": "Student-t degrees of freedom",
    # sample_stats (ArviZ names)
    "diverging": "divergent transition", "lp": "log density (negative potential energy)",
    "acceptance_rate": "acceptance probability", "n_steps": "leapfrog steps",
    "energy": "Hamiltonian energy", "step_size": "leapfrog step size",
    "tree_depth": "tree depth",
}


def long_name(name: str, attrs: dict) -> str:
    """A variable's long name: its own long_name, its description, the table, else its name."""
    if attrs.get("long_name"):
        return str(attrs["long_name"])
    if attrs.get("description"):
        return str(attrs["description"])
    if name in LONG_NAMES:
        return LONG_NAMES[name]
    for prefix, what in (("r_hat_", "R-hat of "), ("ess_bulk_", "bulk effective sample size of "),
                         ("ess_tail_", "tail effective sample size of "),
                         ("ess_", "effective sample size of ")):
        if name.startswith(prefix):
            return what + name[len(prefix):]
    # Names added later (new sample stats, groups) still get a readable label, never none.
    return name.replace("_", " ")


def describe(ds):
    """Give every variable and coordinate of `ds` long_name and units, in place; return ds."""
    for name in list(ds.variables):
        attrs = ds.variables[name].attrs
        attrs["long_name"] = long_name(str(name), attrs)
        attrs.setdefault("units", DIMENSIONLESS)
    ds.attrs["Conventions"] = CONVENTIONS
    return ds
