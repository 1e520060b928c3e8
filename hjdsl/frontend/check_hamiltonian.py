"""Recognise and check the Hamiltonian form: a*|p|^2, p' A p, |p|_1, |p|_2, |p|_inf."""

from __future__ import annotations

import re

import numpy as np

from hjdsl.errors import Span
from hjdsl.frontend import syntax as S
from hjdsl.hamiltonians import Hamiltonian, norm, quadratic

SUPPORTED = "supported forms are a*|p|^2, p' A p, |p|_1, |p|_2, |p|_inf (a > 0, A a `let` matrix)"
_NORM = re.compile(r"^(?:(?P<coef>[^*|]+?)\s*\*\s*)?\|\s*(?P<p>[A-Za-z_]\w*)\s*\|\s*"
                   r"(?:\^\s*(?P<power>\S+)|_\s*(?P<q>\w+))$")
_QUAD = re.compile(r"^(?P<p1>[A-Za-z_]\w*)\s*'\s*(?P<A>[A-Za-z_]\w*)\s+(?P<p2>[A-Za-z_]\w*)$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_KINDS = {"1": "l1", "2": "l2", "inf": "linf"}


def check_hamiltonian(c, decl: S.HamiltonianDecl | None) -> Hamiltonian:
    """The Hamiltonian of a `hamiltonian H(p) = FORM` declaration (c is the checker)."""
    if decl is None:
        raise _invalid()
    form, span, p = decl.form, decl.form_span, decl.arg.text

    def sub(start: int, end: int) -> Span:
        return Span(span.file, span.line, span.col + start, span.line, span.col + end)

    quad = _QUAD.match(form)
    if quad:
        for key in ("p1", "p2"):
            if quad[key] != p:
                raise c.error(f"`{quad[key]}` is not the argument `{p}` of {decl.func.text}",
                              sub(*quad.span(key)), code="E120", hint=SUPPORTED)
        matrix = _matrix(c, quad["A"], sub(*quad.span("A")))
        return quadratic(matrix, form)
    m = _NORM.match(form)
    power_ok = m is not None and (m["power"] is None or _is_two(m["power"]))
    if not m or m["p"] != p or not power_ok or (
            m["q"] is not None and m["q"] not in _KINDS):
        hint = SUPPORTED
        if m and m["p"] != p:
            hint = f"the argument is `{p}`: write |{p}|; " + SUPPORTED
        raise c.error(f"unknown Hamiltonian form `{form}`", span, code="E120", hint=hint)
    scale = 1.0
    if m["coef"] is not None:
        scale = _coefficient(c, m["coef"].strip(), sub(*m.span("coef")))
    if m["power"] is not None:
        return quadratic(scale * np.eye(c.d), form)
    return norm(_KINDS[m["q"]], scale, form)


def _is_two(text: str) -> bool:
    return bool(_NUMBER.match(text)) and float(text) == 2.0


def _invalid():
    from hjdsl.frontend.check_values import Invalid

    return Invalid("no hamiltonian")


def _coefficient(c, text: str, span: Span) -> float:
    if _NUMBER.match(text):
        value = float(text)
    elif text in c.env and np.ndim(c.env[text]) == 0:
        value = float(c.env[text])
    elif text in c.env:
        raise c.error(f"the coefficient `{text}` must be a number, not an array", span,
                      code="E122", hint="for a matrix write p' A p")
    else:
        raise c.error(f"unknown coefficient `{text}` in the Hamiltonian", span, code="E121",
                      hint="use a number or a name declared with `let`")
    if not 0 < value < np.inf:
        raise c.error(f"the coefficient of the Hamiltonian must be > 0, got {value:g}", span,
                      code="E112")
    return value


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
        raise c.error(f"{where} is not positive definite: its smallest eigenvalue is {smallest:.4g}",
                      span, code="E124", hint="H(p) = pᵀAp needs a symmetric positive definite A")
    return a
