"""The spec fuzzer's small budget: any text gives a Model or an HJError, within 2 s of CPU time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hjdsl
from hjdsl.errors import HJError

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_specs.py"


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_specs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUZZ = _fuzz_module()


def test_a_small_campaign_finds_nothing():
    result = FUZZ.campaign(count=300, seed=20261201)
    assert result["specs"] == 300 and result["models"] + result["hjerrors"] == 300
    assert result["other"] == {}, result
    assert result["slow"] == 0, result
    assert result["models"] > 0 and result["hjerrors"] > 0  # mutations both keep and break specs


def test_the_mutators_reach_every_kind_of_damage():
    """Each mutator changes its input, and the campaign is reproducible from its seed."""
    import random

    corpus = [p.read_text(encoding="utf-8") for p in FUZZ.EXAMPLES]
    for fn, _ in FUZZ.MUTATORS:
        rng = random.Random(1)
        assert any(fn(rng, text, corpus) != text for text in corpus), fn.__name__
    assert FUZZ.mutate(random.Random(5), corpus) == FUZZ.mutate(random.Random(5), corpus)


def _model_or_hjerror(text: str) -> None:
    try:
        model = hjdsl.parse(text)
    except HJError as err:
        assert err.diagnostics and all(d.message for d in err.diagnostics)
        err.render()  # rendering a diagnostic never fails either
        return
    assert isinstance(model, hjdsl.Model)


PIECES = ["model m", "dim 1", "dim 2", "hamiltonian H(p) = |p|^2", "particles y = ", "initial g(y) = ",
          "evaluate x = ", "let a = ", "viscosity eps in ", "data synthetic n = 5 {", "}", "x ~ ",
          "value = ", "grid(", "normal(", "[", "]", "(", ")", ",", "+", "-", "*", "/", "^", "~",
          "=", "y", "x", "a", "0", "1", "2.5", "1e309", "1e-320", "\n", " ", ";", "#", '"', "[0]"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_gives_a_model_or_an_hjerror(text):
    _model_or_hjerror(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=60))
def test_any_sequence_of_spec_pieces_gives_a_model_or_an_hjerror(pieces):
    _model_or_hjerror("model m\ndim 1\nhamiltonian H(p) = |p|^2\n" + "".join(pieces))
