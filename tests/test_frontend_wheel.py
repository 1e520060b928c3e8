"""The wheel ships the grammar as hjdsl/grammar/hj.lark and a non-editable install uses it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OFFLINE_SIGNS = ("No matching distribution", "Could not find a version", "Failed to establish",
                 "Temporary failure in name resolution", "Network is unreachable",
                 "ProxyError", "ConnectionError")


def build_wheel(out: Path) -> Path:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                           "-w", str(out)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        log = proc.stdout + proc.stderr
        if any(sign in log for sign in OFFLINE_SIGNS):
            pytest.skip("cannot build a wheel offline: the hatchling build backend is not "
                        "available from the package index")
        pytest.fail(f"pip wheel failed:\n{log}")
    (wheel,) = out.glob("hjdsl-*.whl")
    return wheel


def test_installed_wheel_loads_its_own_grammar(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as zf:
        assert "hjdsl/grammar/hj.lark" in zf.namelist()
        assert zf.read("hjdsl/grammar/hj.lark") == (ROOT / "grammar" / "hj.lark").read_bytes()

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    "--target", str(target), str(wheel)], check=True, capture_output=True,
                   timeout=300)
    spec = (ROOT / "examples" / "norm_l2_1d.hj").read_text()
    code = ("import sys, hjdsl\nfrom hjdsl.frontend.grammar import grammar_location\n"
            "m = hjdsl.parse(sys.stdin.read(), name='w.hj')\n"
            "print(hjdsl.__file__)\nprint(grammar_location())\nprint(m.name, m.n_atoms)")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", code], input=spec, cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    module_file, grammar_file, summary = proc.stdout.strip().splitlines()
    assert Path(module_file).is_relative_to(target)
    assert Path(grammar_file) == target / "hjdsl" / "grammar" / "hj.lark"
    assert summary == "norm_l2_1d 4"
