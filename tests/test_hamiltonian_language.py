"""`hamiltonian H(p) = EXPR`: the form's parser, the convexity proof and the Hamiltonian built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hjdsl
from hjdsl.frontend import hamiltonian_expr as X
from hjdsl.frontend.hamiltonian_curvature import _Prover
from hjdsl.hamiltonians import norm, quadratic
from hjdsl.hamiltonians.composite import Atom, Max, Scaled, Sum

from conftest import run_cli_here


@pytest.fixture
def cli():
    """The commands run in this process (hjdsl.cli.main) as the shell runs them: no test here is
    about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


HEAD = "model m\ndim {d}\nlet a = 0.5\nlet m = -2\nlet A = [[2, 0.5], [0.5, 1]]\n" \
       "viscosity eps = 0\n"


def spec(form: str, d: int = 2) -> str:
    return (HEAD.format(d=d) + f"hamiltonian H(p) = {form}\nparticles y = grid(-1, 1, 3)\n"
            "initial g = 0\n")


def ham(form: str, d: int = 2):
    return hjdsl.parse(spec(form, d)).hamiltonian


def error(form: str, d: int = 2):
    with pytest.raises(hjdsl.HJError) as info:
        hjdsl.parse(spec(form, d))
    return info.value.diagnostics[0]


A = np.array([[2, 0.5], [0.5, 1]])
P = np.random.default_rng(0).normal(size=(50, 2)) * 3


def _norm2(p):
    return np.sqrt((p ** 2).sum(-1))


def _huber(r, delta):
    return np.where(r <= delta, r ** 2, 2 * delta * r - delta ** 2)


# H(p) written independently in numpy, for each accepted form
ACCEPTED = [
    ("sqrt(1 + |p|^2)", lambda p: np.sqrt(1 + (p ** 2).sum(-1))),
    ("2*sqrt(a + 4*|p|^2)", lambda p: 2 * np.sqrt(0.5 + 4 * (p ** 2).sum(-1))),
    ("huber(|p|, 0.5)", lambda p: _huber(_norm2(p), 0.5)),
    ("3*huber(|p|_2, a)/2", lambda p: 1.5 * _huber(_norm2(p), 0.5)),
    ("|p|_1 + |p|^2", lambda p: np.abs(p).sum(-1) + (p ** 2).sum(-1)),
    ("max(|p|_1, 2*|p|_inf, |p|)", lambda p: np.maximum.reduce(
        [np.abs(p).sum(-1), 2 * np.abs(p).max(-1), _norm2(p)])),
    ("max(|p|^2, p' A p) + 0.1*|p|_2", lambda p: np.maximum(
        (p ** 2).sum(-1), np.einsum("ni,ij,nj->n", p, A, p)) + 0.1 * _norm2(p)),
    ("|p|^2 - (-|p|_1)", lambda p: (p ** 2).sum(-1) + np.abs(p).sum(-1)),
    ("m*(-|p|_inf) + (huber(|p|, 1))", lambda p: 2 * np.abs(p).max(-1) + _huber(_norm2(p), 1)),
]


@pytest.mark.parametrize("form,h", ACCEPTED, ids=[f for f, _ in ACCEPTED])
def test_accepted_forms_build_the_h_they_say(form, h):
    built = ham(form)
    assert built.text == form
    np.testing.assert_allclose(built.value(P), h(P), rtol=1e-13)


@pytest.mark.parametrize("form,expected", [
    ("|p|^2", quadratic(np.eye(2), "|p|^2")),
    ("a*|p|^2", quadratic(0.5 * np.eye(2), "a*|p|^2")),
    ("p' A p", quadratic(A, "p' A p")),
    ("|p|_1", norm("l1", 1.0, "|p|_1")),
    ("0.25*|p|_inf", norm("linf", 0.25, "0.25*|p|_inf")),
    ("-(-|p|_1)", norm("l1", 1.0, "-(-|p|_1)")),
    ("|p|^2/4", quadratic(0.25 * np.eye(2), "|p|^2/4")),
    ("2*p' A p", quadratic(2 * A, "2*p' A p")),
    ("|p|^2 + p' A p", quadratic(np.eye(2) + A, "|p|^2 + p' A p")),  # a sum of quadratics
    ("|p|^2 + 3*|p|^2", quadratic(4 * np.eye(2), "|p|^2 + 3*|p|^2")),
])
def test_simple_forms_are_the_quadratic_and_norm_families(form, expected):
    built = ham(form)
    assert type(built) is type(expected)
    assert (built.kind, built.text, built.scale, built.isotropic) == (
        expected.kind, expected.text, expected.scale, expected.isotropic)
    if expected.matrix is None:
        assert built.matrix is None
    else:
        np.testing.assert_allclose(built.matrix, expected.matrix, rtol=1e-15)


def test_building_h_at_check_time_imports_no_scipy():
    """Every form is built through composite.build, whose quad atoms factor A⁻¹ on first use."""
    composite = spec("max(|p|^2, p' A p) + 0.1*|p|_2")
    code = ("import sys, hjdsl\n"
            "q = hjdsl.load('examples/aniso_2d.hj').hamiltonian\n"
            f"c = hjdsl.parse({composite!r}).hamiltonian\n"
            "assert 'scipy' not in sys.modules, 'scipy at check'\n"
            "q.factor, c.tree.terms[0].terms[1].factor\n"
            "assert 'scipy' in sys.modules, 'the factor needs no scipy: this test proves nothing'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr


def test_a_quad_atom_factors_once_and_refuses_a_matrix_that_is_not_pd():
    atom = Atom("quad", matrix=A)
    L = atom.factor
    np.testing.assert_allclose(L @ L.T, np.linalg.inv(A), rtol=1e-14)
    assert atom.factor is L and not L.flags.writeable  # every use derives from the one factor
    with pytest.raises(ValueError):
        Atom("quad", matrix=np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_composite_tree_shape():
    built = ham("max(|p|_1, 2*sqrt(1 + |p|^2)) + huber(|p|, 0.5)")
    tree = built.tree
    assert isinstance(tree, Sum) and len(tree.terms) == 2
    mx, hub = tree.terms
    assert isinstance(mx, Max) and hub.name == "huber" and hub.delta == 0.5
    l1, rel = mx.terms
    assert l1.name == "l1" and isinstance(rel, Scaled) and rel.a == 2.0 and rel.node.c == 1.0


REJECTED = [  # form, code, message start, column (1-based, within the form), width
    ("|p|^2 - |p|_1", "E125", "cannot prove H convex: `|p|_1` is subtracted", 9, 5),
    ("sqrt(|p|)", "E125", "cannot prove H convex: `sqrt(|p|)` is the square root", 1, 9),
    ("-|p|_2", "E125", "cannot prove H convex: `|p|_2` has a minus sign", 1, 6),
    ("|p|_1 + -|p|_2", "E125", "cannot prove H convex: `|p|_2` has a minus sign", 9, 6),
    ("|p|_1 * |p|_2", "E125", "cannot prove H convex: `|p|_1 * |p|_2` multiplies", 1, 13),
    ("2^|p|_1", "E125", "cannot prove H convex: `2^|p|_1` has p in its exponent", 1, 7),
    ("(|p|_1 + |p|^2)^2", "E125", "cannot prove H convex: `(|p|_1 + |p|^2)^2` raises", 1, 17),
    ("max(|p|_1, -|p|^2)", "E125", "cannot prove H convex: `-|p|^2` is concave inside max", 12, 6),
    ("sqrt(1 + p' A p)", "E125", "cannot prove H convex: `sqrt(1 + p' A p)`", 1, 16),
    ("sqrt(1 - |p|^2)", "E125", "cannot prove H convex", 1, 15),
    ("m*|p|_1", "E112", "the coefficient of the Hamiltonian must be > 0, got -2", 1, 1),
    ("0*|p|_1", "E112", "the coefficient of the Hamiltonian must be > 0, got 0", 1, 1),
    ("|p|_1/(-2)", "E112", "the divisor of the Hamiltonian must be > 0, got -2", 7, 4),
    ("|p|_1/(1-1)", "E112", "the Hamiltonian divides by 0", 7, 5),
    ("sqrt(0 + |p|^2)", "E112", "sqrt(c + |p|^2) needs a constant c > 0, got 0", 6, 1),
    ("huber(|p|, 0)", "E112", "δ in huber(|p|, δ) must be > 0, got 0", 12, 1),
    ("huber(|p|, |p|_1)", "E120", "δ in huber(|p|, δ) must be a constant", 12, 5),
    ("huber(|p|)", "E120", "huber() takes 2 arguments", 1, 10),
    ("|p|^3", "E120", "unknown Hamiltonian form `|p|^3`", 1, 5),
    ("|p|_3", "E120", "unknown Hamiltonian form `|p|_3`", 1, 5),
    ("|p|_1^2", "E120", "unknown Hamiltonian form `|p|_1^2`", 1, 7),
    ("|q|^2", "E120", "unknown Hamiltonian form `|q|^2`", 1, 5),
    ("p", "E120", "`p` must appear inside an atom", 1, 1),
    ("3", "E120", "H(p) = 3 does not depend on `p`", 1, 1),
    ("|p|^2 + 1", "E120", "the constant term `1` is not supported", 9, 1),
    ("max(|p|_1, 1)", "E120", "the constant term `1` is not supported", 12, 1),
    ("exp(|p|)", "E120", "unknown function `exp`", 1, 3),
    ("|p|^2 @ 2", "E120", "unexpected character `@`", 7, 1),
    ("2 |p|^2", "E120", "unexpected `|`", 3, 1),
    ("(|p|^2", "E120", "expected `)` to close the `(`, found the end of the form", 7, 1),
    ("b*|p|^2", "E121", "unknown coefficient `b`", 1, 1),
    ("p' B p", "E121", "unknown matrix `B`", 4, 1),
    ("p' A q", "E120", "`q` is not the argument `p` of H", 6, 1),
    ("1e200*(1e200*|p|_1)", "E112", "the numbers in H = 1e200*(1e200*|p|_1) overflow", 1, 19),
    ("(" * 70 + "|p|^2" + ")" * 70, "E008", "the Hamiltonian is nested too deeply", 65, 1),
    ("+".join(["|p|_1"] * 80), "E113", "the Hamiltonian has 399 tokens; the limit is", 1, 479),
]


@pytest.mark.parametrize("form,code,message,col,width", REJECTED, ids=[r[0][:30] for r in REJECTED])
def test_rejected_forms_name_the_failing_subexpression(form, code, message, col, width):
    diag = error(form)
    assert (diag.code, diag.message[:len(message)]) == (code, message)
    form_col = len("hamiltonian H(p) = ")
    assert (diag.span.line, diag.span.col - form_col, diag.span.end_col - diag.span.col) == (
        7, col, width)
    if code == "E125":
        assert "|p|_inf, sqrt(c + |p|^2) and huber(|p|, δ)" in diag.hint


@pytest.mark.parametrize("form,curvature,sign", [
    ("3 - 5", "constant", "nonpositive"), ("|p|^2", "convex", "nonnegative"),
    ("-|p|_1", "concave", "nonpositive"), ("2 - |p|_1", "concave", "unknown"),
    ("|p|_1 - 1", "convex", "unknown"), ("-(-|p|_1) + 1", "convex", "nonnegative"),
    ("max(|p|_1, huber(|p|, 1))", "convex", "nonnegative"), ("-2*sqrt(1 + |p|^2)", "concave",
                                                             "nonpositive"),
])
def test_curvature_and_sign_of_subexpressions(form, curvature, sign):
    value = _Prover(form, "p", "H", lambda n: 1.0, lambda n: np.eye(2)).value(X.parse(form))
    assert (value.curvature, value.sign) == (curvature, sign)


def test_parser_columns():
    tree = X.parse("max(|p|_ inf, p'A p) / 2")
    assert (tree.tag, tree.text, tree.start, tree.end) == ("binary", "/", 0, 24)
    call = tree.args[0]
    func, *args = call.args
    assert (call.tag, func.text, (func.start, func.end)) == ("call", "max", (0, 3))
    assert [(a.tag, a.start, a.end) for a in args] == [("bars", 4, 12), ("quad", 14, 19)]
    assert args[0].text == "_inf" and [n.text for n in args[1].args] == ["p", "A", "p"]
    assert X.parse("(|p|_)").text == "_" and X.parse("|p|").text == ""  # |p|_ is not |p|


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="p|^_12inf()+-*/,' .sqrthubemaxA", max_size=30))
def test_any_form_is_a_model_or_a_located_spec_error(form):
    if not form.strip() or "#" in form:
        return
    try:
        hjdsl.parse(spec(form.strip()))
    except hjdsl.HJError as err:
        assert all(d.span is not None and d.span.line == 7 for d in err.diagnostics
                   if d.severity == "error")


def test_compile_info_prints_the_lagrangian_of_a_relativistic_h(cli, tmp_path):
    path = tmp_path / "rel.hj"
    path.write_text("model rel\ndim 1\nlet c = 0.25\nviscosity eps = 0\n"
                    "hamiltonian H(p) = 2*sqrt(c + |p|^2)\nparticles y = grid(-1, 1, 3)\n"
                    "initial g(y) = abs(y)\n")
    code, out, err = cli("compile", str(path), "--info")
    assert code == 0, err
    h = json.loads(out)["hamiltonian"]
    assert (h["text"], h["kind"]) == ("2*sqrt(c + |p|^2)", "composite")
    # (a·sqrt(c + |p|²))* = −sqrt(c)·sqrt(a² − |v|²) on |v| ≤ a
    assert h["lagrangian"] == "-sqrt(0.25)*sqrt(2^2 - |v|^2) on |v|_2 <= 2"
    labels = {view: fact["label"] for view, fact in h["exactness"].items()}
    assert labels["hopf_lax"] == labels["convex_lp"] == labels["grid"] == "exact"
    assert labels["hopf_cole"] == "structural" and labels["network"] == "none"
    assert h["exactness"]["network"]["reason"]
    assert {"isotropic", "scale", "matrix"} <= set(h)  # the keys of before stay


def test_compile_info_quadratic_keeps_its_keys_and_adds_l(cli):
    code, out, err = cli("compile", "examples/aniso_2d.hj", "--info")
    h = json.loads(out)["hamiltonian"]
    assert h["lagrangian"] == "v' A^-1 v/4"
    assert all(f["label"] == "exact" for v, f in h["exactness"].items() if v in
               ("network", "hopf_cole", "hopf_lax"))


@pytest.mark.parametrize("spec, expected", [
    ("examples/quickstart.hj", {"network": "exact", "tropical": "exact", "pde": "exact",
                                "convex": "exact"}),
    ("examples/relativistic_1d.hj", {
        "network": "none (the weight map to an LSE layer needs a quadratic H)",
        "tropical": "exact", "pde": "exact at eps = 0, none for eps > 0",
        "convex": "exact at eps = 0, structural analogue for eps > 0"}),
])
def test_compile_info_exact_summary_comes_from_the_labels(spec, expected):
    """`compile --info`'s four-view summary is worded from the Hamiltonian's own labels."""
    from hjdsl.commands.compile import info

    assert info(hjdsl.load(spec))["exact"] == expected
