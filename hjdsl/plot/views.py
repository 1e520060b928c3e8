"""Figures of a compare Dataset: the views against x (d = 1), maps (d = 2), the ε-gap."""

from __future__ import annotations

import numpy as np

from hjdsl.results import points


def plot_views(ds, target):
    """Draw the compare figure for `ds` and save it atomically to `target` (png, pdf, svg).

    d = 1: f_ε and f_0, u_ε, u_0 and the convex values against x, coloured by ε, and the ε-gap
    max|f_ε − f_0| against ε log N. d = 2: maps of u_ε, Ent(π) and the distance from the tropical
    limit for up to four ε. d ≥ 3: the ε-gap panel and the mean entropy.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hjdsl.output import save_figure

    d = ds.sizes["dim"]
    fig = _one_d(plt, ds) if d == 1 else _two_d(plt, ds) if d == 2 else _summary(plt, ds)
    try:
        return save_figure(fig, target, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)


def _title(ds) -> str:
    return (f"{ds.attrs.get('model', '')}: H(p) = {ds.attrs.get('hamiltonian', '')}, "
            f"t = {ds.attrs.get('t', '')}, N = {ds.sizes['particle']}")


def _eps_colours(plt, eps):
    cmap = plt.get_cmap("viridis")
    return [cmap(0.85 * i / max(len(eps) - 1, 1)) for i in range(len(eps))]


def _has_network(ds) -> bool:
    """False for norm Hamiltonians: there is no LSE layer, so no network or tropical view."""
    return bool(np.isfinite(ds.network.values).any())


def _tropical_gap(ds):
    """max over points of the distance from the tropical limit, per ε (u-side for norm H)."""
    if _has_network(ds):
        diff = np.abs(ds.network.values - ds.tropical.values[None, :])
    else:
        diff = np.abs(ds.hopf_lax.values[None, :] - ds.hopf_cole.values)
    diff = np.where(np.isfinite(diff), diff, np.nan)
    return np.nanmax(diff, axis=1) if np.isfinite(diff).any() else np.full(diff.shape[0], np.nan)


def _gap_panel(ax, ds) -> None:
    eps = ds.eps.values
    keep = eps > 0
    gap = _tropical_gap(ds)
    if keep.any():
        order = np.argsort(eps[keep])
        e = eps[keep][order]
        ax.loglog(e, ds.eps_log_n.values[keep][order], "k--", label=r"bound $\varepsilon\log N$")
        measured = r"$|f_\varepsilon - f_0|$" if _has_network(ds) else r"$|u_0 - u_\varepsilon|$"
        ax.loglog(e, np.maximum(gap[keep][order], 1e-300), "o-", color="C3",
                  label=f"measured max{measured}")
    ax.set_xlabel(r"$\varepsilon$")
    ax.set_ylabel("distance from the tropical limit")
    ax.set_title(r"$\varepsilon$-gap vs $\varepsilon \log N$")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)


def _one_d(plt, ds):
    x = points(ds)[:, 0]  # d = 1 results carry x as a 1-D coordinate
    order = np.argsort(x)
    x = x[order]
    eps = ds.eps.values
    colours = _eps_colours(plt, eps)
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
    ax_f, ax_u, ax_gap = axes
    for i, e in enumerate(eps):
        ax_f.plot(x, ds.network.values[i][order], color=colours[i],
                  label=rf"$f_\varepsilon$, ε = {e:g}")
        ax_u.plot(x, ds.hopf_cole.values[i][order], color=colours[i],
                  label=rf"$u_\varepsilon$, ε = {e:g}")
        audited = np.isfinite(ds.convex.values[i][order])
        if audited.any():
            ax_u.plot(x[audited], ds.convex.values[i][order][audited], "o", mfc="none",
                      color=colours[i], ms=6, label=f"convex, ε = {e:g}")
    ax_f.plot(x, ds.tropical.values[order], "k--", lw=1.2, label=r"tropical $f_0 = \max_j z_j$")
    if not _has_network(ds):
        ax_f.text(0.5, 0.5, f"no LSE layer for H(p) = {ds.attrs.get('hamiltonian', '')}:\n"
                  "the weight map needs a quadratic Hamiltonian", transform=ax_f.transAxes,
                  ha="center", va="center")
    u0 = ds.hopf_lax.values[order]
    ax_u.plot(x, np.where(np.isfinite(u0), u0, np.nan), "k--", lw=1.2,
              label=r"Hopf–Lax $u_0 = \min_j c_j$")
    ax_u.plot(ds.y.values[:, 0], ds.g.values, "kx", ms=7, label=r"atoms $(y_j, g_j)$")
    ax_f.set_title("network view (LSE layer)")
    ax_u.set_title("viscous view (Hopf–Cole), Hopf–Lax and convex" if _has_network(ds) else
                   "entropic analogue (structural for ε > 0), Hopf–Lax, convex", fontsize=10)
    for ax, label in ((ax_f, r"$f_\varepsilon(x)$"), (ax_u, r"$u_\varepsilon(x, t)$")):
        ax.set_xlabel("x")
        ax.set_ylabel(label)
        # below the axes, so no curve or atom is hidden
        ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
        ax.grid(True, alpha=0.3)
    _gap_panel(ax_gap, ds)
    fig.suptitle(_title(ds))
    fig.tight_layout()
    return fig


# Below this many points a contour map would invent values between them: draw dots instead.
MIN_CONTOUR_POINTS = 30


def _map(ax, fig, xy, values, title: str, cmap: str, atoms, unreached) -> None:
    from matplotlib.tri import Triangulation

    values = np.where(np.isfinite(values) & ~unreached, values, np.nan)
    ok = np.isfinite(values)
    if ok.sum() >= MIN_CONTOUR_POINTS and np.ptp(xy[:, 0]) > 0 and np.ptp(xy[:, 1]) > 0:
        # triangulate all points and drop triangles touching a missing value, so the map never
        # paints over a region no atom reaches
        tri = Triangulation(xy[:, 0], xy[:, 1])
        tri.set_mask(~ok[tri.triangles].all(axis=1))
        art = ax.tricontourf(tri, np.where(ok, values, 0.0), levels=20, cmap=cmap)
    else:
        art = ax.scatter(xy[ok, 0], xy[ok, 1], c=values[ok], cmap=cmap, s=60, edgecolors="k")
    fig.colorbar(art, ax=ax, shrink=0.85)
    if unreached.any():
        ax.plot(xy[unreached, 0], xy[unreached, 1], "s", color="0.75", ms=3,
                label="no atom reaches (+inf)")
    ax.plot(atoms[:, 0], atoms[:, 1], "wx", ms=6, mec="k", label="atoms")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(r"$x_1$")
    ax.set_ylabel(r"$x_2$")
    ax.set_aspect("equal", adjustable="box")


def _two_d(plt, ds):
    eps = ds.eps.values
    # ε = 0 maps are flat (zero entropy, zero distance): show positive ε when there are any.
    candidates = np.flatnonzero(eps > 0) if (eps > 0).any() else np.arange(len(eps))
    take = np.linspace(0, len(candidates) - 1, min(len(candidates), 3)).round().astype(int)
    picks = candidates[np.unique(take)]
    xy, atoms = ds.x.values, ds.y.values
    fig, axes = plt.subplots(len(picks), 3, figsize=(13, 3.8 * len(picks)), squeeze=False)
    has_net = _has_network(ds)
    unreached = np.isinf(ds.hopf_lax.values)
    for row, i in enumerate(picks):
        e = eps[i]
        if has_net:
            dist = ds.network.values[i] - ds.tropical.values
        else:  # where no atom reaches both are +inf; those points are masked in the map
            u0, u = ds.hopf_lax.values, ds.hopf_cole.values[i]
            dist = np.where(unreached, np.nan, u0 - np.where(unreached, 0.0, u))
        _map(axes[row, 0], fig, xy, ds.hopf_cole.values[i], rf"$u_\varepsilon$, ε = {e:g}",
             "viridis", atoms, unreached)
        _map(axes[row, 1], fig, xy, ds.entropy.values[i],
             rf"attribution entropy Ent($\pi$), ε = {e:g}", "magma", atoms, unreached)
        label = r"$f_\varepsilon - f_0$" if has_net else r"$u_0 - u_\varepsilon$"
        _map(axes[row, 2], fig, xy, dist, f"distance from tropical limit {label}, ε = {e:g}",
             "cividis", atoms, unreached)
    axes[0, 0].legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.08), ncol=2)
    fig.suptitle(_title(ds))
    fig.tight_layout()
    return fig


def _summary(plt, ds):
    fig, (ax_gap, ax_ent) = plt.subplots(1, 2, figsize=(10, 4.2))
    _gap_panel(ax_gap, ds)
    eps = ds.eps.values
    order = np.argsort(eps)
    ent = ds.entropy.values
    mean = np.array([np.nanmean(row) if np.isfinite(row).any() else np.nan for row in ent])
    ax_ent.plot(eps[order], mean[order], "o-", label="mean Ent(π) over points")
    ax_ent.axhline(np.log(ds.sizes["particle"]), color="k", ls="--", label="log N")
    smallest = float(eps[eps > 0].min()) if (eps > 0).any() else 1e-3
    ax_ent.set_xscale("symlog", linthresh=max(smallest, 1e-12))
    ax_ent.set_xlabel(r"$\varepsilon$")
    ax_ent.set_ylabel("entropy")
    ax_ent.set_title(f"attribution entropy (d = {ds.sizes['dim']})")
    ax_ent.legend(fontsize=8)
    ax_ent.grid(True, alpha=0.3)
    fig.suptitle(_title(ds))
    fig.tight_layout()
    return fig
