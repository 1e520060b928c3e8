"""Lower the expression IR of initial data g(y) to cvxpy atoms, and explain a non-convex g."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from hjdsl.errors import SpecError, Span
from hjdsl.model.expr import Binary, Call, Expr, Index, Name, Num, Unary, Vector, children, walk

_HINT = "the Hopf–Lax program min_y g(y) + t·L((x − y)/t) is a convex program only for convex g"


class Lowering:
    """Lower one expression to a cvxpy expression; `lowered` maps each visited node (by id).

    >>> import cvxpy as cp
    >>> from hjdsl.model.expr import Call, Name
    >>> y = cp.Variable(1)
    >>> g = Lowering({"y": y[0]}).lower(Call(None, "abs", (Name(None, "y"),)))
    >>> g.curvature
    'CONVEX'
    """

    def __init__(self, env: dict):
        self.env = env
        self.lowered: dict[int, object] = {}

    def lower_root(self, root: Expr):
        """Lower the whole of g(y); an operation that can never be convex is named in g's text."""
        try:
            return self.lower(root)
        except _Offence as offence:
            raise _not_convex(root, offence.node, offence.reason) from None

    def lower(self, node: Expr):
        # Children before parents, without recursion: a chain such as |y−a|+|y−b|+… is a tree
        # as deep as it is long. Each node's method then finds its children already lowered.
        for item in reversed(list(walk(node))):
            if id(item) not in self.lowered:
                self.lowered[id(item)] = _NODES[type(item)](self, item)
        return self.lowered[id(node)]

    def _child(self, node: Expr):
        return self.lowered[id(node)] if id(node) in self.lowered else self.lower(node)

    # --- one method per node type ----------------------------------------------------------
    def num(self, node: Num):
        import cvxpy as cp

        return cp.Constant(float(node.value))

    def name(self, node: Name):
        import cvxpy as cp

        if node.id not in self.env:
            raise _error(f"unknown name `{node.id}` in g(y){_at(node.span)}", node.span,
                         "g(y) may use y, t, pi and names declared with `let`")
        value = self.env[node.id]
        return value if isinstance(value, cp.Expression) else cp.Constant(np.asarray(value, float))

    def vector(self, node: Vector):
        import cvxpy as cp

        items = [self._child(item) for item in node.items]
        if all(item.ndim == 0 for item in items):
            return cp.hstack(items)
        return cp.vstack(items)

    def unary(self, node: Unary):
        operand = self._child(node.operand)
        return -operand if node.op == "-" else operand

    def index(self, node: Index):
        base = self._child(node.base)
        size = 1 if base.ndim == 0 else base.shape[0]
        if not 0 <= node.index < size:
            raise _error(f"index {node.index} is out of range for `{show(node.base)}` of length "
                         f"{size}{_at(node.span)}", node.span)
        return base if base.ndim == 0 else base[node.index]

    def binary(self, node: Binary):
        left, right = self._child(node.left), self._child(node.right)
        return _BINARY[node.op](node, left, right)

    def call(self, node: Call):
        if node.func not in _FUNCS:
            raise _error(f"not supported by the convex view: function `{node.func}`"
                         f"{_at(node.span)}", node.span,
                         f"the convex view supports {', '.join(sorted(_FUNCS))}")
        arity, lower_fn = _FUNCS[node.func]
        if not arity[0] <= len(node.args) <= arity[1]:
            raise _error(f"`{node.func}` takes {_arity_text(arity)}, got {len(node.args)}"
                         f"{_at(node.span)}", node.span)
        args = [self._child(arg) for arg in atom_args(node)]
        return lower_fn(node, *args)


_NODES: dict[type, Callable] = {
    Num: Lowering.num, Name: Lowering.name, Vector: Lowering.vector, Unary: Lowering.unary,
    Index: Lowering.index, Binary: Lowering.binary, Call: Lowering.call,
}


# --- arithmetic --------------------------------------------------------------------------------
def _times(node, a, b):
    import cvxpy as cp

    if not (a.is_constant() or b.is_constant()):
        raise _Offence(node, "multiplies two expressions of y (write square(...) or ^2)")
    if a.ndim == 0 or b.ndim == 0 or a.shape == b.shape:
        return cp.multiply(a, b)
    return a @ b


def _divide(node, a, b):
    if not b.is_constant():
        raise _error(f"not supported by the convex view: division by `{show(node.right)}`, an "
                     f"expression of y{_at(node.span)}", node.span)
    if np.any(np.asarray(b.value) == 0):
        raise _error(f"division by zero in `{show(node)}`{_at(node.span)}", node.span)
    return a / b


def _power(node, base, exponent):
    import cvxpy as cp

    if not (exponent.is_constant() and exponent.ndim == 0):
        raise _error(f"not supported by the convex view: the exponent of `{show(node)}` must be a "
                     f"number{_at(node.span)}", node.span)
    p = float(exponent.value)
    if p == 1:
        return base
    if base.is_constant():
        return cp.Constant(np.asarray(base.value, float) ** p)
    if p == 2:
        return cp.square(base)
    if (p > 0 and p % 2 == 0) or base.is_nonneg():
        return cp.power(base, p)
    # cvxpy would read y^3 as convex on y ≥ 0 and silently restrict the domain: refuse instead.
    raise _Offence(node, f"is neither convex nor concave where its base can be negative "
                         f"(use abs(...)^{p:g} for a convex power)")


_BINARY = {
    "+": lambda node, a, b: a + b,
    "-": lambda node, a, b: a - b,
    "*": _times,
    "/": _divide,
    "^": _power,
}


# --- functions: name → ((min, max) arity, lowering of the atom arguments) ----------------------
def _norm(node, v):
    import cvxpy as cp

    order = 2.0
    if len(node.args) == 2:
        spec = node.args[1]
        if isinstance(spec, Name) and spec.id == "inf":
            order = np.inf
        elif isinstance(spec, Num) and float(spec.value) in (1.0, 2.0):
            order = float(spec.value)
        else:
            raise _error(f"not supported by the convex view: `{show(node)}` (the norm order must "
                         f"be 1, 2 or inf){_at(node.span)}", node.span)
    return cp.norm(v, {1.0: 1, 2.0: 2}.get(order, order))


def _cp():
    import cvxpy

    return cvxpy


def _extreme(single: str, pairwise: str):
    def lower(node, *args):
        if len(args) == 1:
            return getattr(_cp(), single)(args[0])
        return getattr(_cp(), pairwise)(*args)

    return lower


def _dot(node, a, b):
    return _times(node, a, b) if a.ndim == 0 or b.ndim == 0 else a @ b


_UNARY = (1, 1)
_FUNCS = {
    "abs": (_UNARY, lambda node, a: _cp().abs(a)),
    "exp": (_UNARY, lambda node, a: _cp().exp(a)),
    "log": (_UNARY, lambda node, a: _cp().log(a)),
    "sqrt": (_UNARY, lambda node, a: _cp().sqrt(a)),
    "square": (_UNARY, lambda node, a: _cp().square(a)),
    "sum": (_UNARY, lambda node, a: _cp().sum(a)),
    "norm": ((1, 2), _norm),
    "max": ((1, 8), _extreme("max", "maximum")),
    "min": ((1, 8), _extreme("min", "minimum")),
    "dot": ((2, 2), _dot),
}


def atom_args(node: Call) -> tuple[Expr, ...]:
    """The arguments that become cvxpy atom arguments (the order of a norm is not one)."""
    return node.args[:1] if node.func == "norm" else node.args


# --- why is g not convex? ----------------------------------------------------------------------
def check_convex(root: Expr, lowering: Lowering) -> None:
    """Raise a SpecError naming the smallest sub-expression that makes g(y) non-convex.

    Needs propagate from the root (convex) down the composition rules; the search descends into
    a child that is concave or of unknown curvature where it needs to be convex, and stops at the
    node whose own operation breaks convexity (a negation of a convex term, a concave function).
    """
    expr = lowering.lowered[id(root)]
    if expr.ndim != 0:
        raise _error(f"g(y) must be a number, but `{show(root)}` has shape {expr.shape} "
                     f"(use sum(...) or norm(...)){_at(root.span)}", root.span)
    if expr.is_convex():
        return
    node, need = _offender(root, "convex", lowering.lowered)
    raise _not_convex(root, node, _reason(node, need, lowering.lowered[id(node)]))


def _satisfies(expr, need: str) -> bool:
    return {"convex": expr.is_convex, "concave": expr.is_concave, "affine": expr.is_affine}[need]()


def _offender(node: Expr, need: str, lowered: dict) -> tuple[Expr, str]:
    while True:  # descend (iteratively: the path can be as long as a chain of sums)
        for child, child_need in _child_needs(node, need, lowered):
            cexpr = lowered[id(child)]
            if not cexpr.is_dcp() or (child_need != "concave"
                                      and not _satisfies(cexpr, child_need)):
                node, need = child, child_need
                break
        else:
            return node, need


_FLIP = {"convex": "concave", "concave": "convex", "affine": "affine"}


def _child_needs(node: Expr, need: str, lowered: dict) -> list[tuple[Expr, str]]:
    if isinstance(node, Unary):
        return [(node.operand, _FLIP[need] if node.op == "-" else need)]
    if isinstance(node, Vector):
        return [(item, need) for item in node.items]
    if isinstance(node, Index):
        return [(node.base, need)]
    if lowered[id(node)] is lowered.get(id(getattr(node, "left", None))):
        return [(node.left, need)]  # e^1 is e itself
    if isinstance(node, Binary) and node.op in "+-":
        return [(node.left, need), (node.right, _FLIP[need] if node.op == "-" else need)]
    if isinstance(node, Binary) and node.op in "*/":
        const, other = (node.left, node.right) if lowered[id(node.left)].is_constant() else \
            (node.right, node.left)
        value = np.asarray(lowered[id(const)].value)
        if node.op == "/" and const is node.left:
            return []  # a constant divided by an expression of y is never lowered
        sign = "same" if np.all(value >= 0) else "flip" if np.all(value <= 0) else "affine"
        return [(other, need if sign == "same" else _FLIP[need] if sign == "flip" else "affine")]
    children = atom_args(node) if isinstance(node, Call) else \
        (node.left,) if isinstance(node, Binary) else ()
    return _atom_needs(lowered[id(node)], children, need)


def _atom_needs(atom, children, need: str) -> list[tuple[Expr, str]]:
    """cvxpy's own facts about the atom (curvature, monotonicity) give each argument's need."""
    from cvxpy.atoms.atom import Atom

    if not isinstance(atom, Atom) or len(atom.args) != len(children):
        return []
    affine = atom.is_atom_affine()
    if need == "affine" and not affine:
        return []
    if need == "convex" and not (affine or atom.is_atom_convex()):
        return []
    if need == "concave" and not (affine or atom.is_atom_concave()):
        return []
    out = []
    for i, child in enumerate(children):
        if need == "affine" or not (atom.is_incr(i) or atom.is_decr(i)):
            out.append((child, "affine"))
        else:
            out.append((child, need if atom.is_incr(i) else _FLIP[need]))
    return out


def _reason(node: Expr, need: str, expr) -> str:
    if not expr.is_dcp():
        base = "is neither convex nor concave by the composition rules"
    elif expr.is_concave():
        base = "is concave"
    else:
        base = "is convex"
    if need == "convex" and not expr.is_dcp() and isinstance(node, Call):
        what = "a concave function" if expr.is_atom_concave() else \
            "not a convex function of its argument here"
        return f"{base} (`{node.func}` is {what})"
    where = {"convex": "",
             "concave": ", and it enters g negated (or through a decreasing function), where it "
                        "would have to be concave",
             "affine": ", and it enters g through a factor of mixed sign, where it would have to "
                       "be affine"}[need]
    return base + where


# --- messages ----------------------------------------------------------------------------------
class _Offence(Exception):
    """Raised while lowering by an operation that is not convex whatever its arguments."""

    def __init__(self, node: Expr, reason: str):
        super().__init__(reason)
        self.node, self.reason = node, reason


def _at(span: Span | None) -> str:
    return f" at line {span.line}" if span is not None else ""


def _error(message: str, span: Span | None, hint: str | None = None) -> SpecError:
    return SpecError.single(message, span, hint)


def _not_convex(root: Expr, node: Expr, reason: str) -> SpecError:
    line = f" (line {node.span.line})" if node.span is not None else ""
    return _error(f"g(y) = {_short(show(root))} is not convex: `{_short(show(node))}` "
                  f"{reason}{line}", node.span, _HINT)


def _short(text: str, limit: int = 120) -> str:
    """A message quotes at most `limit` characters of an expression (g can be a long chain)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}


def show(node: Expr, outer: int = 0) -> str:
    """Print an expression back as .hj text, with only the parentheses it needs.

    >>> from hjdsl.model.expr import Binary, Name, Num, Unary
    >>> show(Unary(None, "-", Binary(None, "-", Name(None, "y"), Num(None, 1.0))))
    '-(y - 1)'
    """
    # Bottom-up without recursion, on a value stack: walk() lists each node before its children
    # (left to right), so in reverse every node comes after its children, and its leftmost
    # child's text is on top of the stack. Entries are (text, precedence of the outermost op).
    stack: list[tuple[str, int]] = []
    for item in reversed(list(walk(node))):
        parts = [stack.pop() for _ in children(item)]
        stack.append(_show_one(item, parts))
    return _wrapped(stack.pop(), outer)


_ATOMIC = 9  # numbers, names, lists, indexing and calls are never parenthesised


def _wrapped(part: tuple[str, int], need: int) -> str:
    text, prec = part
    return f"({text})" if prec < need else text


def _show_one(node: Expr, parts: list) -> tuple[str, int]:
    """One node's text from its children's (text, precedence) parts, left to right."""
    if isinstance(node, Num):
        v = float(node.value)
        return (f"{v:g}" if float(f"{v:g}") == v else repr(v)), _ATOMIC
    if isinstance(node, Name):
        return node.id, _ATOMIC
    if isinstance(node, Vector):
        return "[" + ", ".join(_wrapped(part, 0) for part in parts) + "]", _ATOMIC
    if isinstance(node, Index):
        return f"{_wrapped(parts[0], 5)}[{node.index}]", _ATOMIC
    if isinstance(node, Call):
        return f"{node.func}(" + ", ".join(_wrapped(part, 0) for part in parts) + ")", _ATOMIC
    if isinstance(node, Unary):
        return node.op + _wrapped(parts[0], 3), 3
    prec = _PRECEDENCE[node.op]
    # left-associative except ^ (right-associative)
    left = _wrapped(parts[0], prec + (1 if node.op == "^" else 0))
    right = _wrapped(parts[1], prec if node.op == "^" else prec + 1)
    sep = "" if node.op == "^" else " "
    return f"{left}{sep}{node.op}{sep}{right}", prec


def environment(y, dim: int, t: float, constants: dict) -> dict:
    """The names g(y) may use: y (a scalar when d = 1), t, pi, and `let` constants."""
    env = {"pi": math.pi, "t": t, "inf": np.inf}
    env.update({k: np.asarray(v, float) for k, v in constants.items()})
    env["y"] = y[0] if dim == 1 else y
    return env


def _arity_text(arity) -> str:
    lo, hi = arity
    return f"{lo} argument{'s' if lo > 1 else ''}" if lo == hi else f"{lo} to {hi} arguments"
