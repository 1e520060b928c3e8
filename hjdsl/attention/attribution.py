"""Attribution per head: attention entropy, Ent/log N, the regime, ε against ε*, top keys."""

from __future__ import annotations

import numpy as np

from hjdsl.analysis.attribution import PARTICLE, WAVE, check_options, positive_eps, regime


def eps_star(n_keys: int, d_k: int) -> float:
    """ε* = N^(−1/d) for a head's N keys in d_k dimensions (the attribution's critical scale).

    >>> eps_star(8, 3)
    0.5
    """
    return float(n_keys) ** (-1.0 / d_k)


def attribute(model, eps=None, top=3):
    """Per (head, ε, query): entropy of the attention row, Ent/log N_i (N_i the keys query i
    sees), the regime by the attribution thresholds, and the `top` keys by weight; per (head,
    ε): the mean entropy and ε/ε*. A Dataset stamped like every result."""
    import xarray as xr

    from hjdsl.attention.views import check_memory, closed_form
    from hjdsl.results import stamp

    top, _ = check_options(top, 0.1)
    eps = positive_eps(model, eps)
    h = model.heads
    check_memory(model, eps.size)
    closed = closed_form(model, eps)
    pi, ent = closed["pi"], closed["entropy"]
    log_n = np.log(closed["n_allowed"]).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):  # a query with one key: Ent = 0 of 0
        normalised = np.where(log_n > 0, ent / np.where(log_n > 0, log_n, 1.0), 0.0)
    top = min(top, h.n_keys)
    ranked = np.argsort(-pi, axis=-1, kind="stable")[..., :top]
    star = eps_star(h.n_keys, h.d_k)
    heq = ("head", "eps", "query")
    data = {
        "attention": (heq + ("key",), pi, "attention weights softmax(q.k/eps) (Gibbs weights)"),
        "entropy": (heq, ent, "Ent(pi) of the attention row"),
        "entropy_normalised": (heq, normalised, "Ent(pi) / log N_i (N_i: keys the query sees)"),
        "regime": (heq, regime(normalised).astype(str), "particle, mixed or wave regime"),
        "top_key": (heq + ("rank",), ranked.astype(np.int64), "keys ranked by attention weight"),
        "top_weight": (heq + ("rank",), np.take_along_axis(pi, ranked, axis=-1),
                       "attention weight of the ranked key"),
        "head_entropy": (("head", "eps"), ent.mean(axis=2), "mean entropy over the queries"),
        "head_entropy_normalised": (("head", "eps"), normalised.mean(axis=2),
                                    "mean Ent/log N over the queries"),
        "head_regime": (("head", "eps"), regime(normalised.mean(axis=2)).astype(str),
                        "regime of the head's mean Ent/log N"),
        "eps_over_eps_star": (("eps",), eps / star, "eps / eps*, eps* = N^(-1/d_k)"),
        "output": (heq + ("value_dim",), closed["output"], "attention output sum_j pi_ij v_j"),
        "allowed": (("query", "key"), h.allowed.astype("int8"),
                    "1 if query i attends to key j (0: masked)"),
    }
    ds = xr.Dataset({name: (dims, values, {"long_name": what})
                     for name, (dims, values, what) in data.items()},
                    coords={"head": np.arange(h.n_heads), "eps": eps,
                            "query": np.arange(h.n_queries), "key": np.arange(h.n_keys),
                            "rank": np.arange(1, top + 1), "value_dim": np.arange(h.d_v)})
    ds["regime"].attrs["thresholds"] = f"particle if Ent/log N < {PARTICLE}, wave if > {WAVE}"
    return stamp(ds, model, analysis="attention attribution", eps_star=star,
                 log_n=float(np.log(h.n_keys)), regime_particle=PARTICLE, regime_wave=WAVE,
                 causal=h.causal, n_heads=h.n_heads, d_k=h.d_k)


def scale_side(ratio: float) -> str:
    """Which side of ε* an ε lies on: below it one key dominates (particle), above it spreads."""
    return "particle side" if ratio < 1 else "wave side"


def format_table(ds, max_queries: int = 12) -> str:
    """Per head and ε: mean entropy and regime, then one line per query with its top keys."""
    a = ds.attrs
    lines = [f"{a['model']}: attention, {ds.sizes['head']} head(s), {ds.sizes['query']} queries x "
             f"{ds.sizes['key']} keys, d_k = {a['d_k']}, eps* = N^(-1/d_k) = "
             f"{a['eps_star']:.4g}, log N = {a['log_n']:.4g}"
             + (" (causal: query i sees keys 0..i)" if int(a.get("causal", 0)) else "")]
    if ds.sizes["query"] > max_queries:
        lines.append(f"({ds.sizes['query']} queries: showing the first {max_queries}; use --json "
                     "or -o)")
    for head in ds["head"].values:
        for i, e in enumerate(ds["eps"].values):
            s = ds.isel(head=int(head), eps=i)
            ratio = float(s["eps_over_eps_star"])
            lines.append(f"\nhead {head}, eps = {e:.4g} (eps/eps* = {ratio:.3g}, "
                         f"{scale_side(ratio)}): mean Ent = {float(s['head_entropy']):.4f}, "
                         f"mean Ent/log N = {float(s['head_entropy_normalised']):.4f}, "
                         f"{s['head_regime'].values}")
            lines.append(f"  {'query':>5}  {'Ent':>7}  {'Ent/logN':>8}  {'regime':>8}  top keys")
            for p in range(min(ds.sizes["query"], max_queries)):
                sp = s.isel(query=p)
                tops = ", ".join(f"#{int(j)} {float(w):.3f}" for j, w in
                                 zip(sp["top_key"].values, sp["top_weight"].values))
                lines.append(f"  {p:>5}  {float(sp['entropy']):7.4f}  "
                             f"{float(sp['entropy_normalised']):8.4f}  "
                             f"{str(sp['regime'].values):>8}  {tops}")
    return "\n".join(lines)


def to_json(ds) -> dict:
    """The per-head summary and per-query records, JSON-ready."""
    heads = []
    for head in ds["head"].values:
        for i, e in enumerate(ds["eps"].values):
            s = ds.isel(head=int(head), eps=i)
            heads.append({
                "head": int(head), "eps": float(e),
                "eps_over_eps_star": float(s["eps_over_eps_star"]),
                "mean_entropy": float(s["head_entropy"]),
                "mean_entropy_normalised": float(s["head_entropy_normalised"]),
                "regime": str(s["head_regime"].values),
                "queries": [{"query": int(p), "entropy": float(s["entropy"][p]),
                             "entropy_normalised": float(s["entropy_normalised"][p]),
                             "regime": str(s["regime"].values[p]),
                             "top": [{"key": int(j), "weight": float(w)} for j, w in
                                     zip(s["top_key"].values[p], s["top_weight"].values[p])]}
                            for p in range(ds.sizes["query"])]})
    return {"model": ds.attrs["model"], "kind": "attention", "eps_star": ds.attrs["eps_star"],
            "log_n": ds.attrs["log_n"], "heads": heads}
