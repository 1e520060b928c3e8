"""Run the checked blocks of the docs in a scratch copy of the repository's inputs."""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.docs_blocks import ROOT, Block

# What the doc commands read; copied so that their outputs land in a scratch folder, never in
# the repository.
INPUTS = ("examples", "tests/golden")
MARKER = "<<<docs-test: end of unit {}>>>"


@dataclass
class Ran:
    """What one command or python unit printed (stdout and stderr together) and its exit code."""

    output: list[str]
    returncode: int = 0
    finished: bool = True


@contextlib.contextmanager
def sandbox():
    """A scratch folder holding copies of INPUTS; the doc's relative paths work inside it."""
    with tempfile.TemporaryDirectory(prefix="hjdsl-docs-") as tmp:
        for rel in INPUTS:
            shutil.copytree(ROOT / rel, Path(tmp) / rel,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        yield Path(tmp)


def environment() -> dict[str, str]:
    env = dict(os.environ)
    # `hjdsl` and `python` resolve to this interpreter's environment; output is unbuffered so
    # stdout and stderr interleave as on a terminal.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(PYTHONUNBUFFERED="1", JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT),
               COLUMNS="100", TERM="dumb")
    env.pop("HJDSL_MAX_MEMORY", None)
    return env


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True, env=environment(), timeout=timeout)


def run_shell(block: Block, cwd: Path, timeout: float = 1800) -> list[Ran]:
    """Run a shell block's commands in order in `cwd` (later ones may read earlier outputs)."""
    out = []
    for cmd in block.commands:
        if cmd.text.startswith("pip "):
            out.append(Ran(cmd.expected))   # not run: see check_pip_command
            continue
        proc = _run(["bash", "-c", cmd.text], cwd, timeout)
        out.append(Ran(proc.stdout.split("\n"), proc.returncode))
    return out


def run_command_output(command: str, cwd: Path, timeout: float = 600) -> Ran:
    proc = _run(["bash", "-c", command], cwd, timeout)
    return Ran(proc.stdout.split("\n"), proc.returncode)


def session_script(blocks: list[Block]) -> str:
    """One script running a page's python units in order, printing a marker after each."""
    parts = ["def __docs_display__(value):",
             "    if value is not None:",
             "        print(repr(value))", ""]
    n = 0
    for block in blocks:
        for ex in block.examples:
            parts.append(_displayed(ex.source) if block.kind == "doctest" else ex.source)
            marker = "\n" + MARKER.format(n)
            parts.append(f"print({marker!r}, flush=True)")
            n += 1
    return "\n".join(parts) + "\n"


def _displayed(source: str) -> str:
    """A doctest example as a script statement: a bare expression prints its repr, as at >>>."""
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        call = ast.Call(ast.Name("__docs_display__", ast.Load()), [last.value], [])
        tree.body[-1] = ast.Expr(call)
        ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def run_python(blocks: list[Block], cwd: Path, timeout: float = 1800) -> list[Ran]:
    """Run a page's python blocks as one session; one Ran per example, in order."""
    script = cwd / "_docs_session.py"
    script.write_text(session_script(blocks), encoding="utf-8")
    proc = _run([sys.executable, str(script)], cwd, timeout)
    chunks, current = [], []
    for ln in proc.stdout.split("\n"):
        if ln == MARKER.format(len(chunks)):
            chunks.append(Ran(current))
            current = []
        else:
            current.append(ln)
    kinds = [b.kind for b in blocks for _ in b.examples]
    if len(chunks) < len(kinds):  # the session stopped: the rest of its output explains why
        chunks.append(Ran(current, proc.returncode or 1, finished=False))
        chunks += [Ran([], proc.returncode or 1, finished=False)] * (len(kinds) - len(chunks))
    for ran, kind in zip(chunks, kinds):
        if kind == "doctest":  # as doctest writes an empty line of output
            ran.output = [ln if ln.strip() else "<BLANKLINE>" for ln in _strip_blank(ran.output)]
    return chunks


def _strip_blank(lines: list[str]) -> list[str]:
    lines = list(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return lines
