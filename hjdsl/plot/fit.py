"""Figure of a solve result: data and fit (with bands), recovered initial data, loss curve."""

from __future__ import annotations

import numpy as np

from hjdsl.fit import metrics
from hjdsl.results import points


def plot_fit(result, model, target):
    """Draw the fit of `result` (a solve Dataset or DataTree) for `model` and save it to `target`.

    >>> plot_fit(model.solve(), model, "fit.png")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hjdsl.fit.results import root_of
    from hjdsl.output import save_figure

    root = root_of(result)
    observed = root if "obs" in root else \
        result["observed_data"].to_dataset().merge(result["constant_data"].to_dataset())
    has_loss = "loss" in root
    fig, axes = plt.subplots(1, 3 if has_loss else 2, figsize=(15 if has_loss else 10.5, 4.2))
    a = root.attrs
    title = f"{a.get('model', '')}: {a['method']} fit at ε = {a['eps']:.4g}"
    if model.dim == 1:
        _data_panel_1d(axes[0], root, observed, model)
        _atoms_panel_1d(axes[1], root, model, _posterior_g(result))
    else:
        _data_panel_nd(axes[0], root, observed, model)
        _atoms_panel_nd(axes[1], root, fig)
    if has_loss:
        ax = axes[2]
        loss = root["loss"].values
        # the loss (−log joint, −ELBO) can be negative: show its excess over the best value
        excess = loss - np.nanmin(loss)
        ax.semilogy(np.arange(len(loss)), excess + 1e-3 * np.nanmax(np.abs(excess)) + 1e-300,
                    color="C0")
        ax.set(xlabel="step", ylabel="loss − min(loss)",
               title=f"{root['loss'].attrs.get('description', 'loss')}\n(final {a['final_loss']:.6g})")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, target, dpi=120)
    plt.close(fig)


def _data_panel_1d(ax, root, observed, model):  # noqa: ARG001 (same signature as nd)
    q = root.attrs["quantity"]
    x, v = observed["x_data"].values[:, 0], observed["obs"].values
    train = observed["is_train"].values.astype(bool)
    ax.scatter(x[train], v[train], s=8, color="0.55", label="training data", zorder=1)
    if not train.all():
        ax.scatter(x[~train], v[~train], s=14, marker="x", color="C3", label="held-out data")
    xe = points(root)[:, 0]
    if "prediction_lower" in root:
        ax.fill_between(xe, root["prediction_lower"], root["prediction_upper"], color="C0",
                        alpha=0.25, label=f"{root.attrs.get('band', 0.94):.0%} credible band")
    ax.plot(xe, root["prediction"], color="C0", lw=2, label=f"fit {q}(x) from (y_hat, g_hat)")
    ax.set(xlabel="x", ylabel=q, title=f"data and fit ({_errors(root.attrs)})")
    ax.legend(fontsize=8)


def _errors(attrs) -> str:
    """The fit error for a title: MSE, and the RMSE against the data's noise level when known."""
    text = f"MSE {attrs['fit_mse']:.2e}"
    if "fit_rmse" in attrs:
        text += f"; RMSE {attrs['fit_rmse']:.2g} vs noise ≈ {attrs['noise_level']:.2g}"
    return text


def _posterior_g(result):
    """Posterior draws of g (draw, particle) when atoms are fixed (free atoms may switch labels)."""
    if not hasattr(result, "children") or "posterior" not in result.children:
        return None
    post = result["posterior"]
    if "g" not in post or "y" in post:
        return None
    return post["g"].values.reshape(-1, post.sizes["particle"])


def _atoms_panel_1d(ax, root, model, g_draws=None):
    y, g = root["y_hat"].values[:, 0], root["g_hat"].values
    w = root["influence"].values
    if g_draws is not None:
        band = root.attrs.get("band", 0.94)
        lo, hi = np.quantile(g_draws, [(1 - band) / 2, (1 + band) / 2], axis=0)
        ax.errorbar(y, g, yerr=[g - lo, hi - g], fmt="none", ecolor="C1", capsize=4, zorder=2,
                    label=f"{band:.0%} credible interval of g")
    sizes = 20 + 300 * w / max(w.max(), 1e-300)
    ax.scatter(y, g, s=sizes, color="C1", edgecolor="k", zorder=3,
               label="recovered (y_hat, g_hat); size ∝ influence")
    truth = model.data.truth if model.data is not None else None
    if truth is not None:
        ax.scatter(truth.points[:, 0], truth.values, marker="s", s=25, color="k", zorder=2,
                   label="true atoms")
        if truth.expr is not None:
            lo, hi = min(y.min(), truth.points.min()), max(y.max(), truth.points.max())
            ys = np.linspace(lo, hi, 200)[:, None]
            ax.plot(ys[:, 0], metrics.truth_values(truth, ys, model), "k--", lw=1, label="true g*")
    title = "recovered initial data"
    if root.attrs.get("collapsed_atoms", 0):
        title += f" ({root.attrs['collapsed_atoms']} of {len(y)} atoms collapsed)"
    if "deviation" in root.attrs:
        title += f" (deviation {root.attrs['deviation']:.3g})"
    ax.set(xlabel="atom position y", ylabel="initial value g", title=title)
    ax.legend(fontsize=8)


def _data_panel_nd(ax, root, observed, model):
    q = root.attrs["quantity"]
    x, v = observed["x_data"].values, observed["obs"].values
    pred = metrics.predict(q, x, root["y_hat"].values, root["g_hat"].values,
                           float(root.attrs["eps"]), model.t, model.hamiltonian)
    train = observed["is_train"].values.astype(bool)
    ax.scatter(v[train], pred[train], s=8, color="C0", label="training data")
    if not train.all():
        ax.scatter(v[~train], pred[~train], s=14, marker="x", color="C3", label="held-out data")
    lims = [min(v.min(), pred.min()), max(v.max(), pred.max())]
    ax.plot(lims, lims, "k--", lw=1, label="prediction = observation")
    ax.set(xlabel=f"observed {q}", ylabel=f"fitted {q}",
           title=f"fit at the data ({_errors(root.attrs)})")
    ax.legend(fontsize=8)


def _atoms_panel_nd(ax, root, fig):
    y, g = root["y_hat"].values, root["g_hat"].values
    sc = ax.scatter(y[:, 0], y[:, 1], c=g, s=30 + 300 * root["influence"].values, cmap="viridis",
                    edgecolor="k")
    fig.colorbar(sc, ax=ax, label="g_hat")
    ax.set(xlabel="y[0]", ylabel="y[1]", title="recovered atoms (size ∝ influence)")
