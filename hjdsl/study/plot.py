"""Figure of a study: test (and train) error against the swept value, log–log, with slopes."""

from __future__ import annotations

import numpy as np


def plot_study(ds, target):
    """Save the log–log error curve of a study result to `target` (png, pdf or svg).

    >>> plot_study(study.run(workers=1), "study.png")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from hjdsl.output import save_figure

    a = ds.attrs
    axis = a["swept"]
    v = ds[axis].values.astype(float)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    test = ds["test_rmse"].values
    for s in range(test.shape[1]):
        ax.plot(v, test[:, s], "o", color="C0", alpha=0.35, ms=4,
                label="test, each seed" if s == 0 else None)
    ax.plot(v, test.min(axis=1), "-o", color="C0", label="test, best seed")
    if "train_rmse" in ds:
        ax.plot(v, np.exp(np.log(ds["train_rmse"].values).mean(axis=1)), "--", color="C1",
                label="train (geometric mean)")
    if "alpha" in ds:
        mid = np.exp(np.log(test).mean(axis=1))
        ref = mid[0] * (v / v[0]) ** (-float(ds["alpha"]))
        ci = ""
        if "alpha_low" in ds:
            ci = f" [{float(ds['alpha_low']):.2f}, {float(ds['alpha_high']):.2f}]"
        ax.plot(v, ref, ":", color="k", label=f"fit alpha = {float(ds['alpha']):.2f}{ci}")
        if "alpha_theory" in a:
            ax.plot(v, mid[0] * (v / v[0]) ** (-float(a["alpha_theory"])), "-.", color="C2",
                    label=f"theory alpha = {float(a['alpha_theory']):.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # labels would overlap
    ax.set_xlabel(f"{axis} ({a['symbol']})")
    ax.set_ylabel("error (RMSE; quadrature: sup)")
    ax.set_title(f"{a.get('model', '')}: study {a['study']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, target, dpi=120)
    plt.close(fig)
