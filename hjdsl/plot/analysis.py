"""Figures of the analysis verbs: attribution maps, robustness sweep, bifurcation diagram, landscapes."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Diagnostic, UsageError
from hjdsl.results import points

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
    q = points(ds)
    lo, hi = plot_box(np.concatenate([model.y, q])) if box is None else box
    axis, pts, pi, norm_ent = _grid_fields(model, eps, lo, hi, 301 if model.dim == 1 else 121)
    g = np.asarray(model.g, dtype=float)
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
                ax.scatter(model.y[:, 0], model.y[:, 1], c=g, cmap="coolwarm", s=12, edgecolors="w",
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


def _index_name(index: int, d: int) -> str:
    return "minimum" if index == 0 else "maximum" if index == d else "saddle"


def _colour(index: int, d: int) -> str:
    return INDEX_COLOURS[0 if index == 0 else 2 if index == d else 1]


def plot_bifurcation(ds, path) -> None:
    """The bifurcation diagram: Ent at each critical point against ε (colour = index), events marked."""
    plt = _pyplot()
    d = ds.sizes["dim"]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7, 7), sharex=True, height_ratios=(3, 1.3))
    eps = ds.eps.values
    branch, index, ent = ds.crit_branch.values, ds.crit_index.values, ds.crit_entropy.values
    for bid in np.unique(branch[np.isfinite(branch)]):
        mask = branch == bid
        k, c = np.nonzero(mask)
        idx = int(index[k[0], c[0]])
        ax.plot(eps[k], ent[k, c], "-o", ms=2.5, lw=1.2, color=_colour(idx, d))
    for idx in sorted({0, 1 if d > 1 else 0, d}):
        ax.plot([], [], "-o", ms=3, color=_colour(idx, d), label=_index_name(idx, d))
    markers = {"fold": ("k", "*"), "leave": ("grey", "x"), "enter": ("grey", "+"), "other": ("m", "D")}
    for kind, (col, mk) in markers.items():
        sel = ds.event_kind.values == kind
        if sel.any():
            ax.scatter(ds.event_eps.values[sel], ds.event_entropy.values[sel], c=col, marker=mk, s=90,
                       zorder=5, label=f"{kind} event")
    ax.axvline(ds.attrs["eps_star"], color="k", ls=":", lw=1, label="eps* = N^(-1/d)")
    ax.set(ylabel="Ent(pi) at the critical point", title=f"{ds.attrs['model']}: bifurcation diagram "
           f"(box [{ds.attrs['box_lo']:g}, {ds.attrs['box_hi']:g}]^{d})")
    ax.legend(fontsize=8, ncol=2)
    for name, col in (("n_min", INDEX_COLOURS[0]), ("n_saddle", INDEX_COLOURS[1]), ("n_max", INDEX_COLOURS[2])):
        ax2.step(eps, ds[name].values, where="mid", color=col, label=name)
    ax2.set(xlabel="eps", ylabel="count")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def plot_snapshots(model, ds, path, n_panels: int = 4) -> None:
    """The landscape Ent(π(x; ε)) at a few ε levels with its critical points (d = 1 curves, d = 2 maps)."""
    from hjdsl.analysis.gibbs import gibbs, layer_weights

    _need_low_dim(model.dim, "landscape")
    plt = _pyplot()
    d = model.dim
    picks = np.unique(np.linspace(0, ds.sizes["eps"] - 1, n_panels).round().astype(int))
    eps = ds.eps.values[picks]
    lo, hi = ds.attrs["box_lo"], ds.attrs["box_hi"]
    W, b = layer_weights(model)
    axis = np.linspace(lo, hi, 401 if d == 1 else 161)
    pts = axis[:, None] if d == 1 else np.column_stack([m.ravel() for m in np.meshgrid(axis, axis)])
    ent = np.asarray(gibbs(W, b, pts, eps)[3])
    fig, axes = plt.subplots(1, len(eps), figsize=(4.2 * len(eps), 3.8), squeeze=False)
    for p, (ax, k) in enumerate(zip(axes[0], picks)):
        xs, idx, ce = ds.crit_x.values[k], ds.crit_index.values[k], ds.crit_entropy.values[k]
        ok = np.isfinite(idx)
        if d == 1:
            ax.plot(axis, ent[p], "k", lw=1.5, label="Ent(pi(x))")
            ax.plot(model.y[:, 0], np.zeros(model.n_atoms), "k|", ms=10, label="atoms")
            ax.set(xlabel="x", ylabel="Ent")
        else:
            im = ax.imshow(ent[p].reshape(axis.size, axis.size), origin="lower", extent=(lo, hi, lo, hi),
                           cmap="viridis")
            ax.scatter(model.y[:, 0], model.y[:, 1], c="w", s=8, edgecolors="k", linewidths=0.4,
                       label="atoms")
            fig.colorbar(im, ax=ax, fraction=0.046, label="Ent")
            ax.set(xlabel="x1", ylabel="x2")
        for i in sorted(set(idx[ok].astype(int))):
            sel = ok & (idx == i)
            yv = ce[sel] if d == 1 else xs[sel, 1]
            ax.scatter(xs[sel, 0], yv, c=_colour(i, d), marker="o", s=45, edgecolors="k", zorder=5,
                       label=_index_name(i, d))
        ax.set_title(f"eps = {ds.eps.values[k]:.3g}")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{model.name}: entropy landscape and its critical points")
    fig.tight_layout()
    _save(fig, path)
