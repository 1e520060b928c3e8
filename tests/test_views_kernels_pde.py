"""The PDE residual's one-pass Gibbs-moment kernel against an independent numpy computation of the
moments (ties, ε → 0, one point of atoms, huge g spread, d = 1 … 10), and its compiled shape."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.model.ir import Model
from hjdsl.views.closed_form.lse import EPS_FLOOR
from hjdsl.views.closed_form.pde import _residual_kernel, residual_view
from hjdsl.views.tolerances import ULP

EPS = np.array([1.0, 0.1, 1e-3, 1e-12, 1e-200, EPS_FLOOR, 0.0])


def numpy_terms(xl, t, yl, g, eps):
    """(u_t, h, ε tr(A∇²u), sizes) from the definitions: π over the (n, N, d) differences."""
    D = xl[:, None, :] - yl[None, :, :]
    sq = np.einsum("njk,njk->nj", D, D)
    z = -(g + sq / (4.0 * t))
    if eps > 0:
        with np.errstate(under="ignore", over="ignore"):  # (z − max)/ε may be −inf
            w = np.exp((z - z.max(axis=1, keepdims=True)) / max(eps, EPS_FLOOR))
    else:  # the first minimiser of the costs
        w = (np.arange(z.shape[1]) == np.argmax(z, axis=1)[:, None]).astype(float)
    pi = w / w.sum(axis=1, keepdims=True)
    mean = np.einsum("nj,njk->nk", pi, D)
    centred = D - mean[:, None, :]
    u_t = -np.einsum("nj,nj->n", pi, sq) / (4 * t * t)
    h = np.einsum("nk,nk->n", mean, mean) / (4 * t * t)
    cov = np.einsum("nj,njk,njk->n", pi, centred, centred) / (4 * t * t)
    curv = eps * xl.shape[1] / (2 * t)
    xn, yn = np.linalg.norm(xl, axis=1)[:, None], np.linalg.norm(yl, axis=1)[None, :]
    near = np.einsum("nj,nj->n", pi, (xn + yn) * (np.sqrt(sq) + ULP * (xn + yn))) / (2 * t * t)
    return u_t, h, curv - cov, np.abs(u_t) + np.abs(h) + abs(curv) + cov + near


def _model(d, n_atoms, seed, *, spread=2.0, one_point=False):
    rng = np.random.default_rng(seed)
    B = rng.uniform(-1, 1, size=(d, d))
    y = rng.uniform(-3, 3, size=(n_atoms, d))
    if one_point:
        y[:] = y[0]
    return Model.from_atoms(y, rng.uniform(-spread, spread, n_atoms), t=0.7,
                            A=B @ B.T + 0.2 * np.eye(d), eps=[1.0],
                            x=rng.uniform(-4, 4, size=(9, d)))


def _kernel_terms(m, eps):
    """The terms from the kernels residual_view runs (ε > 0 and ε = 0 kernels), via residual_view."""
    return residual_view(m, m.evaluate, eps)


CASES = [  # d, atoms, seed, g spread, all atoms at one point
    (1, 1, 0, 2.0, False), (1, 30, 1, 2.0, False), (2, 50, 2, 2.0, False), (3, 20, 3, 1e6, False),
    (2, 12, 4, 2.0, True), (9, 15, 5, 2.0, False), (10, 40, 6, 50.0, False),
]


@pytest.mark.parametrize("d, n_atoms, seed, spread, one_point", CASES)
def test_residual_view_equals_the_numpy_moments(d, n_atoms, seed, spread, one_point):
    m = _model(d, n_atoms, seed, spread=spread, one_point=one_point)
    factor = m.hamiltonian.factor
    out = _kernel_terms(m, EPS)
    for i, e in enumerate(EPS):
        u_t, h, lap, sizes = numpy_terms(m.evaluate @ factor, m.t, m.y @ factor, m.g, e)
        norm = e * d / (2 * m.t)
        scale = m.hamiltonian.condition * (sizes + norm)
        np.testing.assert_allclose(out["scale"][i], scale, rtol=1e-12, err_msg=f"eps={e}")
        # the residual to a few ulp of what cancels in it (it is 0 in exact arithmetic)
        expected = u_t + h - lap + norm
        tol = 64 * ULP * scale
        assert np.all(np.abs(out["residual"][i] - expected) <= tol), (e, out["residual"][i])
        assert np.all(np.isfinite(out["residual"][i]))


def test_tied_atoms_at_eps_0_use_the_first_minimiser():
    # atoms 0 (y = 0, g = 1) and 1 (y = 2, g = 0) cost exactly 1 at x = 0, but their |x − y|²
    # differ (0 and 4): u_t = −E|D|²/(4t²) tells which one ε = 0 weighs
    for y, g, first_sq in (([[0.0], [2.0]], [1.0, 0.0], 0.0), ([[2.0], [0.0]], [0.0, 1.0], 4.0)):
        m = Model.from_atoms(y, g, t=1.0, x=[[0.0]])
        out = residual_view(m, m.evaluate, np.array([0.0, 1e-300]))
        xn, yn = 0.0, np.sqrt(first_sq)
        near = (xn + yn) * (np.sqrt(first_sq) + ULP * (xn + yn)) / 2.0
        np.testing.assert_array_equal(out["scale"][0], 2 * first_sq / 4 + near)
        # ε → 0 with the tie: both atoms weigh ½, the moments are their mean
        u_t, h, lap, sizes = numpy_terms(m.evaluate, 1.0, m.y, m.g, 1e-300)
        np.testing.assert_allclose(out["scale"][1], sizes + 1e-300 / 2, rtol=1e-14)


def test_tiny_eps_tends_to_the_active_atom():
    m = _model(2, 30, 8)
    out = residual_view(m, m.evaluate, np.array([1e-300, 0.0]))
    np.testing.assert_allclose(out["scale"][0], out["scale"][1], rtol=1e-14)
    assert np.all(np.isfinite(out["residual"]))


def test_the_numpy_reference_catches_a_wrong_moment():
    # both directions: the comparison above fails when a moment is off (here the covariance)
    m = _model(2, 20, 9)
    factor = m.hamiltonian.factor
    u_t, h, lap, sizes = numpy_terms(m.evaluate @ factor, m.t, m.y @ factor, m.g, 0.5)
    out = residual_view(m, m.evaluate, np.array([0.5]))
    wrong = u_t + h - (1.01 * lap) + 0.5 * 2 / (2 * m.t)
    assert np.any(np.abs(out["residual"][0] - wrong) > 64 * ULP * out["scale"][0])


def _compiled(soft: bool, n: int, N: int, d: int) -> str:
    points, yl = np.zeros((n, d)), np.zeros((N, d))
    return _residual_kernel(soft).lower(points, 1.0, yl, np.zeros(N), np.ones(2)).compile().as_text()


@pytest.mark.parametrize("soft", [True, False])
def test_compiled_kernel_has_one_exp_and_no_points_atoms_d_array(soft):
    # the old kernel formed (points, atoms, d) differences and reduced over their minor axis,
    # several times the cost of one pass over (points, atoms) arrays
    text = _compiled(soft, 16, 37, 3)
    assert "16,37,3]" not in text and "37,16,3]" not in text
    assert text.count("exponential(") == (1 if soft else 0)
