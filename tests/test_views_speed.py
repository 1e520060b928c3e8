"""The fast kernels of the lagging views: closed-form PDE residual terms and the tropical top-2."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.model.ir import Model
from hjdsl.views.closed_form.pde import moment_terms, residual_terms, residual_view


def _model(d: int, n_atoms: int, seed: int) -> Model:
    rng = np.random.default_rng(seed)
    B = rng.uniform(-1, 1, size=(d, d))
    A = B @ B.T + 0.2 * np.eye(d)  # a random SPD matrix: the anisotropic case
    return Model.from_atoms(rng.uniform(-3, 3, size=(n_atoms, d)), rng.uniform(-2, 2, n_atoms),
                            t=0.7, A=A, eps=[1.0], x=rng.uniform(-4, 4, size=(12, d)))


EPS = np.array([1.0, 0.1, 1e-3, 0.0])


def _autodiff(m: Model, eps):
    """(u_t, h, lap, sizes), each (n_eps, n), by JAX's differentiation of the costs (the old path)."""
    import jax

    from hjdsl.jaxsetup import jax_x64

    jax_x64()
    ham = m.hamiltonian
    one = lambda x, e: residual_terms(x, m.t, m.y, m.g, ham.matrix, ham.factor, e)  # noqa: E731
    per_eps = jax.vmap(jax.vmap(one, in_axes=(0, None)), in_axes=(None, 0))
    return [np.asarray(v) for v in jax.jit(per_eps)(m.evaluate, np.asarray(eps))]


def _closed(m: Model, eps):
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    factor = m.hamiltonian.factor
    one = lambda e: moment_terms(m.evaluate @ factor, m.t, m.y @ factor, m.g, e)  # noqa: E731
    return [np.asarray(v) for v in jax.jit(jax.vmap(one))(np.asarray(eps))]


@pytest.mark.parametrize("d, n_atoms, seed", [(1, 1, 0), (3, 8, 2), (5, 3, 3)])
def test_moment_terms_match_autodiff(d, n_atoms, seed):
    m = _model(d, n_atoms, seed)
    closed, auto = _closed(m, EPS), _autodiff(m, EPS)
    assert np.all(auto[3] > 0)
    for name, c, a in zip(("u_t", "H(grad u)", "eps tr(A hess u)", "sizes"), closed, auto):
        # each term to the round-off of the size of what cancels (sizes ≥ every |term|)
        tol = 1e-13 * auto[3].max(axis=1, keepdims=True)
        assert np.all(np.abs(c - a) <= tol), (name, np.max(np.abs(c - a) / tol))


def test_residual_view_matches_autodiff_residual():
    m = _model(2, 40, 7)
    out = residual_view(m, m.evaluate, EPS)
    u_t, h, lap, sizes = _autodiff(m, EPS)
    norm = EPS[:, None] * m.dim / (2.0 * m.t)
    np.testing.assert_allclose(out["scale"], m.hamiltonian.condition * (sizes + norm), rtol=1e-12)
    tol = 1e-14 * out["scale"].max(axis=1, keepdims=True)
    assert np.all(np.abs(out["residual"] - (u_t + h - lap + norm)) <= tol)
    assert np.all(np.abs(out["residual"]) <= 1e-13 * out["scale"])


def _tropical(c):
    from hjdsl.views.closed_form.tropical import _tropical_body

    c = np.asarray(c, dtype=np.float64)
    body = _tropical_body(False)
    return {k: np.asarray(v) for k, v in body(np.zeros((c.shape[0], 1)), c, None, None).items()}


def test_tropical_top_two_is_the_sorted_pair_bit_for_bit():
    rng = np.random.default_rng(5)
    c = rng.normal(size=(300, 50)) * 10.0 ** rng.integers(-8, 8, size=(300, 1))
    c[::7, 3] = c[::7, 11] = c[::7].min(axis=1) - 1.0   # exact ties at the minimum
    c[::5, ::2] = np.inf                                 # unreachable atoms
    c[4] = np.inf                                        # a point no atom reaches
    c[9, 1:] = np.inf                                    # a point only one atom reaches
    out = _tropical(c)
    two = np.sort(c, axis=1)[:, :2]
    with np.errstate(invalid="ignore"):
        gap = np.where(np.isfinite(two[:, 1]), two[:, 1] - two[:, 0], np.inf)
    np.testing.assert_array_equal(out["u0"], two[:, 0])
    np.testing.assert_array_equal(out["gap"], gap)
    np.testing.assert_array_equal(out["active"], np.where(np.isfinite(two[:, 0]),
                                                          np.argmin(c, axis=1), -1))
    assert out["gap"][::7][1:].max() == 0.0 and out["active"][4] == -1 and out["gap"][9] == np.inf


def test_tropical_single_atom():
    out = _tropical([[2.5], [np.inf]])
    np.testing.assert_array_equal(out["u0"], [2.5, np.inf])
    np.testing.assert_array_equal(out["gap"], [np.inf, np.inf])
    np.testing.assert_array_equal(out["active"], [0, -1])


def _peak_bytes(fn) -> tuple[int, object]:
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn()
        return tracemalloc.get_traced_memory()[1], out
    finally:
        tracemalloc.stop()


def test_map_chunks_holds_its_result_once():
    import jax  # noqa: F401  (imported before the trace: its import is not the result's memory)

    from hjdsl.views.closed_form.lse import map_chunks

    x = np.linspace(0, 1, 4096)[:, None]
    size = 8 * 4096 * 2000  # the (points × 2000) output
    peak, out = _peak_bytes(lambda: map_chunks(
        lambda b: {"wide": np.repeat(b, 2000, axis=1), "sum": b[:, 0] * 2}, x, 256))
    np.testing.assert_array_equal(out["wide"], np.repeat(x, 2000, axis=1))
    np.testing.assert_array_equal(out["sum"], 2 * x[:, 0])
    assert peak <= 1.25 * size, peak / size  # pieces joined at the end: 2x


def test_convex_skipped_at_audit_0_allocates_no_pi():
    import hjdsl.views.convex  # noqa: F401  (its import is not π's memory)
    from hjdsl.views.compare import convex_part

    m = _model(2, 500, 9)
    eps, x = np.array([1.0, 0.1]), np.random.default_rng(0).uniform(-1, 1, size=(2000, 2))
    peak, out = _peak_bytes(lambda: convex_part(m, eps, x, 0))
    assert out["pi"].shape == (2, 2000, 500) and np.isnan(out["pi"]).all()
    assert peak < 0.05 * 8 * out["pi"].size, peak  # a filled NaN array: 16 MB
