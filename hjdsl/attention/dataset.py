"""The compare Dataset of an attention spec: dims head, eps, query, key, dim, value_dim."""

from __future__ import annotations

import numpy as np

# long_name of each variable (units are "1": every quantity is a pure number)
LONG_NAMES = {
    "q": "queries q_i (the points x of the LSE layer)", "k": "keys k_j (W_j of the LSE layer)",
    "v": "values v_j", "allowed": "1 if query i attends to key j (0: masked, cost +inf)",
    "y": "atoms y_j = 2t k_j", "g": "initial data g_j = -t |k_j|^2",
    "logits": "logits z_ij = q_i . k_j", "network": "f_eps(q) = eps log sum_j exp(z_j/eps)",
    "attention": "attention weights softmax(z/eps) (the Gibbs weights pi)",
    "output": "attention output sum_j pi_ij v_j",
    "entropy": "Ent(pi) of the attention row",
    "tropical": "f_0(q) = max_j z_j (hard attention's logit)",
    "hard_key": "argmax_j z_ij, the key hard attention picks",
    "hard_output": "v of the argmax key (hard attention's output)",
    "hopf_cole": "u_eps(q, t) = -eps log sum_j exp(-c_j/eps)",
    "hopf_lax": "u_0(q, t) = min_j c_j", "quadratic": "|q|^2/(4t)",
    "identity_residual": "f_eps + u_eps - |q|^2/(4t)",
    "identity_scale": "S, the size of the terms that cancel in the identity",
    "convex": "value of the entropic program min_pi pi.c - eps Ent(pi)",
    "convex_attention": "optimal pi of the entropic program",
    "convex_gap": "duality gap of the convex solve",
    "convex_pi_bound": "certified bound sqrt(gap/(2 eps)) on |pi_convex - pi|",
    "convex_status": "status of the convex solve", "convex_solver": "solver of the convex view",
    "logit_gap": "gap between the two largest allowed logits",
    "n_allowed": "number of keys the query attends to",
    "value_spread": "max_j |v_j - v_argmax| over the allowed keys",
}


def pi_bound(gap: np.ndarray, eps: np.ndarray, n: np.ndarray) -> np.ndarray:
    """‖π̂ − π*‖_∞ ≤ √((gap + δ)/(2ε)) (H, E, Q): the entropic program is ε-strongly convex in
    ‖·‖₁ on the simplex, so gap ≥ (ε/2)‖π̂ − π*‖₁² and ‖·‖_∞ ≤ ‖·‖₁/2. δ is the rounding of the
    gap itself, a difference of primal and dual values: each of their N + 2 terms is at most
    ε(1 + log N) in the solver's shifted costs (E_π c̃ ≤ ε log N), so
    δ = 8(N + 2)·ulp·2ε(1 + log N).
    NaN where ε = 0 (the LP has no such bound) or the query was not audited."""
    from hjdsl.views.tolerances import ULP

    e = eps[None, :, None]
    delta = 8.0 * (n + 2) * ULP * 2.0 * e * (1.0 + np.log(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(e > 0, np.sqrt((np.maximum(gap, 0.0) + delta) / (2.0 * e)), np.nan)


def build(model, eps: np.ndarray, closed: dict, convex: dict, n_audit: int):
    """One Dataset of every head's views, stamped by hjdsl/results.py."""
    import xarray as xr

    from hjdsl.results import stamp

    h = model.heads
    heq, heqk = ("head", "eps", "query"), ("head", "eps", "query", "key")
    hq, hqk = ("head", "query"), ("head", "query", "key")
    bound = pi_bound(convex["gap"], eps, closed["n_allowed"])
    data = {
        "q": (("head", "query", "dim"), h.q), "k": (("head", "key", "dim"), h.k),
        "v": (("head", "key", "value_dim"), h.v),
        "allowed": (("query", "key"), h.allowed.astype("int8")),
        "y": (("head", "key", "dim"), closed["y"]), "g": (("head", "key"), closed["g"]),
        "logits": (hqk, closed["z"]),
        "network": (heq, closed["f"]), "attention": (heqk, closed["pi"]),
        "output": (heq + ("value_dim",), closed["output"]), "entropy": (heq, closed["entropy"]),
        "tropical": (hq, closed["f0"]), "hard_key": (hq, closed["hard"].astype(np.int64)),
        "hard_output": (hq + ("value_dim",), closed["hard_output"]),
        "hopf_cole": (heq, closed["u"]), "hopf_lax": (hq, closed["u0"]),
        "quadratic": (hq, closed["quad"]),
        "identity_residual": (heq, closed["f"] + closed["u"] - closed["quad"][:, None]),
        "identity_scale": (heq, closed["scale"]),
        "convex": (heq, convex["value"]), "convex_attention": (heqk, convex["pi"]),
        "convex_gap": (heq, convex["gap"]), "convex_pi_bound": (heq, bound),
        "convex_status": (heq, convex["status"]),
        "logit_gap": (hq, closed["gap"]), "n_allowed": (("query",), closed["n_allowed"]),
        "value_spread": (hq, closed["spread"]),
    }
    solvers = sorted({s for s in np.ravel(convex["solver"]) if s})
    ds = xr.Dataset(
        {name: (dims, values, {"long_name": LONG_NAMES[name]})
         for name, (dims, values) in data.items()},
        coords={"head": np.arange(h.n_heads), "eps": eps, "query": np.arange(h.n_queries),
                "key": np.arange(h.n_keys), "dim": np.arange(h.d_k),
                "value_dim": np.arange(h.d_v)},
    )
    for name, what in (("head", "attention head"), ("query", "query index i"),
                       ("key", "key index j"), ("dim", "component of q and k"),
                       ("value_dim", "component of v")):
        ds[name].attrs["long_name"] = what
    return stamp(ds, model, analysis="attention compare", layer=model.layer,
                 origin=model.origin, causal=h.causal, layernorm=model.normalised,
                 d_k=h.d_k, d_v=h.d_v, n_heads=h.n_heads, convex_audited=n_audit,
                 convex_solver=", ".join(solvers), label_network="exact",
                 label_hopf_cole="exact", label_convex_entropic="exact", label_convex_lp="exact")
