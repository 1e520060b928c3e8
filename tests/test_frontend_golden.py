"""Golden diagnostics: each bad spec in tests/golden/bad has the exact `hjdsl check` stderr.

Regenerate with `UPDATE_GOLDEN=1 pytest tests/test_frontend_golden.py`, then review every diff.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from hjdsl.commands import check as check_command

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "golden" / "bad"
CASES = sorted(BAD.glob("*.hj"))


def run_check(path: str, capsys) -> tuple[int, str, str]:
    code = check_command.run(argparse.Namespace(files=[path], json=False, quiet=False, set=[]))
    out, err = capsys.readouterr()
    return code, out, err


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("spec", CASES, ids=lambda p: p.stem)
def test_golden_diagnostics(spec: Path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HJDSL_DATA_DIRS", str(ROOT / "tests" / "golden" / "data"))  # shared files
    code, out, err = run_check(spec.relative_to(ROOT).as_posix(), capsys)
    expected = spec.with_suffix(".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(err, encoding="utf-8")
    assert code == 2
    assert out == ""
    assert err == expected.read_text(encoding="utf-8")
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("spec", CASES, ids=lambda p: p.stem)
def test_every_error_line_has_the_documented_shape(spec: Path):
    """`file:line:col: error: message` on every head line; the file is the spec itself."""
    text = spec.with_suffix(".expected").read_text(encoding="utf-8")
    heads = [ln for ln in text.splitlines() if ": error: " in ln or ": warning: " in ln]
    assert heads, text
    for head in heads:
        file, line, col, rest = head.split(":", 3)
        assert file == f"tests/golden/bad/{spec.name}"
        assert int(line) >= 1 and int(col) >= 1
        assert rest.startswith((" error: ", " warning: "))
