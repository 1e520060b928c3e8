"""Checking helpers shared by the statement checks: diagnostics, constants, grids, priors."""

from __future__ import annotations

import math

import numpy as np

from hjdsl.errors import Diagnostic, HJError
from hjdsl.frontend import syntax as S
from hjdsl.model import distributions as D
from hjdsl.model import expr as E
from hjdsl.model.ir import Prior, _frozen
from hjdsl.model.limits import MAX_AXES, MAX_POINTS, array_bytes, count_text, grid_size, over_memory
from hjdsl.model.lower import evaluate

SWEEPS = ("linspace", "logspace")
MAX_SEED = 2**32 - 1


class Invalid(Exception):
    """A value could not be checked; its diagnostic has already been recorded."""


class Reporter:
    """Collects diagnostics so that every problem of a file is reported at once."""

    def __init__(self, file: str):
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    def error(self, message, span, hint=None, code="E100"):
        """Record an error; return an `Invalid` for the caller to raise."""
        self.diagnostics.append(Diagnostic("error", message, span, hint, code))
        return Invalid(message)

    def warning(self, message, span, hint=None, code="W001"):
        self.diagnostics.append(Diagnostic("warning", message, span, hint, code))

    def absorb(self, err: HJError) -> Invalid:
        self.diagnostics.extend(err.diagnostics)
        return Invalid(str(err))

    # --- constant expressions ---------------------------------------------------------
    def const(self, expr: E.Expr, env: dict, what: str) -> np.ndarray:
        """Evaluate an expression that must not depend on points; check it is finite."""
        if isinstance(expr, E.Call) and expr.func in SWEEPS + ("grid",):
            raise self.error(f"{expr.func}(...) cannot be used in {what}", expr.span, code="E108",
                             hint="grid() is allowed as the whole value of particles, evaluate "
                                  "and a synthetic x; linspace/logspace for viscosity sweeps")
        if isinstance(expr, E.Name) and expr.id == "data":
            raise self.error(f"`data` cannot be used in {what}", expr.span, code="E108",
                             hint="`data` is allowed as the whole value of particles, initial "
                                  "and evaluate")
        try:
            value = np.asarray(evaluate(expr, env), dtype=float)
        except HJError as err:
            raise self.absorb(err) from None
        if not np.all(np.isfinite(value)):
            raise self.error(f"{what} is not finite", expr.span, code="E109")
        return value

    def scalar(self, expr, env, what, *, positive=False, nonneg=False, integer=False,
               low=None, high=None) -> float:
        value = self.const(expr, env, what)
        if value.ndim:
            raise self.error(f"{what} must be a single number, got shape {value.shape}", expr.span,
                             code="E110")
        x = float(value)
        if integer and x != math.floor(x):
            raise self.error(f"{what} must be a whole number, got {x:g}", expr.span, code="E111")
        if positive and not x > 0:
            raise self.error(f"{what} must be > 0, got {x:g}", expr.span, code="E112")
        if nonneg and not x >= 0:
            raise self.error(f"{what} must be ≥ 0, got {x:g}", expr.span, code="E112")
        if low is not None and x < low:
            raise self.error(f"{what} must be ≥ {num(low)}, got {num(x)}", expr.span, code="E112")
        if high is not None and x > high:
            raise self.error(f"{what} must be ≤ {num(high)}, got {num(x)}", expr.span, code="E112")
        return x

    def seed(self, expr, env) -> int:
        """A random seed: a whole number in [0, 2^32 - 1]."""
        return int(self.scalar(expr, env, "the seed", integer=True, low=0, high=MAX_SEED))

    def count(self, expr, env, what, limit, kind) -> int:
        n = int(self.scalar(expr, env, what, integer=True, low=1))
        if n > limit:
            raise self.error(f"{what} is {count_text(n)}; the limit is {limit:,} {kind}",
                             expr.span, code="E113", hint="see `size limits` in docs/language.md")
        return n

    def budget(self, nbytes: int, what: str, span, hint: str) -> None:
        """Refuse, before allocating, an array that would exceed the memory budget."""
        problem = over_memory(nbytes, what)
        if problem:
            raise self.error(problem, span, code="E113", hint=hint)

    # --- grids and point sets ------------------------------------------------------------
    def grid(self, call: E.Call, env, d: int, what: str, limit: int = MAX_POINTS) -> np.ndarray:
        """grid(lo, hi, n): n^d points; grid([lo...], [hi...], [n...]): per-axis (row-major)."""
        if len(call.args) != 3:
            raise self.error(f"grid() takes 3 arguments (low, high, count), got {len(call.args)}",
                             call.span, code="E207", hint="e.g. grid(-2, 2, 30) or "
                             "grid([-2, -1], [2, 1], [20, 10])")
        parts = []
        for arg, name in zip(call.args, ("low", "high", "count")):
            value = self.const(arg, env, f"the grid's {name}")
            if value.ndim > 1 or (value.ndim == 1 and value.shape[0] != d):
                raise self.error(f"the grid's {name} must be a number or a list of {d} "
                                 f"(one per dimension), got shape {value.shape}", arg.span,
                                 code="E114")
            parts.append(np.broadcast_to(value, (d,)))
        lo, hi, counts = parts
        if np.any(counts != np.floor(counts)) or np.any(counts < 1):
            raise self.error("the grid's counts must be whole numbers ≥ 1", call.args[2].span,
                             code="E111")
        if np.any(hi < lo):
            raise self.error("the grid's high end is below its low end", call.span, code="E112")
        size = grid_size(counts)
        if size > limit:
            shape = " × ".join(count_text(int(c)) for c in counts[:4]) + (
                f" × … ({d} axes)" if d > 4 else "")
            raise self.error(f"this grid would have {count_text(size)} points ({shape}); the limit "
                             f"is {limit:,}", call.span, code="E113",
                             hint="use fewer points per axis (see `size limits` in docs/language.md)")
        self.budget(grid_bytes(size, d), f"this grid ({size:,} points × {d} coordinates)",
                    call.span, "use fewer points per axis, or a smaller dim")
        points = grid_points(lo, hi, counts.astype(int))
        if not np.all(np.isfinite(points)):
            raise self.error("the grid's points overflow (its ends are too far apart)", call.span,
                             code="E109")
        return points

    def point_list(self, expr, env, d: int, what: str) -> np.ndarray:
        """A literal list of points: numbers when d = 1, d-vectors otherwise → (n, d)."""
        value = self.const(expr, env, what)
        if d == 1 and value.ndim == 1:
            value = value[:, None]
        if value.ndim == 0:
            value = value.reshape(1, 1) if d == 1 else value
        if value.ndim != 2 or value.shape[1] != d:
            want = "a list of numbers" if d == 1 else f"a list of {d}-vectors, e.g. [[0, 1], [1, 0]]"
            raise self.error(f"{what} must be {want} (dim is {d}), got shape {value.shape}",
                             expr.span, code="E114")
        return value

    # --- distributions ----------------------------------------------------------------
    def prior(self, dist: S.Dist, env, what: str) -> Prior:
        family = dist.family.text
        if family not in D.FAMILIES:
            raise self.error(f"unknown distribution `{family}`", dist.family.span, code="E115",
                             hint="distributions: " + ", ".join(D.FAMILIES))
        names = D.FAMILIES[family].params
        given = self.arguments(dist, names, D.ALIASES, env, f"{family}")
        missing = [n for n in names if n not in given]
        if missing:
            raise self.error(f"{family} needs {', '.join(missing)} (parameters: "
                             f"{', '.join(names)})", dist.span, code="E116")
        params = {k: float(v) for k, v in given.items()}
        problem = D.parameter_problem(family, params)
        if problem:
            raise self.error(f"invalid {what} prior: {problem}", dist.span, code="E117")
        return Prior(family, params, dist.span)

    def arguments(self, dist: S.Dist, names, aliases, env, family, allow_priors=False) -> dict:
        """Positional then named arguments → {canonical name: number (or Prior if allowed)}."""
        out: dict = {}
        position = 0
        for arg in dist.args:
            if arg.name is None:
                if position < len(out):
                    raise self.error(f"{family}: a positional argument cannot follow a named one",
                                     arg.span, code="E116")
                if position >= len(names):
                    raise self.error(f"too many positional arguments for {family} (parameters: "
                                     f"{', '.join(names)})", arg.span, code="E116")
                key = names[position]
                position += 1
            else:
                key = aliases.get(arg.name.text, arg.name.text)
                if key not in names:
                    raise self.error(f"{family} has no parameter `{arg.name.text}`", arg.name.span,
                                     code="E116", hint=f"parameters: {', '.join(names)}")
            if key in out:
                raise self.error(f"{family}: `{key}` is given twice", arg.span, code="E116")
            if isinstance(arg.value, S.Dist):
                if not allow_priors:
                    raise self.error(f"a parameter of {family} cannot itself have a prior here",
                                     arg.span, code="E116")
                out[key] = self.prior(arg.value, env, key)
            else:
                out[key] = self.scalar(arg.value, env, f"{key} of {family}")
        return out


def num(x: float) -> str:
    """A number for messages: whole numbers in full up to 10^15, others with %g."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def grid_bytes(size: int, d: int) -> int:
    """Peak bytes of grid_points: the (size, d) result, plus index arrays past 31 axes."""
    return array_bytes(size, d if d < MAX_AXES else d + 3)


def grid_points(lo, hi, counts) -> np.ndarray:
    """Row-major grid points (the last axis varies fastest), for any number of axes.

    >>> grid_points([0, 10], [1, 11], [2, 2]).tolist()
    [[0.0, 10.0], [0.0, 11.0], [1.0, 10.0], [1.0, 11.0]]
    """
    counts = [int(c) for c in counts]
    d = len(counts)
    out = np.empty((grid_size(counts), d))
    if d < MAX_AXES:  # view the result as a (c_0, …, c_{d-1}, d) block: one broadcast write per axis
        block = out.reshape(counts + [d])
        for k in range(d):
            shape = [1] * d
            shape[k] = counts[k]
            block[..., k] = np.linspace(lo[k], hi[k], counts[k]).reshape(shape)
        return out
    index = np.arange(out.shape[0])  # more axes than numpy allows in one view
    stride = 1
    for k in range(d - 1, -1, -1):
        axis = np.linspace(lo[k], hi[k], counts[k])
        out[:, k] = axis[(index // stride) % counts[k]]
        stride *= counts[k]
    return out


def frozen(a, ndim=None):
    return _frozen(a, ndim)

