"""`hjdsl format FILE...`: rewrite valid specs in the canonical layout (or --check / --diff)."""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

from hjdsl.errors import Diagnostic, HJError, UsageError

HELP = "rewrite .hj specs in the canonical layout, keeping every comment"
DESCRIPTION = """\
Lay each spec out the canonical way: one space around `=`, `~`, `in` and the binary
operators (none around `^`), none inside brackets, `, ` in lists, block items indented by
two spaces, at most one blank line in a row. Statements stay in their order, every comment
is kept (an end-of-line comment keeps its column while the code leaves room), and hamiltonian
forms and strings are kept verbatim: only the spaces between tokens change, so the formatted
spec means exactly what it meant.

A file is checked first; a file with errors is never rewritten (its problems are printed).
Files are rewritten in place, atomically, keeping their permissions.
"""
EPILOG = """\
examples:
  hjdsl format examples/quickstart.hj        rewrite the file in place
  hjdsl format --check examples/*.hj         exit 1 and name the files that would change
  hjdsl format --diff examples/abs_1d.hj     print what would change, write nothing
  cat spec.hj | hjdsl format -               print the formatted spec

exit codes: 0 done (or, with --check, nothing to change), 1 --check found files to format,
2 some file is invalid, missing or not writable.
"""


def configure(p) -> None:
    p.epilog = EPILOG
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="a .hj spec; `-` reads standard input and prints the result")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 and name each file that would be reformatted")
    p.add_argument("--diff", action="store_true",
                   help="write nothing; print a unified diff of the changes to stdout")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only errors (and diffs with --diff)")


def _unwritable(path: str) -> UsageError:
    return UsageError((Diagnostic("error", f"cannot rewrite {path}: the file is read-only",
                                  hint="use --check or --diff to see the changes without "
                                       "writing", code="U041"),))


def format_one(path: str) -> tuple[str, str]:
    """(original text, formatted text) of a valid spec; HJError if it is invalid."""
    from hjdsl.frontend.driver import load, parse
    from hjdsl.frontend.format import format_text

    model = parse(sys.stdin.buffer.read(), name="<stdin>") if path == "-" else load(path)
    return model.source, format_text(model.source)


def rewrite(path: str, text: str) -> None:
    """Replace the file at `path` (through a symlink, if it is one) atomically, keeping its mode."""
    from hjdsl.output import write_text

    target = Path(os.path.realpath(path))
    mode = target.stat().st_mode & 0o7777
    # Root may write anything: a file without any write bit is read-only all the same.
    if not mode & 0o222 or not os.access(target, os.W_OK):
        raise _unwritable(path)
    write_text(text, target)
    os.chmod(target, mode)


def run(args) -> int:
    invalid = changed = 0
    for path in args.files:
        shown = "<stdin>" if path == "-" else path
        try:
            before, after = format_one(path)
            if path == "-" and not (args.check or args.diff):
                sys.stdout.write(after)
                continue
            if before == after:
                continue
            if args.diff:
                sys.stdout.writelines(difflib.unified_diff(
                    before.splitlines(keepends=True), after.splitlines(keepends=True),
                    f"{shown}", f"{shown} (formatted)"))
            if args.check:
                if not args.quiet:
                    print(f"would reformat {shown}", file=sys.stderr)
            elif not args.diff:
                rewrite(path, after)
                if not args.quiet:
                    print(f"reformatted {shown}", file=sys.stderr)
            changed += 1
        except HJError as err:
            invalid += 1
            for d in err.diagnostics:
                print(d.render(err.source), file=sys.stderr)
    if not args.quiet and args.files != ["-"]:
        print(_summary(len(args.files), changed, invalid, args.check or args.diff),
              file=sys.stderr)
    if invalid:
        return 2
    return 1 if args.check and changed else 0


def _summary(total: int, changed: int, invalid: int, dry: bool) -> str:
    def files(n: int) -> str:
        return f"{n} file{'s' if n != 1 else ''}"

    verb = "would be reformatted" if dry else "reformatted"
    parts = [f"{files(changed)} {verb}", f"{files(total - changed - invalid)} unchanged"]
    if invalid:
        parts.append(f"{files(invalid)} with errors left as they are")
    return ", ".join(parts)
