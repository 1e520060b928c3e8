"""parse / load: text → syntax → checked Model. The only place that knows the stages' order."""

from __future__ import annotations

import dataclasses
import gc
import os
from pathlib import Path

from hjdsl.errors import DataError, Diagnostic, Span, SpecError
from hjdsl.frontend.check import check
from hjdsl.frontend.overrides import (apply_overrides, check_value_syntax, overrides_of,
                                      relocate, relocate_all)
from hjdsl.frontend.parser import parse_syntax
from hjdsl.model.expr import Expr
from hjdsl.model.ir import Model
from hjdsl.model.limits import MAX_SPEC_BYTES

TOO_BIG_HINT = "a spec is short text: put large point sets in a CSV or NetCDF data file"


def parse(text: str | bytes, name: str = "<string>", overrides=()) -> Model:
    """Parse and check .hj text.

    `name` is used in messages; when it is a path in an existing folder, data paths resolve
    relative to that folder (as for `load`), otherwise relative to the current folder.
    `overrides` are `NAME=VALUE` texts, as `--set` takes them (see `load`).

    >>> m = parse("model m\\ndim 1\\nhamiltonian H(p) = |p|^2\\n"
    ...           "particles y = [-1, 1]\\ninitial g(y) = abs(y)\\n")
    >>> m.name, m.dim, m.g.tolist()
    ('m', 1, [1.0, 1.0])
    """
    folder = Path(name).parent
    base = folder if not name.startswith("<") and _is_dir(folder) else Path.cwd()
    return _run(_as_text(text, name), name, base.resolve(), None, overrides)


def load(path: str | os.PathLike, overrides=()) -> Model:
    """Read, parse and check a .hj file; data paths resolve relative to its folder.

    Raises SpecError (located at the spec's line) or DataError; `parse` takes text instead.
    `overrides` such as `["t=0.5", "eps=[1, 0.1]"]` replace declared values before the check
    (their errors point into `<--set k>`); the model's `source` is then the overridden text.

    >>> m = load("examples/quickstart.hj")  # doctest: +SKIP
    >>> m.name, m.dim, m.n_atoms, m.eps.tolist()  # doctest: +SKIP
    ('quickstart', 1, 30, [1.0, 0.5, 0.2, 0.1, 0.0])
    >>> load("examples/quickstart.hj", ["eps=[1, 0.1]"]).eps.tolist()  # doctest: +SKIP
    [1.0, 0.1]
    """
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError.single(f"{name}: no such file", hint="check the path of the spec",
                               code="E901") from None
    except IsADirectoryError:
        raise SpecError.single(f"{name}: is a folder, not a .hj file", code="E901") from None
    except OSError as exc:
        raise SpecError.single(f"{name}: cannot read ({exc.strerror})", code="E901") from None
    except ValueError:  # a NUL byte in the name
        raise SpecError.single(f"{name!r}: not a valid file name", code="E901") from None
    return _run(_as_text(raw, name), name, Path(path).resolve().parent, name, overrides)


def _is_dir(folder: Path) -> bool:
    """Whether `folder` is a folder; a name the system cannot look up (too long) is not."""
    try:
        return folder.is_dir()
    except (OSError, ValueError):
        return False


def _run(text: str, name: str, base_dir: Path, path: str | None, overrides=()) -> Model:
    # Parsing builds one object per token and keeps them all alive, so the cyclic garbage
    # collector would scan the growing tree again and again (40 % of the time of a 64 KB
    # spec); nothing here makes cycles that must be freed before the model is returned.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        spec = parse_syntax(text, name)
        if not overrides:
            return check(spec, base_dir, path)
        return _run_overridden(spec, base_dir, path, overrides)
    finally:
        if was_enabled:
            gc.enable()


def _run_overridden(spec, base_dir: Path, path: str | None, texts) -> Model:
    """Check the spec with --set values in place; their diagnostics point into `<--set k>`."""
    sets = overrides_of(texts)
    for o in sets:
        check_value_syntax(o)
    text, regions = apply_overrides(spec, sets)
    try:
        model = check(parse_syntax(text, spec.file), base_dir, path)
    except (SpecError, DataError) as err:
        raise relocate(err, text, regions) from None
    return dataclasses.replace(model, warnings=relocate_all(model.warnings, text, regions),
                               overrides=tuple(o.text for o in sets))


def _as_text(data: str | bytes, name: str) -> str:
    """Decode bytes as UTF-8; reject binary input with a clear message."""
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_SPEC_BYTES:
            raise SpecError.single(f"{name}: the spec is {len(data):,} bytes; the limit is "
                                   f"{MAX_SPEC_BYTES:,}", code="E902", hint=TOO_BIG_HINT)
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _binary(name, bytes(data), exc.start, "this file is not UTF-8 text") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError.single(f"{name}: the spec is {len(data):,} characters; the limit is "
                               f"{MAX_SPEC_BYTES:,}", code="E902", hint=TOO_BIG_HINT)
    if "\x00" in data:
        raise _binary(name, data.encode("utf-8", "replace"), data.encode("utf-8", "replace")
                      .index(b"\x00"), "this is a binary file, not a .hj spec")
    return data


def _binary(name: str, raw: bytes, offset: int, what: str) -> SpecError:
    line = raw.count(b"\n", 0, offset) + 1
    col = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    message = f"{what} (byte 0x{raw[offset]:02x})"
    return SpecError((Diagnostic("error", message, Span.point(name, line, col),
                                 "a .hj spec is UTF-8 text", "E009"),))


def parse_expression(text: str) -> Expr:
    """The expression IR of one expression (for tests and the Python API).

    >>> parse_expression("1 + 2*x").op
    '+'
    """
    spec = parse_syntax(f"let _e = {text}\n", "<expression>")
    return spec.statements[0].value
