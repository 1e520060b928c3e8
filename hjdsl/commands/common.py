"""Helpers every verb shares: loading specs (files or stdin), printing warnings, ε lists."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from hjdsl.errors import Diagnostic, UsageError


def load_model(path: str, overrides=()):
    """Load and check a spec (with `--set` overrides); `-` reads standard input. Warnings go
    to stderr."""
    from hjdsl.frontend.driver import load, parse

    if path == "-":
        model = parse(sys.stdin.read(), name="<stdin>", overrides=overrides or ())
    else:
        model = load(path, overrides or ())
    if type(model).__name__ == "Study":  # a sweep of fits: only `hjdsl study` runs it
        raise UsageError.single(f"{path} declares a study (a sweep of fits), not one model",
                                hint=f"run it with `hjdsl study {path}`", code="U302")
    print_warnings(model)
    return model


def load_fit(model, path: str):
    """The model with the atoms of a `hjdsl solve` result; provenance warnings go to stderr."""
    from hjdsl.views.compare import fitted_model

    model, warnings = fitted_model(model, path)
    for message in warnings:
        print(Diagnostic("warning", message, code="W101").render(), file=sys.stderr)
    return model


def print_warnings(model) -> None:
    from hjdsl.frontend.overrides import model_sources

    for w in model.warnings:
        print(w.render(model_sources(model)), file=sys.stderr)


def parse_floats(text: str, what: str = "value") -> np.ndarray:
    """'1,0.5,0.1' → array; a clear usage error otherwise."""
    try:
        values = [float(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise UsageError((Diagnostic("error", f"cannot read {what} {text!r}: expected numbers "
                                     "separated by commas, e.g. 1,0.5,0.1", code="U002"),)) from None
    if not values:
        raise UsageError((Diagnostic("error", f"empty {what} list", code="U002"),))
    return np.asarray(values, dtype=float)


def eps_arg(text: str) -> np.ndarray:
    """argparse type for --eps: a comma-separated list of ε ≥ 0."""
    from hjdsl.model.limits import MAX_EPS

    values = parse_floats(text, "--eps")
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise UsageError((Diagnostic("error", f"--eps values must be finite and ≥ 0, got {text}",
                                     code="U003"),))
    if values.size > MAX_EPS:
        raise UsageError((Diagnostic("error", f"--eps has {values.size:,} values; the limit of one "
                                     f"ε sweep is {MAX_EPS:,}", hint="split the sweep into "
                                     "several runs", code="U003"),))
    return values


def number_arg(option: str, *, low: float = 0.0, inclusive: bool = False, integer: bool = False,
               high: float | None = None, why: str = ""):
    """An argparse type: a finite number above `low` (or ≥ with `inclusive`), at most `high`.

    >>> number_arg("--top", low=1, inclusive=True, integer=True)("5")
    5
    """
    def convert(text: str):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or (integer and value != int(value)) or not np.isfinite(value):
            kind = "a whole number" if integer else "a finite number"
            raise UsageError((Diagnostic("error", f"{option} takes {kind}, got {text!r}",
                                         code="U002"),))
        below = value < low if inclusive else value <= low
        if below or (high is not None and value > high):
            sign = "≥" if inclusive else ">"
            limit = f" and ≤ {high:g}" if high is not None else ""
            raise UsageError((Diagnostic("error", f"{option} must be {sign} {low:g}{limit}, got "
                                         f"{text}{why}", code="U003"),))
        return int(value) if integer else value

    return convert


def check_outputs(args, *figures: str) -> None:
    """Refuse a bad -o or figure path before any work (the run may take minutes)."""
    from hjdsl.output import check_figure_path, check_writable

    if getattr(args, "output", None):
        check_writable(args.output)
    for name in ("plot", *figures):
        if getattr(args, name, None):
            check_figure_path(getattr(args, name))


def add_set_arg(p: argparse.ArgumentParser) -> None:
    """`--set NAME=VALUE` (repeatable): change a declared value of the spec for this run."""
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="set",
                   help="replace a value of the spec, checked like the file: --set t=0.5, "
                        '--set "eps=[1, 0.1]", a let name, fit.steps=500 (repeatable)')


def add_output_args(p: argparse.ArgumentParser, *, plot: bool = True) -> None:
    """-o, --plot, -q and --set: what every verb that loads one spec and writes a result takes."""
    add_set_arg(p)
    p.add_argument("-o", "--output", metavar="OUT.nc", help="write the result Dataset (netCDF)")
    if plot:
        p.add_argument("--plot", metavar="OUT.png", help="save a figure (png, pdf or svg)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or tables")
