"""Rewrite lark's parse errors into diagnostics that point where the user must edit."""

from __future__ import annotations

import difflib
import re

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from hjdsl.errors import Diagnostic, Span

KEYWORDS = ("model", "dim", "time", "let", "viscosity", "hamiltonian", "particles", "initial",
            "data", "observe", "split", "evaluate", "fit", "attention", "weights",
            "layer", "residual", "recurrent")

# How each declaration is written: the hint of a syntax error inside it.
SYNTAX = {
    "model": 'model NAME "optional description"',
    "dim": "dim 2",
    "time": "time t = 1",
    "let": "let A = [[2, 0.5], [0.5, 1]]",
    "viscosity": "viscosity eps = 0.1   or   viscosity eps in [1, 0.1, 0]   or   "
                 "viscosity eps ~ lognormal(-2.3, 0.5)",
    "hamiltonian": "hamiltonian H(p) = |p|^2",
    "particles": "particles y = grid(-2, 2, 30)   or   particles y ~ normal(0, 1) [30]",
    "initial": "initial g(y) = abs(y)   or   initial g ~ normal(0, 1)",
    "data": 'data "file.csv" { x = x1; value = v }   or   data synthetic n = 500 seed = 1 { ... }',
    "observe": "observe f ~ normal(sigma = 0.05)",
    "split": "split test = 0.2 seed = 1",
    "evaluate": "evaluate x = grid(-2.5, 2.5, 201)",
    "fit": "fit method = map steps = 2000 lr = 0.01",
    "attention": 'attention "heads.safetensors" heads = 2 causal = true   or   '
                 "attention synthetic heads = 2 queries = 6 keys = 6 d_k = 8 seed = 1",
    "weights": 'weights "layer.safetensors" W = "head.weight" b = "head.bias"',
    "layer": "layer hidden lse width = 8 atoms = 4 eps = 0.1 seed = 1   or   "
             "layer out softplus eps = 0.05 { W = [[1, -1]]; b = [0] }",
    "residual": "residual tanh steps = 10 h = 0.1 seed = 0   or   residual lse width = 4 eps = 0.5",
    "recurrent": "recurrent lstm width = 4 seed = 0   (cells: elman, lstm, ssm)",
}

_EXPR_START = {"NUMBER", "NAME", "LSQB", "LPAR", "MINUS", "PLUS"}
_NAMES = {
    "NAME": "a name", "NUMBER": "a number", "STRING": 'a string in double quotes ("...")',
    "HAM_TEXT": "a Hamiltonian form such as |p|^2", "_NL": "the end of the line",
    "$END": "the end of the file", "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`",
    "LBRACE": "`{`", "RBRACE": "`}`", "COMMA": "`,`", "SEMICOLON": "`;`", "EQ": "`=`",
    "TILDE": "`~`", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`", "SLASH": "`/`", "CARET": "`^`",
}
_OPEN, _CLOSE = "([{", ")]}"


_QUOTE_OR_HASH = re.compile(r'["#]')
_BRACKET_OR_QUOTE = re.compile(r'["()\[\]{}]')


def code_part(line: str) -> str:
    """The line without its `#` comment (a `#` inside a string does not start one)."""
    in_string = False
    for match in _QUOTE_OR_HASH.finditer(line):  # only quotes and hashes matter: skip the rest
        if match.group() == '"':
            in_string = not in_string
        elif not in_string:
            return line[:match.start()]
    return line


def unmatched_openers(lines: list[str], first: int, last: int, stop_col: int | None = None):
    """(line, col, char) of brackets opened in lines[first..last] and not closed (1-based)."""
    stack = []
    for n in range(first, last + 1):
        code = code_part(lines[n - 1])
        if n == last and stop_col is not None:
            code = code[:stop_col - 1]
        in_string = False
        for match in _BRACKET_OR_QUOTE.finditer(code):
            ch = match.group()
            if ch == '"':
                in_string = not in_string
            elif in_string:
                continue
            elif ch in _OPEN:
                stack.append((n, match.start() + 1, ch))
            elif stack and _OPEN.index(stack[-1][2]) == _CLOSE.index(ch):
                stack.pop()
    return stack


def statement_start(text: str, line: int) -> int:
    r"""The first line of the top-level declaration that `line` belongs to (1-based).

    A line outside every `{ ... }` block starts a declaration: brackets and strings close on
    their own line, so parsing can start again there.

    >>> statement_start("model m\ndata synthetic {\n  x ~ uniform(0, 1)\n}\ndim 1\n", 3)
    2
    """
    start, depth = 1, 0
    for n, raw in enumerate(text.split("\n")[:line], 1):
        if depth == 0:
            start = n
        in_string = False
        for match in _BRACKET_OR_QUOTE.finditer(code_part(raw)):
            ch = match.group()
            if ch == '"':
                in_string = not in_string
            elif not in_string and ch in "{}":
                depth = max(0, depth + (1 if ch == "{" else -1))
    return start


def _describe(expected: set[str]) -> str:
    expected = set(expected)
    if expected & set(k.upper() for k in KEYWORDS) and "_NL" in expected:
        return "a declaration (" + ", ".join(KEYWORDS) + ")"
    parts = []
    if _EXPR_START <= expected:
        parts.append("a value")
        expected -= _EXPR_START
    for name in sorted(expected):
        if name in _NAMES:
            parts.append(_NAMES[name])
        elif name.isupper() and name.isalpha():
            parts.append(f"`{name.lower()}`")
    parts = list(dict.fromkeys(parts))
    if not parts:
        return "something else"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _previous_token_end(lines: list[str], line: int, col: int) -> tuple[int, int, str]:
    """(line, col after it, text) of the last token before (line, col), skipping comments."""
    code = code_part(lines[line - 1])[:col - 1].rstrip()
    while not code and line > 1:
        line -= 1
        code = code_part(lines[line - 1]).rstrip()
    match = re.search(r'(\w+|"[^"]*"|\S)$', code)
    return line, len(code) + 1, match.group(1) if match else ""


def _statement_keyword(lines: list[str], line: int) -> str | None:
    """The declaration keyword governing `line` (looks upwards out of `{ ... }` blocks)."""
    for n in range(line, 0, -1):
        word = code_part(lines[n - 1]).split(maxsplit=1)
        if word and word[0] in KEYWORDS:
            if n == line or unmatched_openers(lines, n, line):
                return word[0]
            return None
    return None


def open_block_before(lines: list[str], line: int) -> tuple[int, int] | None:
    """(line, col) of a `{` left open above `line` when `line` starts a new declaration."""
    words = code_part(lines[line - 1]).split(maxsplit=1) if 0 < line <= len(lines) else []
    if not words or words[0] not in KEYWORDS:
        return None
    blocks = [o for o in unmatched_openers(lines, 1, line - 1) if o[2] == "{"]
    return (blocks[-1][0], blocks[-1][1]) if blocks else None


def describe_syntax_error(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    """One clear diagnostic for a lark error (never lark's own wording)."""
    lines = text.split("\n")
    line, col = exc.line, exc.column
    if isinstance(exc, UnexpectedEOF) or line is None or line < 1:
        line, col = len(lines), 1
    token = getattr(exc, "token", None)
    ttype = getattr(token, "type", None)
    expected = set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    source_line = lines[line - 1] if line <= len(lines) else ""
    char = source_line[col - 1] if 0 < col <= len(source_line) else ""

    def diag(message, ln, c, width=1, hint=None, code="E001"):
        return Diagnostic("error", message, Span.point(file, ln, c, width), hint, code)

    block = open_block_before(lines, line)
    if block is not None:
        return diag("unterminated block: this `{` is never closed", block[0], block[1],
                    hint="close the block with `}` after its last line", code="E004")
    keyword = _statement_keyword(lines, line)
    hint = f"write it as: {SYNTAX[keyword]}" if keyword else None

    # Characters no token starts with (the root lexer reports those as HAM_TEXT).
    if isinstance(exc, UnexpectedCharacters) or ttype == "HAM_TEXT":
        if char == '"':
            return diag("unterminated string: no closing `\"` on this line", line, col,
                        hint='a string ends on the line it starts, e.g. "abs.csv"', code="E003")
        if isinstance(exc, UnexpectedCharacters) or not (char.isalnum() or char == "_"):
            shown = char if char.isprintable() and char.strip() else repr(char)
            return diag(f"unexpected character `{shown}`", line, col, hint=hint, code="E007")

    if ttype in ("_NL", "$END") or isinstance(exc, UnexpectedEOF):
        if ttype == "$END" or isinstance(exc, UnexpectedEOF):
            open_blocks = [o for o in unmatched_openers(lines, 1, len(lines)) if o[2] == "{"]
            if open_blocks:
                ln, c, _ = open_blocks[-1]
                return diag("unterminated block: this `{` is never closed", ln, c,
                            hint="close the block with `}` after its last line", code="E004")
        ln, c, prev = _previous_token_end(lines, line, col)
        openers = [o for o in unmatched_openers(lines, ln, ln, c) if o[2] in "(["]
        if openers:
            o_ln, o_c, o_ch = openers[-1]
            closer = _CLOSE[_OPEN.index(o_ch)]
            return diag(f"unterminated `{o_ch}`: no matching `{closer}` on this line", o_ln, o_c,
                        hint=f"add `{closer}`; brackets close on the line they open", code="E004")
        if _EXPR_START <= expected:
            message = f"missing value after `{prev}`"
        else:
            message = f"expected {_describe(expected)} after `{prev}`"
        return diag(message, ln, c, hint=hint, code="E002")

    value = str(token) if token is not None else char
    width = max(1, len(value.split("\n")[0]))
    if value in _CLOSE:
        openers = unmatched_openers(lines, line, line, col)
        if openers:
            o_ln, o_c, o_ch = openers[-1]
            return diag(f"unexpected `{value}`: the `{o_ch}` at column {o_c} is still open", line,
                        col, hint=f"close `{o_ch}` with `{_CLOSE[_OPEN.index(o_ch)]}` first",
                        code="E004")
    if ttype == "NAME" and expected & {k.upper() for k in KEYWORDS}:
        close = difflib.get_close_matches(value, KEYWORDS, n=1)
        more = f"did you mean `{close[0]}`? " if close else ""
        return diag(f"unknown declaration `{value}`", line, col, width,
                    hint=more + "declarations are: " + ", ".join(KEYWORDS), code="E006")
    if "_NL" in expected and value in KEYWORDS:
        return diag(f"two declarations on one line: `{value}` starts a new one", line, col, width,
                    hint="put each declaration on its own line", code="E005")
    if "_NL" in expected:
        return diag(f"unexpected `{value}` after the end of the declaration", line, col, width,
                    hint=hint or "remove it, or start a new line", code="E001")
    return diag(f"unexpected `{value}`: expected {_describe(expected)}", line, col, width,
                hint=hint, code="E001")


def blank_statement(text: str, exc: UnexpectedInput) -> str:
    """The text with the failing line (and any block it opens) replaced by spaces.

    Positions elsewhere are kept, so parsing again finds the next error at its true place.
    """
    lines = text.split("\n")
    line = exc.line if isinstance(getattr(exc, "line", None), int) and exc.line >= 1 else len(lines)
    token = getattr(exc, "token", None)
    if getattr(token, "type", None) == "$END" or isinstance(exc, UnexpectedEOF):
        openers = [o for o in unmatched_openers(lines, 1, len(lines)) if o[2] == "{"]
        if not openers:
            return text
        first, last = openers[-1][0], len(lines)
    elif open_block_before(lines, line) is not None:
        first, last = open_block_before(lines, line)[0], line - 1
    else:
        if getattr(token, "type", None) == "_NL":
            line = _previous_token_end(lines, line, exc.column)[0]
        first = last = line
        depth = sum(1 for o in unmatched_openers(lines, line, line) if o[2] == "{")
        while depth > 0 and last < len(lines):
            last += 1
            code = code_part(lines[last - 1])
            depth += code.count("{") - code.count("}")
    for n in range(first, last + 1):
        lines[n - 1] = " " * len(lines[n - 1])
    return "\n".join(lines)
