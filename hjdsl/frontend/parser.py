"""Text → syntax tree: run the lark parser and turn its tree into frozen syntax nodes."""

from __future__ import annotations

from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

from hjdsl.errors import Diagnostic, Span, SpecError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.grammar import lark_parser
from hjdsl.frontend.syntax_errors import blank_statement, describe_syntax_error
from hjdsl.model import expr as E

MAX_SYNTAX_ERRORS = 20


def parse_syntax(text: str, file: str) -> S.Spec:
    """Parse .hj text into a `Spec`; raise SpecError listing every syntax error found.

    >>> spec = parse_syntax("model m\\ndim 1\\n", "m.hj")
    >>> [s.keyword.text for s in spec.statements]
    ['model', 'dim']
    """
    work = text if text.endswith("\n") else text + "\n"
    diagnostics: list[Diagnostic] = []
    while True:
        try:
            tree = lark_parser().parse(work)
            break
        except UnexpectedInput as exc:
            diagnostics.append(describe_syntax_error(exc, work, file))
            blanked = blank_statement(work, exc)
            if blanked == work or len(diagnostics) >= MAX_SYNTAX_ERRORS:
                break
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
    def expr(self, node) -> E.Expr:
        span = self.span(node)
        if isinstance(node, Token):  # a bare NUMBER / NAME never reaches here: rules wrap them
            raise AssertionError(f"unexpected token {node!r}")
        kids = node.children
        kind = node.data
        if kind == "number":
            return E.Num(span, float(kids[0]))
        if kind == "name":
            return E.Name(span, str(kids[0]))
        if kind == "binary":
            return E.Binary(span, str(kids[1]), self.expr(kids[0]), self.expr(kids[2]))
        if kind == "unary":
            return E.Unary(span, str(kids[0]), self.expr(kids[1]))
        if kind == "call":
            args = tuple(self.expr(a) for a in kids[1:] if a is not None)
            return E.Call(span, str(kids[0]), args)
        if kind == "vector":
            return E.Vector(span, tuple(self.expr(a) for a in kids if a is not None))
        if kind == "index":
            base, index = self.expr(kids[0]), self.expr(kids[1])
            return _index_node(span, base, index)
        raise AssertionError(f"unknown expression rule {kind}")


def _index_node(span: Span, base: E.Expr, index: E.Expr) -> E.Expr:
    """`y[i]` with a whole-number literal i; anything else is a spec error."""
    if isinstance(index, E.Num) and index.value == int(index.value) and index.value >= 0:
        return E.Index(span, base, int(index.value))
    raise SpecError.single("an index must be a whole number ≥ 0, like y[0]", index.span,
                           code="E105")
