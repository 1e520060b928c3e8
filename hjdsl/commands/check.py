"""`hjdsl check FILE...`: parse and validate specs, print every problem of every file."""

from __future__ import annotations

import json
import sys

from hjdsl.commands.common import add_set_arg
from hjdsl.errors import HJError

HELP = "parse and validate .hj specs; print every problem at once"
DESCRIPTION = """\
Parse and check each spec: syntax, names, shapes, ranges, size limits and the data it
loads. Every problem of every file is printed (file:line:col, the source line, a caret
and a hint). Warnings are printed and do not fail the check.
"""
EPILOG = """\
examples:
  hjdsl check examples/quickstart.hj
  hjdsl check examples/*.hj
  cat spec.hj | hjdsl check -
  hjdsl check --json examples/abs_1d.hj    machine-readable diagnostics
  hjdsl check examples/quickstart.hj --set t=0.5 --set "eps=[1, 0.1]"

exit codes: 0 every file is valid, 2 some file has errors.
"""


def configure(p) -> None:
    p.epilog = EPILOG
    p.add_argument("files", nargs="+", metavar="FILE", help="a .hj spec; `-` reads standard input")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list with the diagnostics of each file to stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")
    add_set_arg(p)


def check_one(path: str, overrides=()):
    """(model or None, diagnostics, excerpt sources) for one file; never raises HJError."""
    from hjdsl.frontend.driver import load, parse
    from hjdsl.frontend.overrides import model_sources

    try:
        model = (parse(sys.stdin.buffer.read(), name="<stdin>", overrides=overrides)
                 if path == "-" else load(path, overrides))
    except HJError as err:
        return None, err.diagnostics, err.source
    return model, model.warnings, model_sources(model)


def summary(model) -> str:
    """`name: ok (model m, d=1, 30 atoms, 5 ε values)`."""
    if hasattr(model, "summary"):  # another kind of spec (a stack of layers) says its own
        return model.summary()
    n_eps = model.eps.size
    parts = [f"model {model.name}", f"d={model.dim}",
             f"{model.n_atoms} atom{'s' if model.n_atoms != 1 else ''}",
             f"{n_eps} ε value{'s' if n_eps != 1 else ''}"]
    if model.data is not None:
        parts.append(f"{model.data.size} data points")
    if model.warnings:
        parts.append(f"{len(model.warnings)} warning{'s' if len(model.warnings) > 1 else ''}")
    return "ok (" + ", ".join(parts) + ")"


def run(args) -> int:
    failed = False
    report = []
    for path in args.files:
        model, diagnostics, source = check_one(path, args.set)
        failed |= model is None
        shown = "<stdin>" if path == "-" else path
        if args.json:
            report.append({"file": shown, "ok": model is not None,
                           "diagnostics": [d.to_json() for d in diagnostics]})
            continue
        for d in diagnostics:
            print(d.render(source), file=sys.stderr)
        if model is not None and not args.quiet:
            print(f"{shown}: {summary(model)}", flush=True)
    if args.json:
        print(json.dumps(report, indent=2))
    return 2 if failed else 0
