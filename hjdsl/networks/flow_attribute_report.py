"""`hjdsl attribute` on a residual or recurrent spec: options, the step table, JSON, the figure."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Diagnostic, UsageError

DEFAULT_DELTA_F = 0.1  # attribute's --delta-f default: only a value the user changed is refused

# attribute's options for atom models, and why a network spec has no use for them
NOT_FOR_FLOWS = {
    "at": "--at: a network is attributed on its data (the loss needs each sample's target); "
          "change the points in the spec's `data` block",
    "eps": "--eps: the cell's temperature is `eps =` on the network line",
    "fit": "--fit reads fitted atoms; fit a network with `learn = STEPS` on its line",
    "robustness": "--robustness: the uniform curvature bounds are single-layer bounds",
    "robustness_plot": "--robustness-plot: the uniform curvature bounds are single-layer bounds",
    "delta_f": "--delta-f sets the certified radius of one LSE layer, which a network has not",
}


def refuse_options(args, kind: str) -> None:
    """Every atom-model option given with a network spec, as one usage error (exit 2)."""
    given = [why for key, why in NOT_FOR_FLOWS.items()
             if getattr(args, key, None) not in (None, False)
             and not (key == "delta_f" and args.delta_f == DEFAULT_DELTA_F)]
    if given:
        raise UsageError(tuple(Diagnostic("error", f"not applicable to a {kind} network spec: "
                                          f"{why}", code="U090") for why in given))


def attribute_command(args, model) -> int:
    """Print the per-step table (or JSON), write the Dataset and the figure; exit 0."""
    from hjdsl.networks.flow_attribute import flow_attribution, not_applicable

    refuse_options(args, model.kind)
    talk = not (args.quiet or args.json)
    ds = flow_attribution(model, quiet=not talk)
    reasons = not_applicable(model.cell_name, model.kind)
    if talk:
        print(render(ds, reasons))
    from hjdsl.output import write_outputs

    write_outputs(args, ds, talk, plot=plot_steps)
    if args.json:
        from hjdsl.commands.json_output import dumps

        print(dumps(summary(ds, reasons, model, args)))
    return 0


def step_table(ds) -> dict[str, np.ndarray]:
    """Per step k = 0…K: mean |p_k|, Σ_i dLoss/dα_k, Σ_i A_k, |dLoss/dθ_k| (and the LSE columns)."""
    K = int(ds.attrs["steps"])
    cols = {"costate_norm": np.linalg.norm(ds.costate.values, axis=2).mean(axis=1),
            "gate_derivative": _update_sum(ds.gate_derivative.values, K),
            "attribution": _update_sum(ds.step_attribution.values, K),
            "gradient_norm": ds.step_gradient_norm.values}
    if "atom_weight" in ds:
        cols["max_weight"] = ds.atom_weight.values.max(axis=-1).mean(axis=(1, 2))
        cols["entropy"] = ds.atom_entropy.values.mean(axis=(1, 2))
    return cols


def _update_sum(values, K: int) -> np.ndarray:
    out = np.full(K + 1, np.nan)
    out[:K] = values[:K].sum(axis=1)  # the terminal step is NaN: it has no update
    return out


def render(ds, reasons: dict[str, str]) -> str:
    """The table: a header with the loss account, one line per step, the not-applicable rows."""
    a = ds.attrs
    loss, base = float(ds.terminal_loss), float(ds.baseline_loss)
    lines = [f"{a['network']} network {a['model']!r}: cell {a['cell']} ({a['formula']}), "
             f"{a['steps']} steps, h = {float(a['h']):g}, {ds.sizes['sample']} samples",
             f"loss {loss:.6g} = baseline {base:.6g} (every update off, alpha = 0) "
             f"+ {loss - base:.6g} carried by the steps",
             "step gates x_{k+1} = x_k + alpha_k h F:  dLoss/dalpha_k = -h H_k,  "
             "A_k = -h int_0^1 H_k(alpha) dalpha,  sum_k A_k = loss - baseline",
             f"  ({a['quadrature_nodes']} Gauss-Legendre nodes, rule error "
             f"{float(a['quadrature_error']):.1e}, completeness residual "
             f"{float(a['completeness_residual']):.1e})"]
    if float(a["quadrature_error"]) > 1e-8:
        lines.append("  warning: the gate integral did not converge to 1e-8; A_k is approximate")
    cols = step_table(ds)
    lse = "max_weight" in cols
    head = (f"\n{'k':>4}  {'mean |p_k|':>11}  {'dLoss/dalpha_k':>14}  {'A_k':>11}  "
            f"{'|dLoss/dtheta_k|':>16}")
    lines.append(head + (f"  {'mean max pi':>11}  {'Ent/log m':>9}" if lse else ""))
    for k in range(ds.sizes["step"]):
        row = [f"{k:>4}", f"{cols['costate_norm'][k]:11.4e}"]
        row += [_num(cols[c][k], w) for c, w in (("gate_derivative", 14), ("attribution", 11),
                                                 ("gradient_norm", 16))]
        if lse:
            row += [_num(cols["max_weight"][k], 11, ".4f"), _num(cols["entropy"][k], 9, ".4f")]
        lines.append("  ".join(row))
    lines.append("(k = K: the terminal co-state p_K = -dLoss/dx_K; per sample in the Dataset: "
                 "costate, step_attribution, gate_derivative, dH_d<theta>)")
    lines.append("\nnot applicable to this spec:")
    lines += [f"  {name}: {why}" for name, why in reasons.items()]
    return "\n".join(lines)


def _num(v: float, width: int, fmt: str = ".4e") -> str:
    return f"{'-':>{width}}" if not np.isfinite(v) else f"{v:{width}{fmt}}"


def summary(ds, reasons: dict[str, str], model, args) -> dict:
    """The --json report (NaN → null via `portable`)."""
    from hjdsl.commands.json_output import portable

    cols = step_table(ds)
    steps = [{name: cols[name][k] for name in cols} | {"k": k} for k in range(ds.sizes["step"])]
    return portable({
        "model": model.name, "network": model.kind, "cell": model.cell_name,
        "steps": model.steps, "h": model.h, "samples": ds.sizes["sample"],
        "terminal_loss": float(ds.terminal_loss), "baseline_loss": float(ds.baseline_loss),
        "quadrature": {"nodes": int(ds.attrs["quadrature_nodes"]),
                       "error": float(ds.attrs["quadrature_error"]),
                       "completeness_residual": float(ds.attrs["completeness_residual"])},
        "per_step": steps, "not_applicable": reasons,
        "warnings": [w.to_json() for w in model.warnings],
        "outputs": {"dataset": args.output, "plot": args.plot},
    })


def plot_steps(ds, path) -> None:
    """A heat map of A_k per sample × step, the step profile (Σ_i A_k, Σ_i dLoss/dα_k) and,
    for an lse cell, Ent/log m per sample × step."""
    from hjdsl.plot.analysis import _pyplot, _save

    plt = _pyplot()
    K = int(ds.attrs["steps"])
    lse = "atom_entropy" in ds
    fig, axes = plt.subplots(1, 3 if lse else 2, figsize=(13 if lse else 9, 3.8))
    A = ds.step_attribution.values[:K].T
    top = max(float(np.max(np.abs(A))), np.finfo(float).tiny)
    im = axes[0].imshow(A, aspect="auto", cmap="RdBu_r", vmin=-top, vmax=top, origin="lower")
    axes[0].set(title="A_k per sample (loss carried by step k)", xlabel="step k",
                ylabel="sample")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    cols = step_table(ds)
    axes[1].bar(np.arange(K), cols["attribution"][:K], color="tab:blue", label=r"$\sum_i A_k$")
    axes[1].plot(np.arange(K), cols["gate_derivative"][:K], "ko-", ms=4,
                 label=r"$\sum_i \partial Loss/\partial\alpha_k$ at $\alpha = 1$")
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set(title="step profile", xlabel="step k")
    axes[1].legend(fontsize=8)
    if lse:
        ent = ds.atom_entropy.values[:K].mean(axis=2).T
        im = axes[2].imshow(ent, aspect="auto", cmap="viridis", vmin=0, vmax=1, origin="lower")
        axes[2].set(title="Ent(pi)/log m (mean over components)", xlabel="step k",
                    ylabel="sample")
        fig.colorbar(im, ax=axes[2], fraction=0.046)
    fig.suptitle(f"{ds.attrs['model']}: attribution per step ({ds.attrs['network']} "
                 f"{ds.attrs['cell']})")
    fig.tight_layout()
    _save(fig, path)
