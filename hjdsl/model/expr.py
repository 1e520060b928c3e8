"""The expression IR: numbers, names, vectors, arithmetic and a fixed set of functions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hjdsl.errors import Span


@dataclass(frozen=True)
class Expr:
    """Base of every expression node; `span` points at the source text."""

    span: Span | None

    def __reduce__(self):
        # Pickle (used to key compiled programs) recurses once per level and a chain
        # 1+1+…+1 is as deep as it is long: store the tree as a flat post-order list instead.
        return _rebuild, (_flatten(self),)


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


def _flatten(root: Expr) -> list:
    """[(type, fields), ...] in post-order; a field is ("expr", None), ("exprs", k) or a value."""
    order, stack = [], [root]
    while stack:  # root, then children right to left; reversed, that is post-order
        node = stack.pop()
        order.append(node)
        stack.extend(children(node))
    records = []
    for node in reversed(order):
        fields = []
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, Expr):
                fields.append((f.name, "expr", None))
            elif isinstance(value, tuple) and all(isinstance(v, Expr) for v in value):
                fields.append((f.name, "exprs", len(value)))
            else:
                fields.append((f.name, "value", value))
        records.append((type(node), fields))
    return records


def _rebuild(records: list) -> Expr:
    """The inverse of _flatten, with a stack of built nodes (no recursion)."""
    built: list = []
    for cls, fields in records:
        n = sum(1 if kind == "expr" else value for _, kind, value in fields if kind != "value")
        kids = built[len(built) - n:] if n else []
        del built[len(built) - n:]
        kwargs, k = {}, 0
        for name, kind, value in fields:
            if kind == "value":
                kwargs[name] = value
            elif kind == "expr":
                kwargs[name], k = kids[k], k + 1
            else:
                kwargs[name], k = tuple(kids[k:k + value]), k + value
        built.append(cls(**kwargs))
    return built[0]
