"""Figures of the analysis verbs: attribution maps, robustness sweep, bifurcation diagram, landscapes."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Diagnostic, UsageError

INDEX_COLOURS = ("tab:blue", "tab:orange", "tab:red")  # minimum, saddle, maximum


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    from hjdsl.output import save_figure

    save_figure(fig, path, dpi=130, bbox_inches="tight")
    _pyplot().close(fig)


def _need_low_dim(d: int, what: str) -> None:
    if d > 2:
        raise UsageError((Diagnostic("error", f"{what} plots need d <= 2 (the model has d = {d})",
                                     code="U020"),))


def plot_box(y, margin: float = 0.3) -> tuple[float, float]:
    """A square window around the atoms (their range widened by `margin` on each side)."""
    lo, hi = float(np.min(y)), float(np.max(y))
    pad = margin * max(hi - lo, 1e-9)
    return lo - pad, hi + pad


def _grid_fields(model, eps, lo, hi, n):
    from hjdsl.analysis.gibbs import gibbs, layer_weights

    W, b = layer_weights(model)
    axis = np.linspace(lo, hi, n)
    if model.dim == 1:
        pts = axis[:, None]
    else:
        gx, gy = np.meshgrid(axis, axis)
        pts = np.column_stack([gx.ravel(), gy.ravel()])
    _, pi, _, ent = (np.asarray(a) for a in gibbs(W, b, pts, np.asarray(eps, dtype=float)))
    return axis, pts, pi, ent / np.log(model.n_atoms)


def plot_attribution(model, ds, path, eps=None, box=None) -> None:
    """d = 1: π_j(x) and Ent/log N per ε; d = 2: maps of E_π[g] and Ent/log N per ε, atoms on top."""
    _need_low_dim(model.dim, "attribution")
    plt = _pyplot()
    eps = np.asarray(ds["eps"].values if eps is None else eps, dtype=float)[:5]
    lo, hi = plot_box(model.y) if box is None else box
    axis, pts, pi, norm_ent = _grid_fields(model, eps, lo, hi, 301 if model.dim == 1 else 121)
    g = np.asarray(model.g, dtype=float)
    q = ds["x"].values
    if model.dim == 1:
        fig, axes = plt.subplots(1, len(eps), figsize=(4.2 * len(eps), 3.6), squeeze=False)
        for k, (ax, e) in enumerate(zip(axes[0], eps)):
            ax.plot(axis, pi[k], lw=0.8, alpha=0.7)
            ax.plot(axis, norm_ent[k], "k", lw=2, label="Ent/log N")
            ax.plot(axis, pi[k] @ g, "m--", lw=1.5, label=r"$E_\pi[g]$")
            ax.plot(model.y[:, 0], np.zeros(model.n_atoms), "k|", ms=12, label="atoms")
            for xq in q[:, 0]:
                ax.axvline(xq, color="grey", ls=":", lw=1)
            ax.set(title=f"eps = {e:g}", xlabel="x", ylabel=r"$\pi_j(x)$ (thin)")
        axes[0, 0].legend(fontsize=8)
    else:
        fig, axes = plt.subplots(2, len(eps), figsize=(3.6 * len(eps), 6.8), squeeze=False)
        ext = (lo, hi, lo, hi)
        for k, e in enumerate(eps):
            for row, (field, label, cmap) in enumerate(
                    [(pi[k] @ g, r"soft prediction $E_\pi[g]$", "coolwarm"),
                     (norm_ent[k], "Ent/log N", "viridis")]):
                ax = axes[row, k]
                im = ax.imshow(field.reshape(axis.size, axis.size), origin="lower", extent=ext,
                               cmap=cmap, vmin=0 if row else min(g.min(), 0), vmax=1 if row else max(g.max(), 1))
                ax.scatter(model.y[:, 0], model.y[:, 1], c=g, cmap="coolwarm", s=12, edgecolors="k",
                           linewidths=0.5, label="atoms (colour = g)")
                ax.plot(q[:, 0], q[:, 1], "kx", ms=7, label="query points")
                ax.set(title=f"{label}, eps = {e:g}", xlabel="x1", ylabel="x2")
                fig.colorbar(im, ax=ax, fraction=0.046)
        axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{model.name}: attribution across eps (eps* = {ds.attrs['eps_star']:.3g})")
    fig.tight_layout()
    _save(fig, path)


def plot_robustness(sweep, path) -> None:
    """The paper's robustness figure: max over points of ‖∇²f‖₂ against the bounds, per ε (log-log)."""
    plt = _pyplot()
    eps = sweep["eps"].values
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.loglog(eps, sweep["measured"].values, "o-", label=r"measured $\max_x \|\nabla^2 f\|_2$")
    ax.loglog(eps, sweep["bound_max_norm"].values, "s--", label=r"bound $\max_j |W_j|^2/\varepsilon$")
    ax.loglog(eps, sweep["bound_diameter"].values, "^:", label=r"bound $D^2/(4\varepsilon)$")
    ax.set(xlabel="eps", ylabel="curvature", title=f"{sweep.attrs.get('model', '')}: Hessian vs bound")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
