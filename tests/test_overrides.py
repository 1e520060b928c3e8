"""`--set NAME=VALUE`: each kind of override, located diagnostics, unknown names, provenance."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from hjdsl.errors import SpecError, UsageError
from hjdsl.frontend.driver import load, parse

from conftest import run_cli_here


@pytest.fixture
def cli():
    """The commands run in this process (hjdsl.cli.main) as the shell runs them: no test here is
    about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


SPEC = """\
model m
dim 1
time t = 1
let c = 2
viscosity eps = 0.1
hamiltonian H(p) = c * |p|^2
particles y ~ normal(0, 1) [4] seed 3
initial g ~ normal(0, 1)
data synthetic n = 50 seed = 1 {
  x ~ uniform(-1, 1)
  value = abs(x)
}
observe f ~ normal(sigma = 0.1)
evaluate x = grid(-1, 1, 5)
fit method = map steps = 100
"""


@pytest.mark.parametrize("sets, attr, expected", [
    (["t=0.5"], lambda m: m.t, 0.5),
    (["t = 2*0.25"], lambda m: m.t, 0.5),  # the spec's own expressions
    (["eps=[1, 0.1]"], lambda m: m.eps.tolist(), [1.0, 0.1]),
    (["eps=logspace(-1, 0, 2)"], lambda m: m.eps.tolist(), [0.1, 1.0]),
    (["eps=0.3"], lambda m: m.eps.tolist(), [0.3]),
    (["c=3"], lambda m: float(m.constants["c"]), 3.0),
    (["x=[0.5, 0.75]"], lambda m: m.evaluate[:, 0].tolist(), [0.5, 0.75]),
    (["particles.count=7"], lambda m: m.n_atoms, 7),
    (["data.n=20"], lambda m: m.data.size, 20),
    (["fit.steps=42"], lambda m: m.fit.steps, 42),
])
def test_each_kind_of_override(sets, attr, expected):
    base = parse(SPEC, "m.hj")
    model = parse(SPEC, "m.hj", overrides=sets)
    assert attr(model) == pytest.approx(expected) and attr(base) != pytest.approx(expected)
    assert model.overrides == tuple(sets)


def test_dim_and_a_missing_declaration():
    spec = "model m\ndim 1\nhamiltonian H(p) = |p|^2\nparticles y = [[0, 0], [1, 1]]\n" \
           "initial g(y) = norm(y)\n"
    assert parse(spec, overrides=["dim=2"]).dim == 2
    # no `time` or `viscosity` line: --set adds one, checked like a written one
    model = parse(SPEC.replace("time t = 1\n", "").replace("viscosity eps = 0.1\n", ""),
                  overrides=["t=0.25", "eps=[0.2, 0]"])
    assert model.t == 0.25 and model.eps.tolist() == [0.2, 0.0]


def test_learned_eps_replaced_by_fixed_values():
    spec = SPEC.replace("viscosity eps = 0.1", "viscosity eps ~ half_normal(1)")
    assert parse(spec).viscosity.learned
    model = parse(spec, overrides=["eps=[1, 0.5]"])
    assert not model.viscosity.learned and model.eps.tolist() == [1.0, 0.5]


# Bad values: the checker's own message, located in the override text.
@pytest.mark.parametrize("sets, expected", [
    (["t=-1"], "<--set 1>:1:3: error: t must be > 0, got -1\n    1 | t=-1\n      |   ^^"),
    (["t=0.5", "eps = [1, -2]"],
     "<--set 2>:1:7: error: eps must be ≥ 0, but the sweep contains -2\n"
     "    1 | eps = [1, -2]\n      |       ^^^^^^^"),
    (["t=1+"], "<--set 1>:1:5: error: missing value after `+`\n    1 | t=1+\n      |     ^"),
    (["fit.steps=0"], "<--set 1>:1:11: error: steps must be ≥ 1, got 0\n"
     "    1 | fit.steps=0\n      |           ^"),
])
def test_bad_values_give_located_diagnostics(sets, expected):
    with pytest.raises(SpecError) as info:
        parse(SPEC, "m.hj", overrides=sets)
    assert info.value.render() == expected


def test_error_caused_elsewhere_stays_in_the_spec():
    with pytest.raises(SpecError) as info:
        load("examples/aniso_2d.hj", ["A=[[1, 2], [2, 1]]"])
    err = info.value
    assert (err.file, err.line) == ("examples/aniso_2d.hj", 9)
    assert "hamiltonian H(p) = p' A p" in err.render()


@pytest.mark.parametrize("text, expected", [
    ("tt=1", "<--set 1>:1:1: error: `tt` is not a name --set can change in m.hj\n"
             "    1 | tt=1\n      | ^^\n  hint: did you mean `t`?"),
    ("fit.stps=1", "<--set 1>:1:1: error: the spec has no `fit` declaration with a `stps` "
                   "setting\n    1 | fit.stps=1\n      | ^^^^^^^^\n  hint: did you mean `fit.steps`?"),
    ("t", "<--set 1>:1:1: error: --set takes NAME=VALUE, got 't'\n    1 | t\n      | ^\n"
          '  hint: e.g. --set t=0.5 or --set "eps=[1, 0.1]"'),
    ("t=1 # x", "<--set 1>:1:5: error: a --set value is one expression: '#' is not allowed in "
                "it\n    1 | t=1 # x\n      |     ^"),
])
def test_unknown_or_malformed_names(text, expected):
    with pytest.raises(UsageError) as info:
        parse(SPEC, "m.hj", overrides=[text])
    assert info.value.render() == expected


def test_same_name_twice_is_an_error():
    with pytest.raises(UsageError, match=r"`t` is set twice \(first by --set 1\)"):
        parse(SPEC, overrides=["t=1", "t=2"])


def test_source_and_hash_reflect_the_overridden_text():
    model = parse(SPEC, "m.hj", overrides=["t=0.5"])
    assert "time t = 0.5\n" in model.source and "time t = 1\n" not in model.source
    expected = SPEC.replace("time t = 1", "time t = 0.5")
    assert model.spec_sha256 == hashlib.sha256(expected.encode()).hexdigest()
    assert model.spec_sha256 != parse(SPEC, "m.hj").spec_sha256


def test_provenance_records_overrides():
    from hjdsl.results import provenance

    attrs = provenance(parse(SPEC, overrides=["t=0.5", "eps=[1, 0.1]"]))
    assert json.loads(attrs["overrides"]) == {"t": "0.5", "eps": "[1, 0.1]"}
    assert json.loads(provenance(parse(SPEC))["overrides"]) == {}


def test_check_verb_accepts_set(cli):
    code, out, err = cli("check", "examples/quickstart.hj", "--set", "t=0.5", "--set",
                         "eps=[1, 0.1]")
    assert code == 0 and "2 ε values" in out
    code, out, err = cli("check", "examples/quickstart.hj", "--set", "t=-1")
    assert code == 2 and "<--set 1>:1:3: error: t must be > 0, got -1\n    1 | t=-1" in err


@pytest.mark.parametrize("verb", ["compare", "solve"])
def test_compare_and_solve_accept_set(cli, verb):
    # a bad value is refused before any work, with the located message
    code, _, err = cli(verb, "examples/quickstart.hj", "--set", "eps=-1")
    assert code == 2 and "<--set 1>:1:5: error: eps must be ≥ 0, got -1" in err
    code, _, err = cli(verb, "examples/quickstart.hj", "--set", "tt=1")
    assert code == 2 and "did you mean `t`?" in err and "Traceback" not in err


def test_compare_writes_overrides(cli, tmp_path):
    import xarray as xr

    out = tmp_path / "c.nc"
    code, _, err = cli("compare", "examples/abs_1d.hj", "--set", "eps=[0.5]", "--no-grid", "-q",
                       "-o", str(out))
    assert code == 0, err
    with xr.open_dataset(out) as ds:
        assert json.loads(ds.attrs["overrides"]) == {"eps": "[0.5]"}
        assert np.asarray(ds["eps"]).tolist() == [0.5]


def test_compile_accepts_set(cli):
    """compile's summary and generated module are of the overridden spec."""
    code, out, err = cli("compile", "examples/quickstart.hj", "--info", "--set", "t=0.5")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["t"], summary["overrides"]) == (0.5, ["t=0.5"])
    code, out, err = cli("compile", "examples/quickstart.hj", "--target", "cvxpy", "--set",
                         "t=0.25")
    assert code == 0 and "T = 0.25  # time t" in out
    code, _, err = cli("compile", "examples/quickstart.hj", "--info", "--set", "t=-1")
    assert code == 2 and "<--set 1>:1:3: error: t must be > 0, got -1" in err
