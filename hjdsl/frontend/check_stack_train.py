"""Check a stack spec's `data` and `fit learn = STEPS lr = RATE` (learning the layers' weights)."""

from __future__ import annotations

from hjdsl.frontend.check_data import check_data
from hjdsl.frontend.check_values import Invalid
from hjdsl.networks.stack_train import Training

FIT_SETTINGS = ("learn", "lr")
MAX_LEARN = 100_000  # Adam steps: one jitted scan, but each step is a full-batch pass
FIT_EXAMPLE = "fit learn = 200 lr = 0.05"
DATA_EXAMPLE = "data synthetic n = 32 seed = 1 { x ~ uniform(-1, 1); value = abs(x) }"


def check_training(c, layers) -> Training:
    """The stack's Training (c is the stack checker; `layers` its checked layers, or None)."""
    data_decl, fit = c.decls.get("data"), c.decls.get("fit")
    if fit is None:
        raise c.error("a stack with `data` learns its weights: it needs a `fit` line",
                      data_decl.keyword.span, code="E188",
                      hint=f"add e.g. `{FIT_EXAMPLE}` (Adam steps and learning rate)")
    if data_decl is None:
        raise c.error("`fit` learns the stack's weights from `data`, and this spec has none",
                      fit.keyword.span, code="E188", hint=f"add e.g. `{DATA_EXAMPLE}`")
    settings = _fit_settings(c, fit)
    if c.d is None:
        raise Invalid("no dim")
    data = check_data(c, data_decl)
    if settings is None or data is None or layers is None or any(la is None for la in layers):
        raise Invalid("training not checked")
    # autodiff keeps every layer's logits (and their exponentials) for the backward pass
    per_point = sum(la.width * la.atoms for la in layers) + layers[0].inputs
    c.budget(8 * 6 * data.size * per_point, f"learning the stack on {data.size:,} data points",
             data_decl.span, "use fewer data points or smaller layers")
    return Training(data=data, steps=settings["learn"], lr=settings["lr"], span=fit.span)


def _fit_settings(c, fit) -> dict | None:
    out, spans, ok = {}, {}, True
    for st in fit.settings:
        key = st.key.text
        if key not in FIT_SETTINGS:
            c.error(f"`{key}` is not a setting of a stack's `fit`", st.key.span, code="E187",
                    hint="a stack's fit takes learn = STEPS (Adam steps) and lr = RATE")
            ok = False
            continue
        if key in out:
            c.error(f"`{key}` is given twice", st.key.span, code="E102")
            ok = False
            continue
        spans[key] = st.value.span
        try:
            out[key] = (int(c.scalar(st.value, c.env, "learn (Adam steps)", integer=True, low=1,
                                     high=MAX_LEARN)) if key == "learn"
                        else float(c.scalar(st.value, c.env, "lr (the Adam learning rate)",
                                            positive=True)))
        except Invalid:
            ok = False
    if ok and "learn" not in out:
        c.error("a stack's `fit` needs `learn = STEPS`, the number of Adam steps",
                fit.keyword.span, code="E187", hint=f"e.g. `{FIT_EXAMPLE}`")
        ok = False
    out.setdefault("lr", 0.01)
    return out if ok else None
