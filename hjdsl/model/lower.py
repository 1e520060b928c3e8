"""Evaluate expression IR with numpy or jax.numpy: one dispatch table per node type and function."""

from __future__ import annotations

import contextlib
import difflib
from typing import Callable

import numpy

from hjdsl.errors import SpecError
from hjdsl.model import expr as E
from hjdsl.model.limits import MAX_AXES, array_bytes, over_memory

CONSTANTS = {"pi": numpy.pi, "inf": numpy.inf}
SMALL_BYTES = 1 << 20  # results below this size skip reading the memory budget
CHUNK = 1 << 14  # points per block in the truth functions (cache-sized for a few atoms)


def evaluate(expr: E.Expr, env: dict, xp=numpy, pointwise=(), functions: dict | None = None):
    """The value of `expr` with names from `env` (arrays), using the array module `xp`.

    Names listed in `pointwise` carry a leading point axis: y is (n,) when d = 1 and (n, d)
    otherwise; reductions (sum, norm, dot, one-argument min/max) act on the axis after it.
    `functions` adds callables `f(xp, *args)` (the truth functions of synthetic data).

    >>> from hjdsl.frontend.driver import parse_expression
    >>> evaluate(parse_expression("abs(y) + 1"), {"y": numpy.array([-2.0, 3.0])}, pointwise={"y"})
    array([3., 4.])
    """
    ctx = _Context(env, xp, frozenset(pointwise), functions or {})
    guard = numpy.errstate(all="ignore") if xp is numpy else contextlib.nullcontext()
    with guard:
        value, _ = ctx.eval(expr)
    return value


def evaluate_initial(model, y, xp=numpy):
    r"""g(y) of a model whose initial data is an expression, at other atoms y (n, d).

    The expression sees the model's `let` constants, `t` and (for one fixed value) `eps`.

    >>> from hjdsl.frontend.driver import parse
    >>> m = parse("model m\ndim 1\nhamiltonian H(p) = |p|^2\nparticles y = [0, 1]\n"
    ...           "initial g(y) = abs(y) / t\ntime t = 2\n")
    >>> evaluate_initial(m, numpy.array([[-4.0], [6.0]])).tolist()
    [2.0, 3.0]
    """
    if model.initial.expr is None:
        raise ValueError(f"the initial data of {model.name} is {model.initial.source}, "
                         "not an expression of y")
    env = {**model.constants, "t": model.t}
    if model.eps.size == 1 and not model.viscosity.learned:
        env["eps"] = model.eps[0]
    points = y[:, 0] if model.dim == 1 else y
    n = y.shape[0]
    return xp.broadcast_to(evaluate(model.initial.expr, {**env, "y": points}, xp, {"y"}), (n,))


def _fail(message: str, node: E.Expr, hint: str | None = None, code: str = "E201"):
    raise SpecError.single(message, node.span, hint=hint, code=code)


class _Context:
    """Evaluation state; every value is a pair (array, has_point_axis)."""

    def __init__(self, env, xp, pointwise, functions):
        self.env, self.xp, self.pointwise, self.functions = env, xp, pointwise, functions

    def eval(self, root: E.Expr):
        """Post-order evaluation with explicit stacks: a chain 1+1+…+1 is as deep as it is long.

        Children are evaluated left to right, so the first error found is the one a recursive
        evaluator would find; a node's own checks that need no values (an unknown function, a
        wrong argument count) run before its children, as they would there.
        """
        values: list = []
        todo: list = [(root, False)]
        while todo:
            node, ready = todo.pop()
            kids = E.children(node)
            if not ready:
                rule = NODE_RULES.get(type(node))
                if rule is None:
                    _fail(f"expressions of type {type(node).__name__} cannot be evaluated here",
                          node)
                if type(node) in PRE_CHECKS:
                    PRE_CHECKS[type(node)](self, node)
                todo.append((node, True))
                todo.extend((kid, False) for kid in reversed(kids))
                continue
            args = values[len(values) - len(kids):] if kids else []
            del values[len(values) - len(kids):]
            values.append(NODE_RULES[type(node)](self, node, args))
        return values[0]

    def rank(self, value) -> int:
        arr, batched = value
        return arr.ndim - int(batched)

    def align(self, values):
        """Give batched values trailing unit axes so they broadcast against vector constants."""
        top = max(self.rank(v) for v in values)
        out = []
        for arr, batched in values:
            missing = top - (arr.ndim - int(batched))
            if batched and missing > 0:
                arr = self.xp.reshape(arr, arr.shape[:1] + (1,) * missing + arr.shape[1:])
            out.append(arr)
        return out, any(b for _, b in values)

    def result_shape(self, node, arrays, what: str, extra: tuple = ()) -> tuple:
        """The broadcast shape of `arrays` (with `extra` leading axes), checked before computing.

        A shape mismatch is a spec error; so is a result over the memory budget, such as
        y * [150,000 numbers] over 150,000 atoms (168 GiB), which numpy would try to allocate.
        """
        try:
            shape = extra + tuple(numpy.broadcast_shapes(*(tuple(a.shape) for a in arrays)))
        except ValueError:
            shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
            _fail(f"shapes {shapes} do not match in {what}", node, code="E204")
        if len(shape) > MAX_AXES:
            _fail(f"lists nested too deeply: this value would have {len(shape)} axes; the limit "
                  f"is {MAX_AXES}", node, code="E204")
        nbytes = array_bytes(*shape)
        problem = nbytes > SMALL_BYTES and over_memory(nbytes, f"{what} (shape {shape})")
        if problem:
            _fail(problem, node, code="E113", hint="use smaller lists, or fewer points or atoms")
        return shape


def _num(ctx, node: E.Num, _):
    return ctx.xp.asarray(node.value, dtype=float), False


def _name(ctx, node: E.Name, _):
    if node.id in ctx.env:
        return ctx.xp.asarray(ctx.env[node.id], dtype=float), node.id in ctx.pointwise
    if node.id in CONSTANTS:
        return ctx.xp.asarray(CONSTANTS[node.id], dtype=float), False
    known = sorted(set(ctx.env) | set(CONSTANTS))
    close = difflib.get_close_matches(node.id, known, n=1)
    _fail(f"unknown name `{node.id}`", node, code="E202",
          hint=(f"did you mean `{close[0]}`? " if close else "") + "names in scope here: "
          + ", ".join(known))


def _vector_empty(ctx, node: E.Vector):
    if not node.items:
        _fail("an empty list has no value here", node, code="E203")


def _vector(ctx, node: E.Vector, values):
    ranks = {ctx.rank(v) for v in values}
    if len(ranks) > 1:
        _fail("the entries of this list have different shapes", node, code="E204",
              hint="a matrix is a list of rows of equal length, e.g. [[1, 0], [0, 1]]")
    arrays, batched = ctx.align(values)
    try:
        numpy.broadcast_shapes(*(tuple(a.shape) for a in arrays))
    except ValueError:
        _fail("the entries of this list have different lengths", node, code="E204",
              hint="a matrix is a list of rows of equal length, e.g. [[1, 0], [0, 1]]")
    ctx.result_shape(node, arrays, "this list", (len(arrays),))
    if any(a.shape != arrays[0].shape for a in arrays):  # (a list of equal numbers skips this)
        arrays = ctx.xp.broadcast_arrays(*arrays)
    # Items are rows: after the point axis when batched, else the first axis.
    return ctx.xp.stack(arrays, axis=1 if batched else 0), batched


def _unary(ctx, node: E.Unary, values):
    (arr, batched), = values
    return (-arr if node.op == "-" else arr), batched


BINARY: dict[str, Callable] = {
    "+": lambda xp, a, b: a + b,
    "-": lambda xp, a, b: a - b,
    "*": lambda xp, a, b: a * b,
    "/": lambda xp, a, b: a / b,
    "^": lambda xp, a, b: xp.power(a, b),
}


def _binary(ctx, node: E.Binary, values):
    (a, b), batched = ctx.align(values)
    ctx.result_shape(node, (a, b), f"`{node.op}`")
    return BINARY[node.op](ctx.xp, a, b), batched


def _index(ctx, node: E.Index, values):
    (arr, batched), = values
    if arr.ndim - int(batched) == 0:
        if node.index == 0:  # y[0] of a 1-D point is y itself
            return arr, batched
        _fail(f"index {node.index} of a scalar (only [0] exists)", node, code="E205")
    length = arr.shape[-1]
    if node.index >= length:
        _fail(f"index {node.index} is out of range for a vector of length {length}", node,
              code="E205", hint=f"components are numbered 0 to {length - 1}")
    return arr[..., node.index], batched


def _call_check(ctx, node: E.Call):
    """Before the arguments are evaluated: the function exists and takes this many arguments."""
    if node.func in ctx.functions:
        return
    rule = FUNCTIONS.get(node.func)
    if rule is None:
        close = difflib.get_close_matches(node.func, FUNCTIONS, n=1)
        _fail(f"unknown function `{node.func}`", node, code="E206",
              hint=(f"did you mean `{close[0]}`? " if close else "") + "functions: "
              + ", ".join(sorted(FUNCTIONS)))
    low, high, _ = rule
    if not low <= len(node.args) <= high:
        want = str(low) if low == high else f"{low} to {high}" if high < 99 else f"at least {low}"
        _fail(f"{node.func}() takes {want} argument{'s' if want != '1' else ''}, "
              f"got {len(node.args)}", node, code="E207")


def _call(ctx, node: E.Call, values):
    if node.func in ctx.functions:
        try:
            out = ctx.functions[node.func](ctx.xp, *[v[0] for v in values])
        except TypeError:
            _fail(f"wrong number of arguments for {node.func}()", node, code="E207",
                  hint="tropical(x), hopf_lax(x), network(x, eps), hopf_cole(x, eps)")
        except OverBudget as exc:
            _fail(f"{node.func}(): {exc}", node, code="E113",
                  hint="use fewer points or fewer truth atoms")
        except ValueError as exc:
            _fail(f"{node.func}(): {exc}", node, code="E207")
        return out, any(v[1] for v in values)
    return FUNCTIONS[node.func][2](ctx, node, values)


def _elementwise(f):
    return 1, 1, lambda ctx, node, vals: (f(ctx.xp, vals[0][0]), vals[0][1])


def _reduce(ctx, value, f):
    arr, batched = value
    if arr.ndim - int(batched) == 0:
        return value
    return f(arr), batched


def _norm(ctx, node, vals):
    xp = ctx.xp
    order = 2.0
    if len(vals) == 2:
        arr = numpy.asarray(vals[1][0])
        if vals[1][1] or arr.ndim or float(arr) not in (1.0, 2.0, numpy.inf):
            _fail("the order of norm() must be 1, 2 or inf", node.args[1], code="E208")
        order = float(arr)
    arr, batched = vals[0]
    if arr.ndim - int(batched) == 0:
        return xp.abs(arr), batched
    if order == 1.0:
        return xp.sum(xp.abs(arr), axis=-1), batched
    if order == 2.0:
        return xp.sqrt(xp.sum(arr * arr, axis=-1)), batched
    return xp.max(xp.abs(arr), axis=-1), batched


def _extreme(which):
    def impl(ctx, node, vals):
        xp = ctx.xp
        if len(vals) == 1:
            return _reduce(ctx, vals[0], lambda a: getattr(xp, which)(a, axis=-1))
        arrays, batched = ctx.align(vals)
        ctx.result_shape(node, arrays, f"{which}()")
        fold = xp.maximum if which == "max" else xp.minimum
        out = arrays[0]
        for a in arrays[1:]:
            out = fold(out, a)
        return out, batched
    return impl


def _dot(ctx, node, vals):
    (a, b), batched = ctx.align(vals)
    ctx.result_shape(node, (a, b), "dot()")
    return ctx.xp.sum(a * b, axis=-1), batched


FUNCTIONS = {
    "abs": _elementwise(lambda xp, a: xp.abs(a)),
    "sqrt": _elementwise(lambda xp, a: xp.sqrt(a)),
    "exp": _elementwise(lambda xp, a: xp.exp(a)),
    "log": _elementwise(lambda xp, a: xp.log(a)),
    "sin": _elementwise(lambda xp, a: xp.sin(a)),
    "cos": _elementwise(lambda xp, a: xp.cos(a)),
    "tanh": _elementwise(lambda xp, a: xp.tanh(a)),
    "square": _elementwise(lambda xp, a: a * a),
    "norm": (1, 2, _norm),
    "sum": (1, 1, lambda ctx, node, vals: _reduce(ctx, vals[0], lambda a: ctx.xp.sum(a, axis=-1))),
    "min": (1, 99, _extreme("min")),
    "max": (1, 99, _extreme("max")),
    "dot": (2, 2, _dot),
}

NODE_RULES = {
    E.Num: _num, E.Name: _name, E.Vector: _vector, E.Unary: _unary, E.Binary: _binary,
    E.Index: _index, E.Call: _call,
}
PRE_CHECKS = {E.Vector: _vector_empty, E.Call: _call_check}


class OverBudget(ValueError):
    """A truth function's arrays would exceed the memory budget (reported as E113)."""


def truth_functions(y, g, t: float, ainv) -> dict:
    """tropical(x), hopf_lax(x), network(x, eps), hopf_cole(x, eps) for known atoms (numpy).

    Quadratic H with metric A⁻¹: c_j = g_j + (x−y_j)ᵀA⁻¹(x−y_j)/(4t), z_j = W_j·x + b_j.
    ε = 0 gives the tropical / Hopf–Lax values. Stable (max-shift) log-sum-exp throughout.
    """
    y = numpy.asarray(y, dtype=float)
    g = numpy.asarray(g, dtype=float)
    ainv = numpy.asarray(ainv, dtype=float)
    d = y.shape[1]

    def as_points(x):
        x = numpy.asarray(x, dtype=float)
        return x.reshape(-1, 1) if d == 1 and x.ndim <= 1 else x.reshape(-1, d)

    def chunks(x, per_point):
        """per_point over blocks of points: memory and cache stay at CHUNK × atoms, not n × atoms."""
        xs = as_points(x)
        step = min(xs.shape[0], CHUNK) or 1
        # (points, atoms, d) differences, the (points, atoms) costs and one temporary of that size
        problem = over_memory(array_bytes(step, y.shape[0], d + 2),
                              f"the truth at {step:,} points × {y.shape[0]:,} atoms")
        if problem:
            raise OverBudget(problem)
        parts = [per_point(xs[i:i + step]) for i in range(0, xs.shape[0], step)]
        return numpy.concatenate(parts) if parts else numpy.zeros(0)

    def costs(xs):
        diff = xs[:, None, :] - y[None, :, :]
        return g[None, :] + numpy.einsum("njd,de,nje->nj", diff, ainv, diff) / (4.0 * t)

    # the weight map: z_j = W_j·x + b_j = xᵀA⁻¹x/(4t) − c_j, one product instead of N costs
    weights = ainv @ y.T / (2.0 * t)                                   # (d, N): the W_jᵀ
    bias = -g - numpy.einsum("jd,de,je->j", y, ainv, y) / (4.0 * t)

    def logits(xs):
        return xs @ weights + bias

    def soft(values, eps):
        eps = numpy.asarray(eps, dtype=float)
        if eps.ndim or not eps >= 0:
            raise ValueError("eps must be a single number ≥ 0")
        eps = float(eps)
        top = values.max(axis=1)
        if eps == 0:
            return top
        return top + eps * numpy.log(numpy.exp((values - top[:, None]) / eps).sum(axis=1))

    def check_eps(eps):
        eps = numpy.asarray(eps, dtype=float)
        if eps.ndim or not eps >= 0:
            raise ValueError("eps must be a single number ≥ 0")
        return float(eps)

    return {
        "tropical": lambda xp, x: chunks(x, lambda xs: logits(xs).max(axis=1)),
        "hopf_lax": lambda xp, x: chunks(x, lambda xs: costs(xs).min(axis=1)),
        "network": lambda xp, x, eps: chunks(x, lambda xs, e=check_eps(eps): soft(logits(xs), e)),
        "hopf_cole": lambda xp, x, eps: chunks(x, lambda xs, e=check_eps(eps): -soft(-costs(xs), e)),
    }
