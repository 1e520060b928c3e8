"""Check `hamiltonian H(p) = EXPR`: parse the form, prove it convex, build the Hamiltonian."""

from __future__ import annotations

import numpy as np

from hjdsl.errors import Span
from hjdsl.frontend import syntax as S
from hjdsl.frontend.hamiltonian_curvature import MaxOf, reduce
from hjdsl.frontend.hamiltonian_expr import FormError, parse
from hjdsl.hamiltonians import Hamiltonian
from hjdsl.hamiltonians.composite import Atom, Max, Scaled, Sum, build


def check_hamiltonian(c, decl: S.HamiltonianDecl | None) -> Hamiltonian:
    """The Hamiltonian of a `hamiltonian H(p) = FORM` declaration (c is the checker)."""
    if decl is None:
        raise _invalid()
    form, span = decl.form, decl.form_span

    def sub(start: int, end: int) -> Span:
        return Span(span.file, span.line, span.col + start, span.line,
                    span.col + min(end, len(form) + 1))

    try:
        terms = reduce(parse(form), form, decl.arg.text, decl.func.text, c.d,
                       lambda n: _coefficient(c, n.text, sub(n.start, n.end)),
                       lambda n: _matrix(c, n.text, sub(n.start, n.end)))
    except FormError as err:
        raise c.error(err.message, sub(err.start, err.end), code=err.code, hint=err.hint) from None
    try:
        return build(_tree(terms), form, c.d)
    except ValueError as err:  # a number the checks above let through, e.g. A+B not PD in float64
        raise c.error(f"H({decl.arg.text}) = {form} cannot be built: {err}", span,
                      code="E112") from None


def _tree(terms):
    """The hjdsl.hamiltonians.composite tree of Σ k·node (`build` picks the family)."""

    def node(n):
        if isinstance(n, MaxOf):
            return Max(tuple(_tree(a) for a in n.args))
        params = {"quad": "matrix", "relativistic": "c", "huber": "delta"}
        return Atom(n.name, **({params[n.name]: n.param} if n.name in params else {}))

    parts = tuple(node(n) if k == 1.0 else Scaled(k, node(n)) for k, n in terms)
    return parts[0] if len(parts) == 1 else Sum(parts)


def _invalid():
    from hjdsl.frontend.check_values import Invalid

    return Invalid("no hamiltonian")


def _coefficient(c, text: str, span: Span) -> float:
    """The value of a `let` scalar named in the form."""
    if text in c.env and np.ndim(c.env[text]) == 0:
        value = float(c.env[text])
    elif text in c.env:
        raise c.error(f"the coefficient `{text}` must be a number, not an array", span,
                      code="E122", hint="for a matrix write p' A p")
    else:
        raise c.error(f"unknown coefficient `{text}` in the Hamiltonian", span, code="E121",
                      hint="use a number or a name declared with `let`")
    return value  # its sign is the curvature checker's business: -a·|p|_1 is convex for a < 0


def _matrix(c, name: str, span: Span) -> np.ndarray:
    if name not in c.env:
        raise c.error(f"unknown matrix `{name}` in the Hamiltonian", span, code="E121",
                      hint=f"declare it first, e.g. let {name} = [[2, 0.5], [0.5, 1]]")
    a = np.asarray(c.env[name], dtype=float)
    d = c.d
    if a.ndim == 0 and d == 1:
        a = a.reshape(1, 1)
    where = f"`{name}` (line {c.let_lines.get(name, '?')})"
    if a.shape != (d, d):
        raise c.error(f"{where} must be a {d}×{d} matrix (dim is {d}), got shape {a.shape}", span,
                      code="E122")
    if not np.allclose(a, a.T, rtol=1e-12, atol=1e-12):
        i, j = np.unravel_index(np.argmax(np.abs(a - a.T)), a.shape)
        raise c.error(f"{where} is not symmetric: {name}[{i}][{j}] = {a[i, j]:g} but "
                      f"{name}[{j}][{i}] = {a[j, i]:g}", span, code="E123",
                      hint="H(p) = pᵀAp needs a symmetric positive definite A")
    smallest = float(np.linalg.eigvalsh(a).min())
    try:  # every view factors A once (Cholesky): it must succeed in float64, not only in theory
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        smallest = min(smallest, 0.0)
    if smallest <= 0:
        raise c.error(f"{where} is not positive definite: its smallest eigenvalue is "
                      f"{smallest:.4g}", span, code="E124",
                      hint="H(p) = pᵀAp needs a symmetric positive definite A")
    return a
