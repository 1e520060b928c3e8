"""`hjdsl format`: canonical layout, idempotent, every comment kept, the same Model as before."""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hjdsl
from hjdsl.errors import HJError, RunError, Span
from hjdsl.frontend import format as F
from hjdsl.frontend.format import format_text

from conftest import run_cli_here


@pytest.fixture
def cli():
    """`hjdsl format` runs in this process (hjdsl.cli.main) as the shell runs it: no test here is
    about the process boundary (tests/test_cli_check.py runs the real `python -m hjdsl`)."""
    return run_cli_here


ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").rglob("*.hj"))
SKIP_FIELDS = {"source", "path", "warnings"}  # the text itself and where it came from


def content(obj):
    """What a Model means, without where its parts were written (spans, source text)."""
    if isinstance(obj, Span):
        return None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__, {f.name: content(getattr(obj, f.name))
                                     for f in dataclasses.fields(obj) if f.name not in SKIP_FIELDS})
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.str, obj.shape, obj.tobytes())  # bit for bit
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {k: content(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [content(v) for v in obj]
    return obj


def meaning(model) -> tuple:
    warnings = [(w.code, w.message) for w in model.warnings]
    return content(model), warnings


def parse_as(text: str, example: Path):
    return hjdsl.parse(text, name=str(example))  # data paths resolve beside the example


def test_the_meaning_check_sees_a_changed_value():
    """The comparison below is not vacuous: one changed number makes two models differ."""
    example = ROOT / "examples" / "quickstart.hj"
    text = example.read_text()
    moved = "\n\n" + text.replace("time t = 1", "time   t=1")
    assert meaning(parse_as(text, example)) == meaning(parse_as(moved, example))
    changed = text.replace("time t = 1", "time t = 1.5")
    assert meaning(parse_as(text, example)) != meaning(parse_as(changed, example))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_keeps_its_meaning_and_is_a_fixed_point(example):
    text = example.read_text()
    out = format_text(text)
    assert format_text(out) == out
    assert meaning(parse_as(out, example)) == meaning(parse_as(text, example))
    assert _comments(out) == _comments(text)


def _comments(text: str) -> list[str]:
    return [str(t).rstrip() for t, rule in F.tokens(text) if rule == "comment"]


def _respace(text: str, rng: random.Random, comments: bool) -> str:
    """The same tokens with other whitespace: gaps, indentation, CRLF, tabs (and comments)."""
    out, pos = [], 0
    for tok, rule in F.tokens(text):
        gap = text[pos:tok.start_pos]
        if tok.type == "_NL":
            out.append(rng.choice(["", " ", "\t", "\r"]))
            if comments and rng.random() < 0.3:
                out.append(f"  # c{len(out)}")
            # Blank lines are the user's (kept, at most one): only the comment run adds them.
            out.append("\n" * (rng.choice([1, 1, 2, 3]) if comments else 1))
        elif tok.type == "COMMENT" and not comments:
            pass  # compared below with the comment-free original
        else:
            choices = [" ", "  ", "\t", " \t "] + ([""] if gap == "" else [])
            out.append(rng.choice(choices) if gap or rng.random() < 0.5 else "")
            out.append(str(tok))
        pos = tok.end_pos
    return "".join(out)


def _strip_comments(text: str) -> str:
    pieces, pos = [], 0
    for tok, rule in F.tokens(text):
        if rule == "comment":
            pieces.append(text[pos:tok.start_pos])
            pos = tok.end_pos
    return "".join(pieces) + text[pos:]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLES), st.integers(0, 2**32 - 1))
def test_any_spacing_of_a_spec_formats_to_one_layout(example, seed):
    """Layout is canonical: however the tokens are spaced, the formatted text is the same."""
    bare = _strip_comments(example.read_text())
    messy = _respace(bare, random.Random(seed), comments=False)
    assert format_text(messy) == format_text(bare)
    assert meaning(parse_as(messy, example)) == meaning(parse_as(format_text(messy), example))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLES), st.integers(0, 2**32 - 1))
def test_added_comments_are_all_kept_in_order(example, seed):
    text = _respace(example.read_text(), random.Random(seed), comments=True)
    out = format_text(text)
    assert _comments(out) == _comments(text) and format_text(out) == out
    assert meaning(parse_as(out, example)) == meaning(parse_as(text, example))


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_specs", ROOT / "scripts" / "fuzz_specs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzzed_valid_specs_keep_their_meaning():
    """The spec fuzzer's mutations (deep and long expressions, splices, extreme numbers)."""
    fuzz = _fuzz_module()
    rng = random.Random(20261214)
    corpus = [p.read_text(encoding="utf-8") for p in fuzz.EXAMPLES]
    anchor = ROOT / "examples" / "quickstart.hj"
    valid = 0
    for _ in range(400):
        text = fuzz.mutate(rng, corpus)
        try:
            model = parse_as(text, anchor)
        except HJError:
            continue
        valid += 1
        out = format_text(model.source)
        assert format_text(out) == out
        assert meaning(parse_as(out, anchor)) == meaning(model), text
    assert valid >= 25  # enough valid mutants to mean something (34 with this seed)


LAYOUT = [  # (input, the canonical layout), one rule each
    ("let a=1\n", "let a = 1\n"),
    ("let a = [ 1 ,2,-3 ]\n", "let a = [1, 2, -3]\n"),
    ("let a = 2*x+-y/3 - (1)\n", "let a = 2 * x + -y / 3 - (1)\n"),
    ("let a = x ^ -2 ^ 3\n", "let a = x^-2^3\n"),
    ("let a = v [ 0 ] [1]\n", "let a = v[0][1]\n"),
    ("let a = grid ( -1 , 1 , 5 )\n", "let a = grid(-1, 1, 5)\n"),
    ("particles y ~ normal( 0,1 )[ 4 ]seed 2\n", "particles y ~ normal(0, 1) [4] seed 2\n"),
    ("initial g( y )=abs( y )\n", "initial g(y) = abs(y)\n"),
    ("hamiltonian H ( p ) =  p'A p   \n", "hamiltonian H(p) = p'A p\n"),  # the form is verbatim
    ("model  m   \"a  b\"\n", "model m \"a  b\"\n"),  # strings too
    ("observe f~normal(sigma~half_normal(1),nu=3)\n",
     "observe f ~ normal(sigma ~ half_normal(1), nu = 3)\n"),
    ("\n\n# top\n\n\n\ndim 1\n\n\n", "# top\n\ndim 1\n"),
    ("dim 1\r\n\tlet a = 1 \r\n", "dim 1\nlet a = 1\n"),
    ("dim 1 # d\nlet a = 1            # aligned\n", "dim 1  # d\nlet a = 1            # aligned\n"),
    ("let abcdef = 1 # c\n", "let abcdef = 1  # c\n"),
    ("data synthetic n=3 {x~uniform(0,1);value=x}\n",
     "data synthetic n = 3 { x ~ uniform(0, 1); value = x }\n"),
    ("data synthetic n = 3 {   # why\n\n\n x ~ uniform(0, 1)\n\n\n    # own\n value = x # v\n\n}\n",
     "data synthetic n = 3 {   # why\n  x ~ uniform(0, 1)\n\n  # own\n  value = x  # v\n}\n"),
    ("data synthetic n = 3 {\ntruth g ( y ) = abs(y)\n}\n",
     "data synthetic n = 3 {\n  truth g(y) = abs(y)\n}\n"),
    ("", ""),
]


@pytest.mark.parametrize("text,expected", LAYOUT)
def test_the_canonical_layout(text, expected):
    assert format_text(text) == expected
    assert format_text(expected) == expected


def test_a_layout_that_changes_tokens_is_refused(monkeypatch):
    """The last guard: if a spacing rule ever glued two tokens together, nothing is written."""
    monkeypatch.setattr(F, "_space", lambda prev, cur: "")
    with pytest.raises(RunError, match="would change the spec's tokens"):
        format_text("model m\n")


def test_format_text_of_invalid_text_is_a_located_spec_error():
    with pytest.raises(HJError) as info:
        format_text("dim 1\nlet = 3\n")
    assert info.value.exit_code == 2 and info.value.line == 2


# --- the command -------------------------------------------------------------------------
MESSY = "model   m\ndim 1\ntime t=1\nviscosity eps in [ 1,0.5 ]\nhamiltonian H(p) = |p|^2\n" \
        "particles y = grid(-1,1,5)   # atoms\ninitial g(y)=abs(y)\n"


@pytest.fixture
def messy(tmp_path):
    path = tmp_path / "m.hj"
    path.write_text(MESSY)
    path.chmod(0o640)
    return path


def test_check_names_the_files_that_would_change(cli, messy):
    code, out, err = cli("format", "--check", str(messy), "examples/quickstart.hj")
    assert code == 1 and f"would reformat {messy}" in err and "quickstart" not in err.split("\n")[0]
    assert "1 file would be reformatted, 1 file unchanged" in err
    assert messy.read_text() == MESSY  # --check writes nothing
    code, _, err = cli("format", "--check", "examples/quickstart.hj")
    assert code == 0 and "would reformat" not in err


def test_diff_prints_a_unified_diff_and_writes_nothing(cli, messy):
    code, out, _ = cli("format", "--diff", str(messy))
    assert code == 0 and messy.read_text() == MESSY
    assert out.startswith(f"--- {messy}\n+++ {messy} (formatted)\n@@ ")
    removed = [line[1:] for line in out.splitlines()[2:] if line.startswith("-")]
    added = [line[1:] for line in out.splitlines()[2:] if line.startswith("+")]
    assert "time t=1" in removed and "time t = 1" in added
    # The comment's column (29) no longer leaves two spaces after the longer code: two spaces.
    assert "particles y = grid(-1, 1, 5)  # atoms" in added
    assert cli("format", "--check", "--diff", str(messy))[0] == 1


def test_in_place_rewrites_atomically_keeping_the_mode(cli, messy):
    code, _, err = cli("format", str(messy))
    assert code == 0 and f"reformatted {messy}" in err
    assert messy.read_text() == format_text(MESSY) != MESSY
    assert messy.stat().st_mode & 0o777 == 0o640
    assert not [p for p in messy.parent.iterdir() if p.name.endswith(".tmp")]
    code, _, err = cli("format", str(messy))
    assert code == 0 and "0 files reformatted, 1 file unchanged" in err


def test_a_symlink_stays_a_symlink(cli, messy):
    link = messy.parent / "link.hj"
    link.symlink_to(messy.name)
    assert cli("format", "-q", str(link)) == (0, "", "")
    assert link.is_symlink() and messy.read_text() == format_text(MESSY)


def test_a_spec_with_errors_is_reported_and_never_rewritten(cli, tmp_path, messy):
    bad = tmp_path / "bad.hj"
    bad.write_text("model   m\ndim 0\n")
    code, _, err = cli("format", str(bad), str(messy))
    assert code == 2 and f"{bad}:2:5: error: dim must be ≥ 1, got 0" in err
    assert bad.read_text() == "model   m\ndim 0\n"
    assert messy.read_text() == format_text(MESSY)  # the valid file is still formatted
    assert "1 file reformatted, 0 files unchanged, 1 file with errors left as they are" in err


def test_read_only_and_missing_files_are_clear_errors(cli, messy, tmp_path):
    messy.chmod(0o444)
    code, _, err = cli("format", str(messy), str(tmp_path / "nope.hj"))
    assert code == 2 and messy.read_text() == MESSY
    assert f"error: cannot rewrite {messy}: the file is read-only" in err
    assert f"error: {tmp_path / 'nope.hj'}: no such file" in err
    assert "Traceback" not in err
    assert cli("format", "--check", str(messy))[0] == 1  # checking a read-only file is fine


def test_stdin_prints_the_formatted_spec(cli):
    code, out, err = cli("format", "-", stdin=MESSY)
    assert (code, out, err) == (0, format_text(MESSY), "")
    code, _, err = cli("format", "-", stdin="dim 1\nlet = 2\n")
    assert code == 2 and re.search(r"<stdin>:2:\d+: error", err)


def test_help_teaches_with_examples(cli):
    code, out, _ = cli("format", "--help")
    assert code == 0 and "examples:" in out and "hjdsl format examples/" in out
    assert "--check" in out and "--diff" in out
