"""Distribution families of priors and likelihoods: parameters, constraints, centres, draws."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Family:
    """Facts about one distribution family (positional parameter order, constraints, centre)."""

    params: tuple[str, ...]
    positive: tuple[str, ...]
    support: str  # "real", "positive" or "interval"
    mean: Callable[[dict], float]
    median: Callable[[dict], float]
    draw: Callable[[np.random.Generator, dict, tuple], np.ndarray]


def _student_mean(p):
    return p["loc"] if p["df"] > 1 else math.nan


def _exp(v: float) -> float:
    """exp that overflows to inf, as numpy's does, instead of raising OverflowError."""
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


FAMILIES: dict[str, Family] = {
    "normal": Family(("loc", "scale"), ("scale",), "real",
                     lambda p: p["loc"], lambda p: p["loc"],
                     lambda r, p, s: r.normal(p["loc"], p["scale"], s)),
    "half_normal": Family(("scale",), ("scale",), "positive",
                          lambda p: p["scale"] * math.sqrt(2 / math.pi),
                          lambda p: p["scale"] * 0.6744897501960817,
                          lambda r, p, s: np.abs(r.normal(0.0, p["scale"], s))),
    "lognormal": Family(("loc", "scale"), ("scale",), "positive",
                        lambda p: _exp(p["loc"] + p["scale"] * p["scale"] / 2),
                        lambda p: _exp(p["loc"]),
                        lambda r, p, s: r.lognormal(p["loc"], p["scale"], s)),
    "uniform": Family(("low", "high"), (), "interval",
                      lambda p: (p["low"] + p["high"]) / 2, lambda p: (p["low"] + p["high"]) / 2,
                      lambda r, p, s: r.uniform(p["low"], p["high"], s)),
    "student_t": Family(("df", "loc", "scale"), ("df", "scale"), "real",
                        _student_mean, lambda p: p["loc"],
                        lambda r, p, s: p["loc"] + p["scale"] * r.standard_t(p["df"], s)),
    "laplace": Family(("loc", "scale"), ("scale",), "real",
                      lambda p: p["loc"], lambda p: p["loc"],
                      lambda r, p, s: r.laplace(p["loc"], p["scale"], s)),
    "exponential": Family(("rate",), ("rate",), "positive",
                          lambda p: 1 / p["rate"], lambda p: math.log(2) / p["rate"],
                          lambda r, p, s: r.exponential(1 / p["rate"], s)),
    "half_cauchy": Family(("scale",), ("scale",), "positive",
                          lambda p: math.inf, lambda p: p["scale"],
                          lambda r, p, s: np.abs(p["scale"] * r.standard_cauchy(s))),
}

# Other spellings accepted for parameter names (`normal(mu = 0, sigma = 1)`).
ALIASES = {"mu": "loc", "mean": "loc", "sigma": "scale", "sd": "scale", "nu": "df",
           "lower": "low", "upper": "high"}

# Observation likelihoods: their own parameter names (σ and ν), positional in this order.
LIKELIHOODS: dict[str, tuple[str, ...]] = {
    "normal": ("sigma",),
    "student_t": ("nu", "sigma"),
    "laplace": ("sigma",),
}
LIKELIHOOD_ALIASES = {"scale": "sigma", "df": "nu"}


def parameter_problem(family: str, params: dict) -> str | None:
    """Why these parameter values are invalid for the family, or None.

    >>> parameter_problem("normal", {"loc": 0.0, "scale": -1.0})
    'scale of normal must be > 0, got -1'
    """
    fam = FAMILIES[family]
    for name in fam.params:
        if not math.isfinite(params[name]):
            return f"{name} of {family} must be finite, got {params[name]:g}"
    for name in fam.positive:
        if params[name] <= 0:
            return f"{name} of {family} must be > 0, got {params[name]:g}"
    if family == "uniform" and not params["low"] < params["high"]:
        return f"uniform needs low < high, got low = {params['low']:g}, high = {params['high']:g}"
    if family == "uniform" and not math.isfinite(params["high"] - params["low"]):
        return (f"the range of uniform({params['low']:g}, {params['high']:g}) overflows "
                "(high − low is not a finite number)")
    return None


def center(family: str, params: dict) -> float:
    """A representative value: the mean when finite, else the median.

    >>> center("half_cauchy", {"scale": 2.0}), center("normal", {"loc": 1.0, "scale": 3.0})
    (2.0, 1.0)
    """
    fam = FAMILIES[family]
    mean = fam.mean(params)
    return float(mean) if math.isfinite(mean) else float(fam.median(params))


def median(family: str, params: dict) -> float:
    return float(FAMILIES[family].median(params))


def draw(family: str, params: dict, size: tuple, seed: int) -> np.ndarray:
    """A seeded sample of the given shape (float64).

    >>> draw("uniform", {"low": 0.0, "high": 1.0}, (3,), seed=0).shape
    (3,)
    """
    rng = np.random.default_rng(seed)
    return np.asarray(FAMILIES[family].draw(rng, params, size), dtype=np.float64)
