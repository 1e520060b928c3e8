"""Compare figures for d = 1, 2 (quadratic and norm H, with unreachable points) and d = 3."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.model.ir import Model
from hjdsl.plot.views import plot_views

PNG = b"\x89PNG\r\n\x1a\n"


def _grid(n: int) -> np.ndarray:
    axis = np.linspace(-3, 3, n)
    return np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)


@pytest.mark.parametrize("case", ["1d", "2d", "2d_norm", "3d"])
def test_plot_views_writes_a_figure(case, tmp_path):
    rng = np.random.default_rng(2)
    if case == "1d":
        m = Model.from_atoms([[-1.0], [0.5]], [0.2, 0.0], eps=[1, 0.1, 0], x=np.linspace(-2, 2, 41))
    elif case == "2d":
        m = Model.from_atoms(rng.uniform(-1, 1, (5, 2)), rng.uniform(0, 1, 5), eps=[0.5, 0],
                             x=_grid(9))
    elif case == "2d_norm":
        m = Model.from_atoms(rng.uniform(-1, 1, (5, 2)), rng.uniform(0, 1, 5), eps=[0.5, 0],
                             x=_grid(9), hamiltonian="l2")
    else:
        m = Model.from_atoms(rng.normal(size=(4, 3)), rng.uniform(0, 1, 4), eps=[1, 0.1, 0],
                             x=rng.normal(size=(20, 3)))
    ds = m.compare(audit=0, grid=False)
    if case == "2d_norm":
        assert np.isinf(ds.hopf_lax.values).any()  # the figure has unreachable points to mark
    out = plot_views(ds, tmp_path / f"{case}.png")
    assert out.read_bytes()[:8] == PNG
    assert out.stat().st_size > 20_000
