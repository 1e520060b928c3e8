"""The network view against theory.md Appendix A, autodiff derivatives, extremes and chunking."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.model.ir import Model
from hjdsl.views.closed_form.hopf_cole import hopf_cole_value
from hjdsl.views.closed_form.embed import to_jax
from hjdsl.views.closed_form.lse import map_chunks
from hjdsl.views.closed_form.network import entropy, gibbs_weights, lse_value, network_view

Y = np.array([-1.5, -0.5, 0.5, 1.5])[:, None]
G = np.array([1.0, 0.3, 0.3, 1.0])
HAM = Model.from_atoms(Y, G).hamiltonian


@pytest.fixture(scope="module")
def wb():
    return Model.from_atoms(Y, G).weights()


# theory.md Appendix A: x, eps, f, u (f + u = x²/4)
APPENDIX_A = [
    (-2.0, 1.0, 0.938323, 0.061677), (0.0, 1.0, 0.593930, -0.593930),
    (0.7, 1.0, 0.637408, -0.514908), (2.0, 1.0, 0.938323, 0.061677),
    (-2.0, 0.1, 0.150197, 0.849803), (0.0, 0.1, -0.293185, 0.293185),
    (0.7, 0.1, -0.184505, 0.307005), (2.0, 0.1, 0.150197, 0.849803),
    (-2.0, 0.0, 0.137500, 0.862500), (0.0, 0.0, -0.362500, 0.362500),
    (0.7, 0.0, -0.187500, 0.310000), (2.0, 0.0, 0.137500, 0.862500),
]


@pytest.mark.parametrize("x, eps, f, u", APPENDIX_A)
def test_appendix_a_values(wb, x, eps, f, u):
    W, b = wb
    assert float(lse_value(np.array([x]), W, b, eps)) == pytest.approx(f, abs=5e-7)
    assert float(hopf_cole_value(np.array([x]), Y, G, 1.0, HAM, eps)) == pytest.approx(u, abs=5e-7)


@pytest.mark.parametrize("x, eps, pi, ent, df, d2f", [
    (0.7, 0.1, [0.000000, 0.029306, 0.970496, 0.000197], 0.134199, 0.235446, 0.071641),
    (0.0, 0.1, [3e-6, 0.499997, 0.499997, 3e-6], 0.693227, 0.0, 0.625031),
    (0.0, 1.0, [0.115738, 0.384262, 0.384262, 0.115738], 1.234200, 0.0, 0.178238),
])
def test_appendix_a_gibbs_quantities(wb, x, eps, pi, ent, df, d2f):
    import jax

    W, b = wb

    @jax.jit  # one compiled program instead of many eager primitive calls
    def quantities(point, bb, e):
        f = lambda z: lse_value(z, W, bb, e)  # noqa: E731
        return {"pi": gibbs_weights(point, W, bb, e), "ent": entropy(point, W, bb, e),
                "df": jax.grad(f)(point)[0], "d2f": jax.hessian(f)(point)[0, 0],
                "db": jax.grad(lambda c: lse_value(point, W, c, e))(bb),
                "de": jax.grad(lambda s: lse_value(point, W, bb, s))(e)}

    q = quantities(np.array([x]), b, eps)
    np.testing.assert_allclose(q["pi"], pi, atol=1e-6)
    assert float(q["ent"]) == pytest.approx(ent, abs=1e-6)
    assert float(q["df"]) == pytest.approx(df, abs=1e-6)
    assert float(q["d2f"]) == pytest.approx(d2f, abs=1e-6)
    # ∂f/∂b_j = π_j and ∂f/∂ε = Ent(π), by autodiff (design.md §2)
    np.testing.assert_allclose(q["db"], q["pi"], atol=1e-14)
    assert float(q["de"]) == pytest.approx(ent, abs=1e-6)
    # and by central differences, independent of the derivative rule
    h = 1e-5 * eps
    fd = (lse_value(np.array([x]), W, b, eps + h) - lse_value(np.array([x]), W, b, eps - h)) / (2 * h)
    assert float(fd) == pytest.approx(ent, abs=1e-6)


def test_hessian_bound_certificate(wb):
    """‖∇²f‖ ≤ max_j |W_j|²/ε: 5.625 at ε = 0.1 (Appendix A)."""
    import jax

    W, b = wb
    xs = np.linspace(-2.5, 2.5, 101)[:, None]
    hess = jax.jit(jax.vmap(jax.hessian(lambda z: lse_value(z, W, b, 0.1))))(xs)
    assert float(np.max(W**2) / 0.1) == pytest.approx(5.625)
    assert float(np.abs(hess).max()) <= 5.625


def test_eps_zero_is_max_and_one_hot(wb):
    W, b = wb
    xs = np.linspace(-2.5, 2.5, 11)[:, None]
    z = xs @ W.T + b
    np.testing.assert_array_equal(lse_value(xs, W, b, 0.0), z.max(axis=1))
    pi = np.asarray(gibbs_weights(xs, W, b, 0.0))
    np.testing.assert_array_equal(pi.argmax(axis=1), z.argmax(axis=1))
    np.testing.assert_array_equal(pi.sum(axis=1), 1.0)
    np.testing.assert_array_equal(entropy(xs, W, b, 0.0), 0.0)


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e6])
def test_tiny_eps_and_huge_x_are_finite_and_correct(wb, scale):
    W, b = wb
    xs = np.array([[-1.0], [0.3], [1.0]]) * scale
    z = xs @ W.T + b
    for eps in (1e-12, 1e-8):
        f = np.asarray(lse_value(xs, W, b, eps))
        assert np.all(np.isfinite(f))
        # one atom dominates: f_ε = max z up to ε log N
        assert np.all(f - z.max(axis=1) >= 0)
        assert np.all(f - z.max(axis=1) <= eps * np.log(4) + 1e-16 * np.abs(z).max())
        pi = np.asarray(gibbs_weights(xs, W, b, eps))
        assert np.all(np.isfinite(pi)) and np.allclose(pi.sum(axis=1), 1.0)
    # a large ε: f_ε = mean(z) + ε log N + Var(z)/(2ε) + O(|z|³/ε²)
    big = 1e4 * scale
    f_big = np.asarray(lse_value(xs, W, b, big))
    expected = z.mean(axis=1) + big * np.log(4) + z.var(axis=1) / (2 * big)
    np.testing.assert_allclose(f_big, expected, rtol=1e-12)


def test_chunked_evaluation_matches_one_pass_and_pads():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(7, 3)), rng.normal(size=7)
    xs = rng.normal(size=(37, 3))
    eps = np.array([2.0, 0.3, 0.0])
    whole = network_view(xs, W, b, eps, chunk=64)
    pieces = network_view(xs, W, b, eps, chunk=8)  # 5 chunks, the last padded with 3 copies
    for key in ("f", "pi", "entropy"):
        np.testing.assert_allclose(whole[key], pieces[key], rtol=0, atol=1e-15)
    assert whole["f"].shape == (3, 37) and whole["pi"].shape == (3, 37, 7)
    direct = np.stack([np.asarray(lse_value(xs, W, b, e)) for e in eps])
    np.testing.assert_allclose(whole["f"], direct, rtol=0, atol=1e-15)


def test_map_chunks_compiles_once_per_shape():
    calls = []

    def fn(block):
        calls.append(block.shape)
        return {"s": block.sum(axis=1)}

    out = map_chunks(fn, np.arange(20.0).reshape(10, 2), chunk=4)
    assert calls == [(4, 2)] * 3
    np.testing.assert_array_equal(out["s"], np.arange(20.0).reshape(10, 2).sum(axis=1))


def test_to_jax_functions_agree():
    m = Model.from_atoms(Y, G)
    j = to_jax(m)
    xs = np.linspace(-2, 2, 9)[:, None]
    np.testing.assert_allclose(j.network(xs, 0.2) + j.hopf_cole(xs, 0.2), xs[:, 0] ** 2 / 4,
                               atol=1e-15)
    np.testing.assert_array_equal(j.tropical(xs), j.network(xs, 0.0))
    np.testing.assert_allclose(j.gibbs(xs, 0.2).sum(axis=1), 1.0, atol=1e-15)
    assert np.all(np.asarray(j.entropy(xs, 0.2)) <= np.log(4))


def test_to_jax_needs_a_quadratic_hamiltonian():
    from hjdsl.errors import UsageError

    m = Model.from_atoms(Y, G, hamiltonian="l1")
    with pytest.raises(UsageError, match=r"to_jax: the network view \(LSE layer\) is not supported "
                                         r"for H\(p\) = \|p\|_1: the weight map"):
        m.to_jax()
