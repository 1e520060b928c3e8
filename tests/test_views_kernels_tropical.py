"""The tropical kernel and the quadratic costs it (and Hopf–Cole) trace, against numpy from the
definitions: ties, all atoms at one point, d on both sides of the written-out costs; and the
compiled kernel's shape (float reductions only, no (points, atoms, d) array)."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.model.ir import Model
from hjdsl.views.closed_form.hopf_cole import cost_kernel
from hjdsl.views.closed_form.tropical import _tropical_body, tropical_view


def _model(d, n_atoms, seed, *, one_point=False, x=None):
    rng = np.random.default_rng(seed)
    B = rng.uniform(-1, 1, size=(d, d))
    y = rng.uniform(-3, 3, size=(n_atoms, d))
    if one_point:
        y[:] = y[0]
    g = np.zeros(n_atoms) if one_point else rng.uniform(-2, 2, n_atoms)
    x = rng.uniform(-4, 4, size=(300, d)) if x is None else np.asarray(x, dtype=float)
    return Model.from_atoms(y, g, t=0.7, A=B @ B.T + 0.2 * np.eye(d), eps=[1.0], x=x)


def numpy_costs(m):
    """g_j + (x − y_j)ᵀA⁻¹(x − y_j)/(4t), with A⁻¹ by numpy's own inverse (not the model's factor)."""
    D = m.evaluate[:, None, :] - m.y[None, :, :]
    return m.g + np.einsum("njk,kl,njl->nj", D, np.linalg.inv(m.hamiltonian.matrix), D) / (4 * m.t)


@pytest.mark.parametrize("d, n_atoms, seed", [(1, 1, 0), (1, 40, 1), (2, 300, 2), (8, 30, 3),
                                              (9, 30, 4), (10, 25, 5)])
def test_tropical_view_equals_numpy(d, n_atoms, seed):
    m = _model(d, n_atoms, seed)
    out = tropical_view(m, m.evaluate)
    c = numpy_costs(m)
    two = np.sort(c, axis=1)[:, :2] if n_atoms > 1 else np.c_[c, np.full(len(c), np.inf)]
    size = np.abs(c).max()
    np.testing.assert_allclose(out["u0"], two[:, 0], rtol=0, atol=1e-13 * size)
    clear = two[:, 1] - two[:, 0] > 1e-9 * size  # off round-off ties the minimiser is unique
    np.testing.assert_array_equal(out["active"][clear], np.argmin(c, axis=1)[clear])
    np.testing.assert_allclose(out["gap"], two[:, 1] - two[:, 0], rtol=0, atol=1e-13 * size)
    np.testing.assert_array_equal(out["reachable"], n_atoms)
    W, b = m.weights()
    np.testing.assert_allclose(out["f0"], (m.evaluate @ W.T + b).max(axis=1), rtol=0,
                               atol=1e-13 * size)


def test_all_atoms_at_one_point_tie_everywhere():
    out = tropical_view(*(lambda m: (m, m.evaluate))(_model(2, 7, 6, one_point=True)))
    np.testing.assert_array_equal(out["gap"], 0.0)
    np.testing.assert_array_equal(out["active"], 0)  # the first of the tied minimisers


def test_symmetric_tie_gives_zero_gap_and_the_first_atom():
    # atoms at ±1 with equal g: x = 0 ties exactly, x = 0.5 does not
    m = Model.from_atoms([[1.0], [-1.0]], [0.3, 0.3], t=1.0, x=[[0.0], [0.5]])
    out = tropical_view(m, m.evaluate)
    np.testing.assert_array_equal(out["gap"], [0.0, 0.5])   # (1.5² − 0.5²)/4
    np.testing.assert_array_equal(out["active"], [0, 0])
    np.testing.assert_array_equal(out["u0"], [0.55, 0.3 + 0.25 / 4])


@pytest.mark.parametrize("d", [1, 3, 8, 9])
@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_quadratic_costs_equal_the_reduction_form(d, backend):
    from hjdsl.jaxsetup import jax_x64

    jax_x64()
    import jax.numpy as jnp

    m = _model(d, 20, 10 + d)
    ham, xp = m.hamiltonian, (np if backend == "numpy" else jnp)
    got = np.asarray(ham.kernel_costs(m.evaluate, m.y, m.g, m.t, ham.factor, xp))
    xs, ys = m.evaluate @ ham.factor, m.y @ ham.factor
    diff = xs[:, None, :] - ys
    quad = np.sum(diff * diff, axis=-1) / (4 * m.t)
    # a few roundings of the two terms added (g may cancel the quadratic one)
    assert np.all(np.abs(got - (m.g + quad)) <= 4 * d * 2.2e-16 * (np.abs(m.g) + quad))
    np.testing.assert_allclose(got, numpy_costs(m), rtol=1e-12)


def test_a_wrong_runner_up_is_caught():
    # both directions: the gap check above fails on a runner-up off by one atom's cost
    m = _model(2, 50, 11)
    out = tropical_view(m, m.evaluate)
    c = np.sort(numpy_costs(m), axis=1)
    wrong = c[:, 2] - c[:, 0]
    assert np.any(np.abs(out["gap"] - wrong) > 1e-13 * np.abs(c).max())


def test_compiled_kernel_reduces_in_float_and_forms_no_points_atoms_d_array():
    # the old kernel's integer reductions (first minimiser, reach count) ran 2–3× slower than
    # float ones, and the costs' (points, atoms, d) differences reduced over d several times more
    m = _model(3, 37, 12)
    ham = m.hamiltonian
    kernel = cost_kernel("tropical", ham, _tropical_body(True), True)
    W, b = m.weights()
    text = kernel.lower(np.zeros((16, 3)), m.y, m.g, m.t, ham.kernel_args(m.t), W, b).compile().as_text()
    assert "s64[16,37]" not in text and "s32[16,37]" not in text
    assert "16,37,3]" not in text
