"""Property tests: arbitrary bytes and mutated examples never crash the parser or the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hjdsl
from hjdsl.cli import main
from hjdsl.errors import HJError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.hj"))
SOURCES = [p.read_text() for p in EXAMPLES]
# Tokens of the examples: words, numbers, strings, punctuation, newlines (kept so lines survive).
TOKEN = re.compile(r'"[^"\n]*"|\w+(?:\.\d+)?|\n|[^\s\w]')
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_hjerror(text, name):
    """Only HJError may escape; a valid result must be a Model."""
    try:
        model = hjdsl.parse(text, name=name)
    except HJError as err:
        assert err.diagnostics, "an HJError without diagnostics"
        err.render()  # rendering must not crash either
        return None
    assert isinstance(model, hjdsl.Model)
    return model


@st.composite
def mutated_example(draw):
    i = draw(st.integers(0, len(SOURCES) - 1))
    tokens = TOKEN.findall(SOURCES[i])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "insert"]))
        k = draw(st.integers(0, len(tokens) - 1))
        if op == "delete":
            tokens.pop(k)
        elif op == "duplicate":
            tokens.insert(k, tokens[k])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[k], tokens[j] = tokens[j], tokens[k]
        elif op == "truncate":
            tokens = tokens[:k]
        else:
            tokens.insert(k, draw(st.sampled_from(["(", "]", "{", '"', "~", "=", "-", "1e999",
                                                   "data", "dim", "\n", "#", "0", "@", "\t"])))
        if not tokens:
            break
    return i, " ".join(tokens)


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_hjerror(data):
    parse_or_hjerror(data, "random.hj")


@FAST
@given(st.text(alphabet=st.sampled_from(list("model dim=~[](){},;#\"\n|p'^_*-+.0123456789xyg")),
               max_size=200))
def test_random_text_only_raises_hjerror(text):
    parse_or_hjerror(text, "random.hj")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_example())
def test_mutated_examples_only_raise_hjerror(case):
    i, text = case
    # named inside examples/ so that data paths resolve as for the original file
    parse_or_hjerror(text, str(EXAMPLES[i].with_name("mutant.hj")))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=mutated_example())
def test_cli_never_prints_a_traceback(case, tmp_path, capsys):
    i, text = case
    path = tmp_path / "mutant.hj"
    path.write_text(text)
    # data files next to the spec, as in examples/
    data = tmp_path / "data"
    if not data.exists():
        data.symlink_to(ROOT / "examples" / "data")
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 2)
    assert "Traceback" not in err and "internal error" not in err
    if code == 0:
        assert out.startswith(f"{path}: ok (model ")
    else:
        assert out == "" and f"{path}:" in err and "error:" in err


@pytest.mark.parametrize("data", [b"\xff\xfe\x00m", b"model m\x00\n", "model m\ndim 1\n".encode(
    "utf-16")])
def test_binary_input_is_a_clean_error(data):
    with pytest.raises(HJError) as info:
        hjdsl.parse(data, name="bin.hj")
    assert info.value.diagnostics[0].code == "E009"
