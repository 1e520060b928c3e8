"""The expression IR: numbers, names, vectors, arithmetic and a fixed set of functions."""

from __future__ import annotations

from dataclasses import dataclass

from hjdsl.errors import Span


@dataclass(frozen=True)
class Expr:
    """Base of every expression node; `span` points at the source text."""

    span: Span | None


@dataclass(frozen=True)
class Num(Expr):
    value: float


@dataclass(frozen=True)
class Name(Expr):
    """A reference: `x`, `y`, `t`, `eps`, `pi`, or a name declared with `let`."""

    id: str


@dataclass(frozen=True)
class Vector(Expr):
    """`[a, b, c]`; a list of vectors is a matrix."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-" or "+"
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # "+", "-", "*", "/", "^"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Index(Expr):
    """`y[i]`: component i (0-based) of a vector-valued name."""

    base: Expr
    index: int


def children(node: Expr) -> tuple[Expr, ...]:
    """The sub-expressions of a node, left to right.

    >>> children(Binary(None, "+", Num(None, 1.0), Name(None, "y")))
    (Num(span=None, value=1.0), Name(span=None, id='y'))
    """
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Index):
        return (node.base,)
    if isinstance(node, Vector):
        return node.items
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Expr):
    """Every node of an expression, parents before children (an explicit stack, no recursion).

    A chain such as 1+1+…+1 is a left-deep tree as deep as it is long, so no walker of the IR
    may recurse on it.

    >>> [type(n).__name__ for n in walk(Unary(None, "-", Name(None, "y")))]
    ['Unary', 'Name']
    """
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))
