"""The `hjdsl` command: argument parsing, verb dispatch, exit codes and error display."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from hjdsl.errors import HJError
from hjdsl.jaxsetup import DEVICES, float64, use_device
from hjdsl.version import __version__

# verb -> module; each module defines HELP, DESCRIPTION, configure(parser) and run(args) -> int.
VERBS = {
    "check": "hjdsl.commands.check",
    "compile": "hjdsl.commands.compile",
    "compare": "hjdsl.commands.compare",
    "solve": "hjdsl.commands.solve",
    "attribute": "hjdsl.commands.attribute",
    "bifurcate": "hjdsl.commands.bifurcate",
    "study": "hjdsl.commands.study",
    "format": "hjdsl.commands.format",
    "completion": "hjdsl.commands.completion",
}

EPILOG = """\
examples:
  hjdsl check examples/*.hj              validate specs, print every problem at once
  hjdsl compile examples/quickstart.hj --info
  hjdsl compare examples/quickstart.hj --plot views.png
  hjdsl solve examples/abs_1d.hj --method map -o fit.nc

exit codes: 0 success, 1 the run failed, 2 invalid input. --debug shows tracebacks.
"""


def _load_verb(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hjdsl",
        description="Check, compile, compare and fit Hamilton–Jacobi / log-sum-exp models "
                    "written in the .hj language.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hjdsl {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    parser.add_argument("--device", choices=DEVICES, help="run JAX on this device (default: JAX's "
                        "own choice, or $HJDSL_DEVICE), e.g. hjdsl --device gpu compare FILE")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, module_name in VERBS.items():
        module = _load_verb(module_name)
        if module is None:
            p = sub.add_parser(verb, help="(not yet available)")
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(_run=_not_available(verb))
            continue
        p = sub.add_parser(verb, help=module.HELP, description=module.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show Python tracebacks on errors")
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def _not_available(verb: str):
    def run(args) -> int:
        print(f"hjdsl {verb}: not yet available in hjdsl {__version__}", file=sys.stderr)
        return 2

    return run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.verb is None:
            parser.print_help()
            return 2
        use_device(args.device)
        with float64():  # float64 JAX for the whole command, as the Python API has per call
            return int(args._run(args) or 0)
    except HJError as err:
        if debug:
            traceback.print_exc()
        print(err.render(), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    except Exception as exc:  # a bug in hjdsl itself
        if debug:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc}\n"
              "this is a bug in hjdsl; please report it with the spec and the command "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
