"""The in-process CLI runner (conftest.run_cli_here) returns what `python -m hjdsl` returns."""

from __future__ import annotations

import pytest

from conftest import run_cli, run_cli_here

BAD = "tests/golden/bad/several_errors.hj"
SPEC_WITH_ERROR = "model m\ndim 1 2\n"


@pytest.mark.parametrize("args, stdin", [
    (("check", "examples/quickstart.hj", BAD), None),        # stdout and stderr, exit 2
    (("check", "-"), SPEC_WITH_ERROR),                       # stdin as text
    (("format", "-"), "dim   1\r\nmodel m\n"),              # sys.stdin.buffer, CRLF
    (("check", "--json", "examples/norm_l1_2d.hj"), None),   # a warning, exit 0
    (("nosuchverb",), None),                                 # argparse's exit 2 and usage
], ids=["files", "stdin", "format-stdin", "json", "usage"])
def test_same_exit_code_and_output_as_the_real_process(args, stdin):
    assert run_cli_here(*args, stdin=stdin) == run_cli(*args, stdin=stdin)


def test_the_comparison_sees_a_difference():
    """Not vacuous: two commands that differ only in their input give different results."""
    assert run_cli_here("check", "-", stdin=SPEC_WITH_ERROR) != \
        run_cli_here("check", "-", stdin="model m\ndim 1\n")


def test_state_is_restored_after_the_command(tmp_path):
    import os
    import sys

    from hjdsl import jaxsetup

    cwd, stdin, device = os.getcwd(), sys.stdin, jaxsetup._device
    code, out, _ = run_cli_here("check", "spec.hj", cwd=tmp_path)
    assert code == 2 and out == ""   # spec.hj looked for in tmp_path: no such file
    assert (os.getcwd(), sys.stdin, jaxsetup._device) == (cwd, stdin, device)
