"""Convergence table and timings of the finite-difference grid view (prints Markdown).

Run: /tmp/venv/bin/python benchmarks/bench_grid.py
"""

from __future__ import annotations

import time

import numpy as np

from hjdsl.hamiltonians import norm, quadratic
from hjdsl.hamiltonians.composite import Atom, Sum, build
from hjdsl.views.grid.pde import convergence_study, grid_view


def soft_abs(y):
    return np.sqrt(1.0 + (y**2 if y.ndim == 1 else np.sum(y**2, axis=-1)))


def box(lo, hi, n):
    axes = [np.linspace(lo, hi, n)] * 2
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)


def cases():
    iso1 = quadratic(np.eye(1))
    iso2 = quadratic(np.eye(2))
    aniso = quadratic(np.array([[2.0, 0.5], [0.5, 1.0]]), "p' A p")
    x1, x2 = np.linspace(-2, 2, 41)[:, None], box(-1, 1, 5)
    fine1, fine2 = (100, 200, 400, 800, 1600), (24, 48, 96, 192)
    yield "d=1, |p|^2, eps=0 (Hopf-Lax)", iso1, 1.0, 0.0, x1, fine1
    yield "d=1, |p|^2, eps=0.1 (Hopf-Cole)", iso1, 1.0, 0.1, x1, fine1
    yield "d=1, |p|^2, eps=1 (Hopf-Cole)", iso1, 1.0, 1.0, x1, fine1
    yield "d=2, |p|^2, eps=0 (Hopf-Lax)", iso2, 0.5, 0.0, x2, fine2
    yield "d=2, |p|^2, eps=0.1 (Hopf-Cole)", iso2, 0.5, 0.1, x2, fine2
    yield "d=2, p'Ap, eps=0.1 (Hopf-Cole)", aniso, 0.5, 0.1, x2, fine2
    yield "d=2, |p|_2, eps=0 (Hopf-Lax)", norm("l2"), 0.8, 0.0, box(-1.5, 1.5, 5), fine2
    yield "d=2, 1.5|p|_1, eps=0 (Hopf-Lax)", norm("l1", 1.5, "1.5*|p|_1"), 0.8, 0.0, box(-1.5, 1.5, 5), fine2
    relativistic = Atom("relativistic", c=1.0), "sqrt(1 + |p|^2)"
    yield "d=1, sqrt(1+|p|^2), eps=0 (Hopf-Lax)", build(*relativistic, 1), 0.8, 0.0, x1, fine1
    yield "d=2, sqrt(1+|p|^2), eps=0 (Hopf-Lax)", build(*relativistic, 2), 0.8, 0.0, x2, fine2
    yield ("d=2, |p|^2+|p|_1, eps=0 (Hopf-Lax)", build(Sum((Atom("sq"), Atom("l1"))), "|p|^2 + |p|_1", 2),
           0.8, 0.0, x2, fine2)


def main() -> None:
    print("g(y) = sqrt(1 + |y|^2); max error over the points; order = log-log slope over all levels\n")
    print("| case | cells | max error | observed order | CPU seconds |")
    print("|---|---|---|---|---|")
    for name, ham, t, eps, x, cells in cases():
        start = time.process_time()  # CPU time: the machine may be shared
        study = convergence_study(soft_abs, ham, t, eps, x, cells=cells)
        seconds = time.process_time() - start
        errors = " / ".join(f"{e:.2e}" for e in study.errors)
        levels = " / ".join(str(c) for c in study.cells)
        print(f"| {name} | {levels} | {errors} | {study.order:.3f} | {seconds:.2f} |")
    import hjdsl

    spec = ("model q \"quickstart-size\"\ndim 1\ntime t = 1\nviscosity eps in [1, 0.3, 0.1, 0.03, 0]\n"
            "hamiltonian H(p) = |p|^2\nparticles y = grid(-2, 2, 30)\ninitial g(y) = abs(y)\n"
            "evaluate x = grid(-2.5, 2.5, 201)\n")
    model = hjdsl.parse(spec)
    grid_view(model, model.eps, model.evaluate)  # warm imports
    start, wall = time.process_time(), time.perf_counter()
    res = grid_view(model, model.eps, model.evaluate)
    print(f"\ngrid_view, d = 1, 201 points, 5 eps, g = |y|: {time.process_time() - start:.2f} s CPU "
          f"({time.perf_counter() - wall:.2f} s wall), "
          f"errors {np.array2string(res.error, precision=4)}, order {res.order:.3f}")


if __name__ == "__main__":
    main()
