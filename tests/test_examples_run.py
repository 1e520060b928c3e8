"""Every example spec runs: `compare` holds every exact relation, and specs with data can be fitted."""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl
from hjdsl.views.report import diagram_rows, failures

from conftest import EXAMPLES

SPECS = sorted(EXAMPLES.glob("*.hj")) + sorted((EXAMPLES / "paper").glob("*.hj"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_compare_holds_every_exact_relation(path):
    model = hjdsl.load(path)
    # A few audited points and no grid solver keep this quick; both have tests of their own.
    ds = model.compare(audit=3, grid=False)
    rows = diagram_rows(ds)
    assert rows, "the report has no rows"
    assert failures(rows) == []
    assert ds.sizes["point"] == model.evaluate.shape[0]
    assert ds.sizes["particle"] == model.n_atoms
    if model.hamiltonian.exact:
        scale = np.maximum(1.0, np.abs(ds.network).max())
        assert float(np.abs(ds.identity_residual).max()) <= 1e-12 * float(scale)


def test_every_example_is_covered():
    # Guards against the glob silently matching nothing (e.g. after a move of examples/).
    assert len(SPECS) >= 10
