"""Write examples/paper/two_clusters.hj: the paper's 16-atom 2-D two-cluster entropy landscape."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HEADER = '''\
model two_clusters "the paper's 2-D two-cluster entropy landscape (16 atoms, seed 42)"
# Made by scripts/make_two_clusters.py: np.random.seed(42); 8 atoms randn(8, 2)*0.4 + (-1, -1)
# with g = 0, then 8 atoms randn(8, 2)*0.4 + (1, 1) with g = 1 (legacy global RNG, in that order).
# Analyse with: hjdsl bifurcate examples/paper/two_clusters.hj --box=-3,3 --eps-range 0.05,0.6,56
dim 2
time t = 1
viscosity eps in [0.06, 0.1, 0.15, 0.25, 0.4, 0.5]
hamiltonian H(p) = |p|^2
'''


def draw() -> tuple[np.ndarray, np.ndarray]:
    """The atoms and values, drawn exactly as the reference script does."""
    np.random.seed(42)
    first = np.random.randn(8, 2) * 0.4 + np.array([-1.0, -1.0])
    second = np.random.randn(8, 2) * 0.4 + np.array([1.0, 1.0])
    return np.vstack([first, second]), np.array([0.0] * 8 + [1.0] * 8)


def spec() -> str:
    y, g = draw()
    # the language closes brackets on the line they open: one (long) line per literal
    rows = ", ".join(f"[{float(a)!r}, {float(b)!r}]" for a, b in y)
    values = ", ".join(f"{v:g}" for v in g)
    return (HEADER + f"particles y = [{rows}]\n" + f"initial g = [{values}]\n"
            + "evaluate x = grid(-3, 3, 31)\n")


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "examples" / "paper" / "two_clusters.hj"
    target.write_text(spec())
    sys.stdout.write(f"wrote {target}\n")
