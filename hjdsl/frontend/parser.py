"""Text → syntax tree: run the lark parser and turn its tree into frozen syntax nodes."""

from __future__ import annotations

from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

from hjdsl.errors import Diagnostic, Span, SpecError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.grammar import lark_parser
from hjdsl.frontend.syntax_errors import (blank_statement, describe_syntax_error,
                                          statement_start)
from hjdsl.model import expr as E
from hjdsl.model.limits import MAX_NESTING

MAX_SYNTAX_ERRORS = 20
MAX_INDEX = 2**62


def parse_syntax(text: str, file: str) -> S.Spec:
    """Parse .hj text into a `Spec`; raise SpecError listing every syntax error found.

    >>> spec = parse_syntax("model m\\ndim 1\\n", "m.hj")
    >>> [s.keyword.text for s in spec.statements]
    ['model', 'dim']
    """
    work = text if text.endswith("\n") else text + "\n"
    diagnostics: list[Diagnostic] = []
    restart = 1  # the first line of the part that still has to be parsed
    while True:
        part = work if restart == 1 else "\n".join(work.split("\n")[restart - 1:])
        try:
            tree = lark_parser().parse(part)
            break
        except UnexpectedInput as exc:
            if restart > 1:
                exc.line = exc.line + restart - 1 if isinstance(exc.line, int) and exc.line >= 1 \
                    else exc.line
            diagnostics.append(describe_syntax_error(exc, work, file))
            blanked = blank_statement(work, exc)
            if blanked == work or len(diagnostics) >= MAX_SYNTAX_ERRORS:
                break
            # Everything above the blanked statement has parsed; only the rest is parsed again,
            # so finding k errors costs one pass over the file, not k.
            first = next(n for n, (a, b) in enumerate(zip(work.split("\n"), blanked.split("\n")),
                                                       1) if a != b)
            restart = max(restart, statement_start(blanked, first))
            work = blanked
        except LarkError as exc:  # pragma: no cover - lark internals; keep users away from them
            diagnostics.append(Diagnostic("error", f"cannot parse this file ({type(exc).__name__})",
                                          Span.point(file, 1, 1), code="E001"))
            break
    if diagnostics:
        raise SpecError(diagnostics, text)
    try:
        statements = tuple(_Builder(file).statement(t) for t in tree.children)
    except SpecError as err:  # a malformed index such as y[1.5]
        raise SpecError(err.diagnostics, text) from None
    return S.Spec(statements, text, file)


class _Builder:
    """Turns lark trees into syntax nodes; one method per grammar rule."""

    def __init__(self, file: str):
        self.file = file

    # --- positions --------------------------------------------------------------------
    def span(self, node) -> Span:
        if isinstance(node, Token):
            return Span(self.file, node.line, node.column, node.end_line, node.end_column)
        m = node.meta
        return Span(self.file, m.line, m.column, m.end_line, m.end_column)

    def ident(self, tok: Token) -> S.Ident:
        return S.Ident(str(tok), self.span(tok))

    # --- statements -----------------------------------------------------------------
    def statement(self, tree: Tree) -> S.Stmt:
        return getattr(self, "stmt_" + tree.data)(tree, self.ident(tree.children[0]), self.span(tree))

    def stmt_model(self, t, kw, span):
        _, name, desc = t.children
        return S.ModelDecl(kw, span, self.ident(name), str(desc)[1:-1] if desc is not None else "")

    def stmt_dim(self, t, kw, span):
        return S.DimDecl(kw, span, self.expr(t.children[1]))

    def stmt_time(self, t, kw, span):
        return S.TimeDecl(kw, span, self.ident(t.children[1]), self.expr(t.children[3]))

    def stmt_let(self, t, kw, span):
        return S.LetDecl(kw, span, self.ident(t.children[1]), self.expr(t.children[3]))

    def stmt_viscosity(self, t, kw, span):
        _, name, op, value = t.children
        return S.ViscosityDecl(kw, span, self.ident(name), str(op), self.value(value))

    def stmt_hamiltonian(self, t, kw, span):
        _, func, arg, _, form = t.children
        text = str(form).rstrip()
        form_span = Span(self.file, form.line, form.column, form.line, form.column + len(text))
        return S.HamiltonianDecl(kw, span, self.ident(func), self.ident(arg), text, form_span)

    def stmt_particles(self, t, kw, span):
        kids = t.children
        name, op = self.ident(kids[1]), str(kids[2])
        rest = kids[3:]
        if rest and isinstance(rest[0], Token) and rest[0].type == "RANDOM":
            op, rest = "random", rest[1:]
        value = self.value(rest[0])
        count = seed = None
        for sub in rest[1:]:
            if isinstance(sub, Tree) and sub.data == "count":
                count = self.expr(sub.children[0])
            elif isinstance(sub, Tree) and sub.data == "seed":
                seed = self.expr(sub.children[1])
        return S.ParticlesDecl(kw, span, name, op, value, count, seed)

    def stmt_initial(self, t, kw, span):
        _, name, arg, op, value = t.children
        return S.InitialDecl(kw, span, self.ident(name), self.ident(arg) if arg is not None else None,
                             str(op), self.value(value))

    def stmt_data(self, t, kw, span):
        source = t.children[1]
        path = str(source)[1:-1] if source.type == "STRING" else None
        settings, items = [], []
        for sub in t.children[2:]:
            if sub.data == "setting":
                settings.append(self.setting(sub))
            else:
                items.extend(self.item(i) for i in sub.children)
        return S.DataDecl(kw, span, path, self.span(source), tuple(settings), tuple(items))

    def stmt_observe(self, t, kw, span):
        return S.ObserveDecl(kw, span, self.ident(t.children[1]), self.dist(t.children[3]))

    def stmt_split(self, t, kw, span):
        return S.SplitDecl(kw, span, tuple(self.setting(s) for s in t.children[1:]))

    def stmt_evaluate(self, t, kw, span):
        return S.EvaluateDecl(kw, span, self.ident(t.children[1]), self.expr(t.children[3]))

    def stmt_fit(self, t, kw, span):
        return S.FitDecl(kw, span, tuple(self.setting(s) for s in t.children[1:]))

    def stmt_attention(self, t, kw, span):
        _, name, source, *rest = t.children
        settings = tuple(self.setting(s) for s in rest if s.data == "setting")
        arrays = tuple(S.NamedArray(self.ident(s.children[0]), str(s.children[2])[1:-1],
                                    self.span(s)) for s in rest if s.data == "named_array")
        path = str(source)[1:-1] if source is not None and source.type == "STRING" else None
        return S.AttentionDecl(kw, span, self.ident(name) if name is not None else None, path,
                               self.span(source) if source is not None else kw.span,
                               source is not None and source.type == "SYNTHETIC", settings, arrays)

    def stmt_weights(self, t, kw, span):
        _, source, *rest = t.children
        settings = tuple(self.setting(s) for s in rest if s.data == "setting")
        arrays = tuple(S.NamedArray(self.ident(s.children[0]), str(s.children[2])[1:-1],
                                    self.span(s)) for s in rest if s.data == "named_array")
        return S.WeightsDecl(kw, span, str(source)[1:-1], self.span(source), settings, arrays)

    def stmt_layer(self, t, kw, span):
        _, name, kind, source, *rest = t.children
        settings = tuple(self.setting(s) for s in rest if s.data == "setting")
        arrays = tuple(S.NamedArray(self.ident(s.children[0]), str(s.children[2])[1:-1],
                                    self.span(s)) for s in rest if s.data == "named_array")
        items = tuple(self.item(i) for s in rest if s.data == "block" for i in s.children)
        return S.LayerDecl(kw, span, self.ident(name), self.ident(kind) if kind is not None else None,
                           str(source)[1:-1] if source is not None else None,
                           self.span(source if source is not None else name), settings, arrays, items)

    def stmt_residual(self, t, kw, span):
        _, cell, *rest = t.children
        settings = tuple(self.setting(s) for s in rest if s.data == "setting")
        items = tuple(self.item(i) for s in rest if s.data == "block" for i in s.children)
        return S.FlowDecl(kw, span, self.ident(cell) if cell is not None else None, settings, items)

    stmt_recurrent = stmt_residual

    def stmt_study(self, t, kw, span):
        _, name, text, *rest = t.children
        settings = tuple(self.setting(s) for s in rest if s.data == "setting")
        items = tuple(self.item(i) for s in rest if s.data == "block" for i in s.children)
        return S.StudyDecl(kw, span, self.ident(name) if name is not None else None,
                           str(text)[1:-1] if text is not None else "", settings, items)

    # --- pieces -------------------------------------------------------------------------
    def setting(self, t: Tree) -> S.Setting:
        key, _, value = t.children
        return S.Setting(self.ident(key), self.expr(value), self.span(t))

    def item(self, t: Tree) -> S.Item:
        kids = t.children
        if kids[0].type == "TRUTH":
            _, key, arg, _, value = kids
            return S.Item(self.ident(key), "=", self.expr(value), self.span(t), truth=True,
                          arg=self.ident(arg) if arg is not None else None)
        key, op, value = kids
        return S.Item(self.ident(key), str(op), self.value(value), self.span(t))

    def value(self, node):
        """An expression or, for `~` forms, a distribution."""
        if isinstance(node, Tree) and node.data == "dist":
            return self.dist(node)
        return self.expr(node)

    def dist(self, t: Tree) -> S.Dist:
        family, *args = t.children
        out = []
        for a in args:
            if a is None:
                continue
            if len(a.children) == 1:
                out.append(S.DistArg(None, self.expr(a.children[0]), self.span(a)))
            else:
                name, _, value = a.children
                out.append(S.DistArg(self.ident(name), self.value(value), self.span(a)))
        return S.Dist(self.ident(family), tuple(out), self.span(t))

    # --- expressions --------------------------------------------------------------------
    def expr(self, root) -> E.Expr:
        """The expression IR of a lark expression tree, built without recursion.

        A chain such as 1+1+…+1 is a left-deep tree as deep as it is long; the nodes are built
        children first from a pre-order list. Nesting (brackets, calls, signs, powers) deeper
        than MAX_NESTING is a spec error: no reader of a formula needs it.
        """
        order, stack = [], [root]
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(k for k in node.children if isinstance(k, Tree))
        built: dict[int, tuple[E.Expr, int]] = {}  # id(tree) -> (node, nesting depth)
        for node in reversed(order):
            kids = [built[id(k)] if isinstance(k, Tree) else k for k in node.children]
            value, depth = self.expr_node(node, kids)
            if depth > MAX_NESTING:
                raise SpecError.single(f"expression nested too deeply (the limit is {MAX_NESTING} "
                                       "levels of brackets, calls, signs and powers)",
                                       self.span(node), code="E008",
                                       hint="give inner parts a name with `let`")
            built[id(node)] = (value, depth)
        return built[id(root)][0]

    def expr_node(self, node: Tree, kids: list) -> tuple[E.Expr, int]:
        """One IR node from its already-built children ((node, depth) pairs or tokens)."""
        span = self.span(node)
        kind = node.data
        if kind == "number":
            return E.Num(span, float(kids[0])), 0
        if kind == "name":
            return E.Name(span, str(kids[0])), 0
        if kind == "binary":
            (left, dl), op, (right, dr) = kids
            # A left operand continues a flat chain (a + b + c); a right one is nested in it.
            return E.Binary(span, str(op), left, right), max(dl, dr + 1)
        if kind == "unary":
            operand, depth = kids[1]
            return E.Unary(span, str(kids[0]), operand), depth + 1
        if kind in ("call", "vector"):
            parts = [k for k in (kids[1:] if kind == "call" else kids) if k is not None]
            depth = 1 + max((d for _, d in parts), default=0)
            items = tuple(e for e, _ in parts)
            return (E.Call(span, str(kids[0]), items) if kind == "call"
                    else E.Vector(span, items)), depth
        if kind == "index":
            (base, depth), (index, _) = kids
            return _index_node(span, base, index), depth  # y[0][1] is a flat chain too
        raise AssertionError(f"unknown expression rule {kind}")


def _index_node(span: Span, base: E.Expr, index: E.Expr) -> E.Expr:
    """`y[i]` with a whole-number literal i; anything else is a spec error."""
    # An index larger than any array (y[1e309] is y[inf]) is out of range, not a number to convert.
    if isinstance(index, E.Num) and index.value >= 0 and index.value.is_integer():
        if index.value > MAX_INDEX:
            raise SpecError.single(f"index {index.value:g} is out of range for any vector",
                                   index.span, code="E205")
        return E.Index(span, base, int(index.value))
    raise SpecError.single("an index must be a whole number ≥ 0, like y[0]", index.span,
                           code="E105")
