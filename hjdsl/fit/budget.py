"""Ranges of the solve options and the memory of a whole fit run, checked before any work."""

from __future__ import annotations

import numbers

import numpy as np

from hjdsl.errors import UsageError
from hjdsl.model.limits import format_bytes, over_memory

# XLA loop lengths and numpyro sample counts are int32: the largest count one run can take.
MAX_COUNT = 2**31 - 1
# numpy's and JAX's seeds are unsigned 32-bit integers.
MAX_SEED = 2**32 - 1
COUNTS = ("steps", "restarts", "chains", "warmup", "draws")
# Arrays of one (points × atoms) evaluation alive at once in a gradient step: logits, shifted
# logits, exponentials and their cotangents (measured peak of the jitted step: about 6).
WORK_ARRAYS = 6
FLOAT = 8


def verify_settings(s) -> None:
    """Raise a UsageError (U103) for an option outside its range: counts are integers in
    [1, 2³¹ − 1], lr a finite positive number, seed an integer in [0, 2³² − 1]."""
    problems = []
    for name in COUNTS:
        value = getattr(s, name)
        if not _is_int(value) or not 1 <= value <= MAX_COUNT:
            problems.append(f"--{name} must be an integer from 1 to {MAX_COUNT:,} (the largest "
                            f"count XLA and numpyro take), got {_show(value)}")
    if isinstance(s.lr, bool) or not isinstance(s.lr, numbers.Real) or not (
            np.isfinite(s.lr) and s.lr > 0):
        problems.append(f"--lr must be a finite number > 0, got {_show(s.lr)}")
    if not _is_int(s.seed) or not 0 <= s.seed <= MAX_SEED:
        problems.append(f"--seed must be an integer from 0 to {MAX_SEED:,}, got {_show(s.seed)}")
    if problems:
        from hjdsl.errors import Diagnostic

        raise UsageError(tuple(Diagnostic("error", p, code="U103") for p in problems))


def n_parameters(model) -> int:
    """The number of learned scalars (y, g, sigma, nu, eps) of the probabilistic model."""
    obs = model.observe
    n = model.n_atoms * model.dim if model.particles.learned else 0
    n += model.n_atoms if model.initial.learned else 0
    if obs is not None:
        n += hasattr(obs.scale, "family")
        n += obs.likelihood == "student_t" and hasattr(obs.df, "family")
    return n + bool(model.viscosity.learned)


def run_bytes(model, method: str, s, n_train: int) -> dict[str, int]:
    """The largest arrays a fit allocates, by what they hold (bytes; 8 per float).

    Every probabilistic method starts with the MAP fit; svi and nuts then add their samples and
    the posterior predictions at the evaluation points (prediction, band, sorted copies).
    """
    n_atoms, n_eval, p = model.n_atoms, len(model.evaluate), max(n_parameters(model), 1)
    work = n_train * n_atoms * WORK_ARRAYS * FLOAT
    terms = {"the MAP loss curves (restarts × steps)": 2 * s.restarts * s.steps * FLOAT,
             "the MAP restarts' gradient steps (restarts × data × atoms)": s.restarts * work,
             "the MAP restarts' optimiser states": 4 * s.restarts * p * FLOAT}
    if method == "svi":
        terms["the SVI loss curve (steps)"] = 2 * s.steps * FLOAT
        draws = s.draws
    elif method == "nuts":
        terms["the NUTS chains' gradient steps (chains × data × atoms)"] = s.chains * work
        draws = s.chains * s.draws
    else:
        return terms
    terms["the posterior samples (draws × parameters)"] = 2 * draws * (p + 8) * FLOAT
    terms["the posterior predictions (draws × evaluation points)"] = 4 * draws * n_eval * FLOAT
    return terms


def verify_memory(model, method: str, s, n_train: int) -> None:
    """Raise a UsageError (U107) if the run would need more than the memory budget."""
    if method in ("convex", "hopf_lax"):  # these fits budget their own matrices
        return
    terms = run_bytes(model, method, s, n_train)
    total = sum(terms.values())
    largest = max(terms, key=terms.get)
    what = (f"solve --method {method} ({_sizes(method, s)}; {n_train:,} data points, "
            f"{model.n_atoms:,} atoms, {n_parameters(model):,} parameters)")
    message = over_memory(total, what)
    if message:
        raise UsageError.single(message, hint=f"the largest part is {largest}: "
                                f"{format_bytes(terms[largest])}; lower that option", code="U107")


def _sizes(method: str, s) -> str:
    parts = [f"{s.restarts:,} restarts × {s.steps:,} steps"]
    if method == "svi":
        parts.append(f"{s.draws:,} draws")
    elif method == "nuts":
        parts.append(f"{s.chains:,} chains × {s.draws:,} draws")
    return ", ".join(parts)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _show(value) -> str:
    return f"{value:,}" if _is_int(value) else repr(value)
