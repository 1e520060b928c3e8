"""Helpers every verb shares: loading specs (files or stdin), printing warnings, ε lists."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from hjdsl.errors import Diagnostic, UsageError


def load_model(path: str):
    """Load and check a spec; `-` reads standard input. Warnings go to stderr."""
    from hjdsl.frontend.driver import load, parse

    if path == "-":
        model = parse(sys.stdin.read(), name="<stdin>")
    else:
        model = load(path)
    print_warnings(model)
    return model


def print_warnings(model) -> None:
    for w in model.warnings:
        print(w.render(model.source), file=sys.stderr)


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
    values = parse_floats(text, "--eps")
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise UsageError((Diagnostic("error", f"--eps values must be finite and ≥ 0, got {text}",
                                     code="U003"),))
    return values


def add_output_args(p: argparse.ArgumentParser, *, plot: bool = True) -> None:
    p.add_argument("-o", "--output", metavar="OUT.nc", help="write the result Dataset (netCDF)")
    if plot:
        p.add_argument("--plot", metavar="OUT.png", help="save a figure (png, pdf or svg)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or tables")
