"""A model, its parts and its Hamiltonian show a few readable lines (terminal) or a table (notebook)."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hjdsl
from hjdsl.hamiltonians import build, norm, quadratic
from hjdsl.model.ir import Data, Model, Prior

from conftest import EXAMPLES

SHIPPED = sorted(EXAMPLES.rglob("*.hj"))
BOUND = 400          # characters of repr(model) for every shipped example
HOSTILE_BOUND = 600  # …and for any model at all (every fact is clipped)


class Cells(HTMLParser):
    """The tags and the (unescaped) text of each table cell."""

    def __init__(self):
        super().__init__()
        self.tags, self.cells = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("th", "td"):
            self.cells.append("")

    def handle_data(self, data):
        self.cells[-1] += data


def table(model) -> tuple[list[str], dict[str, str]]:
    parser = Cells()
    parser.feed(model._repr_html_())
    parser.close()
    return parser.tags, dict(zip(parser.cells[::2], parser.cells[1::2]))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_example_has_a_short_repr_naming_its_facts(path):
    model = hjdsl.load(path)
    text = repr(model)
    assert len(text) <= BOUND, text
    if not isinstance(model, Model):  # a network, stack or study spec: no atoms, its own facts
        assert text.startswith("<hjdsl.") and f"'{model.name}'" in text and text.endswith(">")
        assert "array(" not in text and "Span(" not in text
        return
    assert text.startswith(f"<hjdsl.Model '{model.name}'") and text.endswith(">")
    assert "array(" not in text and "Span(" not in text
    assert f"d = {model.dim}" in text and f"{model.n_atoms} atoms" in text
    assert f"H(p): {model.hamiltonian.text}" in text
    assert f"{float(model.eps[0]):g}" in text
    assert ("\n  data: " in text) == (model.data is not None)


def test_repr_lists_what_is_learned_and_the_html_gives_the_priors():
    model = hjdsl.load(EXAMPLES / "truth_recovery.hj")
    assert "  learned: ε, y, g, σ\n" in repr(model)
    assert "ε: learned, starts at 0.100259" in repr(model)
    _, cells = table(model)
    assert cells["learned"] == ("ε ~ lognormal(loc=-2.3, scale=0.5), y ~ uniform(low=-2, high=2), "
                                "g ~ normal(loc=0, scale=1), σ ~ half_normal(scale=0.1)")
    assert cells["data"] == "400 synthetic points (noise 0.01, seed 5)"
    assert cells["observed"] == "u, normal noise, σ learned"


def test_a_model_without_data_or_description_omits_those_lines(four_atoms):
    assert repr(four_atoms) == ("<hjdsl.Model 'atoms'\n"
                                "  size: d = 1, t = 1, 4 atoms (literal), g given\n"
                                "  ε: 1, 0.1\n"
                                "  H(p): |p|^2\n"
                                "  learned: nothing>")


def test_many_eps_values_show_the_first_and_the_last():
    model = Model.from_atoms([[0.0]], [0.0], eps=np.linspace(1.0, 0.0, 10_001))
    assert "  ε: 1, 0.9999, 0.9998, 0.9997, …, 0 (10001 values)\n" in repr(model)


@settings(max_examples=40, deadline=None)
@given(name=st.text(min_size=0, max_size=3000), description=st.text(max_size=3000),
       n_eps=st.integers(1, 5000), t=st.floats(1e-300, 1e300))
def test_any_model_has_a_bounded_repr_and_html(name, description, n_eps, t):
    base = Model.from_atoms([[0.0], [1.0]], [0.0, 1.0], eps=np.geomspace(1e-9, 123.456789, n_eps))
    model = dataclasses.replace(base, name=name, description=description, t=t)
    text = repr(model)
    assert len(text) <= HOSTILE_BOUND
    assert all(len(line) <= 90 for line in text.splitlines())
    assert len(model._repr_html_()) <= 4000


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & \'quotes\''


def test_html_escapes_a_hostile_name_and_description():
    model = dataclasses.replace(Model.from_atoms([[0.0]], [0.0]), name=HOSTILE[:40],
                                description=HOSTILE)
    html = model._repr_html_()
    assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html
    tags, cells = table(model)
    assert set(tags) == {"table", "tr", "th", "td"}
    assert cells["model"] == HOSTILE[:40] and cells["description"] == HOSTILE


def test_hostile_text_from_a_spec_is_escaped_too(tmp_path):
    spec = (f'model m "{HOSTILE.replace(chr(34), chr(39))}"\ndim 1\nhamiltonian H(p) = |p|^2\n'
            "particles y = [-1, 1]\ninitial g(y) = abs(y)\n")
    model = hjdsl.parse(spec)
    tags, cells = table(model)
    assert set(tags) == {"table", "tr", "th", "td"}
    assert cells["description"] == HOSTILE.replace('"', "'")


@pytest.mark.parametrize("ham, text", [
    (quadratic(np.diag(np.arange(1.0, 51.0)), "p' A p"), "<Hamiltonian quadratic: H(p) = p' A p>"),
    (quadratic(np.eye(3)), "<Hamiltonian quadratic: H(p) = |p|^2>"),
    (norm("l1", 2.0), "<Hamiltonian l1: H(p) = 2*|p|_1>"),
])
def test_hamiltonians_show_their_family_and_formula(ham, text):
    assert repr(ham) == text


def test_a_composite_hamiltonian_shows_its_formula_not_its_tree():
    model = hjdsl.load(EXAMPLES / "relativistic_1d.hj")
    assert repr(model.hamiltonian) == "<Hamiltonian composite: H(p) = sqrt(1 + |p|^2)>"
    assert build is not None  # the composite family is the one the language builds


def test_the_parts_of_a_model_are_short_even_when_large():
    rng = np.random.default_rng(0)
    data = Data("file", rng.normal(size=(100_000, 3)), rng.normal(size=100_000), path="big.csv")
    assert repr(data) == "<Data file: 100000 points, d = 3 (big.csv)>"
    model = Model.from_atoms(rng.normal(size=(5000, 3)), rng.normal(size=5000))
    assert repr(model.particles) == "<Particles literal: 5000 atoms in d = 3>"
    assert repr(model.initial) == "<InitialData literal: 5000 values>"
    assert repr(Prior("normal", {"loc": 0.0, "scale": 2.5})) == "<Prior normal(loc=0, scale=2.5)>"
    assert len(repr(model)) <= BOUND


@pytest.mark.parametrize("name", ["hjdsl.model.ir", "hjdsl.model.display"])
def test_docstring_examples_run(name, monkeypatch):
    monkeypatch.chdir(EXAMPLES.parent)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_terminal_control_characters_in_a_name_are_neutralised():
    model = dataclasses.replace(Model.from_atoms([[0.0]], [0.0]), name="a\x1b[31mred\u2028x\ty")
    text = repr(model)
    assert text.splitlines()[0] == "<hjdsl.Model 'a\N{REPLACEMENT CHARACTER}[31mred x y'"
    assert "\x1b" not in text and "\x1b" not in model._repr_html_()
