"""Every shipped example passes `compare` with the convex view at every point and the grid solver."""

from __future__ import annotations

import pytest

import hjdsl
from hjdsl.views.report import diagram_rows, failures

from conftest import EXAMPLES

SPECS = sorted(EXAMPLES.glob("*.hj")) + sorted((EXAMPLES / "paper").glob("*.hj"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_compare_with_every_point_audited_holds_every_exact_relation(path):
    # `--audit all` solves the convex programs at every evaluation point, a superset of the
    # default audit; the grid solver runs as it does by default. Nothing may fail, and no
    # solve may end without an accepted answer.
    ds = hjdsl.load(path).compare(audit="all")
    rows = diagram_rows(ds)
    assert failures(rows) == [], [(r.eps, r.arrow, r.value, r.bound, r.detail) for r in rows
                                  if r.fails_run]
    audited = ds.convex_status.values[:, ds.convex_audited.values.astype(bool)]
    assert all(s.startswith("optimal") or s == "infeasible" for s in audited.ravel()), \
        sorted(set(audited.ravel()))
