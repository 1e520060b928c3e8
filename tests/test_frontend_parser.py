"""Syntax: spans on syntax nodes, and syntax errors rewritten to point where the user edits."""

from __future__ import annotations

import pytest

import hjdsl
from hjdsl.errors import SpecError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.parser import parse_syntax
from hjdsl.model import expr as E

OK_TAIL = "hamiltonian H(p) = |p|^2\nparticles y = [0, 1]\ninitial g(y) = y\n"


def first_error(text: str):
    with pytest.raises(SpecError) as info:
        hjdsl.parse(text, name="s.hj")
    return info.value.diagnostics[0], info.value


def test_syntax_nodes_carry_spans():
    spec = parse_syntax("model m \"d\"\ndim 2\nlet A = [[2, 0.5], [0.5, 1]]\n"
                        "hamiltonian H(p) = p' A p   # comment\n", "f.hj")
    model, dim, let, ham = spec.statements
    assert isinstance(model, S.ModelDecl) and model.description == "d"
    assert (model.name.span.line, model.name.span.col, model.name.span.end_col) == (1, 7, 8)
    assert (dim.value.span.line, dim.value.span.col) == (2, 5)
    assert isinstance(let.value, E.Vector) and let.value.span.col == 9
    assert let.value.span.end_col == len("let A = [[2, 0.5], [0.5, 1]]") + 1
    assert ham.form == "p' A p"  # trailing spaces and the comment are not part of the form
    assert (ham.form_span.col, ham.form_span.end_col) == (20, 26)


def test_expression_tree_shape_and_precedence():
    spec = parse_syntax("let e = -2^2 + 3*y[1]/t\n", "f.hj")
    e = spec.statements[0].value
    assert isinstance(e, E.Binary) and e.op == "+"
    assert isinstance(e.left, E.Unary) and isinstance(e.left.operand, E.Binary)
    assert e.left.operand.op == "^"
    assert e.right.op == "/" and e.right.left.op == "*"
    assert isinstance(e.right.left.right, E.Index) and e.right.left.right.index == 1


@pytest.mark.parametrize("text,line,col,message", [
    # missing value: at the END of `=`, not at the start of the next line; comments skipped
    ("model m\ndim 1\ntime t =\n" + OK_TAIL, 3, 9, "missing value after `=`"),
    ("model m\ndim 1\ntime t =    # later\n" + OK_TAIL, 3, 9, "missing value after `=`"),
    ("model m\ndim 1\ntime t =\n\n# comment\n\n" + OK_TAIL, 3, 9, "missing value after `=`"),
    ("model m\ndim\n" + OK_TAIL, 2, 4, "missing value after `dim`"),
    ("model m\ndim 1\n" + OK_TAIL + "initial g(y) =", 6, 15, "missing value after `=`"),
    ("model m\ndim 1\ntime t\n" + OK_TAIL, 3, 7, "expected `=` after `t`"),
    # unterminated strings and brackets point at the opening
    ('model m "abc\ndim 1\n' + OK_TAIL, 1, 9, "unterminated string"),
    ("model m\ndim 1\nlet a = [1, (2 + 3]\n" + OK_TAIL, 3, 19, "the `(` at column 13 is still open"),
    ("model m\ndim 1\nlet a = [[1, 2], [3, 4]\n" + OK_TAIL, 3, 9, "unterminated `[`"),
    ("model m\ndim 1\nlet a = abs((1)\n" + OK_TAIL, 3, 12, "unterminated `(`"),
    ("model m\ndim 1\ndata synthetic n = 3 {\n x ~ uniform(0, 1)\n" + OK_TAIL, 3, 22,
     "unterminated block"),
    # two statements, stray tokens, unknown keywords and characters
    ("model m dim 1\n" + OK_TAIL, 1, 9, "two declarations on one line: `dim`"),
    ("model m\ndim 1 1\n" + OK_TAIL, 2, 7, "unexpected `1` after the end of the declaration"),
    ("model m\ndims 1\n" + OK_TAIL, 2, 1, "unknown declaration `dims`"),
    ("model m\ndim 1\nlet a = 1 $ 2\n" + OK_TAIL, 3, 11, "unexpected character `$`"),
    ("model m\r\ndim 1\r\ntime t =\r\n" + OK_TAIL, 3, 9, "missing value after `=`"),
])
def test_syntax_error_positions(text, line, col, message):
    diag, _ = first_error(text)
    assert message in diag.message
    assert (diag.span.file, diag.span.line, diag.span.col) == ("s.hj", line, col)


def test_caret_rendering_of_a_missing_value():
    diag, err = first_error("model m\ndim 1\ntime t =   # horizon\n" + OK_TAIL)
    lines = diag.render(err.source).splitlines()
    assert lines[0] == "s.hj:3:9: error: missing value after `=`"
    assert lines[1] == "    3 | time t =   # horizon"
    assert lines[2] == "      |         ^"
    assert lines[3] == "  hint: write it as: time t = 1"


def test_all_syntax_errors_of_a_file_are_reported():
    _, err = first_error("model m\ndim 1 2\ntime t =\nlet a = [1\nlet b = 1 let c = 2\n" + OK_TAIL)
    assert [(d.span.line, d.code) for d in err.diagnostics] == [
        (2, "E001"), (3, "E002"), (4, "E004"), (5, "E005")]


def test_block_syntax_forms():
    spec = parse_syntax('data "f.csv" {\n  x = [x1, x2]; value = v\n}\n'
                        "data synthetic n = 5 seed = 2 { x ~ normal(0, 1); value = x }\n", "f.hj")
    file_data, synthetic = spec.statements
    assert file_data.path == "f.csv" and [i.key.text for i in file_data.items] == ["x", "value"]
    assert file_data.path_span.col == 6
    assert synthetic.path is None and [s.key.text for s in synthetic.settings] == ["n", "seed"]
    assert synthetic.items[0].op == "~" and isinstance(synthetic.items[0].value, S.Dist)


def test_keywords_are_whole_words_and_contextual():
    # `dataset`, `timer` and `random_shift` are names, not keywords
    m = hjdsl.parse("model dataset\ndim 1\nlet timer = 2\nlet random_shift = 1\n"
                    "hamiltonian H(p) = |p|^2\nparticles y = [0, 1]\n"
                    "initial g(y) = timer * y + random_shift\n")
    assert m.name == "dataset" and m.g.tolist() == [1.0, 3.0]


def test_index_must_be_a_whole_number():
    diag, _ = first_error("model m\ndim 1\n" + OK_TAIL.replace("g(y) = y", "g(y) = y[0.5]"))
    assert diag.message.startswith("an index must be a whole number") and diag.span.col == 18
