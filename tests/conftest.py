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


@pytest.fixture
def cli():
    return run_cli
