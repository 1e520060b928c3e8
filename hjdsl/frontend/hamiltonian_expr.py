"""Tokenize and parse the text of `hamiltonian H(p) = EXPR` into a syntax tree with columns."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from hjdsl.model.limits import MAX_NESTING

FUNCTIONS = ("sqrt", "huber", "max")
MAX_TOKENS = 256  # far beyond any real Hamiltonian; keeps the recursive checker shallow
_TOKEN = re.compile(r"(?P<ws>\s+)|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
                    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/^(),|'])")


class FormError(Exception):
    """A problem at columns [start, end) of the form text (0-based, end exclusive)."""

    def __init__(self, message: str, start: int, end: int, code: str = "E120",
                 hint: str | None = None):
        super().__init__(message)
        self.message, self.start, self.end, self.code, self.hint = message, start, end, code, hint


# --- the syntax tree: every node knows its columns [start, end) in the form text -------------
@dataclass(frozen=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True)
class Num(Node):
    value: float


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Bars(Node):
    """|name| or |name|_sub (sub is "1", "2", "inf", … as written; None for |name|)."""

    name: Name
    sub: str | None


@dataclass(frozen=True)
class QuadForm(Node):
    """p' A p."""

    left: Name
    matrix: Name
    right: Name


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    func: Name
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Token:
    kind: str  # num, name, op or end
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an `end` token; FormError at an unexpected character."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormError(f"unexpected character `{text[pos]}` in the Hamiltonian", pos, pos + 1)
        if m.lastgroup != "ws":
            tokens.append(Token(m.lastgroup, m.group(), m.start(), m.end()))
        pos = m.end()
    if len(tokens) > MAX_TOKENS:
        raise FormError(f"the Hamiltonian has {len(tokens):,} tokens; the limit is {MAX_TOKENS}",
                        0, len(text), code="E113")
    tokens.append(Token("end", "", len(text), len(text) + 1))
    return tokens


def parse(text: str) -> Node:
    """The syntax tree of a Hamiltonian form.

    >>> parse("2*|p|_1")
    Binary(start=0, end=7, op='*', left=Num(start=0, end=1, value=2.0), right=Bars(start=2, \
end=7, name=Name(start=3, end=4, name='p'), sub='1'))
    """
    return _Parser(text).run()


class _Parser:
    """Recursive descent, loosest first: sum, product, sign, power, primary."""

    def __init__(self, text: str):
        self.text, self.tokens, self.i, self.depth = text, tokenize(text), 0, 0

    def run(self) -> Node:
        node = self.sum()
        if self.peek.kind != "end":
            raise self.unexpected()
        return node

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, op: str) -> Token | None:
        if self.peek.kind == "op" and self.peek.text == op:
            return self.take()
        return None

    def expect(self, op: str, what: str) -> Token:
        tok = self.accept(op)
        if tok is None:
            raise self.unexpected(f"expected {what}")
        return tok

    def unexpected(self, what: str | None = None) -> FormError:
        tok = self.peek
        found = "the end of the form" if tok.kind == "end" else f"`{tok.text}`"
        message = f"{what}, found {found}" if what else f"unexpected {found} in the Hamiltonian"
        return FormError(message, tok.start, tok.end)

    def nested(self, tok: Token) -> None:
        # a hostile line of brackets must not exhaust Python's recursion limit
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormError(f"the Hamiltonian is nested too deeply (the limit is {MAX_NESTING} "
                            "levels of brackets, calls, signs and powers)", tok.start, tok.end,
                            code="E008")

    def sum(self) -> Node:
        node = self.product()
        while self.peek.kind == "op" and self.peek.text in "+-":
            op = self.take().text
            right = self.product()
            node = Binary(node.start, right.end, op, node, right)
        return node

    def product(self) -> Node:
        node = self.sign()
        while self.peek.kind == "op" and self.peek.text in "*/":
            op = self.take().text
            right = self.sign()
            node = Binary(node.start, right.end, op, node, right)
        return node

    def sign(self) -> Node:
        if self.peek.kind == "op" and self.peek.text in "+-":
            tok = self.take()
            self.nested(tok)
            operand = self.sign()
            self.depth -= 1
            return Unary(tok.start, operand.end, tok.text, operand)
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        tok = self.accept("^")
        if tok is None:
            return base
        self.nested(tok)
        exponent = self.sign()  # right-associative; the exponent may carry a sign
        self.depth -= 1
        return Binary(base.start, exponent.end, "^", base, exponent)

    def primary(self) -> Node:
        tok = self.peek
        if tok.kind == "num":
            self.take()
            return Num(tok.start, tok.end, float(tok.text))
        if tok.kind == "name":
            self.take()
            name = Name(tok.start, tok.end, tok.text)
            if self.accept("'"):
                return self.quad_form(name)
            if self.peek.text == "(" and self.peek.kind == "op":
                return self.call(name)
            return name
        if self.accept("|"):
            return self.bars(tok)
        if self.accept("("):
            self.nested(tok)
            node = self.sum()
            self.depth -= 1
            close = self.expect(")", "`)` to close the `(`")
            return replace(node, start=tok.start, end=close.end)  # messages quote the brackets
        raise self.unexpected("expected an atom such as |p|^2")

    def quad_form(self, left: Name) -> Node:
        names = []
        for what in ("a `let` matrix after `'` (p' A p)", "the argument after the matrix (p' A p)"):
            if self.peek.kind != "name":
                raise self.unexpected(f"expected {what}")
            tok = self.take()
            names.append(Name(tok.start, tok.end, tok.text))
        return QuadForm(left.start, names[1].end, left, names[0], names[1])

    def call(self, func: Name) -> Node:
        self.nested(self.take())
        args = [] if self.peek.text == ")" else [self.sum()]
        while self.accept(","):
            args.append(self.sum())
        close = self.expect(")", f"`,` or `)` in {func.name}(...)")
        self.depth -= 1
        return Call(func.start, close.end, func, tuple(args))

    def bars(self, open_: Token) -> Node:
        if self.peek.kind != "name":
            raise self.unexpected("expected the argument between the bars, as in |p|")
        tok = self.take()
        name = Name(tok.start, tok.end, tok.text)
        close = self.expect("|", "`|` to close the norm")
        end, sub = close.end, None
        nxt = self.peek
        if nxt.kind == "name" and nxt.text.startswith("_"):
            # `|p|_1` lexes as `|p|` then the name `_1`; `|p|_ inf` as `_` then `inf`
            self.take()
            end, sub = nxt.end, nxt.text[1:]
            if not sub and self.peek.kind in ("num", "name"):
                end, sub = self.peek.end, self.take().text
        return Bars(open_.start, end, name, sub)
