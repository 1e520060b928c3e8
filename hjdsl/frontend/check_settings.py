"""Check the observation, split, evaluation-point and fit declarations."""

from __future__ import annotations

import numpy as np

from hjdsl.frontend import syntax as S
from hjdsl.frontend.check_values import Invalid, grid_bytes, grid_points
from hjdsl.model import distributions as D
from hjdsl.model import expr as E
from hjdsl.model.ir import FitSettings, Observation, Prior, Split
from hjdsl.model.limits import MAX_POINTS

METHODS = ("map", "svi", "nuts", "convex", "hopf_lax")
# Default evaluation grid: points per axis by dimension (at most ~10^4 points for d ≥ 3).
DEFAULT_PER_AXIS = {1: 201, 2: 41}


def check_observe(c, decl: S.ObserveDecl | None, split_decl: S.SplitDecl | None):
    """Observation(quantity, likelihood, scale, df, split) or None."""
    split = check_split(c, split_decl, decl)
    if decl is None:
        return None
    quantity = decl.quantity.text
    if quantity not in ("f", "u"):
        raise c.error(f"cannot observe `{quantity}`: the observed quantity is f or u",
                      decl.quantity.span, code="E150",
                      hint="f is the network output f_ε(x), u the HJ value u_ε(x, t)")
    family = decl.likelihood.family.text
    if family not in D.LIKELIHOODS:
        raise c.error(f"unknown likelihood `{family}`", decl.likelihood.family.span, code="E151",
                      hint="likelihoods: " + ", ".join(D.LIKELIHOODS))
    names = D.LIKELIHOODS[family]
    given = c.arguments(decl.likelihood, names, D.LIKELIHOOD_ALIASES, c.env, family,
                        allow_priors=True)
    missing = [n for n in names if n not in given]
    if missing:
        example = ", ".join(f"{n} = {4 if n == 'nu' else 0.1}" for n in names)
        raise c.error(f"{family} needs {' and '.join(missing)}", decl.likelihood.span,
                      code="E116", hint=f"e.g. {family}({example})")
    for name, value in given.items():
        what = "σ" if name == "sigma" else "ν"
        if isinstance(value, Prior):
            if D.FAMILIES[value.family].support == "real" or (
                    value.family == "uniform" and value.params["low"] < 0):
                raise c.error(f"the prior of {name} ({what}) must be on positive values; "
                              f"{value.family} is not", value.span, code="E117",
                              hint="use half_normal, lognormal, exponential or half_cauchy")
        elif not value > 0:
            raise c.error(f"{name} must be > 0, got {value:g}", _arg_span(decl.likelihood, name),
                          code="E112")
    return Observation(quantity, family, given["sigma"], given.get("nu"), split, decl.span)


def _arg_span(dist: S.Dist, name: str):
    names = D.LIKELIHOODS.get(dist.family.text, ())
    for i, arg in enumerate(dist.args):
        key = arg.name.text if arg.name else (names[i] if i < len(names) else None)
        if D.LIKELIHOOD_ALIASES.get(key, key) == name:
            return arg.span
    return dist.span


def check_split(c, decl: S.SplitDecl | None, observe: S.ObserveDecl | None) -> Split | None:
    if decl is None:
        return None
    values = settings(c, decl.settings, {"test": None, "seed": None})
    if "test" not in values:
        raise c.error("split needs `test = FRACTION`", decl.span, code="E116",
                      hint="e.g. split test = 0.2 seed = 1")
    test = c.scalar(values["test"].value, c.env, "the test fraction", positive=True)
    if not test < 1:
        raise c.error(f"the test fraction must be between 0 and 1, got {test:g}",
                      values["test"].value.span, code="E112")
    seed = 0
    if "seed" in values:
        seed = c.seed(values["seed"].value, c.env)
    if observe is None:
        raise c.error("`split` needs an `observe` declaration", decl.keyword.span, code="E155",
                      hint="the split holds out observations; add e.g. observe f ~ normal(sigma = 0.05)")
    if "data" not in c.decls:
        raise c.error("`split` needs a `data` declaration", decl.keyword.span, code="E155")
    return Split(test, seed)


def settings(c, items, allowed: dict) -> dict:
    """key → Setting, rejecting unknown and repeated keys."""
    out = {}
    for item in items:
        key = item.key.text
        if key not in allowed:
            raise c.error(f"unknown setting `{key}`", item.key.span, code="E157",
                          hint="settings here: " + ", ".join(allowed))
        if key in out:
            raise c.error(f"`{key}` is given twice", item.key.span, code="E102")
        out[key] = item
    return out


def check_evaluate(c, decl: S.EvaluateDecl | None) -> np.ndarray:
    """The evaluation points (n, d); without a declaration, a default grid (docs/language.md)."""
    d = c.d
    if decl is None:
        return default_points(c, d)
    c.fixed_name(decl.name, "x", "evaluation points")
    value = decl.value
    if isinstance(value, E.Call) and value.func == "grid":
        return c.grid(value, c.env, d, "evaluate", MAX_POINTS)
    if isinstance(value, E.Name) and value.id == "data":
        if c.data is None:
            raise c.error("`evaluate x = data` needs a valid `data` declaration", value.span,
                          code="E131")
        return c.data.x
    return c.point_list(value, c.env, d, "evaluate x")


def default_points(c, d: int) -> np.ndarray:
    """A grid over the atoms (and data) padded by 10 % per side."""
    if c.particles is None:
        raise Invalid("no particles")
    clouds = [np.asarray(c.particles.points)] + ([np.asarray(c.data.x)] if c.data else [])
    stacked = np.concatenate(clouds, axis=0)
    lo, hi = stacked.min(axis=0), stacked.max(axis=0)
    pad = np.where(hi > lo, 0.1 * (hi - lo), 1.0)
    per_axis = DEFAULT_PER_AXIS.get(d, max(2, int(10_000 ** (1.0 / d))))
    if per_axis ** d > MAX_POINTS:
        raise c.error(f"no default evaluation grid for dim {d}: give `evaluate x = ...`",
                      c.decls["dim"].span, code="E113")
    c.budget(grid_bytes(per_axis ** d, d), f"the default evaluation grid ({per_axis ** d:,} "
             f"points in {d} dimensions)", c.decls["dim"].span, "give `evaluate x = ...`")
    points = grid_points(lo - pad, hi + pad, [per_axis] * d)
    if not np.all(np.isfinite(points)):
        raise c.error("the default evaluation grid overflows; give `evaluate x = ...`",
                      c.decls["particles"].span, code="E109")
    return points


_FIT_INT = {"steps": 1, "restarts": 1, "seed": 0, "chains": 1, "warmup": 0, "draws": 1}


def check_fit(c, decl: S.FitDecl | None) -> FitSettings:
    if decl is None:
        return FitSettings()
    allowed = {"method": None, "lr": None, "polish": None, **_FIT_INT}
    values = settings(c, decl.settings, allowed)
    out: dict = {}
    problems = 0
    for key, item in values.items():
        try:
            out[key] = _fit_value(c, key, item.value)
        except Invalid:
            problems += 1
    if problems:
        raise Invalid("fit")
    return FitSettings(**out)


def _fit_value(c, key, value: E.Expr):
    if key == "method":
        if not (isinstance(value, E.Name) and value.id in METHODS):
            raise c.error("unknown fit method", value.span, code="E160",
                          hint="methods: " + ", ".join(METHODS))
        return value.id
    if key == "polish":
        if isinstance(value, E.Name) and value.id in ("true", "false"):
            return value.id == "true"
        raise c.error("polish must be true or false", value.span, code="E160")
    if key == "lr":
        return c.scalar(value, c.env, "lr", positive=True)
    if key == "seed":
        return c.seed(value, c.env)
    return int(c.scalar(value, c.env, key, integer=True, low=_FIT_INT[key], high=1e9))
