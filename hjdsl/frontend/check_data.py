"""A spec's `data` at check time: a file's columns (read by hjdsl.data_files) or a generator."""

from __future__ import annotations

import numpy as np

from hjdsl.data_files import DataFileError, read_table
from hjdsl.frontend import syntax as S
from hjdsl.model import distributions as D
from hjdsl.model import expr as E
from hjdsl.model.ir import Data, Truth, _frozen
from hjdsl.model.limits import MAX_ATOMS, MAX_POINTS
from hjdsl.model.lower import truth_functions

TRUTH_FUNCTIONS = ("tropical", "hopf_lax", "network", "hopf_cole")


def check_data(c, decl: S.DataDecl | None) -> Data | None:
    """The Data of a `data` declaration (c is the checker), loaded and validated."""
    if decl is None:
        return None
    if decl.path is None:
        return _synthetic(c, decl)
    return _from_file(c, decl)


# --- files --------------------------------------------------------------------------------
def _columns(c, decl: S.DataDecl) -> tuple[list[str], str, dict]:
    """(x columns, value column, spans) from the block, with defaults x / x1..xd and value."""
    d = c.d
    x_cols = ["x"] if d == 1 else [f"x{i + 1}" for i in range(d)]
    value_col = "value"
    spans = {}
    for s in decl.settings:
        raise c.error(f"a data file takes no `{s.key.text} = ...` settings", s.key.span,
                      code="E157", hint='map columns in a block: data "f.csv" { x = x1; value = v }')
    for item in decl.items:
        key = item.key.text
        if item.truth or item.op != "=" or key not in ("x", "value"):
            raise c.error(f"unknown entry `{key}` in a data file block", item.span, code="E157",
                          hint="a file's block maps columns: x = COLUMN (or [C1, C2]), value = COLUMN")
        names = _column_names(c, item.value, key)
        if key == "x":
            if len(names) != d:
                raise c.error(f"x needs {d} column{'s' if d > 1 else ''} (dim is {d}), got "
                              f"{len(names)}", item.value.span, code="D006")
            x_cols = names
        else:
            if len(names) != 1:
                raise c.error("value is one column", item.value.span, code="D006")
            value_col = names[0]
        spans[key] = item.value.span
    return x_cols, value_col, spans


def _column_names(c, value: E.Expr, key: str) -> list[str]:
    items = value.items if isinstance(value, E.Vector) else (value,)
    names = []
    for item in items:
        if not isinstance(item, E.Name):
            raise c.error(f"`{key}` must name a column (or a list of columns)", item.span,
                          code="E157", hint="e.g. x = x1 or x = [x1, x2]")
        names.append(item.id)
    return names


def _from_file(c, decl: S.DataDecl) -> Data:
    x_cols, value_col, spans = _columns(c, decl)
    try:
        x, value = read_table(decl.path, c.base_dir, x_cols, value_col, confined=True)
    except DataFileError as err:  # the one reader's message, located in the spec
        first = err.diagnostics[0]
        raise c.error(first.message, spans.get(err.part) or decl.path_span, hint=first.hint,
                      code=first.code) from None
    return Data("file", _frozen(x, 2), _frozen(value, 1), path=decl.path,
                columns={"x": list(x_cols), "value": value_col}, span=decl.span)


# --- synthetic data -----------------------------------------------------------------------
def _synthetic(c, decl: S.DataDecl) -> Data:
    d = c.d
    settings = {}
    for s in decl.settings:
        if s.key.text not in ("n", "seed") or s.key.text in settings:
            raise c.error(f"unknown or repeated setting `{s.key.text}` of synthetic data",
                          s.key.span, code="E157", hint="settings: n = COUNT seed = SEED")
        settings[s.key.text] = s.value
    items = {}
    for item in decl.items:
        key = ("truth " if item.truth else "") + item.key.text
        allowed = ("x", "value", "noise", "truth y", "truth g")
        if key not in allowed:
            raise c.error(f"unknown entry `{key}` in a synthetic data block", item.span,
                          code="E157", hint="entries: " + ", ".join(allowed))
        if key in items:
            raise c.error(f"`{key}` is given twice (first on line {items[key].span.line})",
                          item.span, code="E102")
        items[key] = item
    seed = 0
    if "seed" in settings:
        seed = c.seed(settings["seed"], c.env)
    n = None
    if "n" in settings:
        n = c.count(settings["n"], c.env, "n", MAX_POINTS, "points")
        # each count is within its limit, but n × d is what gets allocated: budget the product
        c.budget(n * (d + 1) * 8, f"the synthetic data ({n:,} points × {d} coordinate"
                 f"{'s' if d > 1 else ''}, and a value each)", settings["n"].span,
                 "use fewer points (n) or a smaller dim")
    truth = _truth(c, items) if ("truth y" in items or "truth g" in items) else None
    rng = np.random.default_rng(seed)
    x = _synthetic_x(c, decl, items.get("x"), n, rng)
    if "value" not in items:
        raise c.error("synthetic data needs `value = EXPRESSION of x`", decl.keyword.span,
                      code="E116", hint="e.g. value = abs(x)")
    value_expr = items["value"].value
    calls = {n.func for n in _calls(value_expr)} & set(TRUTH_FUNCTIONS)
    functions = None
    if calls:
        if truth is None:
            raise c.error(f"{sorted(calls)[0]}(...) needs a `truth` in this data block",
                          value_expr.span, code="E158",
                          hint="add `truth y = grid(...)` and `truth g(y) = ...`")
        if c.hamiltonian is None or not c.hamiltonian.has_layer:  # the truth is the LSE layer's
            raise c.error(f"{sorted(calls)[0]}(...) needs a quadratic Hamiltonian", value_expr.span,
                          code="E158")
        functions = truth_functions(truth.points, truth.values, c.t or 1.0, c.hamiltonian.inverse)
    value = c.per_point(value_expr, x, "x", "value", functions)
    noise = 0.0
    if "noise" in items:
        noise = c.scalar(items["noise"].value, c.env, "noise", nonneg=True)
    if noise > 0:
        value = value + rng.normal(0.0, noise, value.shape)
    return Data("synthetic", _frozen(x, 2), _frozen(value, 1), seed=seed, noise=noise,
                truth=truth, span=decl.span)


def _synthetic_x(c, decl, item: S.Item | None, n: int | None, rng) -> np.ndarray:
    d = c.d
    if item is None:
        raise c.error("synthetic data needs `x ~ DISTRIBUTION` or `x = grid(...)`",
                      decl.keyword.span, code="E116", hint="e.g. x ~ uniform(-2, 2)")
    if item.op == "~":
        prior = c.prior(item.value, c.env, "x")
        if n is None:
            raise c.error("synthetic data with `x ~ ...` needs `n = COUNT`", decl.keyword.span,
                          code="E116", hint="e.g. data synthetic n = 500 seed = 1 { ... }")
        return D.FAMILIES[prior.family].draw(rng, dict(prior.params), (n, d)).astype(float)
    value = item.value
    if isinstance(value, E.Call) and value.func == "grid":
        x = c.grid(value, c.env, d, "x", MAX_POINTS)
    else:
        x = c.point_list(value, c.env, d, "x")
    if n is not None and n != x.shape[0]:
        raise c.error(f"n = {n} but x has {x.shape[0]} points", item.span, code="E114",
                      hint="omit n when x is a grid or a list")
    return x


def _truth(c, items) -> Truth:
    if "truth y" not in items or "truth g" not in items:
        missing = "truth y" if "truth y" not in items else "truth g"
        some = items.get("truth y") or items.get("truth g")
        raise c.error(f"a truth needs both `truth y = ...` and `truth g(y) = ...`; `{missing}` is "
                      "missing", some.span, code="E116")
    y_item, g_item = items["truth y"], items["truth g"]
    value = y_item.value
    if isinstance(value, E.Call) and value.func == "grid":
        points = c.grid(value, c.env, c.d, "truth y", MAX_ATOMS)
    else:
        points = c.point_list(value, c.env, c.d, "truth y")
    if g_item.arg is not None:
        c.fixed_name(g_item.arg, "y", "argument of the true g")
        values = c.per_point(g_item.value, points, "y", "truth g(y)")
        return Truth(_frozen(points, 2), _frozen(values, 1), g_item.value)
    values = c.const(g_item.value, c.env, "truth g")
    if values.ndim == 0:
        values = np.full(points.shape[0], float(values))
    if values.shape != (points.shape[0],):
        raise c.error(f"truth g must have one value per true atom ({points.shape[0]}), got shape "
                      f"{values.shape}", g_item.value.span, code="E140")
    return Truth(_frozen(points, 2), _frozen(values, 1))


def _calls(expr: E.Expr):
    return (node for node in E.walk(expr) if isinstance(node, E.Call))  # no recursion: long chains
