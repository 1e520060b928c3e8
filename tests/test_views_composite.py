"""Views for composite Hamiltonians: Hopf–Lax, Hopf–Cole, the Hopf–Lax program and compare.

Every reference is computed here independently: L = H* written from its derivation in numpy,
the atomic Hopf–Lax value as a brute-force min over atoms, the continuous one as a brute-force
min over a dense y grid.
"""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl
from hjdsl.hamiltonians.composite import Atom, Sum, build
from hjdsl.model.ir import Model
from hjdsl.results import points
from hjdsl.views.closed_form.hopf_cole import hopf_cole_view
from hjdsl.views.closed_form.tropical import tropical_view
from hjdsl.views.report import diagram_rows, failures


def L_relativistic(v):
    """sqrt(1 + |p|^2)* = −sqrt(1 − |v|^2) on |v| ≤ 1 (p = v/sqrt(1 − |v|^2)), +inf outside."""
    s = np.sum(v * v, axis=-1)
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, -np.sqrt(np.clip(1.0 - s, 0.0, None)), np.inf)


def L_huber(v, delta=1.0):
    """huber(|p|, δ)* = |v|^2/4 on |v| ≤ 2δ (the slope of H never exceeds 2δ), +inf outside."""
    s = np.sqrt(np.sum(v * v, axis=-1))
    return np.where(s <= 2.0 * delta, s * s / 4.0, np.inf)


def L_sq_l1(v):
    """(|p|^2 + |p|_1)* = min_{|u|_inf ≤ 1} |v − u|^2/4 = Σ_k max(|v_k| − 1, 0)^2/4."""
    return np.sum(np.maximum(np.abs(v) - 1.0, 0.0) ** 2, axis=-1) / 4.0


FORMS = {
    "relativistic": (lambda d: build(Atom("relativistic", c=1.0), "sqrt(1 + |p|^2)", d),
                     L_relativistic),
    "huber": (lambda d: build(Atom("huber", delta=1.0), "huber(|p|, 1)", d), L_huber),
    "sq+l1": (lambda d: build(Sum((Atom("sq"), Atom("l1"))), "|p|^2 + |p|_1", d), L_sq_l1),
}


def brute_costs(x, y, g, t, L):
    return g[None, :] + t * L((x[:, None, :] - y[None, :, :]) / t)


def atoms(d, n=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.5, 1.5, (n, d)), rng.uniform(0.0, 1.0, n), rng.uniform(-2, 2, (40, d))


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("d", [1, 2])
def test_atomic_hopf_lax_and_hopf_cole_match_brute_force(form, d):
    make, L = FORMS[form]
    ham = make(d)
    assert ham.kind == "composite"
    y, g, x = atoms(d)
    t = 0.8
    model = Model.from_atoms(y, g, t=t, x=x, hamiltonian=ham)
    c = brute_costs(x, y, g, t, L)
    trop = tropical_view(model, x)
    expect = c.min(axis=1)
    finite = np.isfinite(expect)
    assert np.array_equal(np.isfinite(trop["u0"]), finite)
    np.testing.assert_allclose(trop["u0"][finite], expect[finite], rtol=1e-9, atol=1e-9)
    assert np.array_equal(trop["active"][finite], np.argmin(c, axis=1)[finite])
    assert np.all(trop["active"][~finite] == -1)
    assert "f0" not in trop  # no LSE layer
    # ε > 0: the structural entropic analogue over the reachable atoms, −ε log Σ exp(−c/ε)
    eps = np.array([0.5, 0.05, 0.0])
    hc = hopf_cole_view(x, y, g, t, ham, eps, weights=True)
    for i, e in enumerate(eps):
        if e == 0:
            ref = expect
        else:
            m = np.where(finite, expect, 0.0)
            with np.errstate(divide="ignore"):
                ref = m - e * np.log(np.exp(-(c - m[:, None]) / e).sum(axis=1))
            ref = np.where(finite, ref, np.inf)
        assert np.array_equal(np.isfinite(hc["u"][i]), finite)
        np.testing.assert_allclose(hc["u"][i][finite], ref[finite], rtol=1e-9, atol=1e-9)
    pi = hc["pi"][1][finite]
    with np.errstate(over="ignore"):
        w = np.exp(-(c[finite] - expect[finite, None]) / 0.05)
    np.testing.assert_allclose(pi, w / w.sum(axis=1, keepdims=True), atol=1e-9)


def test_a_corrupted_lagrangian_is_caught():
    """The brute force can tell: a Lagrangian off by a constant shifts every u_0."""
    make, L = FORMS["relativistic"]
    y, g, x = atoms(1)
    model = Model.from_atoms(y, g, x=x, hamiltonian=make(1))
    wrong = brute_costs(x, y, g, 1.0, lambda v: L(v) + 1e-6).min(axis=1)
    u0 = tropical_view(model, x)["u0"]
    finite = np.isfinite(u0)
    assert not np.allclose(u0[finite], wrong[finite], rtol=1e-9, atol=1e-9)


SPEC = """
model comp "composite H with convex g"
dim {d}
time t = {t}
viscosity eps in [0.3, 0]
hamiltonian H(p) = {h}
particles y = {particles}
initial g(y) = {g}
evaluate x = {x}
"""


def spec_model(h, d, g, t=0.7):
    if d == 1:
        particles, x = "grid(-2, 2, 9)", "[-1.7, -0.4, 0.3, 1.1, 2.5]"
    else:
        particles, x = ("grid([-1, -1], [1, 1], [3, 3])",
                        "[[0.9, -0.6], [-0.3, 0.2], [1.4, 1.0]]")
    return hjdsl.parse(SPEC.format(d=d, t=t, h=h, particles=particles, g=g, x=x))


def brute_continuous(x, t, g_fn, L, d, n, centre=0.25):
    """min over a dense y grid of g(y) + t·L((x − y)/t). For g minimal at y = centre (per
    coordinate) and these L (even and non-decreasing in each |v_k| or in |v|), the minimiser lies
    in the box spanned by x and the centre; the grid covers it with a margin of 0.3.
    Returns the values and the grid steps."""
    out, steps = [], []
    for xi in x:
        lo, hi = np.minimum(xi, centre) - 0.3, np.maximum(xi, centre) + 0.3
        axes = [np.linspace(lo[k], hi[k], n) for k in range(d)]
        ys = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
        out.append(np.min(g_fn(ys) + t * L((xi - ys) / t)))
        steps.append(np.max(hi - lo) / (n - 1))
    return np.array(out), np.array(steps)


@pytest.mark.parametrize("form, h", [("relativistic", "sqrt(1 + |p|^2)"),
                                     ("huber", "huber(|p|, 1)"), ("sq+l1", "|p|^2 + |p|_1")])
@pytest.mark.parametrize("d, n", [(1, 20001), (2, 401)])
def test_continuous_hopf_lax_program_matches_dense_brute_force(form, h, d, n):
    from hjdsl.views.convex.hopf_lax import HopfLaxProgram, HopfLaxSpec

    model = spec_model(h, d, "sum(square(y - 0.25))")
    assert model.hamiltonian.kind == "composite"
    program = HopfLaxProgram(HopfLaxSpec.from_model(model))
    x = np.asarray(model.evaluate)
    values = np.array([program.solve(xi)[0] for xi in x])
    g_fn = lambda ys: np.sum((ys - 0.25) ** 2, axis=-1)  # noqa: E731
    ref, h_step = brute_continuous(x, model.t, g_fn, FORMS[form][1], d, n)
    # the grid minimum lies above the true one, by at most (slope of the objective)·h·√d near
    # the minimiser (slopes here stay below 3); the programs' own tolerance is ~1e-7
    assert np.all(values <= ref + 1e-6)
    assert np.all(values >= ref - 3.0 * np.sqrt(d) * h_step - 1e-6)


def test_hopf_lax_spec_pickles_with_its_composite_hamiltonian():
    import pickle

    from hjdsl.views.convex.hopf_lax import HopfLaxSpec

    spec = HopfLaxSpec.from_model(spec_model("|p|^2 + |p|_1", 2, "sum(square(y))"))
    back = pickle.loads(pickle.dumps(spec))
    v = np.array([[1.7, -0.2], [0.3, 2.5]])
    np.testing.assert_allclose(back.hamiltonian.lagrangian(v), L_sq_l1(v), atol=1e-7)
    # one program in the pool's cache, however the object was passed or what it has cached
    assert pickle.dumps(back.cache_key()) == pickle.dumps(spec.cache_key())


def test_compare_on_a_relativistic_model_rows_and_labels():
    model = spec_model("sqrt(1 + |p|^2)", 1, "abs(y - 0.25)")
    ds = model.compare(audit="all", grid=False)
    assert ds.attrs["exact_hopf_lax"] == "exact"
    assert ds.attrs["exact_convex_lp"] == "exact"
    assert ds.attrs["exact_convex"].startswith("structural for eps > 0")
    assert ds.attrs["exact_hopf_cole"].startswith("structural for eps > 0")
    for column in ("network", "pde"):
        assert ds.attrs[f"exact_{column}"].startswith("not defined (")
    assert np.isnan(ds.network.values).all() and np.isnan(ds.pde_residual.sel(eps=0.3)).all()
    # at ε = 0 the Hopf–Lax value's own residual (tests/test_pde_residual_hopf_lax.py)
    assert np.isfinite(ds.pde_residual.sel(eps=0.0).values[ds.pde_excluded.values == 0]).all()
    # the atomic Hopf–Lax value (exact) against the brute force, the LP agreeing with it
    x, y, g = points(ds), ds.y.values, ds.g.values
    expect = brute_costs(x, y, g, model.t, L_relativistic).min(axis=1)
    np.testing.assert_allclose(ds.hopf_lax.values, expect, rtol=1e-12)
    np.testing.assert_allclose(ds.convex.sel(eps=0).values, expect, rtol=1e-7, atol=1e-7)
    # the continuous program (convex g) against a dense brute force
    ref, h_step = brute_continuous(x, model.t, lambda ys: np.abs(ys[:, 0] - 0.25),
                                   L_relativistic, 1, 20001)
    assert np.all(ds.convex_hopf_lax.values <= ref + 1e-6)
    assert np.all(ds.convex_hopf_lax.values >= ref - 3.0 * h_step - 1e-6)
    rows = {(r.eps, r.arrow): r for r in diagram_rows(ds)}
    assert {arrow for _, arrow in rows} == {
        "network + hopf_cole = x'A^-1x/(4t)", "hopf_lax - hopf_cole in [0, eps log N]",
        "convex = hopf_cole", "convex pi = Gibbs pi", "PDE residual (autodiff)",
        "grid solver - reference"}
    assert rows[(0.3, "network + hopf_cole = x'A^-1x/(4t)")].status == "skip"
    assert rows[(0.3, "network + hopf_cole = x'A^-1x/(4t)")].kind == "n/a"
    for arrow in ("hopf_lax - hopf_cole in [0, eps log N]", "convex = hopf_cole"):
        assert rows[(0.3, arrow)].kind == "structural" and rows[(0.3, arrow)].status == "PASS"
        assert rows[(0.0, arrow)].kind == "exact" and rows[(0.0, arrow)].status == "PASS"
    assert not failures(list(rows.values()))


def test_compare_fails_a_corrupted_exact_row_and_only_warns_a_structural_one():
    model = spec_model("sqrt(1 + |p|^2)", 1, "abs(y - 0.25)")
    ds = model.compare(audit="all", grid=False)
    bad = ds.copy(deep=True)
    bad["convex"].values[:, 1] += 1e-3  # both ε: the LP (exact) and the entropic program
    rows = {(r.eps, r.arrow): r for r in diagram_rows(bad)}
    assert rows[(0.0, "convex = hopf_cole")].status == "FAIL"
    assert rows[(0.3, "convex = hopf_cole")].status == "WARN"
    assert [(r.eps, r.arrow) for r in failures(list(rows.values()))] == [(0.0, "convex = hopf_cole")]


def test_compare_on_a_non_traceable_composite_uses_numpy_costs():
    """|p|^2 + |p|_1 has L by a convex program (numpy only): every view still gets its costs."""
    model = spec_model("|p|^2 + |p|_1", 2, "sum(square(y - 0.25))")
    assert not model.hamiltonian.traceable
    ds = model.compare(audit="all", grid=False)
    x, y, g = points(ds), ds.y.values, ds.g.values
    expect = brute_costs(x, y, g, model.t, L_sq_l1).min(axis=1)
    np.testing.assert_allclose(ds.hopf_lax.values, expect, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ds.hopf_cole.sel(eps=0).values, ds.hopf_lax.values, rtol=1e-12)
    ref, h_step = brute_continuous(x, model.t, lambda ys: np.sum((ys - 0.25) ** 2, axis=-1),
                                   L_sq_l1, 2, 401)
    assert np.all(ds.convex_hopf_lax.values <= ref + 1e-6)
    assert not failures(diagram_rows(ds))


def test_a_missing_fact_is_a_coded_error_not_a_key_error():
    from hjdsl.errors import SpecError, UsageError
    from hjdsl.hamiltonians.base import Hamiltonian
    from hjdsl.model.expr import Call, Name
    from hjdsl.views.convex.hopf_lax import HopfLaxProgram, HopfLaxSpec

    class NoCvxpy(Hamiltonian):  # a family that states no cvxpy form of its Lagrangian
        kind, text = "test", "h(p)"

    spec = HopfLaxSpec(Call(None, "abs", (Name(None, "y"),)), 1, 1.0, NoCvxpy())
    with pytest.raises(SpecError) as err:
        HopfLaxProgram(spec)
    assert err.value.diagnostics[0].code == "U014"
    assert "the continuous Hopf–Lax program" in err.value.diagnostics[0].message
    assert "not supported for H(p) = h(p)" in err.value.diagnostics[0].message
    model = Model.from_atoms([[0.0], [1.0]], [0.0, 0.0], hamiltonian=FORMS["huber"][0](1))
    with pytest.raises(UsageError) as err:
        model.to_jax()
    assert err.value.diagnostics[0].code == "U014"
    with pytest.raises(UsageError, match="exact LSE layer"):
        model.attribute([[0.1]], eps=[0.1])
