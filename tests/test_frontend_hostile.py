"""Hostile specs: long chains work, deep nesting and extremes are located errors, budgets come first."""

from __future__ import annotations

import functools
import operator
import random
import tracemalloc

import numpy as np
import pytest
from lark.exceptions import UnexpectedInput

import hjdsl
from hjdsl.errors import HJError, SpecError
from hjdsl.frontend import parser as parser_module
from hjdsl.frontend.grammar import lark_parser
from hjdsl.frontend.syntax_errors import blank_statement, describe_syntax_error
from hjdsl.model.limits import MAX_NESTING, MAX_SPEC_BYTES, MEMORY_ENV

HEAD = "model m\ndim 1\nhamiltonian H(p) = |p|^2\n"
BODY = HEAD + "particles y = [-1, 2]\ninitial g(y) = abs(y)\n"
OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def codes(text: str) -> list[str]:
    with pytest.raises(HJError) as info:
        hjdsl.parse(text)
    return [d.code for d in info.value.errors]


# --- long flat chains are values, not RecursionErrors ---------------------------------------
@pytest.mark.parametrize("ops", ["+-", "*/"])
def test_a_long_flat_chain_is_a_left_fold(ops):
    rng = random.Random(len(ops))
    numbers = [float(f"{rng.uniform(0.5, 2.0):.3g}") for _ in range(5000)]  # past the recursion limit
    signs = [rng.choice(ops) for _ in numbers[1:]]
    text = repr(numbers[0]) + "".join(f"{op}{x!r}" for op, x in zip(signs, numbers[1:]))
    want = functools.reduce(lambda acc, pair: OPS[pair[0]](acc, pair[1]), zip(signs, numbers[1:]),
                            numbers[0])
    m = hjdsl.parse(BODY + f"let a = {text}\n")
    assert float(m.constants["a"]) == want  # same operations in the same order: bit-identical


def test_a_long_chain_of_y_is_evaluated_per_atom():
    m = hjdsl.parse(HEAD + "particles y = [-1, 2]\ninitial g(y) = " + " + ".join(["y"] * 3000) + "\n")
    assert m.g.tolist() == [-3000.0, 6000.0]
    chained = hjdsl.parse(BODY + "let a = [4, 5]" + "[0]" * 3000 + "\n")  # y[0] of a number is itself
    assert float(chained.constants["a"]) == 4.0


# --- nesting: up to the limit works, one more is a located error ----------------------------
def test_nesting_up_to_the_limit_works_and_one_more_is_refused():
    nested = lambda k: "abs(" * k + "y" + ")" * k  # noqa: E731
    assert hjdsl.parse(HEAD + f"particles y = [-1, 2]\ninitial g(y) = {nested(MAX_NESTING - 1)}\n"
                       ).g.tolist() == [1.0, 2.0]
    with pytest.raises(SpecError) as info:
        hjdsl.parse(HEAD + f"particles y = [-1, 2]\ninitial g(y) = {nested(MAX_NESTING + 1)}\n")
    (diag,) = info.value.errors
    assert diag.code == "E008" and diag.span.line == 5 and "nested too deeply" in diag.message


@pytest.mark.parametrize("depth,ok", [(32, True), (33, False), (2000, False)])
def test_lists_nested_past_numpy_axes_are_refused(depth, ok):
    text = BODY + "let a = " + "[" * depth + "1" + "]" * depth + "\n"
    if ok:
        assert hjdsl.parse(text).constants["a"].ndim == depth
    else:
        assert codes(text) in (["E204"], ["E008"])


# --- numeric extremes: located spec errors, never OverflowError / ValueError ----------------
@pytest.mark.parametrize("text,code", [
    (HEAD + "particles y = [-1, 2]\ninitial g(y) = y[1e309]\n", "E105"),
    (HEAD + "particles y = [-1, 2]\ninitial g(y) = y[1e20]\n", "E205"),
    ("model m\ndim 15\nhamiltonian H(p) = |p|^2\nparticles y ~ normal(0, 1) [3]\n"
     "initial g ~ normal(0, 1)\nevaluate x = grid(0, 1, 1e300)\n", "E113"),
    (HEAD + "particles y = grid(0, 1, 1e300)\ninitial g(y) = y\n", "E113"),
    (HEAD + "particles y = [-1, 2]\ninitial g ~ lognormal(1000, 1)\n", "E109"),
    (HEAD + "particles y = random lognormal(1, 1e200) [4]\ninitial g(y) = y\n", "E109"),
    (HEAD + "particles y = random uniform(-1e308, 1e308) [4]\ninitial g(y) = y\n", "E117"),
    (HEAD + "particles y = random exponential(1e-320) [4]\ninitial g(y) = y\n", "E109"),
    (HEAD + "particles y = [-1, 2]\ninitial g(y) = y\nviscosity eps ~ lognormal(1e308, 1e308)\n",
     "E109"),
])
def test_numeric_extremes_are_spec_errors(text, code):
    assert code in codes(text)


# --- memory: refused with the figure, before anything that size is allocated ----------------
@pytest.mark.parametrize("size,ok", [(100, True), (2000, False)])
def test_broadcast_results_are_budgeted(monkeypatch, size, ok):
    monkeypatch.setenv(MEMORY_ENV, "16MiB")
    ones = "[" + ", ".join(["1"] * size) + "]"
    text = HEAD + f"particles y = grid(0, 1, 2000)\ninitial g(y) = sum(y * {ones})\n"
    if ok:  # 2,000 × 100 doubles: 1.6 MB
        np.testing.assert_allclose(hjdsl.parse(text).g, 100 * np.linspace(0, 1, 2000), rtol=1e-13)
        return
    with pytest.raises(SpecError) as info:  # 2,000 × 2,000 doubles: 30.5 MiB
        hjdsl.parse(text)
    assert info.value.errors[0].code == "E113" and "30.5 MiB" in info.value.errors[0].message


@pytest.mark.parametrize("spec", [
    "model m\ndim 100\nhamiltonian H(p) = |p|^2\nparticles y ~ normal(0, 1) [100000]\n"
    "initial g ~ normal(0, 1)\n",
    "model m\ndim 100\nhamiltonian H(p) = |p|^2\nparticles y = [[0]]\ninitial g ~ normal(0, 1)\n"
    "evaluate x = grid(0, 1, [100000" + ", 1" * 99 + "])\n",
])
def test_products_are_refused_before_allocating(monkeypatch, spec):
    """n and d are each within their limits; n × d (80 MB) is over a 64 MiB budget."""
    monkeypatch.setenv(MEMORY_ENV, "64MiB")
    tracemalloc.start()
    try:
        with pytest.raises(SpecError) as info:
            hjdsl.parse(spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.errors[0].code in ("E113", "E114") and peak < 16 << 20
    if info.value.errors[0].code == "E113":
        assert "over the 64.0 MiB budget" in info.value.errors[0].message


# --- size: a cap with a hint, and the work per byte stays flat -------------------------------
@pytest.mark.parametrize("extra,ok", [(MAX_SPEC_BYTES - len(BODY) - 1, True),
                                      (MAX_SPEC_BYTES + 10, False)])
def test_spec_size_cap(tmp_path, extra, ok):
    path = tmp_path / "big.hj"
    path.write_text(BODY + "#" * extra + "\n", encoding="utf-8")
    if ok:
        assert hjdsl.load(path).name == "m"
        return
    with pytest.raises(SpecError) as info:
        hjdsl.load(path)
    assert info.value.errors[0].code == "E902" and "data file" in info.value.errors[0].hint


def test_syntax_errors_cost_one_pass_over_the_file(monkeypatch):
    """Each error is found by parsing only what follows the last one (not the whole file again)."""
    text = BODY + "".join(f"let a{i} = {i}\n" for i in range(2000)) + "let b = )\n" * 10
    lengths = []
    real = lark_parser().parse
    monkeypatch.setattr(lark_parser(), "parse", lambda t, *a, **k: lengths.append(len(t)) or
                        real(t, *a, **k))
    with pytest.raises(SpecError) as info:
        hjdsl.parse(text)
    assert len(info.value.errors) == 10
    assert sum(lengths) < 1.1 * len(text)  # re-parsing all of it per error would be 10×


def _full_reparse(text: str) -> list:
    """The reference recovery: blank the failing statement and parse the whole text again."""
    work, out = (text if text.endswith("\n") else text + "\n"), []
    while True:
        try:
            lark_parser().parse(work)
            return out
        except UnexpectedInput as exc:
            out.append(describe_syntax_error(exc, work, "f.hj"))
            blanked = blank_statement(work, exc)
            if blanked == work or len(out) >= parser_module.MAX_SYNTAX_ERRORS:
                return out
            work = blanked


def test_partial_reparse_finds_the_same_errors_as_full_reparse():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_specs.py"
    spec = importlib.util.spec_from_file_location("fuzz_specs", script)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    corpus = [p.read_text(encoding="utf-8") for p in fuzz.EXAMPLES]
    rng = random.Random(7)
    compared = 0
    for _ in range(300):
        text = rng.choice([fuzz.token_edit, fuzz.splice, fuzz.byte_edit])(rng, rng.choice(corpus),
                                                                          corpus)
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")
        want = _full_reparse(text)
        try:
            got = parser_module.parse_syntax(text, "f.hj")
            assert want == [], want
        except SpecError as err:
            if err.errors[0].code in ("E105", "E205", "E008"):  # raised after a clean parse
                continue
            assert list(err.diagnostics) == want
            compared += len(want) > 1
    assert compared >= 20  # enough texts with several errors to exercise the restart


def test_a_long_chain_pickles_and_comes_back_equal():
    """Compiled programs are keyed by pickling the spec's IR: a 3,000-term chain must pickle."""
    import pickle

    from hjdsl.frontend.driver import parse_expression
    from hjdsl.model.expr import _flatten

    small = parse_expression("1 + 2*y[0] - abs(x, [1, 2]) / -max(y)")
    assert pickle.loads(pickle.dumps(small)) == small
    long = parse_expression(" + ".join(["y*y"] * 3000))
    assert _flatten(pickle.loads(pickle.dumps(long))) == _flatten(long)


@pytest.mark.parametrize("atoms,ok", [(100, True), (1000, False)])
def test_truth_functions_are_budgeted(monkeypatch, atoms, ok):
    """tropical(x) of a truth needs points × atoms × (d + 2) doubles: 400 × 1000 × 3 > 4 MiB."""
    monkeypatch.setenv(MEMORY_ENV, "4MiB")
    text = (HEAD + "particles y = [-1, 2]\ninitial g(y) = abs(y)\ndata synthetic {\n"
            f"  x = grid(-2.4, 2.4, 400)\n  truth y = grid(-2, 2, {atoms})\n"
            "  truth g(y) = abs(y)\n  value = tropical(x)\n}\n")
    if not ok:
        assert codes(text) == ["E113"]
        return
    x, y = np.linspace(-2.4, 2.4, 400), np.linspace(-2, 2, atoms)
    want = (x[:, None] * y / 2 - np.abs(y) - y**2 / 4).max(axis=1)  # max_j W_j x + b_j, t = 1
    np.testing.assert_allclose(hjdsl.parse(text).data.value, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", ["a" * 5000 + "/x.hj", ("b" * 300 + "/") * 3 + "x.hj",
                                  "bad\x00name.hj"])
def test_unusable_spec_names_are_spec_errors(name):
    """Names the file system cannot look up: parse() falls back to the cwd, load() refuses."""
    assert hjdsl.parse(BODY, name=name).name == "m"
    with pytest.raises(SpecError) as info:
        hjdsl.load(name)
    assert info.value.errors[0].code == "E901"
