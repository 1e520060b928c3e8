"""solve --method hopf_lax: recovery of known g at ε = 0 with fixed atoms for non-quadratic H."""

from __future__ import annotations

import numpy as np
import pytest

import hjdsl
from hjdsl.errors import DataError, SpecError, UsageError
from hjdsl.fit.hopf_lax_fit import envelope, fit_hopf_lax
from hjdsl.hamiltonians import norm, quadratic
from hjdsl.hamiltonians.composite import Atom, build

T = 0.5


def ref_costs(name: str, x, y, t: float) -> np.ndarray:
    """t·L((x − y)/t) written out by hand for each test Hamiltonian (independent of hjdsl)."""
    diff = x[:, None, :] - y[None, :, :]
    if name == "l2":       # H = |p|_2: L = 0 on |v|_2 <= 1
        return np.where(np.linalg.norm(diff, axis=-1) <= t, 0.0, np.inf)
    if name == "2 linf":   # H = 2|p|_inf: L = 0 on |v|_1 <= 2
        return np.where(np.abs(diff).sum(axis=-1) <= 2 * t, 0.0, np.inf)
    if name == "relativistic":  # H = sqrt(1 + |p|^2): L(v) = −sqrt(1 − |v|^2) on |v|_2 <= 1
        r2 = np.sum(diff ** 2, axis=-1)
        return np.where(r2 <= t * t, -np.sqrt(np.maximum(t * t - r2, 0.0)), np.inf)
    raise KeyError(name)


HAMILTONIANS = {
    "l2": lambda d: norm("l2"),
    "2 linf": lambda d: norm("linf", 2.0),
    "relativistic": lambda d: build(Atom("relativistic", c=1.0), "sqrt(1 + |p|^2)", d),
}


def problem(name: str, d: int, seed: int = 0):
    """Atoms on a grid, a known g, data points where some atom reaches, exact u_0 values."""
    rng = np.random.default_rng(seed)
    axis = np.linspace(-1.0, 1.0, 5 if d == 1 else 3)
    y = np.stack(np.meshgrid(*[axis] * d, indexing="ij"), -1).reshape(-1, d)
    g = 0.5 * np.sum(y ** 2, axis=1) + 0.3 * np.sin(3 * y[:, 0] + 1.0)
    x = rng.uniform(-1.2, 1.2, (160 * d, d))
    C = ref_costs(name, x, y, T)
    x, C = x[np.isfinite(C).any(axis=1)], C[np.isfinite(C).any(axis=1)]
    return x, y, g, C


def truly_unique(g, C, margin: float) -> np.ndarray:
    """Atoms that are the unique minimiser of g_j + C_ij at some point, by more than `margin`."""
    c = g + C
    two = np.sort(c, axis=1)[:, :2]
    out = np.zeros(len(g), bool)
    out[np.argmin(c, axis=1)[two[:, 1] - two[:, 0] > margin]] = True
    return out


CASES = [("l2", 1), ("2 linf", 2), ("relativistic", 1), ("relativistic", 2)]


@pytest.mark.parametrize("name, d", CASES)
def test_noise_free_data_recover_g_exactly_and_flag_the_rest(name, d):
    x, y, g_true, C = problem(name, d)
    v = np.min(g_true + C, axis=1)
    fit = fit_hopf_lax(HAMILTONIANS[name](d), x, v, y, T)
    pinned = truly_unique(g_true, C, 1e-9)
    never = ~np.isclose(g_true + C, v[:, None], rtol=0, atol=1e-12).any(axis=0)
    assert pinned.sum() >= 3 and np.array_equal(fit.identifiable, pinned)
    assert not fit.identifiable[never].any()
    np.testing.assert_allclose(fit.g[pinned], g_true[pinned], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fit.fitted, v, rtol=0, atol=1e-12)
    # an atom the data do not pin is given its least value, never more than the truth
    assert np.all(fit.g[~pinned] <= g_true[~pinned] + 1e-12)


@pytest.mark.parametrize("name, d", [("l2", 1), ("relativistic", 1), ("relativistic", 2)])
def test_noisy_data_recover_g_within_the_noise(name, d):
    sigma = 1e-3
    x, y, g_true, C = problem(name, d, seed=1)
    v = np.min(g_true + C, axis=1) + sigma * np.random.default_rng(2).standard_normal(len(x))
    fit = fit_hopf_lax(HAMILTONIANS[name](d), x, v, y, T)
    assert fit.formulation == "smoothed_min"
    # atoms active by a wide margin somewhere: the data pin them up to the noise
    clear = truly_unique(g_true, C, 0.05)
    assert clear.sum() >= 3 and fit.identifiable[clear].all()
    assert np.max(np.abs(fit.g[clear] - g_true[clear])) < 4 * sigma
    # least squares beats the one-sided LP envelope, which sits above the noise
    assert np.sqrt(fit.loss) < 1.2 * sigma
    assert np.mean(fit.envelope[clear] - g_true[clear]) > sigma


def test_envelope_is_the_lp_solution():
    """ĝ solves min Σ g_j s.t. g_j + C_ij >= v_i (scipy's HiGHS on the LP as written)."""
    from scipy.optimize import linprog

    x, y, g_true, C = problem("relativistic", 1, seed=3)
    v = np.min(g_true + C, axis=1) + 0.01 * np.random.default_rng(4).standard_normal(len(x))
    i, j = np.nonzero(np.isfinite(C))
    A = np.zeros((len(i), len(y)))
    A[np.arange(len(i)), j] = -1.0
    lp = linprog(np.ones(len(y)), A_ub=A, b_ub=C[i, j] - v[i], bounds=(None, None),
                 method="highs")
    assert lp.status == 0
    np.testing.assert_allclose(envelope(C, v), lp.x, rtol=0, atol=1e-9)
    wrong = envelope(C, v) + 0.01 * (np.arange(len(y)) == 2)  # a corrupted solution is not it
    assert not np.allclose(wrong, lp.x, rtol=0, atol=1e-9)


SPEC = """
model rel "relativistic H, g learned at eps = 0"
dim 1
time t = 0.5
viscosity eps = 0
hamiltonian H(p) = {h}
particles y = grid(-1, 1, 5)
initial g ~ normal(0, 10)
observe {q} ~ {lik}(sigma = 0.01)
evaluate x = grid(-1.2, 1.2, 7)
"""


def spec(h="sqrt(1 + |p|^2)", q="u", lik="normal", particles=None):
    text = SPEC.format(h=h, q=q, lik=lik)
    if particles:
        text = text.replace("particles y = grid(-1, 1, 5)", particles)
    return hjdsl.parse(text, name="rel.hj")


def test_solve_reports_the_fit_and_the_atoms_it_cannot_identify():
    x, y, g_true, C = problem("relativistic", 1)
    g_true[2] = 5.0  # atom 2 (y = 0) is never active: the data say only that g_2 is large enough
    v = np.min(g_true + C, axis=1)
    ds = spec().solve(method="hopf_lax", data=(x, v))
    assert ds.attrs["method"] == "hopf_lax" and ds.attrs["eps"] == 0.0
    assert ds["identifiable"].values.tolist() == [True, True, False, True, True]
    keep = [0, 1, 3, 4]
    np.testing.assert_allclose(ds["g_hat"].values[keep], g_true[keep], rtol=0, atol=1e-12)
    assert ds["g_hat"].values[2] < 5.0 and float(ds["fit_mse"]) < 1e-24
    assert "1 of 5 atoms are not identifiable" in ds.attrs["warnings"]
    xe = ds["x"].values[:, None]  # d = 1: x is the 1-D indexed coordinate of `point`
    np.testing.assert_allclose(ds["prediction"].values[np.isfinite(ds["prediction"].values)],
                               np.min(ds["g_hat"].values + ref_costs("relativistic", xe, y, T),
                                      axis=1)[np.isfinite(ds["prediction"].values)], atol=1e-12)


@pytest.mark.parametrize("make, options, error, text", [
    (lambda: spec(), {"eps": 0.1}, UsageError, "--method hopf_lax fits at eps = 0"),
    (lambda: spec(particles="particles y ~ normal(0, 1) [5]"), {}, UsageError,
     "fits g with fixed atoms"),
    (lambda: spec(q="f"), {}, SpecError, "observing f needs an LSE layer"),
    (lambda: spec(lik="laplace"), {}, SpecError, "least squares (the normal likelihood)"),
])
def test_what_hopf_lax_refuses_says_why(make, options, error, text):
    x = np.linspace(-1, 1, 11)[:, None]
    with pytest.raises(error, match=r".*" + text.replace("(", r"\(").replace(")", r"\)")):
        make().solve(method="hopf_lax", data=(x, np.zeros(11)), **options)


def test_points_no_atom_reaches_are_a_data_error():
    x = np.array([[0.0], [3.0]])
    with pytest.raises(DataError, match="1 data point"):
        spec().solve(method="hopf_lax", data=(x, np.zeros(2)))


def test_quadratic_h_observing_f_recovers_g_through_the_layer():
    """With an LSE layer, f_0 = x'x/(4t) − u_0 data fit the same g (control case)."""
    x = np.linspace(-1.5, 1.5, 61)[:, None]
    y = np.linspace(-1, 1, 5)[:, None]
    g = np.array([0.4, 0.1, 0.0, 0.2, 0.5])
    u0 = np.min(g + (x - y.T) ** 2 / (4 * T), axis=1)
    ds = spec(h="|p|^2", q="f").solve(method="hopf_lax", data=(x, x[:, 0] ** 2 / (4 * T) - u0))
    assert ds["identifiable"].values.all()
    np.testing.assert_allclose(ds["g_hat"].values, g, rtol=0, atol=1e-12)
    assert quadratic(np.eye(1)).exactness("fit_hopf_lax").label == "exact"


def test_a_2d_norm_fit_plots(tmp_path):
    """The fit plot predicts from the Hamiltonian's costs (no LSE layer needed)."""
    from hjdsl.plot.fit import plot_fit

    x, y, g_true, C = problem("2 linf", 2)
    model = hjdsl.parse(SPEC.format(h="2*|p|_inf", q="u", lik="normal")
                        .replace("dim 1", "dim 2")
                        .replace("particles y = grid(-1, 1, 5)",
                                 "particles y = " + str(y.tolist()))
                        .replace("evaluate x = grid(-1.2, 1.2, 7)", "evaluate x = [[0, 0], [0.5, -0.5]]"))
    ds = model.solve(method="hopf_lax", data=(x, np.min(g_true + C, axis=1)))
    plot_fit(ds, model, tmp_path / "fit.png")
    assert (tmp_path / "fit.png").stat().st_size > 0
