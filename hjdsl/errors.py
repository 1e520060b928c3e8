"""User-facing errors and diagnostics: source spans, messages, hints and their rendering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns are 1-based, `end_col` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    @classmethod
    def point(cls, file: str, line: int, col: int, width: int = 1) -> "Span":
        return cls(file, line, col, line, col + max(width, 1))


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec, data file or argument list."""

    severity: Severity
    message: str
    span: Span | None = None
    hint: str | None = None
    code: str = "E000"

    def to_json(self) -> dict:
        out: dict = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.span is not None:
            s = self.span
            out.update(file=s.file, line=s.line, column=s.col, end_line=s.end_line, end_column=s.end_col)
        if self.hint:
            out["hint"] = self.hint
        return out

    def render(self, source: str | None = None) -> str:
        """Format as `file:line:col: error: msg`, the source line, a caret and the hint."""
        if self.span is None:
            head = f"{self.severity}: {self.message}"
        else:
            head = f"{self.span.file}:{self.span.line}:{self.span.col}: {self.severity}: {self.message}"
        lines = [head]
        if self.span is not None and source is not None:
            lines.extend(_excerpt(source, self.span))
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def _excerpt(source: str, span: Span) -> list[str]:
    text_lines = (source.get(span.file, "") if isinstance(source, dict) else source).splitlines()
    if not 1 <= span.line <= len(text_lines):
        return []
    text = text_lines[span.line - 1].expandtabs(1)
    gutter = f"{span.line:5d} | "
    end = span.end_col if span.end_line == span.line else len(text) + 1
    width = max(1, end - span.col)
    caret = " " * (len(gutter) - 2) + "| " + " " * (span.col - 1) + "^" * width
    return [gutter + text, caret]


class HJError(Exception):
    """Base class of every error hjdsl raises on purpose.

    Carries one or more diagnostics; `file`, `line` and `column` describe the first error.
    `exit_code` is what the CLI returns: 2 for invalid input, 1 for a failed run.
    """

    exit_code = 2

    def __init__(self, diagnostics, source: str | None = None):
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        self.source = source
        super().__init__(self.diagnostics[0].message if self.diagnostics else "")

    @classmethod
    def single(cls, message: str, span: Span | None = None, hint: str | None = None,
               code: str = "E000", source: str | None = None) -> "HJError":
        return cls((Diagnostic("error", message, span, hint, code),), source)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @property
    def file(self) -> str | None:
        span = self._first_span()
        return span.file if span else None

    @property
    def line(self) -> int | None:
        span = self._first_span()
        return span.line if span else None

    @property
    def column(self) -> int | None:
        span = self._first_span()
        return span.col if span else None

    def _first_span(self) -> Span | None:
        for d in self.errors or self.diagnostics:
            if d.span is not None:
                return d.span
        return None

    def render(self) -> str:
        return "\n".join(d.render(self.source) for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


class SpecError(HJError):
    """The spec is invalid (syntax, names, shapes, ranges): exit code 2."""


class DataError(HJError):
    """A data file or data argument is invalid: exit code 2."""


class UsageError(HJError):
    """Command-line arguments are invalid: exit code 2."""


class RunError(HJError):
    """A valid model could not be run to a trustworthy result (solver, divergence): exit code 1."""

    exit_code = 1


def run_error(message: str, hint: str | None = None) -> RunError:
    """A `RunError` with a single message and no source location."""
    return RunError((Diagnostic("error", message, None, hint, "R000"),))
