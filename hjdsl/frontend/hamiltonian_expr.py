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


# --- tokens and the syntax tree: one node type, every node with its columns [start, end) -------
@dataclass(frozen=True)
class Node:
    """A token or a syntax-tree node at columns [start, end) of the form text.

    By tag (text; args):
      num     the number as written; ()          name   the name; ()
      op      the operator; () (a token only)    end    ""; () (a token only: past the form)
      bars    the subscript with its `_` ("", "_1", "_inf", …); (name,)      |p|_1
      quad    "'"; (left, matrix, right)                                     p' A p
      sign    "+" or "-"; (operand,)
      binary  "+", "-", "*", "/" or "^"; (left, right)
      call    the function's name; (the name, *arguments)
    A number or a name is the same node as a token and as a leaf of the tree.
    """

    tag: str
    text: str
    start: int
    end: int
    args: tuple[Node, ...] = ()


def tokenize(text: str) -> list[Node]:
    """The tokens of `text`, ending with an `end` token; FormError at an unexpected character."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormError(f"unexpected character `{text[pos]}` in the Hamiltonian", pos, pos + 1)
        if m.lastgroup != "ws":
            tokens.append(Node(m.lastgroup, m.group(), m.start(), m.end()))
        pos = m.end()
    if len(tokens) > MAX_TOKENS:
        raise FormError(f"the Hamiltonian has {len(tokens):,} tokens; the limit is {MAX_TOKENS}",
                        0, len(text), code="E113")
    tokens.append(Node("end", "", len(text), len(text) + 1))
    return tokens


def parse(text: str) -> Node:
    """The syntax tree of a Hamiltonian form.

    >>> tree = parse("2*|p|_1")
    >>> tree.tag, tree.text, [(a.tag, a.text, a.start, a.end) for a in tree.args]
    ('binary', '*', [('num', '2', 0, 1), ('bars', '_1', 2, 7)])
    """
    return _Parser(text).run()


class _Parser:
    """Recursive descent, loosest first: sum, product, sign, power, primary."""

    def __init__(self, text: str):
        self.text, self.tokens, self.i, self.depth = text, tokenize(text), 0, 0

    def run(self) -> Node:
        node = self.sum()
        if self.peek.tag != "end":
            raise self.unexpected()
        return node

    @property
    def peek(self) -> Node:
        return self.tokens[self.i]

    def take(self) -> Node:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, tag: str, texts: str | None = None) -> bool:
        """The next token has `tag` (and, for an operator, is one of the characters `texts`)."""
        return self.peek.tag == tag and (texts is None or self.peek.text in texts)

    def accept(self, op: str) -> Node | None:
        return self.take() if self.at("op", op) else None

    def expect(self, op: str, what: str) -> Node:
        tok = self.accept(op)
        if tok is None:
            raise self.unexpected(f"expected {what}")
        return tok

    def unexpected(self, what: str | None = None) -> FormError:
        tok = self.peek
        found = "the end of the form" if tok.tag == "end" else f"`{tok.text}`"
        message = f"{what}, found {found}" if what else f"unexpected {found} in the Hamiltonian"
        return FormError(message, tok.start, tok.end)

    def nested(self, tok: Node) -> None:
        # a hostile line of brackets must not exhaust Python's recursion limit
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormError(f"the Hamiltonian is nested too deeply (the limit is {MAX_NESTING} "
                            "levels of brackets, calls, signs and powers)", tok.start, tok.end,
                            code="E008")

    def binary(self, left: Node, op: str, right: Node) -> Node:
        return Node("binary", op, left.start, right.end, (left, right))

    def sum(self) -> Node:
        node = self.product()
        while self.at("op", "+-"):
            node = self.binary(node, self.take().text, self.product())
        return node

    def product(self) -> Node:
        node = self.sign()
        while self.at("op", "*/"):
            node = self.binary(node, self.take().text, self.sign())
        return node

    def sign(self) -> Node:
        if self.at("op", "+-"):
            tok = self.take()
            self.nested(tok)
            operand = self.sign()
            self.depth -= 1
            return Node("sign", tok.text, tok.start, operand.end, (operand,))
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        tok = self.accept("^")
        if tok is None:
            return base
        self.nested(tok)
        exponent = self.sign()  # right-associative; the exponent may carry a sign
        self.depth -= 1
        return self.binary(base, "^", exponent)

    def primary(self) -> Node:
        tok = self.peek
        if tok.tag == "num":
            return self.take()
        if tok.tag == "name":
            name = self.take()
            if self.accept("'"):
                return self.quad_form(name)
            if self.at("op", "("):
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

    def quad_form(self, left: Node) -> Node:
        names = [left]
        for what in ("a `let` matrix after `'` (p' A p)", "the argument after the matrix (p' A p)"):
            if not self.at("name"):
                raise self.unexpected(f"expected {what}")
            names.append(self.take())
        return Node("quad", "'", left.start, names[-1].end, tuple(names))

    def call(self, func: Node) -> Node:
        self.nested(self.take())
        args = [func] if self.at("op", ")") else [func, self.sum()]
        while self.accept(","):
            args.append(self.sum())
        close = self.expect(")", f"`,` or `)` in {func.text}(...)")
        self.depth -= 1
        return Node("call", func.text, func.start, close.end, tuple(args))

    def bars(self, open_: Node) -> Node:
        if not self.at("name"):
            raise self.unexpected("expected the argument between the bars, as in |p|")
        name = self.take()
        close = self.expect("|", "`|` to close the norm")
        end, sub = close.end, ""
        if self.at("name") and self.peek.text.startswith("_"):
            # `|p|_1` lexes as `|p|` then the name `_1`; `|p|_ inf` as `_` then `inf`
            tok = self.take()
            end, sub = tok.end, tok.text
            if sub == "_" and self.peek.tag in ("num", "name"):
                end, sub = self.peek.end, sub + self.take().text
        return Node("bars", sub, open_.start, end, (name,))
