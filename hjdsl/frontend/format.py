"""The canonical layout of .hj text: only the whitespace between lark's tokens is rewritten."""

from __future__ import annotations

import functools

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from hjdsl.errors import HJError, run_error
from hjdsl.frontend.parser import parse_syntax

INDENT = "  "  # the items of a multi-line `data ... { }` block
COMMENT_GAP = "  "  # at least, between code and an end-of-line comment
# `(` right after these rules' NAME is a call or an argument list: `H(p)`, `normal(0, 1)`.
CALL_RULES = {"call", "dist", "hamiltonian", "initial", "item"}
OPENERS = {"LPAR", "LSQB"}
CLOSERS = {"RPAR", "RSQB", "COMMA", "SEMICOLON"}


class _Comments:
    """Collects the comments the lexer skips (the grammar ignores them, the layout keeps them)."""

    def __init__(self):
        self.found: list[Token] = []

    def __call__(self, token: Token) -> Token:
        self.found.append(token)
        return token


@functools.lru_cache(maxsize=1)
def _layout_parser():
    """The .hj grammar keeping every token (punctuation, newlines) and reporting comments."""
    from lark import Lark

    from hjdsl.frontend.grammar import grammar_source

    comments = _Comments()
    parser = Lark(grammar_source()[0], parser="lalr", lexer="contextual",
                  propagate_positions=True, maybe_placeholders=True, keep_all_tokens=True,
                  lexer_callbacks={"COMMENT": comments})
    return parser, comments


def tokens(text: str) -> list[tuple[Token, str]]:
    """Every token of valid .hj text in source order, each with the grammar rule it belongs to.

    Comments come with the rule "comment". Raises SpecError (via `parse_syntax`) on invalid text.

    >>> [(str(t), rule) for t, rule in tokens("dim 1  # d\\n")]
    [('dim', 'dim'), ('1', 'number'), ('# d', 'comment'), ('\\n', 'start')]
    """
    work = text if text.endswith("\n") else text + "\n"
    parser, comments = _layout_parser()
    comments.found = []
    try:
        tree = parser.parse(work)
    except UnexpectedInput:
        parse_syntax(text, "<format>")  # raises the located diagnostics
        raise  # pragma: no cover - the two parsers share one grammar
    found: list[tuple[Token, str]] = []
    _walk(tree, found)
    found += [(c, "comment") for c in comments.found]
    found.sort(key=lambda pair: (pair[0].start_pos, pair[1] != "comment"))
    return found


def _walk(tree: Tree, out: list) -> None:
    """Append the tokens under `tree` in order, each with the rule of the tree holding it."""
    # A stack, not recursion: specs may nest expressions deeper than Python's recursion limit.
    stack = [(tree, "start")]
    while stack:
        node, rule = stack.pop()
        if isinstance(node, Token):
            out.append((node, rule))
        elif isinstance(node, Tree):
            stack.extend((child, str(node.data)) for child in reversed(node.children))


def _space(prev: tuple[Token, str], cur: tuple[Token, str]) -> str:
    """The text between two tokens on one line."""
    (p, prule), (c, crule) = prev, cur
    if c.type in CLOSERS:
        return ""
    if p.type in OPENERS:
        return ""
    if p.type in ("PLUS", "MINUS") and prule == "unary":
        return ""  # `-x`, `[-2, 2]`
    if c.type == "CARET" or p.type == "CARET":
        return ""  # `x^2`, like Python's `x**2`
    if c.type == "LPAR" and crule in CALL_RULES:
        return ""
    if c.type == "LSQB" and crule == "index":
        return ""
    return " "


def format_text(text: str) -> str:
    """The canonical layout of valid .hj text; its tokens and comments are unchanged.

    One statement per line in the user's order, at most one blank line between statements,
    one space around `=`, `~`, `in` and the binary operators except `^`, none inside brackets,
    `, ` and `; ` in lists and blocks, block items indented by two spaces. An end-of-line
    comment keeps its column (so aligned comments stay aligned) unless that would leave less
    than two spaces after the code. Hamiltonian forms, strings and comment texts are verbatim.

    >>> format_text("dim  1\\nlet a=[ 1,-2 ]*3 # x\\n\\n\\n")
    'dim 1\\nlet a = [1, -2] * 3  # x\\n'
    """
    lines: list[str] = []
    line: list[str] = []
    prev = None
    depth = 0  # inside a `{ ... }` block (blocks do not nest)
    opened = False  # the last line ended inside a block it opened: no blank line after it
    for tok, rule in tokens(text):
        if tok.type == "_NL":
            if line:
                lines.append("".join(line))
                opened = depth > 0 and prev is not None and prev[0].type == "LBRACE"
            elif lines and lines[-1] and not opened:
                lines.append("")  # runs of blank lines become one
            line, prev = [], None
            continue
        value = str(tok).rstrip() if tok.type in ("COMMENT", "HAM_TEXT") else str(tok)
        if tok.type == "COMMENT" and line:
            # A comment keeps the column it was aligned to while the code leaves room for it.
            code = len("".join(line))
            line.append(" " * max(len(COMMENT_GAP), tok.column - 1 - code) + value)
            continue
        if not line:
            if tok.type == "RBRACE":
                depth = 0
                while lines and not lines[-1]:
                    lines.pop()  # no blank line before a block's closing brace
            line.append(INDENT * depth + value)
            opened = False
        else:
            line.append(_space(prev, (tok, rule)) + value)
        if tok.type == "LBRACE":
            depth = 1
        elif tok.type == "RBRACE":
            depth = 0
        if tok.type != "COMMENT":
            prev = (tok, rule)
    while lines and not lines[-1]:
        lines.pop()
    result = "\n".join(lines) + "\n" if lines else ""
    _same_tokens(text, result)
    return result


def _signature(text: str) -> list[tuple[str, str]]:
    """The tokens that carry meaning; a run of newlines counts as one (blank lines are layout)."""
    out: list[tuple[str, str]] = []
    for tok, _ in tokens(text):
        if tok.type == "_NL" and (not out or out[-1][0] == "_NL"):
            continue
        out.append((tok.type, str(tok).rstrip()))
    return out


def _same_tokens(before: str, after: str) -> None:
    """Refuse a layout whose tokens differ from the input's: it could change the meaning."""
    try:
        same = _signature(before) == _signature(after)
    except HJError:  # the new layout does not even parse
        same = False
    if not same:  # a bug in the spacing rules; tested by breaking them on purpose
        raise run_error("the formatter would change the spec's tokens; the file is left as it "
                        "is", hint="this is a bug in hjdsl; please report it with the spec")
