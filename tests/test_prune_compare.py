"""Pruning in `compare`: the certificate in the Dataset, --exact-dense, --prune-delta errors."""

import numpy as np
import pytest

from hjdsl.cli import main
from hjdsl.errors import UsageError
from hjdsl.model.ir import Model
from hjdsl.views.closed_form import prune
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def runs():
    """One model, compared pruned and dense (the plan's timing bypassed, see test_prune.py)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(prune, "MIN_WORK", 0)
    mp.setattr(prune, "MIN_ATOMS", 0)
    mp.setattr(prune, "PRUNE_MARGIN", 1e-12)
    rng = np.random.default_rng(4)
    model = Model.from_atoms(rng.uniform(-2, 2, (3000, 2)), rng.uniform(0, 1, 3000),
                             x=rng.uniform(-2, 2, (40, 2)))
    opts = dict(eps=[1e-3, 1.0, 0.0], audit=0, grid=False, quiet=True)
    try:
        pruned = model.compare(prune_delta=1e-6, **opts)
        dense = model.compare(exact_dense=True, **opts)
    finally:
        mp.undo()
    return pruned, dense


def test_certificate_in_the_dataset(runs):
    pruned, dense = runs
    assert pruned.attrs["pruning"] == "certified pruning at eps = 0.001, 0; dense at the others"
    assert pruned.attrs["prune_delta"] == 1e-6
    support = pruned.prune_support.values
    assert support[0].max() < 3000 and np.all(support[1] == 3000)
    assert np.all(pruned.prune_neglected.values <= 1e-6)
    assert np.all(pruned.prune_neglected.values[1:] == 0)
    bound = pruned.prune_value_bound.values
    for name in ("network", "hopf_cole"):
        err = np.abs(pruned[name].values - dense[name].values)
        assert np.all(err <= bound + 1e-13 * (1 + np.abs(dense[name].values))), name
    pi_err = np.abs(pruned.attribution.values - dense.attribution.values).max(axis=2)
    assert np.all(pi_err <= pruned.prune_neglected.values + 1e-13)
    assert np.array_equal(pruned.tropical.values, pruned.network.sel(eps=0.0).values)
    assert "long_name" in pruned.prune_neglected.attrs


def test_exact_dense_reports_no_pruning(runs):
    _, dense = runs
    assert dense.attrs["pruning"] == "dense (exact_dense)"
    assert np.all(dense.prune_support.values == 3000)
    assert np.all(dense.prune_neglected.values == 0)


@pytest.mark.parametrize("options,message", [
    (dict(prune_delta=0.0), r"the pruning δ must be a number in \(0, 1\), got 0.0"),
    (dict(prune_delta="tiny"), "the pruning δ must be a number in"),
    (dict(exact_dense="yes"), "exact_dense must be True or False"),
])
def test_bad_options_are_usage_errors(options, message):
    m = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5])
    with pytest.raises(UsageError, match=message):
        m.compare(eps=[0.5], audit=0, grid=False, **options)


def test_cli_flags(capsys):
    spec = str(EXAMPLES / "paper" / "four_atoms.hj")
    code = main(["compare", spec, "--eps", "0.1", "--audit", "0", "--no-grid", "-q",
                 "--prune-delta", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "the pruning δ must be a number in (0, 1), got 2.0" in err
    assert "Traceback" not in err
    code = main(["compare", spec, "--eps", "0.1", "--audit", "0", "--no-grid", "--exact-dense",
                 "--json"])
    assert code == 0
