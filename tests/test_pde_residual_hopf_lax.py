"""The autodiff PDE residual of the ε = 0 Hopf–Lax value for non-quadratic H: round-off, FAIL on a
wrong Lagrangian, NaN at kinks and on the boundary of dom L, skips with reasons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from hjdsl.hamiltonians import Atom, Composite, Scaled, Sum, build
from hjdsl.model.ir import Model
from hjdsl.results import points
from hjdsl.views.closed_form import pde
from hjdsl.views.report import diagram_rows, failures
from hjdsl.views.tolerances import ULP, hopf_lax_pde_ulps

PDE = "PDE residual (autodiff)"
FORMS = {
    "relativistic": (Atom("relativistic", c=2.0), "sqrt(2 + |p|^2)"),
    "huber": (Atom("huber", delta=0.5), "huber(|p|, 0.5)"),
    "radial": (Sum((Atom("sq"), Scaled(2.0, Atom("l2")))), "|p|^2 + 2*|p|_2"),
    "norm": (Scaled(2.0, Atom("l2")), "2*|p|_2"),
}


def model_for(H, d: int, eps=(0.0,), n: int = 40, seed: int = 1) -> Model:
    rng = np.random.default_rng(seed)
    y, g = rng.normal(size=(6, d)), rng.normal(scale=0.3, size=6)
    return Model.from_atoms(y, g, hamiltonian=H, t=0.8, eps=list(eps),
                            x=rng.normal(scale=1.2, size=(n, d)))


def pde_row(ds, eps: float):
    return next(r for r in diagram_rows(ds) if r.arrow == PDE and r.eps == eps)


def relativistic_scale(x, y_a, t: float, c: float) -> np.ndarray:
    """S = |u_t| + |v||∇u| + |H(∇u)| from the closed forms: ∇u = √c·v/√(1 − |v|²), H(∇u) =
    √c/√(1 − |v|²) = −u_t, so S = √c·(2 + |v|²)/√(1 − |v|²)."""
    s2 = np.sum(((x - y_a) / t) ** 2, axis=-1)
    return np.sqrt(c) * (2.0 + s2) / np.sqrt(1.0 - s2)


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_residual_is_round_off_off_kinks(form, d):
    tree, text = FORMS[form]
    H = build(tree, text, d)
    ds = model_for(H, d).compare(audit=0, grid=False)
    r, scale = ds.pde_residual.values[0], ds.pde_scale.values[0]
    judged = ds.pde_excluded.values == pde.JUDGED
    assert judged.sum() >= 8
    assert np.isfinite(r[judged]).all() and np.isnan(r[~judged]).all()
    rtol = hopf_lax_pde_ulps(d) * ULP
    assert np.all(np.abs(r[judged]) <= rtol * scale[judged])
    if form == "norm":  # c_a = g_a near x: ∇u = 0, u_t = 0, H(0) = 0 with nothing to round
        assert np.all(r[judged] == 0.0) and np.all(scale[judged] == 0.0)
    if form == "relativistic":  # the autodiff derivatives are the closed-form ones
        y_a = ds.y.values[ds.active_atom.values[judged]]
        np.testing.assert_allclose(scale[judged], relativistic_scale(
            points(ds)[judged], y_a, 0.8, 2.0), rtol=1e-12)
    row = pde_row(ds, 0.0)
    assert (row.kind, row.status) == ("exact", "PASS") and row.bound == rtol


@dataclass(frozen=True, eq=False)
class Corrupted(Composite):
    """A Composite whose costs carry L·(1 + 1e-6): no longer H*, so Fenchel–Young fails."""

    def kernel_costs(self, x, y, g, t, args, xp):
        c = super().kernel_costs(x, y, g, t, args, xp)
        return xp.asarray(g) + (c - xp.asarray(g)) * (1.0 + 1e-6)

    @property
    def kernel_key(self):
        return ("corrupted", self.tree.key)  # its own compiled kernels


@pytest.mark.parametrize("form", ["relativistic", "radial"])
def test_a_wrong_lagrangian_fails_the_row(form):
    tree, text = FORMS[form]
    good = build(tree, text, 1)
    bad = Corrupted(text, good.tree, 1)
    rows = {}
    for name, H in (("good", good), ("bad", bad)):
        ds = model_for(H, 1, n=24, seed=3).compare(audit=0, grid=False)
        rows[name] = pde_row(ds, 0.0)
    assert rows["good"].status == "PASS" and not failures([rows["good"]])
    assert rows["bad"].status == "FAIL" and failures([rows["bad"]])
    # the miss is the corruption's size, δ·|r h'(r) − h(r)|/S, not round-off
    assert rows["bad"].value > 1e-8


def test_kinks_boundary_unreached_and_atoms_are_excluded():
    """Atoms at ±1 with g = 0, relativistic (dom L: |v| ≤ 1), t = 1."""
    H = build(Atom("relativistic", c=1.0), "sqrt(1 + |p|^2)", 1)
    x = np.array([0.0, 2.0, 2.5, 1.0, 0.5, -1.7])
    m = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.0], hamiltonian=H, t=1.0, eps=[0.0], x=x[:, None])
    ds = m.compare(audit=0, grid=False)
    np.testing.assert_array_equal(ds.pde_excluded.values,
                                  [pde.KINK, pde.BOUNDARY, pde.UNREACHED, pde.AT_ATOM,
                                   pde.JUDGED, pde.JUDGED])
    r = ds.pde_residual.values[0]
    assert np.isnan(r[:4]).all() and np.isfinite(r[4:]).all()
    # u_0 = −√(1 − v²) at the judged points (independent of the views), residual round-off
    v = np.array([0.5 - 1.0, -1.7 + 1.0])
    np.testing.assert_allclose(ds.hopf_lax.values[4:], -np.sqrt(1.0 - v ** 2), rtol=1e-14)
    assert pde_row(ds, 0.0).status == "PASS"


def test_eps_positive_is_a_skip_with_the_reason():
    H = build(*FORMS["huber"], 1)
    ds = model_for(H, 1, eps=(0.4, 0.0), n=12).compare(audit=0, grid=False)
    assert np.isnan(ds.pde_residual.sel(eps=0.4)).all()
    row = pde_row(ds, 0.4)
    assert (row.kind, row.status) == ("n/a", "skip")
    assert "structural analogue" in row.detail and not failures([row])
    assert pde_row(ds, 0.0).status == "PASS"


def test_a_non_traceable_hamiltonian_is_a_skip_with_its_reason():
    H = build(Sum((Atom("sq"), Atom("l1"))), "|p|^2 + |p|_1", 2)
    assert not H.traceable
    ds = model_for(H, 2, n=4).compare(audit=0, grid=False)
    assert ds.attrs["label_pde_residual_hopf_lax"] == "none"
    assert np.isnan(ds.pde_residual.values).all()
    row = pde_row(ds, 0.0)
    assert (row.kind, row.status) == ("n/a", "skip")
    assert "convex program" in row.detail and "cannot differentiate" in row.detail


def test_quadratic_keeps_its_own_residual_and_labels():
    m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0], eps=[0.3, 0.0],
                         x=np.array([[-2.0], [0.0], [0.7]]))
    ds = m.compare(audit=0, grid=False)
    assert ds.attrs["label_pde_residual"] == ds.attrs["label_pde_residual_hopf_lax"] == "exact"
    # x = 0 ties atoms 1 and 2: the kink, the only exclusion, as before
    np.testing.assert_array_equal(ds.pde_excluded.values, [pde.JUDGED, pde.KINK, pde.JUDGED])
    assert np.isfinite(ds.pde_residual.sel(eps=0.3)).all()
    for eps in (0.3, 0.0):
        assert pde_row(ds, eps).status == "PASS" and pde_row(ds, eps).kind == "exact"
