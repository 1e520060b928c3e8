"""Prove a parsed Hamiltonian form convex by composition rules (DCP) and reduce it to atoms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from hjdsl.frontend import hamiltonian_expr as X
from hjdsl.frontend.hamiltonian_expr import FormError

SUPPORTED = ("supported atoms are |p|^2, p' A p, |p|_1, |p|_2, |p|_inf, sqrt(c + |p|^2) and "
             "huber(|p|, δ), combined by a*X (a > 0), X + Y and max(X, Y, ...) "
             "(a, c, δ numbers or `let` names, A a `let` matrix)")
CONVEX_HINT = ("H is provably convex when it is built from the atoms |p|^2, p' A p, |p|_1, |p|_2, "
               "|p|_inf, sqrt(c + |p|^2) and huber(|p|, δ) by sums, max(...) and scaling by "
               "constants > 0")
NORMS = {"": "l2", "_1": "l1", "_2": "l2", "_inf": "linf"}  # by subscript; |p| is Euclidean
QUADRATIC = ("sq", "quad")


@dataclass(frozen=True, eq=False)
class Leaf:
    """One atom: sq, quad (param A), l1, l2, linf, relativistic (param c) or huber (param δ)."""

    name: str
    param: Any = None


@dataclass(frozen=True, eq=False)
class MaxOf:
    """max of convex term lists."""

    args: tuple


Terms = tuple  # ((coefficient, Leaf | MaxOf), ...): Σ coefficient·node


@dataclass(frozen=True)
class Why:
    """Where convexity was lost: a message at columns [start, end)."""

    message: str
    start: int
    end: int
    code: str = "E125"

    def error(self) -> FormError:
        hint = CONVEX_HINT if self.code == "E125" else None
        prefix = "cannot prove H convex: " if self.code == "E125" else ""
        return FormError(prefix + self.message, self.start, self.end, self.code, hint)


@dataclass(frozen=True)
class Value:
    """offset + Σ k·node; every node is convex and ≥ 0, so the coefficients' signs fix the
    curvature (the sum that would mix signs raises instead). `why` says where a concave value
    lost convexity; `offset_at` the columns of its constant parts."""

    terms: Terms = ()
    offset: float = 0.0
    offset_at: tuple[int, int] | None = None
    why: Why | None = None

    @property
    def curvature(self) -> str:
        if not self.terms:
            return "constant"
        return "convex" if self.terms[0][0] > 0 else "concave"

    @property
    def sign(self) -> str:
        """nonnegative, nonpositive or unknown (every atom is ≥ 0)."""
        low = self.curvature in ("constant", "convex") and self.offset >= 0
        high = self.curvature in ("constant", "concave") and self.offset <= 0
        return "nonnegative" if low else "nonpositive" if high else "unknown"


def reduce(tree: X.Node, text: str, arg: str, func: str, d: int,
           constant: Callable[[X.Node], float], matrix: Callable[[X.Node], np.ndarray]) -> Terms:
    """The atoms and positive coefficients of a convex form; FormError where the proof fails."""
    value = _Prover(text, arg, func, constant, matrix).value(tree)
    if value.curvature == "constant":
        raise FormError(f"H({arg}) = {text} does not depend on `{arg}`", 0, len(text),
                        hint=SUPPORTED)
    if value.curvature == "concave":
        raise value.why.error()
    _no_constant_term(value, text)
    terms = _merge_quadratics(value.terms, d)
    _in_range(terms, text)
    return terms


def _in_range(terms: Terms, text: str) -> None:
    """Products of in-range numbers can still overflow or underflow: check what was built."""
    for k, node in terms:
        param = node.param if isinstance(node, Leaf) else None
        bad = not 0 < k < np.inf or (param is not None and not np.all(np.isfinite(param)))
        if isinstance(node, Leaf) and node.name == "relativistic":
            bad = bad or not param > 0
        if bad:
            raise FormError(f"the numbers in H = {text} overflow or underflow float64",
                            0, len(text), code="E112")
        if isinstance(node, MaxOf):
            for arg in node.args:
                _in_range(arg, text)


def _no_constant_term(value: Value, text: str) -> None:
    if value.offset_at is not None:
        start, end = value.offset_at
        raise FormError(f"the constant term `{text[start:end]}` is not supported in H (it only "
                        "shifts u by a multiple of t)", start, end,
                        hint="drop it: H(p) + c has the solution u − c·t")


def _merge_quadratics(terms: Terms, d: int) -> Terms:
    """Σ k_i A_i for the quadratic atoms of one sum (a sum of quadratics is quadratic)."""
    out, quad = [], [(k, n) for k, n in terms if isinstance(n, Leaf) and n.name in QUADRATIC]
    for k, node in terms:
        if isinstance(node, MaxOf):
            out.append((k, MaxOf(tuple(_merge_quadratics(a, d) for a in node.args))))
        elif len(quad) < 2 or node.name not in QUADRATIC:
            out.append((k, node))
        elif node is quad[0][1]:
            if all(n.name == "sq" for _, n in quad):
                out.append((sum(k for k, _ in quad), Leaf("sq")))
            else:
                A = sum(k * (np.eye(d) if n.name == "sq" else n.param) for k, n in quad)
                out.append((1.0, Leaf("quad", A)))
    return tuple(out)


def _scaled(v: Value, k: float, why: Why) -> Value:
    terms = tuple((k * c, n) for c, n in v.terms)
    if v.curvature == "concave":
        return Value(terms, v.offset * k, v.offset_at, v.why if k > 0 else None)
    return Value(terms, v.offset * k, v.offset_at, why if k < 0 and terms else None)


def _span_union(a, b):
    if a is None or b is None:
        return a or b
    return (min(a[0], b[0]), max(a[1], b[1]))


class _Prover:
    def __init__(self, text, arg, func, constant, matrix):
        self.text, self.arg, self.func = text, arg, func
        self.constant, self.matrix = constant, matrix

    def src(self, node: X.Node) -> str:
        return self.text[node.start:node.end]

    def value(self, node: X.Node) -> Value:
        return _RULES[node.tag](self, node)

    def number(self, node: X.Node) -> Value:
        return Value(offset=float(node.text), offset_at=(node.start, node.end))

    def name(self, node: X.Node) -> Value:
        if node.text == self.arg:
            raise FormError(f"`{self.arg}` must appear inside an atom such as |{self.arg}|^2 "
                            f"or |{self.arg}|_1", node.start, node.end, hint=SUPPORTED)
        return Value(offset=float(self.constant(node)), offset_at=(node.start, node.end))

    def norm_kind(self, bars: X.Node, whole: X.Node) -> str:
        """The subscript of |p|_sub (`_` included), checking the argument; unknown-form errors
        name `whole`."""
        if bars.args[0].text != self.arg:
            raise FormError(f"unknown Hamiltonian form `{self.src(whole)}`", whole.start,
                            whole.end, hint=f"the argument is `{self.arg}`: write |{self.arg}|; "
                            + SUPPORTED)
        return bars.text

    def bars(self, node: X.Node) -> Value:
        sub = self.norm_kind(node, node)
        if sub not in NORMS:
            raise self.unknown(node)
        return Value(((1.0, Leaf(NORMS[sub])),))

    def unknown(self, node: X.Node) -> FormError:
        return FormError(f"unknown Hamiltonian form `{self.src(node)}`", node.start, node.end,
                         hint=SUPPORTED)

    def quad_form(self, node: X.Node) -> Value:
        left, matrix, right = node.args
        for side in (left, right):
            if side.text != self.arg:
                raise FormError(f"`{side.text}` is not the argument `{self.arg}` of {self.func}",
                                side.start, side.end, hint=SUPPORTED)
        return Value(((1.0, Leaf("quad", self.matrix(matrix))),))

    def sign(self, node: X.Node) -> Value:
        operand, = node.args
        v = self.value(operand)
        if node.text == "+":
            return v
        why = Why(f"`{self.src(operand)}` has a minus sign (a convex term with a minus sign "
                  "is concave)", node.start, node.end)
        return _scaled(v, -1.0, why)

    def binary(self, node: X.Node) -> Value:
        return _BINARY[node.text](self, node)

    def add(self, node: X.Node, negate: bool = False) -> Value:
        left, right = node.args
        a, b = self.value(left), self.value(right)
        if negate:
            b = _scaled(b, -1.0, Why(f"`{self.src(right)}` is subtracted (a convex term with "
                                     "a minus sign is concave)", right.start, right.end))
        for one, other in ((a, b), (b, a)):
            if one.curvature == "concave" and other.curvature == "convex":
                raise one.why.error()
        return Value(a.terms + b.terms, a.offset + b.offset, _span_union(a.offset_at, b.offset_at),
                     a.why or b.why)

    def subtract(self, node: X.Node) -> Value:
        return self.add(node, negate=True)

    def multiply(self, node: X.Node) -> Value:
        left, right = node.args
        a, b = self.value(left), self.value(right)
        if a.curvature == b.curvature == "constant":
            return Value(offset=a.offset * b.offset, offset_at=(node.start, node.end))
        if "constant" not in (a.curvature, b.curvature):
            raise Why(f"`{self.src(node)}` multiplies two terms that depend on {self.arg} (a "
                      "product is not provably convex)", node.start, node.end).error()
        k, at, x = (a, left, b) if a.curvature == "constant" else (b, right, a)
        return _scaled(x, self.coefficient(k.offset, at, "coefficient"), Why(
            f"the coefficient of the Hamiltonian must be > 0, got {k.offset:g}", at.start, at.end,
            "E112"))

    def divide(self, node: X.Node) -> Value:
        left, right = node.args
        a, b = self.value(left), self.value(right)
        if b.curvature != "constant":
            raise Why(f"`{self.src(node)}` divides by a term that depends on {self.arg}",
                      node.start, node.end).error()
        if b.offset == 0:
            raise FormError("the Hamiltonian divides by 0", right.start, right.end, code="E112")
        if a.curvature == "constant":
            return Value(offset=a.offset / b.offset, offset_at=(node.start, node.end))
        k = self.coefficient(1.0 / b.offset, right, "divisor", b.offset)
        return _scaled(a, k, Why(f"the divisor of the Hamiltonian must be > 0, got {b.offset:g}",
                                 right.start, right.end, "E112"))

    def coefficient(self, k: float, node: X.Node, what: str, shown: float | None = None) -> float:
        """k, unless it is 0 or not finite (a negative k is caught later, if it matters)."""
        if k == 0 or not np.isfinite(k):
            raise FormError(f"the {what} of the Hamiltonian must be > 0, got "
                            f"{k if shown is None else shown:g}", node.start, node.end,
                            code="E112")
        return k

    def power(self, node: X.Node) -> Value:
        base, exponent = node.args
        e = self.value(exponent)
        if e.curvature != "constant":
            raise Why(f"`{self.src(node)}` has {self.arg} in its exponent", node.start,
                      node.end).error()
        if base.tag == "bars":
            if self.norm_kind(base, node) in ("", "_2") and e.offset == 2.0:
                return Value(((1.0, Leaf("sq")),))
            raise self.unknown(node)
        b = self.value(base)
        if b.curvature != "constant":
            raise Why(f"`{self.src(node)}` raises a term that depends on {self.arg} to a power "
                      f"(only |{self.arg}|^2 is an atom)", node.start, node.end).error()
        return Value(offset=float(np.power(b.offset, e.offset)),
                     offset_at=(node.start, node.end))

    def call(self, node: X.Node) -> Value:
        func, args = node.args[0], node.args[1:]
        rule = _CALLS.get(func.text)
        if rule is None:
            raise FormError(f"unknown function `{func.text}` in the Hamiltonian",
                            func.start, func.end, hint=SUPPORTED)
        arity = {"sqrt": 1, "huber": 2}.get(func.text)
        if (arity is not None and len(args) != arity) or not args:
            want = {1: "1 argument", 2: "2 arguments (|p| and δ)"}.get(arity, "arguments")
            raise FormError(f"{func.text}() takes {want}, got {len(args)}",
                            node.start, node.end, hint=SUPPORTED)
        return rule(self, node, args)

    def sqrt(self, node: X.Node, args: tuple[X.Node, ...]) -> Value:
        v = self.value(args[0])
        if v.curvature == "constant":
            return Value(offset=float(np.sqrt(v.offset)), offset_at=(node.start, node.end))
        k, leaf = v.terms[0] if len(v.terms) == 1 else (0.0, None)
        if k > 0 and isinstance(leaf, Leaf) and leaf.name == "sq" and v.offset_at is not None:
            if not 0 < v.offset < np.inf:
                raise FormError(f"sqrt(c + |{self.arg}|^2) needs a constant c > 0, got "
                                f"{v.offset:g}", *v.offset_at, code="E112",
                                hint="c = 0 is |p|_2; c < 0 is not defined near p = 0")
            return Value(((float(np.sqrt(k)), Leaf("relativistic", v.offset / k)),))
        raise Why(f"`{self.src(node)}` is the square root of a non-constant expression (sqrt is "
                  f"concave; only sqrt(c + |{self.arg}|^2) with c > 0 is an atom)", node.start,
                  node.end).error()

    def huber(self, node: X.Node, args: tuple[X.Node, ...]) -> Value:
        first, delta = args
        if not (first.tag == "bars" and self.norm_kind(first, first) in ("", "_2")):
            raise FormError(f"the first argument of huber must be |{self.arg}|, got "
                            f"`{self.src(first)}`", first.start, first.end,
                            hint="write huber(|p|, δ) with δ > 0")
        v = self.value(delta)
        if v.curvature != "constant":
            raise FormError("δ in huber(|p|, δ) must be a constant", delta.start, delta.end)
        if not 0 < v.offset < np.inf:
            raise FormError(f"δ in huber(|p|, δ) must be > 0, got {v.offset:g}", delta.start,
                            delta.end, code="E112")
        return Value(((1.0, Leaf("huber", v.offset)),))

    def maximum(self, node: X.Node, args: tuple[X.Node, ...]) -> Value:
        values = []
        for arg in args:
            v = self.value(arg)
            if v.curvature == "concave":
                raise Why(f"`{self.src(arg)}` is concave inside max(...) (only a max of convex "
                          "terms is convex)", arg.start, arg.end).error()
            _no_constant_term(v, self.text)
            values.append(v)
        if len(values) == 1:
            return values[0]
        return Value(((1.0, MaxOf(tuple(v.terms for v in values))),))


_RULES = {"num": _Prover.number, "name": _Prover.name, "bars": _Prover.bars,
          "quad": _Prover.quad_form, "sign": _Prover.sign, "binary": _Prover.binary,
          "call": _Prover.call}
_BINARY = {"+": _Prover.add, "-": _Prover.subtract, "*": _Prover.multiply, "/": _Prover.divide,
           "^": _Prover.power}
_CALLS = {"sqrt": _Prover.sqrt, "huber": _Prover.huber, "max": _Prover.maximum}
