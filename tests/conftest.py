"""Shared fixtures: the paper's four-atom model, a CLI runner, example paths."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# JAX programs hjdsl compiles are cached on disk (hjdsl/jaxcache.py): never in the real home
if "HJDSL_JAX_CACHE_DIR" not in os.environ:
    os.environ["HJDSL_JAX_CACHE_DIR"] = tempfile.mkdtemp(prefix="hjdsl-test-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["HJDSL_JAX_CACHE_DIR"], True)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.hookimpl(trylast=True)  # after pytest's own grouping of tests by fixture scope
def pytest_collection_modifyitems(items):
    """The slow tests start first, so that under xdist no long test is left to run alone at the
    end while the other workers wait (a stable sort: each group keeps its order)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def four_atoms():
    """design.md §6 / theory Appendix A: y = (−1.5, −0.5, 0.5, 1.5), g = (1, .3, .3, 1), t = 1."""
    from hjdsl.model.ir import Model

    return Model.from_atoms(np.array([-1.5, -0.5, 0.5, 1.5])[:, None], [1.0, 0.3, 0.3, 1.0],
                            t=1.0, eps=[1.0, 0.1], x=np.array([-2.0, 0.0, 0.7, 2.0])[:, None])


def run_cli(*args: str, stdin: str | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run `python -m hjdsl ARGS` in a subprocess; return (returncode, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "hjdsl", *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


# Python's own warning filters (as `python -m hjdsl` starts with), not pytest's "error"
DEFAULT_WARNINGS = [("default", DeprecationWarning, "__main__"), ("ignore", DeprecationWarning, ""),
                    ("ignore", PendingDeprecationWarning, ""), ("ignore", ImportWarning, ""),
                    ("ignore", ResourceWarning, "")]


def run_cli_here(*args: str, stdin: str | None = None, cwd: Path | None = None,
                 timeout: float | None = None):
    """Run `hjdsl ARGS` in this process through hjdsl.cli.main, as `python -m hjdsl` would run it
    (same stdin, cwd, warning filters; stdout and stderr captured); return what run_cli returns.

    For tests not about the process boundary: no new interpreter importing JAX and compiling
    again for every command. `timeout` is accepted for run_cli's signature and not enforced."""
    import contextlib
    import io
    import warnings

    from hjdsl import jaxsetup
    from hjdsl.cli import main

    def stream(data: bytes = b""):  # a real text stream: commands read sys.stdin.buffer
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", write_through=True)

    out, err, device = stream(), stream(), jaxsetup._device
    old_cwd, old_stdin, old_env = os.getcwd(), sys.stdin, dict(os.environ)
    try:
        os.chdir(cwd or ROOT)
        # argparse's width: a subprocess writing to a pipe sees no terminal, so 80 columns
        os.environ.setdefault("COLUMNS", "80")
        os.environ.setdefault("LINES", "24")
        sys.stdin = stream((stdin or "").encode())
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            warnings.resetwarnings()
            for action, category, module in reversed(DEFAULT_WARNINGS):
                warnings.filterwarnings(action, category=category, module=module)
            code = main(list(args))
    finally:
        os.chdir(old_cwd)
        sys.stdin, jaxsetup._device = old_stdin, device
        os.environ.clear()
        os.environ.update(old_env)
    return code, _text(out), _text(err)


def _text(stream) -> str:
    """What the stream got, decoded as subprocess.run(text=True) decodes (universal newlines)."""
    stream.flush()
    return stream.buffer.getvalue().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


@pytest.fixture
def cli():
    return run_cli
