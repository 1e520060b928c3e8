"""Every example spec runs: `compare` holds every exact relation, and specs with data can be fitted."""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl
from hjdsl.views.report import diagram_rows, failures

from conftest import EXAMPLES

# Atom models (a weights file is atoms too); networks, attention heads and studies have their own
# runners, whose lists the coverage test below collects.
SPECS = sorted(EXAMPLES.glob("*.hj")) + sorted((EXAMPLES / "paper").glob("*.hj")) + \
    sorted((EXAMPLES / "weights").glob("*.hj"))


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
    """Every shipped spec, in any folder, is run by one of the example runners."""
    import test_attention_example
    import test_residual_spec
    import test_stack_compare
    import test_study

    stacks = [p.values[0] if hasattr(p, "values") else p for p in test_stack_compare.STACK_EXAMPLES]
    run = {*SPECS, *test_attention_example.SPECS, *test_residual_spec.SPECS, *stacks,
           *test_study.STUDIES}
    shipped = set(EXAMPLES.rglob("*.hj"))
    assert len(SPECS) >= 10  # the globs did not silently match nothing
    assert sorted(map(str, shipped - run)) == []
