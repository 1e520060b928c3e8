"""`hjdsl compile --target cvxpy`: a standalone module with the entropic program and ε = 0 LP."""

from __future__ import annotations

import numpy as np

from hjdsl.codegen import render
from hjdsl.codegen.model_block import imports, model_block, require_quadratic

DEFAULT_AUDIT = 25  # as the convex view: evenly spaced points, first and last included

_BODY = '''
A_INV = np.linalg.inv(A)


def costs(x):
    """c_j(x) = g_j + (x - y_j)' A^-1 (x - y_j) / (4t), shape (points, atoms)."""
    diff = x[:, None, :] - Y[None, :, :]
    return G + np.einsum("pjd,de,pje->pj", diff, A_INV, diff) / (4.0 * T)


def closed_form(c, eps):
    """u_eps = -eps log sum_j exp(-c_j / eps) (min-shifted); eps = 0 gives min_j c_j."""
    low = c.min(axis=1)
    if eps == 0:
        return low
    return low - eps * np.log(np.exp(-(c - low[:, None]) / eps).sum(axis=1))


def entropic_program(n_atoms):
    """u_eps(x) = min over the simplex of c . pi - eps Ent(pi), with eps and c as Parameters.

    `eps * cp.sum(cp.entr(pi))` is DPP (a parameter times a parameter-free concave term), so
    the problem is compiled once and re-solved for every point and eps.
    """
    pi = cp.Variable(n_atoms, nonneg=True)
    cost = cp.Parameter(n_atoms)
    eps = cp.Parameter(nonneg=True)
    objective = cp.Minimize(cost @ pi - eps * cp.sum(cp.entr(pi)))
    return cp.Problem(objective, [cp.sum(pi) == 1]), pi, cost, eps


def linear_program(n_atoms):
    """eps = 0: min over the simplex of c . pi, a linear program whose optimum is a vertex."""
    pi = cp.Variable(n_atoms, nonneg=True)
    cost = cp.Parameter(n_atoms)
    return cp.Problem(cp.Minimize(cost @ pi), [cp.sum(pi) == 1]), pi, cost


def solve_all():
    """Solve the program at every audited point for every eps; the costs are shifted by their
    minimum for conditioning (the shift is added back: it moves the optimum, not pi)."""
    c = costs(X_AUDIT)
    low = c.min(axis=1)
    entropic, pi, cost, eps = entropic_program(len(Y))
    lp, pi0, cost0 = linear_program(len(Y))
    value = np.full((len(EPS), len(c)), np.nan)
    weights = np.full((len(EPS), len(c), len(Y)), np.nan)
    status = [["" for _ in c] for _ in EPS]
    for i, e in enumerate(EPS):
        for k, row in enumerate(c - low[:, None]):
            if e == 0:
                cost0.value = row
                lp.solve(solver=cp.HIGHS)
                problem, variable = lp, pi0
            else:
                cost.value, eps.value = row, e
                entropic.solve(solver=cp.CLARABEL)
                problem, variable = entropic, pi
            status[i][k] = problem.status
            if problem.status == cp.OPTIMAL:
                value[i, k] = problem.value + low[k]
                weights[i, k] = variable.value
    closed = np.array([closed_form(c, e) for e in EPS])
    return value, weights, status, closed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", metavar="OUT.json", help="also write every array to a JSON file")
    args = parser.parse_args()
    value, weights, status, closed = solve_all()
    failed = sum(s != cp.OPTIMAL for row in status for s in row)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"eps": EPS, "audit_index": AUDIT_INDEX, "x": X_AUDIT.tolist(),
                       "value": value.tolist(), "pi": weights.tolist(), "status": status,
                       "closed_form": closed.tolist()}, out)
    print(f"{NAME}: {len(Y)} atoms in d = {Y.shape[1]}, t = {T}, {len(X_AUDIT)} audited points")
    print(f"{'eps':>10} {'solver':>9} {'max|program - closed form|':>28} {'u(x[0])':>12}")
    for i, e in enumerate(EPS):
        solver = "HiGHS" if e == 0 else "Clarabel"
        gap = np.nanmax(np.abs(value[i] - closed[i]))
        print(f"{e:>10.4g} {solver:>9} {gap:>28.3e} {value[i, 0]:>12.6f}")
    np.set_printoptions(precision=6, suppress=True)
    print(f"x[0] = {X_AUDIT[0].tolist()}; pi(x[0]) per eps:")
    for i, e in enumerate(EPS):
        print(f"  eps = {e:<8.4g} {weights[i, 0]}")
    if failed:
        print(f"{failed} solves did not reach an optimum")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''


def audit_index(n_points: int, count: int = DEFAULT_AUDIT) -> np.ndarray:
    """Evenly spaced point indices, first and last included — the convex view's default subset.

    >>> audit_index(9, 3).tolist()
    [0, 4, 8]
    """
    return np.unique(np.round(np.linspace(0, n_points - 1, min(count, n_points))).astype(int))


def generate(model) -> str:
    """The cvxpy module's source text for a quadratic-H model.

    >>> from hjdsl.model.ir import Model
    >>> src = generate(Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5], eps=[1.0, 0.0]))
    >>> "eps * cp.sum(cp.entr(pi))" in src and "import hjdsl" not in src
    True
    """
    require_quadratic(model, "cvxpy")
    index = audit_index(model.evaluate.shape[0])
    points = np.asarray(model.evaluate)[index]
    summary = (f"Model {model.name!r} as cvxpy programs: the entropy-regularised program over the "
               "simplex\n(u_eps, Clarabel) and the eps = 0 linear program (HiGHS), solved at "
               f"{index.size} audited\nevaluation points for every eps and checked against the "
               "closed form.\n\nRun it: `python THIS.py` prints a table; `--json OUT.json` also "
               "writes every array.\n")
    parts = [
        render.header(model, "cvxpy", summary),
        imports("import cvxpy as cp", "import numpy as np", arrays=(model.y, points)),
        f"NAME = {model.name!r}\n",
        model_block(model, points, "X_AUDIT", "audited evaluation points"),
        f"AUDIT_INDEX = {index.tolist()!r}  # their positions among the evaluation points"
        if len(repr(index.tolist())) < 50 else
        "AUDIT_INDEX = [\n" + "\n".join(render._wrap([str(i) for i in index], "    ")) + "\n]",
        _BODY,
    ]
    return "\n".join(parts)
