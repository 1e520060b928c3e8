"""`hjdsl check` and `hjdsl compile` from the shell: exit codes, output, stdin, JSON, imports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.hj"))
BAD = "tests/golden/bad/several_errors.hj"


def test_check_all_examples(cli):
    code, out, err = cli("check", *[p.relative_to(ROOT).as_posix() for p in EXAMPLES])
    assert code == 0, err
    assert len(out.splitlines()) == len(EXAMPLES)
    assert "examples/quickstart.hj: ok (model quickstart, d=1, 30 atoms, 5 ε values, " \
           "300 data points)" in out.splitlines()
    assert "warning: eps > 0 with H(p) = |p|_1" in err and "error" not in err


def test_check_reports_every_file_and_fails(cli):
    code, out, err = cli("check", "examples/quickstart.hj", BAD, "tests/golden/bad/empty.hj")
    assert code == 2
    assert out.startswith("examples/quickstart.hj: ok")
    expected = (ROOT / BAD.replace(".hj", ".expected")).read_text()
    assert expected in err
    assert expected.count(": error: ") == 7 and err.count(": error: ") == 7 + 1
    assert "Traceback" not in err


def test_check_stdin(cli):
    text = (ROOT / "examples" / "norm_l2_1d.hj").read_text()
    code, out, err = cli("check", "-", stdin=text)
    assert (code, err) == (0, "")
    assert out == "<stdin>: ok (model norm_l2_1d, d=1, 4 atoms, 1 ε value)\n"
    code, out, err = cli("check", "-", stdin="model m\ndim 1 2\n")
    assert code == 2 and err.startswith("<stdin>:2:7: error: unexpected `2`")


def test_check_json(cli):
    code, out, err = cli("check", "--json", "examples/norm_l1_2d.hj", BAD)
    assert code == 2 and err == ""
    report = json.loads(out)
    assert [r["file"] for r in report] == ["examples/norm_l1_2d.hj", BAD]
    assert [r["ok"] for r in report] == [True, False]
    assert [d["code"] for d in report[0]["diagnostics"]] == ["W001"]
    first = report[1]["diagnostics"][0]
    assert first == {"severity": "error", "code": "E112", "message": "t must be > 0, got 0",
                     "file": BAD, "line": 3, "column": 10, "end_line": 3, "end_column": 11}


def test_missing_file_and_folder(cli):
    code, _, err = cli("check", "no/such.hj")
    assert code == 2 and err.strip() == "error: no/such.hj: no such file\n  hint: check the path " \
                                        "of the spec".strip()
    code, _, err = cli("check", "examples")
    assert code == 2 and "is a folder" in err


def test_check_does_not_import_heavy_libraries_and_is_fast():
    code = ("import sys, time\nfrom hjdsl.cli import main\nt = time.perf_counter()\n"
            "rc = main(['check', '-q', 'examples/quickstart.hj'])\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('jax', 'jaxlib', 'cvxpy', 'numpyro', 'matplotlib'))\n"
            "print(rc, heavy)")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    wall = time.perf_counter() - start
    assert proc.stdout.strip() == "0 []", proc.stderr
    assert wall < 5.0  # typically ~0.5 s; generous because the test machine is shared


def test_compile_info(cli):
    code, out, err = cli("compile", "examples/aniso_2d.hj", "--info")
    assert code == 0, err
    info = json.loads(out)
    assert (info["name"], info["dim"], info["atoms"]) == ("aniso_2d", 2, 96)
    assert info["hamiltonian"]["text"] == "p' A p"
    assert set(info["exact"]) == {"network", "tropical", "pde", "convex"}


def test_compile_target_without_codegen_or_with_it(cli, tmp_path):
    import hjdsl.codegen as codegen

    out_file = tmp_path / "m.py"
    code, out, err = cli("compile", "examples/quickstart.hj", "--target", "jax", "-o",
                         str(out_file))
    if hasattr(codegen, "generate"):
        assert code == 0 and out_file.exists()
    else:
        assert code == 2 and not out_file.exists()
        assert err.strip() == "error: code generation for --target jax is not yet available"


def test_compile_needs_info_or_target(cli):
    code, _, err = cli("compile", "examples/quickstart.hj")
    assert code == 2 and "one of the arguments --info --target is required" in err


@pytest.mark.parametrize("verb", ["check", "compile"])
def test_help_teaches_with_examples(cli, verb):
    code, out, _ = cli(verb, "--help")
    assert code == 0 and "examples:" in out and f"hjdsl {verb} examples/" in out


def test_debug_flag_is_accepted(cli):
    code, _, err = cli("--debug", "check", BAD)
    assert code == 2 and "t must be > 0" in err
