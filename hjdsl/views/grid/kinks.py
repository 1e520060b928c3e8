"""Where g(y) is not smooth: the coordinate lines on which abs, norm, min, max, sqrt and ^ switch.

The quadrature splits its panels there, so every piece it integrates is smooth. A *switch* is a
function s(y) whose sign change marks a kink: the argument of abs/sqrt, the components of a norm's
argument (the vertex of norm(y − c) lies where both vanish), the pairwise differences inside
max/min. A switch that depends on one coordinate only has its zeros on lines y_k = c, found by
sampling and bisection; any other switch that changes sign in the box is counted as unsplit.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Callable

import numpy as np

from hjdsl.model import expr as E

SAMPLES = 4097        # nodes per axis on which a switch's sign changes are located
BISECTIONS = 60       # halvings of each bracketing interval (to the float64 limit)
UNSPLIT_SAMPLES = 65  # nodes per axis on which an unsplit switch is tested for a sign change


@dataclass(frozen=True)
class KinkLines:
    """Kink coordinates per axis (sorted arrays) and how many switches are off coordinate lines."""

    axes: tuple[np.ndarray, ...]
    unsplit: int


@dataclass(frozen=True)
class Kinks:
    """The switch functions of g; each maps points (n, d) to columns (n, k)."""

    switches: tuple[Callable[[np.ndarray], np.ndarray], ...]
    dim: int

    @classmethod
    def at(cls, *axes) -> "Kinks":
        """Kinks on given lines, one sequence of coordinates per axis (for a plain callable g).

        >>> Kinks.at([0.0, 1.5]).lines([-1.0], [1.0]).axes[0].tolist()
        [0.0]
        """
        cuts = [np.asarray(c, dtype=float).reshape(-1) for c in axes]
        switches = tuple(_line(k, c) for k, cs in enumerate(cuts) for c in cs)
        return cls(switches, len(cuts))

    def lines(self, lo, hi) -> KinkLines:
        """The kink lines inside the box [lo, hi] of y, and the count of unsplit switches."""
        lo, hi = (np.asarray(v, dtype=float).reshape(self.dim) for v in (lo, hi))
        found: list[list[np.ndarray]] = [[] for _ in range(self.dim)]
        unsplit = 0
        for switch in self.switches:
            for column in range(_columns(switch, lo, hi)):
                def s(p, f=switch, c=column):
                    return _as_columns(f(p), len(p))[:, c]
                axis = _axis_of(s, lo, hi)
                if axis is None:
                    unsplit += int(_changes_sign(s, lo, hi))
                elif axis >= 0:
                    found[axis].append(_roots(s, axis, lo, hi))
        axes = tuple(_distinct(np.concatenate(f)) if f else np.zeros(0) for f in found)
        return KinkLines(axes, unsplit)


def kinks_of(expr: E.Expr, names: dict, dim: int) -> Kinks:
    """The switches of an initial-data expression g(y), evaluated with `names` (constants, t, eps).

    >>> from hjdsl.frontend.driver import parse_expression
    >>> k = kinks_of(parse_expression("max(abs(y - 1), 0.5)"), {}, 1)
    >>> k.lines([-3.0], [3.0]).axes[0].round(12).tolist()
    [0.5, 1.0, 1.5]
    """
    from hjdsl.model.lower import evaluate

    def value(node):
        def f(points):
            y = points[:, 0] if dim == 1 else points
            return evaluate(node, {**names, "y": y}, xp=np, pointwise={"y"})
        return f

    switches: list[Callable] = []
    stack = [expr]  # iterative: a long flat chain must not hit the recursion limit
    while stack:
        node = stack.pop()
        stack.extend(_children(node))
        if not isinstance(node, (E.Call, E.Binary)):
            continue
        if isinstance(node, E.Binary):
            if node.op == "^" and not _whole_power(node.right):
                switches.append(value(node.left))
            continue
        args = [value(a) for a in node.args]
        if node.func in ("abs", "sqrt", "norm"):
            switches.append(args[0])
        if node.func == "norm" and len(node.args) == 2 and _is_inf(node.args[1]):
            switches.append(_pairwise(lambda p, f=args[0]: np.abs(f(p))))
        if node.func in ("min", "max"):
            if len(args) == 1:
                switches.append(_pairwise(args[0]))
            for a, b in combinations(args, 2):
                switches.append(lambda p, a=a, b=b: _difference(a(p), b(p), len(p)))
    return Kinks(tuple(switches), dim)


def _children(node: E.Expr) -> tuple[E.Expr, ...]:
    if isinstance(node, E.Unary):
        return (node.operand,)
    if isinstance(node, E.Binary):
        return (node.left, node.right)
    if isinstance(node, E.Call):
        return node.args
    if isinstance(node, E.Vector):
        return node.items
    if isinstance(node, E.Index):
        return (node.base,)
    return ()


def _whole_power(node: E.Expr) -> bool:
    return isinstance(node, E.Num) and float(node.value).is_integer() and node.value >= 0


def _is_inf(node: E.Expr) -> bool:
    return isinstance(node, E.Name) and node.id == "inf"


def _line(axis: int, c: float):
    return lambda p: p[:, axis] - c


def _as_columns(values, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim and arr.shape[0] == n:
        return arr.reshape(n, -1)
    return np.broadcast_to(arr.reshape(1, -1), (n, arr.size))  # a constant: no point axis


def _pairwise(f):
    """Differences of every pair of columns of f (the switches of a one-argument max/min)."""
    def s(p):
        cols = _as_columns(f(p), len(p))
        pairs = list(combinations(range(cols.shape[1]), 2))
        return np.stack([cols[:, i] - cols[:, j] for i, j in pairs], 1) if pairs else cols[:, :0]
    return s


def _difference(a, b, n: int) -> np.ndarray:
    a, b = np.broadcast_arrays(_as_columns(a, n), _as_columns(b, n))
    return a - b


def _samples(lo, hi, n: int, seed: int = 0) -> np.ndarray:
    return lo + (hi - lo) * np.random.default_rng(seed).random((n, lo.size))


def _columns(switch, lo, hi) -> int:
    return _as_columns(switch(_samples(lo, hi, 3)), 3).shape[1]


def _axis_of(s, lo, hi) -> int | None:
    """k if s depends on y_k only, −1 if on none (constant), None if on several."""
    p = _samples(lo, hi, 16, seed=1)
    base = s(p)
    scale = 1e-12 * max(1.0, float(np.max(np.abs(base))))
    depends = []
    for k in range(lo.size):
        q = p.copy()
        q[:, k] = _samples(lo[k:k + 1], hi[k:k + 1], 16, seed=2 + k)[:, 0]
        depends.append(bool(np.max(np.abs(s(q) - base)) > scale))
    if sum(depends) > 1:
        return None
    return depends.index(True) if any(depends) else -1


def _roots(s, axis: int, lo, hi) -> np.ndarray:
    """Zeros of a one-coordinate switch along `axis`: sign changes on SAMPLES nodes, bisected."""
    grid = np.tile((lo + hi) / 2.0, (SAMPLES, 1))
    grid[:, axis] = np.linspace(lo[axis], hi[axis], SAMPLES)
    v = s(grid)
    exact = grid[v == 0.0, axis]
    left = np.flatnonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)
    if left.size == 0:
        return exact
    a, b = grid[left].copy(), grid[left + 1].copy()
    sa = np.sign(v[left])
    for _ in range(BISECTIONS):  # all brackets at once
        mid = (a + b) / 2.0
        same = np.sign(s(mid)) == sa
        a = np.where(same[:, None], mid, a)
        b = np.where(same[:, None], b, mid)
    return np.concatenate([exact, (a[:, axis] + b[:, axis]) / 2.0])


def _changes_sign(s, lo, hi) -> bool:
    axes = [np.linspace(a, b, UNSPLIT_SAMPLES) for a, b in zip(lo, hi)]
    v = s(np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, lo.size))
    return bool(np.any(v < 0) and np.any(v > 0))


def _distinct(c: np.ndarray) -> np.ndarray:
    c = np.sort(c)
    if c.size == 0:
        return c
    keep = np.concatenate([[True], np.diff(c) > 1e-12 * max(1.0, float(np.max(np.abs(c))))])
    return c[keep]
