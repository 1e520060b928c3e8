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
