"""Short text and HTML views of a model (its repr in a terminal and in a notebook)."""

from __future__ import annotations

import html

import numpy as np

# Every shown value is clipped, so a repr stays a few lines whatever the spec holds
# (10,000 ε values, a 5,000-character description or H formula).
WIDTH = 60
HTML_WIDTH = 200
SHOWN_EPS = 6


def clip(text: str, width: int = WIDTH) -> str:
    """`text` on one line, at most `width` characters (an ellipsis marks a cut); control and
    other unprintable characters show as � (a terminal would act on them)."""
    text = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}"
                   for c in " ".join(str(text).split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def number(v) -> str:
    return f"{float(v):g}"


def numbers(values, shown: int = SHOWN_EPS) -> str:
    """'1, 0.1, 0' or, for many values, '1, 0.5, …, 0 (40 values)'."""
    values = np.asarray(values, dtype=float).ravel()
    if values.size <= shown:
        return ", ".join(number(v) for v in values)
    head = ", ".join(number(v) for v in values[: shown - 2])
    return f"{head}, …, {number(values[-1])} ({values.size} values)"


def prior_text(prior) -> str:
    """`normal(loc=0, scale=1)`: the family and its parameters as the spec names them."""
    params = ", ".join(f"{k}={number(v)}" for k, v in prior.params.items())
    return f"{prior.family}({params})"


def learned(model, priors: bool = True) -> list[str]:
    """'y ~ normal(…)' (or just 'y') for every quantity a fit learns, in the spec's order."""
    obs = model.observe
    found = [("ε", model.viscosity.prior),
             ("y", model.particles.prior if model.particles.learned else None),
             ("g", model.initial.prior if model.initial.learned else None),
             ("σ", None if obs is None or isinstance(obs.scale, (int, float)) else obs.scale),
             ("ν", None if obs is None or isinstance(obs.df, (int, float)) else obs.df)]
    return [f"{name} ~ {prior_text(prior)}" if priors else name
            for name, prior in found if prior is not None]


def data_text(model) -> str:
    data = model.data
    if data is None:
        return "none"
    if data.source == "file":
        return f"{data.size} points from {data.path}"
    seed = "" if data.seed is None else f", seed {data.seed}"
    return f"{data.size} synthetic points (noise {number(data.noise)}{seed})"


def observe_text(model) -> str:
    obs = model.observe
    if obs is None:
        return "nothing"
    scale = f"σ = {number(obs.scale)}" if isinstance(obs.scale, (int, float)) else "σ learned"
    split = "" if obs.split is None else f", {number(obs.split.test)} held out"
    return f"{obs.quantity}, {obs.likelihood} noise, {scale}{split}"


INITIAL = {"expr": "g from an expression", "literal": "g given", "learned": "g learned"}


def facts(model, width: int = WIDTH, priors: bool = False) -> list[tuple[str, str]]:
    """(label, value) pairs, each value one line of at most `width` characters."""
    eps = model.viscosity
    rows = [
        ("model", model.name),
        ("description", model.description or "—"),
        ("size", f"d = {model.dim}, t = {number(model.t)}, {model.n_atoms} atoms "
                 f"({model.particles.source}), {INITIAL[model.initial.source]}"),
        ("ε", f"learned, starts at {numbers(eps.values)}" if eps.learned else numbers(eps.values)),
        ("H(p)", model.hamiltonian.text),
        ("learned", ", ".join(learned(model, priors)) or "nothing"),
        ("data", data_text(model)),
        ("observed", observe_text(model)),
    ]
    return [(label, clip(value, width)) for label, value in rows]


def model_repr(model) -> str:
    """A few lines: `<hjdsl.Model 'name'` and one fact per line (no data rows without data)."""
    rows = dict(facts(model))
    head = f"<hjdsl.Model '{rows.pop('model')}'"
    if rows["description"] == "—":
        del rows["description"]
    if model.data is None:
        del rows["data"], rows["observed"]
    body = "\n".join(f"  {label}: {value}" for label, value in rows.items())
    return f"{head}\n{body}>"


def model_html(model) -> str:
    """A two-column table of the same facts (priors too); every value is escaped, since names
    and descriptions come from spec files."""
    cells = "".join(
        f"<tr><th style=\"text-align:left\">{html.escape(label)}</th>"
        f"<td style=\"text-align:left\">{html.escape(value)}</td></tr>"
        for label, value in facts(model, width=HTML_WIDTH, priors=True))
    return f"<table class=\"hjdsl-model\">{cells}</table>"


def hamiltonian_repr(ham) -> str:
    """`<Hamiltonian quadratic: H(p) = |p|^2>`: the family's name and the formula."""
    return f"<Hamiltonian {ham.kind}: H(p) = {clip(ham.text, 200)}>"
