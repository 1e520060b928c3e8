"""Numerics to the float64 limit: tiny ε, tiny t, huge x, small entropies, ill-conditioned A."""

from __future__ import annotations

import functools
import importlib.util

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hjdsl.model.ir import Model
from hjdsl.views.closed_form.network import entropy_of_logits
from hjdsl.views.report import diagram_rows, failures
from tests.conftest import ROOT

IDENTITY = "network + hopf_cole = x'A^-1x/(4t)"
PDE = "PDE residual (autodiff)"


def _sweep():
    spec = importlib.util.spec_from_file_location("sweep_numerics",
                                                  ROOT / "scripts" / "sweep_numerics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SWEEP = _sweep()
# One configuration per Hamiltonian family at the extremes (ε over all of SWEEP.EPS each):
# (form, t, |x| scale, seed); forms are (kind, a or cond(A), d).
TABLE = [
    (("iso", 0.5, 1), 1e-6, 1.0, 0), (("iso", 0.5, 1), 1e-6, 1e6, 1), (("iso", 1.0, 2), 1e3, 1e6, 0),
    (("iso", 3.0, 3), 1e-3, 1e3, 0), (("aniso", 1e4, 2), 1e-6, 1e3, 0),
    (("aniso", 1e8, 3), 1.0, 1e6, 0), (("aniso", 10.0, 3), 1e-6, 1.0, 2),
    (("l1", 1.0, 2), 1e-6, 1.0, 0), (("l2", 2.0, 1), 1.0, 1e3, 0), (("linf", 1.0, 3), 1e3, 1.0, 0),
]


@pytest.mark.parametrize("config", TABLE, ids=lambda c: f"{c[0][0]}-{c[0][1]:g}-d{c[0][2]}-t{c[1]:g}"
                                                       f"-x{c[2]:g}")
def test_sweep_has_no_nonfinite_value_and_no_dishonest_row(config):
    counts = SWEEP.audit(config)
    assert counts == {"configurations": 1, "non-finite": 0, "dishonest": 0, "off": 0, "fails": 0}


def _entropy_reference(z, eps):
    """−Σπ log π by mpmath from the float logits, with no 1 + tiny − 1 (log1p of the rest)."""
    mp.mp.dps = 40
    top = int(np.argmax(z))
    a = [(mp.mpf(float(v)) - mp.mpf(float(z[top]))) / mp.mpf(eps) for v in z]
    rest = mp.fsum(mp.exp(v) for j, v in enumerate(a) if j != top)
    log_s = mp.log1p(rest)
    return mp.fsum(mp.exp(v) / (1 + rest) * (log_s - v) for v in a)


@functools.lru_cache(maxsize=1)
def _jitted_entropy():
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()

    return jax.jit(entropy_of_logits)  # one compile per length, not one dispatch per primitive


@settings(max_examples=150, deadline=None)
@given(eps=st.floats(1e-3, 1e3), gaps=st.lists(st.floats(0.0, 700.0), min_size=1, max_size=5),
       shift=st.floats(-1e3, 1e3))
def test_entropy_keeps_its_relative_accuracy_down_to_1e_300(eps, gaps, shift):
    z = np.array([shift] + [shift - g * eps for g in gaps])
    ref = _entropy_reference(z, eps)
    assume(ref >= 1e-300)
    got = float(_jitted_entropy()(z, eps))
    assert abs(got - float(ref)) <= 1e-12 * float(ref)


@pytest.mark.parametrize("gap, ent", [(20, 4.3284225984118455e-08), (30, 2.9008631203401875e-12),
                                      (40, 1.7418252446695514e-16)])
def test_the_reported_small_entropies(gap, ent):
    """issue 8 item 3: logits (0, −Δ) at ε = 1 had relative errors 1.6e-9 / 3.3e-5 / 2.4e-2."""
    from hjdsl.analysis.critical_points import Landscape

    z = np.array([0.0, -float(gap)])
    assert float(_entropy_reference(z, 1.0)) == pytest.approx(ent, rel=1e-15)
    assert float(entropy_of_logits(z, 1.0)) == pytest.approx(ent, rel=1e-13)
    land = Landscape(np.array([[0.0], [0.0]]), z, (-1.0, 1.0))  # logits W·x + b = z at every x
    assert float(land.entropy(np.array([0.3]), 1.0)[0]) == pytest.approx(ent, rel=1e-13)


def _spd(rng, d, cond):
    q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    a = q @ np.diag(np.logspace(0, np.log10(cond), d)) @ q.T
    return 0.5 * (a + a.T)


def _mp_views(A, y, g, x, t, eps):
    """f_ε, u_ε and xᵀA⁻¹x/(4t) by mpmath with the exact A⁻¹ (of the float A)."""
    mp.mp.dps = 40
    inv = mp.matrix(A.tolist()) ** -1
    f, u, q = (np.empty((len(eps), len(x))) for _ in range(3))
    for i, xi in enumerate(x):
        xv = mp.matrix([mp.mpf(float(v)) for v in xi])
        quad = (xv.T * inv * xv)[0] / (4 * mp.mpf(t))
        costs = []
        for yj, gj in zip(y, g):
            dv = mp.matrix([mp.mpf(float(a)) - mp.mpf(float(b)) for a, b in zip(xi, yj)])
            costs.append(mp.mpf(float(gj)) + (dv.T * inv * dv)[0] / (4 * mp.mpf(t)))
        low = min(costs)
        for k, e in enumerate(eps):
            value = low if e == 0 else \
                low - mp.mpf(e) * mp.log(mp.fsum(mp.exp(-(c - low) / mp.mpf(e)) for c in costs))
            u[k, i], q[:, i], f[k, i] = float(value), float(quad), float(quad - value)
    return f, u, q


@pytest.mark.parametrize("d, cond, seed", [
    (3, 1e8, 0), pytest.param(4, 1e8, 1, marks=pytest.mark.slow),
    pytest.param(5, 1e8, 2, marks=pytest.mark.slow), pytest.param(4, 1e4, 3, marks=pytest.mark.slow),
])
def test_ill_conditioned_A_rows_pass_on_correct_values_and_fail_on_corrupted(d, cond, seed):
    rng = np.random.default_rng(seed)
    A = _spd(rng, d, cond)
    y, g, x = rng.normal(size=(4, d)), rng.normal(size=4), rng.normal(size=(5, d))
    eps = [1.0, 0.1, 0.0]
    ds = Model.from_atoms(y, g, A=A, eps=eps, x=x).compare(audit=0, grid=False)
    f_ref, u_ref, q_ref = _mp_views(A, y, g, x, 1.0, eps)
    # the views agree with mpmath to the conditioning limit (cond(A)·ulp × the terms' size) ...
    limit = 64 * np.finfo(float).eps * cond * ds.identity_scale.values
    assert np.all(np.abs(ds.hopf_cole.values - u_ref) <= limit)
    assert np.all(np.abs(ds.network.values - f_ref) <= limit)
    # ... and no row fails (issue 8 item 4: 30 identity and 28 PDE rows failed at cond 1e8)
    assert not failures(diagram_rows(ds))
    # the mpmath values themselves pass the identity row
    exact = ds.copy(deep=True)
    exact["network"].values[:] = f_ref
    exact["hopf_cole"].values[:] = u_ref
    exact["identity_residual"].values[:] = f_ref + u_ref - q_ref
    assert {r.status for r in diagram_rows(exact) if r.arrow == IDENTITY} == {"PASS"}
    # corrupted beyond the stated tolerance, the identity and PDE rows fail
    for name, arrow, scale in (("identity_residual", IDENTITY, "identity_scale"),
                               ("pde_residual", PDE, "pde_scale")):
        bad = ds.copy(deep=True)
        rtol = next(r.bound for r in diagram_rows(ds) if r.arrow == arrow and r.eps == 0.1)
        bad[name].values[1, 3] = 3 * rtol * bad[scale].values[1, 3]
        r = next(r for r in diagram_rows(bad) if r.arrow == arrow and r.eps == 0.1)
        assert r.status == "FAIL" and r.value > r.bound, (name, r)


def test_pde_residual_memory_grows_with_atoms_not_their_square():
    # 2·10⁵ atoms: an N × N cotangent basis (what jax.hessian of the cost vector builds) would
    # need 640 GB; atom by atom the residual needs O(N d²) and is round-off.
    from hjdsl.model.ir import Model
    from hjdsl.views.closed_form.pde import residual_view

    y = np.linspace(-2.0, 2.0, 200_000)[:, None]
    m = Model.from_atoms(y, np.abs(y[:, 0]), eps=[0.5])
    out = residual_view(m, np.array([[0.3]]), np.array([0.5]))
    assert abs(out["residual"][0, 0]) <= 1e-13 * out["scale"][0, 0]
