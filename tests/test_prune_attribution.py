"""Sparse attribution (analysis/attribution_sparse.py): top atoms and remainder vs the dense run."""

import numpy as np
import pytest

from hjdsl.analysis.attribution import attribute, to_records
from hjdsl.errors import UsageError
from hjdsl.model.ir import Model


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(6)
    model = Model.from_atoms(rng.uniform(-2, 2, (3000, 2)), rng.uniform(0, 1, 3000))
    at = rng.uniform(-2, 2, (30, 2))
    opts = dict(eps=[0.01, 0.1], top=4)
    return (attribute(model, at, sparse=True, prune_delta=1e-12, **opts),
            attribute(model, at, sparse=False, **opts), model)


def test_sparse_matches_dense_within_the_certificate(pair):
    sparse, dense, model = pair
    R = sparse.prune_neglected.values
    assert np.all(R <= 1e-12) and sparse.prune_support.values[0].max() < 3000  # ε = 0.01
    assert np.array_equal(sparse.top_atom.values, dense.top_atom.values)
    assert np.all(np.abs(sparse.top_weight - dense.top_weight).values <= R[..., None] + 1e-14)
    assert np.all(np.abs(sparse.entropy - dense.entropy).values
                  <= sparse.entropy_bound.values + 1e-12)
    np.testing.assert_allclose(sparse.network, dense.network, rtol=0, atol=1e-13)
    # the weights outside the top: on the support plus at most R̄ beyond it
    rest = 1 - dense.top_weight.values.sum(axis=-1)
    assert np.all(np.abs(rest - sparse.remainder.values) <= R + 1e-13)
    W = np.asarray(dense.W)
    diam = np.ptp(W, axis=0).max()
    # ∇f and ∇²f are moments: the support's measure is within 2R̄ of the full one in total variation
    assert np.all(np.abs(sparse.grad - dense.grad).values <= 2 * R[..., None] * diam + 1e-13)
    eps = sparse.eps.values[:, None, None, None]
    assert np.all(np.abs(sparse.hessian - dense.hessian).values
                  <= 8 * R[..., None, None] * diam ** 2 / eps + 1e-10)
    np.testing.assert_allclose(sparse.soft_prediction, dense.soft_prediction, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sparse.nearest_atom_distance, dense.nearest_atom_distance,
                               rtol=1e-14)
    np.testing.assert_array_equal(sparse.logit_gap.values.round(12),
                                  dense.logit_gap.values.round(12))


def test_sparse_output_has_no_dense_arrays(pair):
    sparse, dense, _ = pair
    for name in ("attribution", "df_db", "df_dW", "logits"):
        assert name in dense and name not in sparse
    assert sparse.attrs["attribution_output"].startswith("sparse")
    assert dense.attrs["attribution_output"] == "dense"
    record = to_records(sparse)[0]
    assert "attribution" not in record and 0 <= record["remainder"] <= 1
    assert len(record["top"]) == 4


def test_sparse_is_automatic_over_the_memory_budget(monkeypatch):
    rng = np.random.default_rng(1)
    model = Model.from_atoms(rng.uniform(-2, 2, (3000, 2)), rng.uniform(0, 1, 3000))
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "2MiB")
    ds = attribute(model, rng.uniform(-2, 2, (20, 2)), eps=[0.01])
    assert "attribution" not in ds and ds.attrs["prune_delta"] == 1e-17
    with pytest.raises(UsageError, match="use fewer points or ε values"):
        attribute(model, rng.uniform(-2, 2, (20, 2)), eps=[0.01], sparse=False)
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "100KiB")  # not even one ε's worst-case supports
    with pytest.raises(UsageError, match="sparse attribution of 20 point.s. × 1 ε over up to "
                                         "3,000 atoms .d = 2. would need"):
        attribute(model, rng.uniform(-2, 2, (20, 2)), eps=[0.01])


@pytest.mark.parametrize("options,message", [(dict(sparse="yes"), "sparse must be True, False"),
                                             (dict(prune_delta=1.5), "δ must be a number in")])
def test_bad_sparse_options(options, message):
    model = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5])
    with pytest.raises(UsageError, match=message):
        attribute(model, [[0.0]], eps=[0.1], **options)
