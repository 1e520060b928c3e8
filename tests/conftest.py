"""Shared fixtures: the paper's four-atom model, a CLI runner, example paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


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
