"""The figure of attention heads: each head's attention matrix (query × key) at each ε."""

from __future__ import annotations

import numpy as np

MAX_HEADS, MAX_EPS = 8, 6  # panels shown: rows (heads) × columns (ε); the rest is said in the title


def plot_heads(ds, target) -> None:
    """Save a grid of attention matrices, one panel per (head, ε), masked keys left blank.

    `ds` is a compare or attribute Dataset of an attention spec (it has `attention` over head,
    eps, query, key, and `entropy` over head, eps, query).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hjdsl.output import save_figure

    heads = ds["head"].values[:MAX_HEADS]
    eps = ds["eps"].values[:MAX_EPS]
    allowed = ds["allowed"].values.astype(bool) if "allowed" in ds else None
    fig, axes = plt.subplots(len(heads), len(eps), squeeze=False,
                             figsize=(2.4 * len(eps) + 1.0, 2.6 * len(heads) + 0.6))
    fig.subplots_adjust(hspace=0.7, wspace=0.3)  # room for each panel's two-line title
    image = None
    for r, head in enumerate(heads):
        for c, e in enumerate(eps):
            pi = ds["attention"].sel(head=head, eps=e).values
            if allowed is not None:
                pi = np.where(allowed, pi, np.nan)  # a masked key is no weight, not weight 0
            ax = axes[r, c]
            image = ax.imshow(pi, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto",
                              interpolation="nearest")
            ent = float(ds["entropy"].sel(head=head, eps=e).mean())
            ax.set_title(f"head {head}, eps = {e:.3g}\nmean Ent = {ent:.3f}", fontsize=8)
            ax.set_xlabel("key j" if r == len(heads) - 1 else "", fontsize=8)
            ax.set_ylabel("query i" if c == 0 else "", fontsize=8)
            ax.tick_params(labelsize=7)
    left_out = []
    if ds.sizes["head"] > MAX_HEADS:
        left_out.append(f"first {MAX_HEADS} of {ds.sizes['head']} heads")
    if ds.sizes["eps"] > MAX_EPS:
        left_out.append(f"first {MAX_EPS} of {ds.sizes['eps']} eps values")
    title = f"{ds.attrs.get('model', '')}: attention weights softmax(q.k/eps)"
    fig.suptitle(title + (f" ({'; '.join(left_out)})" if left_out else ""), fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="pi_ij")
    save_figure(fig, target, dpi=130, bbox_inches="tight")
    plt.close(fig)
