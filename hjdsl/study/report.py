"""The text a study run prints: losses per swept value, exponents with CIs, the theory slope."""

from __future__ import annotations

import numpy as np


def format_report(ds) -> str:
    """A small table (one row per swept value) and the exponent lines.

    >>> print(format_report(study.run(workers=1)))  # doctest: +SKIP
    """
    a = ds.attrs
    axis = a["swept"]
    lines = [f"study {a['study']} ({a['study_kind']}): {ds.sizes[axis]} values of {axis} × "
             f"{ds.sizes['seed']} seed(s); {a['resumed_configurations']} reused from the store"]
    head = f"  {axis:>8}  {'eps':>10}  {'best test':>10}  {'mean test':>10}"
    trained = "train_rmse" in ds
    lines.append(head + (f"  {'mean train':>10}" if trained else ""))
    eps = ds["eps"].values if "eps" in ds else ds[axis].values
    for i, v in enumerate(ds[axis].values):
        test = ds["test_rmse"].values[i]
        row = f"  {v:>8g}  {eps[i]:>10.4g}  {test.min():>10.3e}  {np.exp(np.log(test).mean()):>10.3e}"
        if trained:
            row += f"  {np.exp(np.log(ds['train_rmse'].values[i]).mean()):>10.3e}"
        lines.append(row)
    if "alpha" in ds:
        theory = a.get("alpha_theory")
        lines.append(f"exponents (error ∝ {a['symbol']}^-alpha; mean over seeds is the geometric "
                     "mean):")
        for name, label in (("alpha", "all points"), ("alpha_asymptotic", "asymptotic range"),
                            ("alpha_best", "best seed (paper's statistic)")):
            if name not in ds:
                continue
            text = f"  {label:<30} alpha = {float(ds[name]):.3f}"
            if f"{name}_low" in ds:
                text += f"  95% CI [{float(ds[name + '_low']):.3f}, {float(ds[name + '_high']):.3f}]"
                if theory is not None and f"{name}_covers_theory" in a:
                    text += "  covers theory" if a[f"{name}_covers_theory"] else \
                        "  does not cover theory"
            lines.append(text)
        if theory is not None:
            lines.append(f"  theory alpha = {theory:.3f}")
        lines.append(f"  ({a['asymptotic_rule']})")
    return "\n".join(lines)
