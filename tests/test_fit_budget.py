"""Solve options: ranges and the memory of the whole run, refused before any work."""

from __future__ import annotations

import time

import pytest

import hjdsl
from hjdsl.errors import UsageError
from hjdsl.fit.budget import n_parameters, run_bytes
from hjdsl.model.limits import MEMORY_ENV

SPEC = """
model budget "five free atoms, learned g and sigma"
dim 1
viscosity eps = 0.2
hamiltonian H(p) = |p|^2
particles y ~ normal(0, 2) [5]
initial g ~ normal(0, 2)
data synthetic n = 40 seed = 3 {
  x ~ uniform(-2, 2)
  value = abs(x)
}
observe u ~ student_t(nu = 5, sigma ~ half_normal(0.2))
evaluate x = grid(-2, 2, 11)
"""


@pytest.fixture(scope="module")
def model():
    return hjdsl.parse(SPEC)


def test_parameters_are_counted_from_the_spec(model):
    assert n_parameters(model) == 5 + 5 + 1  # y (5 × 1), g (5), sigma


@pytest.mark.parametrize("options, message", [
    ({"steps": 0}, "--steps must be an integer from 1 to 2,147,483,647"),
    ({"steps": 10**12}, "got 1,000,000,000,000"),
    ({"steps": 100.5}, "--steps must be an integer from 1 to 2,147,483,647 (the largest count XLA "
                       "and numpyro take), got 100.5"),
    ({"chains": True}, "--chains must be an integer"),
    ({"draws": -3}, "--draws must be an integer from 1"),
    ({"warmup": 2**31}, "--warmup must be an integer from 1 to 2,147,483,647"),
    ({"restarts": 0}, "--restarts must be an integer"),
    ({"lr": float("nan")}, "--lr must be a finite number > 0, got nan"),
    ({"lr": -0.1}, "--lr must be a finite number > 0, got -0.1"),
    ({"seed": -1}, "--seed must be an integer from 0 to 4,294,967,295, got -1"),
    ({"seed": 2**32}, "--seed must be an integer from 0 to 4,294,967,295"),
])
def test_options_out_of_range_are_refused(model, options, message):
    with pytest.raises(UsageError) as info:
        model.solve(**options)
    assert message in str(info.value) and info.value.diagnostics[0].code == "U103"


@pytest.mark.parametrize("method, options, part", [
    ("map", {"steps": 10**9}, "the MAP loss curves (restarts × steps)"),
    ("map", {"restarts": 10**6, "steps": 1}, "the MAP restarts' gradient steps"),
    ("svi", {"draws": 10**9}, "the posterior predictions (draws × evaluation points)"),
    ("nuts", {"draws": 10**9}, "the posterior predictions (draws × evaluation points)"),
    ("nuts", {"chains": 100_000}, "the posterior predictions (draws × evaluation points)"),
])
def test_runs_over_the_memory_budget_are_refused_at_once(model, monkeypatch, method, options,
                                                         part):
    """Each of these aborted in XLA, ended in an internal error or ran for minutes; now the whole
    run's memory is added up and refused with the figure in well under a second."""
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    start = time.perf_counter()
    with pytest.raises(UsageError) as info:
        model.solve(method=method, **options)
    assert time.perf_counter() - start < 1.0
    diag = info.value.diagnostics[0]
    assert diag.code == "U107" and diag.message.startswith(f"solve --method {method} (")
    assert "over the 4.0 GiB budget (set HJDSL_MAX_MEMORY=... to allow more)" in diag.message
    assert diag.hint.startswith(f"the largest part is {part}")


def test_the_budget_is_the_sum_of_the_parts_and_can_be_raised(model, monkeypatch):
    """The figure is the sum of the parts (checked by hand for one case), and HJDSL_MAX_MEMORY
    moves the limit: just under the estimate refuses, just over it lets the check pass."""
    settings = model.fit.__class__(steps=1000, restarts=2, chains=3, draws=100)
    terms = run_bytes(model, "nuts", settings, 40)
    p, work = 11, 40 * 5 * 6 * 8
    assert sum(terms.values()) == (2 * 2 * 1000 * 8 + 2 * work + 4 * 2 * p * 8 + 3 * work
                                   + 2 * 300 * (p + 8) * 8 + 4 * 300 * 11 * 8)
    from hjdsl.fit.budget import verify_memory

    monkeypatch.setenv(MEMORY_ENV, str(sum(terms.values()) - 1))
    with pytest.raises(UsageError, match="would need"):
        verify_memory(model, "nuts", settings, 40)
    monkeypatch.setenv(MEMORY_ENV, str(sum(terms.values())))
    verify_memory(model, "nuts", settings, 40)


def test_predictions_in_blocks_match_numpy(monkeypatch):
    """predict works through blocks of draws (the last one padded); each draw equals the numpy
    read-out of its own parameters."""
    import numpy as np

    from hjdsl.fit import infer, metrics
    from hjdsl.fit.bayes import build

    model = hjdsl.parse(SPEC)
    pm = build(model, eps=0.2)
    rng = np.random.default_rng(0)
    params = {"y": rng.normal(size=(23, 5, 1)), "g": rng.normal(size=(23, 5)),
              "sigma": np.ones(23)}
    x = np.linspace(-2, 2, 7)[:, None]
    monkeypatch.setattr(infer, "PREDICT_BLOCK", 5 * 7 * 4)  # blocks of 4 draws: 6 blocks, 1 padded
    got = infer.predict(pm, params, x)
    want = [metrics.observed_quantity("u", x, params["y"][s], params["g"][s], 0.2, 1.0,
                                      np.eye(1)) for s in range(23)]
    np.testing.assert_allclose(got, np.array(want), rtol=0, atol=1e-13)
