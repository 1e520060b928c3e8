"""`--set NAME=VALUE`: put a value into the spec text in place of a declaration's own value."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

from hjdsl.errors import Diagnostic, HJError, Span, SpecError, UsageError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.check_values import SWEEPS
from hjdsl.model import expr as E

# Declarations a NAME can add when the spec leaves them out (their documented defaults apply).
ADDABLE = {"t": "time t = ", "x": "evaluate x = "}
SETTINGS_OF = {"fit": "settings", "split": "settings", "data": "settings"}
RULE = ("NAME is `dim`, `t`, `eps`, `x` (the evaluation points), a `let` name, or "
        "KEYWORD.KEY for a setting written in the spec (fit.steps, data.n, particles.count, ...)")


@dataclass(frozen=True)
class Override:
    """One `--set NAME=VALUE` as typed; `index` numbers it among the --set options (from 1)."""

    text: str
    index: int

    @property
    def label(self) -> str:
        """The file name its diagnostics point into: `<--set 1>`."""
        return f"<--set {self.index}>"

    @property
    def name(self) -> str:
        return self.text.partition("=")[0].strip()

    @property
    def value(self) -> str:
        return self.text.partition("=")[2].strip()

    @property
    def value_col(self) -> int:
        """1-based column of VALUE in the typed text (after `=` and spaces)."""
        rest = self.text.partition("=")[2]
        return len(self.text) - len(rest) + (len(rest) - len(rest.lstrip())) + 1


@dataclass(frozen=True)
class _Edit:
    start: int  # offsets of the replaced region in the spec text
    end: int
    prefix: str  # text written before VALUE (e.g. " in " when the op changes)
    override: Override


def overrides_of(texts) -> tuple[Override, ...]:
    """The typed --set texts as Overrides; a UsageError for a malformed or repeated one.

    >>> [o.name for o in overrides_of(["t=0.5", "eps = [1, 0.1]"])]
    ['t', 'eps']
    """
    out, seen = [], {}
    for index, text in enumerate(texts, 1):
        o = Override(str(text), index)
        where = Span.point(o.label, 1, 1, len(o.text))
        if "=" not in o.text or not o.name or not o.value:
            raise _usage(o, f"--set takes NAME=VALUE, got {o.text!r}", where, "U050",
                         'e.g. --set t=0.5 or --set "eps=[1, 0.1]"')
        bad = next((c for c in "#;\n\r" if c in o.text), None)
        if bad is not None:
            col = o.text.index(bad) + 1
            raise _usage(o, f"a --set value is one expression: {bad!r} is not allowed in it",
                         Span.point(o.label, 1, col), "U050")
        if o.name in seen:
            raise _usage(o, f"`{o.name}` is set twice (first by --set {seen[o.name]})",
                         Span.point(o.label, 1, 1, len(o.name)), "U052", "keep one of them")
        seen[o.name] = index
        out.append(o)
    return tuple(out)


def apply_overrides(spec: S.Spec, overrides) -> tuple[str, dict]:
    """(text, regions): the spec text with each VALUE in place of its declaration's value, and
    where each VALUE now sits in it (offsets, by override).

    Values are one line (the language has no multi-line expressions), so every other line
    keeps its number in diagnostics.
    """
    text = spec.source if spec.source.endswith("\n") else spec.source + "\n"
    starts = _line_starts(text)
    edits = sorted((_edit(spec, o, starts, text) for o in overrides), key=lambda e: e.start)
    pieces, at, size, regions = [], 0, 0, {}
    for edit in edits:
        before = text[at:edit.start] + edit.prefix
        size += len(before)
        regions[edit.override] = (size, size + len(edit.override.value))
        tail = "\n" if edit.start == len(text) else ""  # an added declaration is a new line
        pieces += [before, edit.override.value, tail]
        size += len(edit.override.value) + len(tail)
        at = edit.end
    pieces.append(text[at:])
    return "".join(pieces), regions


def relocate(err: HJError, source: str, regions: dict) -> HJError:
    """`err` with each span inside an override's value moved to `<--set k>`, sources attached."""
    diagnostics = relocate_all(err.diagnostics, source, regions)
    return type(err)(diagnostics, sources(source, diagnostics, tuple(regions)))


def relocate_all(diagnostics, source: str, regions: dict) -> tuple[Diagnostic, ...]:
    """Diagnostics of the overridden text, spans inside a VALUE pointing into the --set text."""
    starts = _line_starts(source)
    out = []
    for d in diagnostics:
        span = d.span
        if span is not None and span.file not in {o.label for o in regions}:
            start = _offset(starts, span.line, span.col)
            for o, (a, b) in regions.items():
                if a <= start <= b:
                    end = min(max(_offset(starts, span.end_line, span.end_col), start + 1), b)
                    col = o.value_col + start - a
                    span = Span(o.label, 1, col, 1, max(col + end - start, col + 1))
                    break
        out.append(replace(d, span=span))
    return tuple(out)


def sources(source: str, diagnostics, overrides):
    """What excerpts render from: the spec text, or by file name the spec and each --set text."""
    if not overrides:
        return source
    files = {o.label: o.text for o in overrides}
    for d in diagnostics:
        if d.span is not None and d.span.file not in files:
            files[d.span.file] = source
    return files


def model_sources(model):
    """The excerpt sources of a model's warnings (its text, and its --set texts by label)."""
    return sources(model.source, model.warnings, overrides_of(model.overrides))


def check_value_syntax(o: Override) -> None:
    """VALUE alone must be one expression, so it cannot reach past its declaration's value."""
    from hjdsl.frontend.parser import parse_syntax

    lead = "let _v = "
    try:
        parse_syntax(lead + o.value + "\n", o.label)
    except SpecError as err:
        shift = o.value_col - len(lead) - 1
        moved = tuple(replace(d, hint=None, span=Span(o.label, 1, max(d.span.col + shift, 1), 1,
                                           max(d.span.end_col + shift, d.span.col + shift + 1)))
                      if d.span is not None else d for d in err.diagnostics)
        raise SpecError(moved, {o.label: o.text}) from None


# --- where each NAME's value is ----------------------------------------------------------
def _edit(spec: S.Spec, o: Override, starts: list[int], text: str) -> _Edit:
    decls = {s.keyword.text: s for s in spec.statements if not isinstance(s, S.LetDecl)}
    lets = {s.name.text: s for s in spec.statements if isinstance(s, S.LetDecl)}
    name = o.name
    region = lambda expr: (_offset(starts, expr.span.line, expr.span.col),  # noqa: E731
                           _offset(starts, expr.span.end_line, expr.span.end_col))
    if name in lets:
        return _Edit(*region(lets[name].value), "", o)
    if name == "dim" and "dim" in decls:
        return _Edit(*region(decls["dim"].value), "", o)
    if name == "t" and "time" in decls:
        return _Edit(*region(decls["time"].value), "", o)
    if name == "x" and "evaluate" in decls:
        return _Edit(*region(decls["evaluate"].value), "", o)
    if name == "eps":
        # `=` takes one number, `in` a list or sweep; a prior (`~`) is replaced by the values.
        op = " in " if _is_list(o) else " = "
        decl = decls.get("viscosity")
        if decl is None:
            return _append(text, "viscosity eps" + op, o)
        a = _offset(starts, decl.name.span.end_line, decl.name.span.end_col)
        return _Edit(a, region(decl.value)[1], op, o)
    if name in ADDABLE:
        return _append(text, ADDABLE[name], o)
    keyword, _, key = name.partition(".")
    decl = decls.get(keyword)
    if key and decl is not None:
        value = _setting(decl, key)
        if value is not None:
            return _Edit(*region(value), "", o)
    raise _unknown(spec, o, decls, lets)


def _append(text: str, prefix: str, o: Override) -> _Edit:
    return _Edit(len(text), len(text), prefix, o)


def _setting(decl: S.Stmt, key: str):
    """The expression of setting `key` on a declaration line, or None."""
    if isinstance(decl, S.ParticlesDecl):
        return {"count": decl.count, "seed": decl.seed}.get(key)
    for s in getattr(decl, "settings", ()):
        if s.key.text == key:
            return s.value
    return None


def _names(decls: dict, lets: dict) -> list[str]:
    names = ["dim", "t", "eps", "x", *lets]
    for keyword, decl in decls.items():
        if isinstance(decl, S.ParticlesDecl):
            names += [f"particles.{k}" for k in ("count", "seed") if _setting(decl, k) is not None]
        names += [f"{keyword}.{s.key.text}" for s in getattr(decl, "settings", ())]
    return names


def _unknown(spec, o: Override, decls: dict, lets: dict) -> UsageError:
    names = _names(decls, lets)
    close = difflib.get_close_matches(o.name, names, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else f"this spec has: {', '.join(names)}"
    what = (f"the spec has no `{o.name.partition('.')[0]}` declaration with a "
            f"`{o.name.partition('.')[2]}` setting" if "." in o.name
            else f"`{o.name}` is not a name --set can change in {spec.file}")
    return _usage(o, what, Span.point(o.label, 1, 1, len(o.name)), "U051", hint)


def _is_list(o: Override) -> bool:
    from hjdsl.frontend.driver import parse_expression

    expr = parse_expression(o.value)  # its syntax was checked by check_value_syntax
    return isinstance(expr, E.Vector) or (isinstance(expr, E.Call) and expr.func in SWEEPS)


def _usage(o: Override, message: str, span: Span, code: str, hint: str | None = None):
    return UsageError((Diagnostic("error", message, span, hint, code),), {o.label: o.text})


# --- offsets ------------------------------------------------------------------------------
def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts += [i + 1 for i, c in enumerate(text) if c == "\n"]
    return starts


def _offset(starts: list[int], line: int, col: int) -> int:
    return starts[min(max(line, 1), len(starts)) - 1] + col - 1
