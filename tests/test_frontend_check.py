"""The checker: every construct lands in the right IR field; defaults, warnings, data, budgets."""

from __future__ import annotations

import time

import numpy as np
import pytest

import hjdsl
from hjdsl.errors import DataError, HJError, SpecError

HEAD = "model m\ndim 1\nhamiltonian H(p) = |p|^2\n"


def spec(*lines: str, head: str = HEAD, atoms: str = "particles y = [-1, 0, 1]",
         initial: str = "initial g(y) = abs(y)") -> str:
    return head + atoms + "\n" + initial + "\n" + "\n".join(lines) + "\n"


def test_defaults():
    m = hjdsl.parse(spec())
    assert m.t == 1.0 and m.eps.tolist() == [0.1] and not m.viscosity.learned
    assert m.data is None and m.observe is None and m.fit == hjdsl.model.ir.FitSettings()
    np.testing.assert_allclose(m.evaluate[:, 0], np.linspace(-1.2, 1.2, 201))
    assert m.description == "" and m.path is None and m.source.startswith("model m")


@pytest.mark.parametrize("line,values", [
    ("viscosity eps = 0.25", [0.25]),
    ("viscosity eps = 0", [0.0]),
    ("viscosity eps in [1, 0.3, 0.1, 0]", [1, 0.3, 0.1, 0]),
    ("viscosity eps in linspace(0, 1, 5)", np.linspace(0, 1, 5)),
    ("viscosity eps in logspace(-2, 0, 9)", np.logspace(-2, 0, 9)),
    ("viscosity eps ~ lognormal(-2.3, 0.5)", [np.exp(-2.3)]),
    ("viscosity eps ~ half_normal(0.2)", [0.2 * 0.6744897501960817]),
])
def test_viscosity_forms(line, values):
    m = hjdsl.parse(spec(line))
    np.testing.assert_allclose(m.eps, values, rtol=1e-15)
    assert m.viscosity.learned == ("~" in line)


@pytest.mark.parametrize("form,kind,matrix,scale,iso", [
    ("|p|^2", "quadratic", np.eye(2), 1.0, True),
    ("3*|p|^2", "quadratic", 3 * np.eye(2), 1.0, True),
    ("|p|^2.0", "quadratic", np.eye(2), 1.0, True),
    ("a*|p|^2", "quadratic", 0.5 * np.eye(2), 1.0, True),
    ("p' A p", "quadratic", [[2, 0.5], [0.5, 1]], 1.0, False),
    ("p' B p", "quadratic", 2 * np.eye(2), 1.0, True),
    ("|p|_1", "l1", None, 1.0, True),
    ("a * |p|_2", "l2", None, 0.5, True),
    ("0.25*|p|_inf", "linf", None, 0.25, True),
])
def test_hamiltonian_forms(form, kind, matrix, scale, iso):
    head = ("model m\ndim 2\nlet a = 0.5\nlet A = [[2, 0.5], [0.5, 1]]\nlet B = [[2, 0], [0, 2]]\n"
            f"viscosity eps = 0\nhamiltonian H(p) = {form}\n")
    m = hjdsl.parse(spec(head=head, atoms="particles y = grid(-1, 1, 3)", initial="initial g = 0"))
    h = m.hamiltonian
    assert (h.kind, h.text, h.scale, h.isotropic) == (kind, form, scale, iso)
    if matrix is None:
        assert h.matrix is None
    else:
        np.testing.assert_array_equal(h.matrix, matrix)
        assert not h.matrix.flags.writeable


def test_particle_forms():
    head = "model m\ndim 2\nhamiltonian H(p) = |p|^2\n"
    lit = hjdsl.parse(spec(head=head, atoms="particles y = [[0, 1], [2, 3]]", initial="initial g = 1"))
    assert lit.particles.source == "literal" and lit.y.tolist() == [[0, 1], [2, 3]]
    assert lit.g.tolist() == [1.0, 1.0]
    grid = hjdsl.parse(spec(head=head, atoms="particles y = grid([0, 10], [1, 12], [2, 3])",
                            initial="initial g(y) = y[1]"))
    assert grid.y.tolist() == [[0, 10], [0, 11], [0, 12], [1, 10], [1, 11], [1, 12]]
    assert grid.g.tolist() == [10, 11, 12, 10, 11, 12]
    rnd = hjdsl.parse(spec(head=head, atoms="particles y = random normal(1, 2) [7] seed 4",
                           initial="initial g = [1, 2, 3, 4, 5, 6, 7]"))
    np.testing.assert_array_equal(rnd.y, np.random.default_rng(4).normal(1, 2, (7, 2)))
    assert rnd.particles.source == "random" and rnd.particles.prior is None
    learned = hjdsl.parse(spec(head=head, atoms="particles y ~ uniform(-1, 1) [5]",
                               initial="initial g ~ student_t(3, 1, 2)"))
    np.testing.assert_array_equal(learned.y, np.random.default_rng(0).uniform(-1, 1, (5, 2)))
    assert learned.particles.learned and learned.particles.prior.params == {"low": -1.0, "high": 1.0}
    assert learned.initial.learned and learned.g.tolist() == [1.0] * 5  # the prior's mean


def test_initial_expression_is_kept_for_backends():
    m = hjdsl.parse(spec())
    assert m.initial.source == "expr" and m.initial.expr.func == "abs"
    from hjdsl.model.lower import evaluate

    np.testing.assert_array_equal(evaluate(m.initial.expr, {"y": m.y[:, 0]}, pointwise={"y"}), m.g)


def test_observation_forms():
    data = "data synthetic n = 10 { x ~ uniform(-1, 1); value = abs(x) }"
    m = hjdsl.parse(spec(data, "observe u ~ student_t(4, sigma ~ half_cauchy(0.5))",
                         "split test = 0.25 seed = 3"))
    o = m.observe
    assert (o.quantity, o.likelihood, o.df) == ("u", "student_t", 4.0)
    assert o.scale.family == "half_cauchy" and o.scale.params == {"scale": 0.5}
    assert (o.split.test, o.split.seed) == (0.25, 3)
    lap = hjdsl.parse(spec(data, "observe f ~ laplace(0.2)")).observe
    assert (lap.likelihood, lap.scale, lap.df) == ("laplace", 0.2, None)


def test_fit_settings():
    m = hjdsl.parse(spec("fit method = nuts chains = 4 warmup = 100 draws = 200 polish = false"))
    f = m.fit
    assert (f.method, f.chains, f.warmup, f.draws, f.polish, f.steps) == ("nuts", 4, 100, 200,
                                                                          False, 2000)


def test_synthetic_grid_x_and_truth_literal():
    m = hjdsl.parse(spec("data synthetic seed = 2 {", "  x = grid(-1, 1, 5)",
                         "  truth y = [-1, 1]", "  truth g = [0, 0.5]",
                         "  value = hopf_lax(x)", "}"))
    x = np.linspace(-1, 1, 5)
    expected = np.minimum((x + 1) ** 2 / 4, 0.5 + (x - 1) ** 2 / 4)
    np.testing.assert_allclose(m.data.value, expected)
    assert m.data.noise == 0.0 and m.data.truth.values.tolist() == [0, 0.5]


def test_warnings_do_not_fail():
    m = hjdsl.parse(spec("observe f ~ normal(sigma = 0.1)",
                         head="model m\ndim 1\nviscosity eps in [0, 0.5]\nhamiltonian H(p) = |p|_1\n"))
    assert [w.code for w in m.warnings] == ["W001", "W002"]
    assert "structural analogue, not exact" in m.warnings[0].message
    assert hjdsl.parse(spec(head="model m\ndim 1\nviscosity eps = 0\nhamiltonian H(p) = |p|_1\n"
                            )).warnings == ()


def test_errors_carry_file_line_column_and_are_all_reported():
    text = spec("time t = -1", "viscosity eps = -2", "evaluate x = [[1, 2]]")
    with pytest.raises(SpecError) as info:
        hjdsl.parse(text, name="bad.hj")
    err = info.value
    assert isinstance(err, HJError) and err.exit_code == 2
    assert (err.file, err.line, err.column) == ("bad.hj", 6, 10)
    assert [d.span.line for d in err.errors] == [6, 7, 8]


def test_data_files_resolve_relative_to_the_spec(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("a,b,v\n0,1,2\n1,2,3\n2,3,5\n")
    path = tmp_path / "sub" / "m.hj"
    path.write_text("model m\ndim 2\nhamiltonian H(p) = |p|^2\nparticles y = data\n"
                    'initial g = data\ndata "d.csv" { x = [b, a]; value = v }\n')
    m = hjdsl.load(path)
    assert m.y.tolist() == [[1, 0], [2, 1], [3, 2]] and m.g.tolist() == [2, 3, 5]
    assert m.data.columns == {"x": ["b", "a"], "value": "v"} and m.data.path == "d.csv"


def test_data_problems_raise_data_error(tmp_path):
    (tmp_path / "d.csv").write_text("x,value\n0,1\n1,inf\n")
    path = tmp_path / "m.hj"
    path.write_text(spec('data "d.csv" { x = x; value = value }'))
    with pytest.raises(DataError) as info:
        hjdsl.load(path)
    assert "inf is not a finite number" in info.value.diagnostics[0].message


def test_netcdf_with_missing_variable(tmp_path):
    import xarray as xr

    xr.Dataset({"x": ("n", [0.0, 1.0]), "w": ("n", [1.0, 2.0])}).to_netcdf(
        tmp_path / "d.nc", engine="h5netcdf")
    path = tmp_path / "m.hj"
    path.write_text(spec('data "d.nc" { x = x; value = v }'))
    with pytest.raises(DataError) as info:
        hjdsl.load(path)
    assert info.value.diagnostics[0].message == "column `v` not found in `d.nc`"
    assert info.value.diagnostics[0].hint == "columns are: x, w"


def test_huge_grid_is_refused_before_allocating():
    text = "model m\ndim 3\nhamiltonian H(p) = |p|^2\nparticles y = grid(-1, 1, 1000000)\n" \
           "initial g = 0\nevaluate x = grid(-1, 1, 1000)\n"
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        hjdsl.parse(text)
    assert time.perf_counter() - start < 2.0
    messages = [d.message for d in info.value.diagnostics]
    assert messages == [
        "this grid would have 1,000,000,000,000,000,000 points (1,000,000 × 1,000,000 × "
        "1,000,000); the limit is 1,000,000",
        "this grid would have 1,000,000,000 points (1,000 × 1,000 × 1,000); the limit is "
        "10,000,000",
    ]


def test_model_is_frozen():
    m = hjdsl.parse(spec())
    with pytest.raises(AttributeError):
        m.name = "other"
    with pytest.raises(ValueError):
        m.y[0, 0] = 5.0


def test_sweep_and_split_warnings():
    m = hjdsl.parse(spec("data synthetic n = 3 { x ~ normal(0, 1); value = x }",
                         "observe f ~ normal(0.1)", "split test = 0.1",
                         head="model m\ndim 1\nviscosity eps in [1, 0.1, 1]\n"
                              "hamiltonian H(p) = |p|^2\n"))
    assert [(w.code, w.message) for w in m.warnings] == [
        ("W003", "the eps sweep repeats 1"),
        ("W004", "split test = 0.1 of 3 data points holds out 0.3 of them: too few to test"),
    ]
    assert m.eps.tolist() == [1, 0.1, 1]  # kept as written
