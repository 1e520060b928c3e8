"""The ε > 0 convex fit with fixed atoms: recovery on noiseless data, certificate, pruning."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from hjdsl.errors import RunError
from hjdsl.fit.convex_fit import fit_convex
from hjdsl.model.ir import Model
from hjdsl.model.maps import quadratic_term


def hopf_cole_u(x, y, g, t, ainv, eps):
    """Independent u_ε: −ε log Σ_j exp(−(g_j + (x−y_j)ᵀA⁻¹(x−y_j)/(4t))/ε) via scipy."""
    diff = x[:, None, :] - y[None, :, :]
    cost = g + np.einsum("ijd,de,ije->ij", diff, ainv, diff) / (4 * t)
    return -eps * logsumexp(-cost / eps, axis=1)


CASES = [  # (seed, d, N, eps, A)
    (0, 1, 8, 0.3, None),
    (1, 2, 12, 0.2, [[1.5, 0.4], [0.4, 0.8]]),
]


@pytest.mark.parametrize("loss", ["is", "kl"])
@pytest.mark.parametrize("seed,d,N,eps,A", CASES)
def test_noiseless_data_recover_g(seed, d, N, eps, A, loss):
    rng = np.random.default_rng(seed)
    y = rng.uniform(-2, 2, size=(N, d))
    g = rng.uniform(0, 1, N)
    model = Model.from_atoms(y, np.zeros(N), t=0.8, eps=[eps], A=A)
    x = rng.uniform(-2.5, 2.5, size=(400, d))
    u = hopf_cole_u(x, y, g, model.t, model.hamiltonian.inverse, eps)
    f = quadratic_term(x, model.t, model.hamiltonian) - u
    fit = fit_convex(model, x, f, loss=loss)
    assert fit.formulation == "hopf_cole" and fit.eps == eps and fit.status == "optimal"
    assert fit.active.all()
    # Noiseless data make the true c a minimiser with loss 0. The solver stops at a 1e-12 gap;
    # near the optimum the loss is ≈ ½ Σ ((u − û)/ε)², so û is good to ~1e-6·ε and g, through
    # the kernel (condition number ≤ 3e3 here), to ~1e-8 measured; 1e-6 leaves margin.
    np.testing.assert_allclose(fit.g, g, atol=1e-6)
    np.testing.assert_allclose(fit.fitted, f, atol=1e-8)
    cert = fit.certificate
    assert cert["duality_gap"] <= 1e-9 and cert["kkt_residual"] <= 1e-9
    assert cert["max_residual_over_eps"] <= 1e-8


def test_an_atom_that_never_matters_is_reported_inactive():
    y = np.array([[-1.0], [0.0], [1.0]])
    g = np.array([0.2, 40.0, 0.1])  # the middle atom's weight is ≤ e^(−39/ε) everywhere
    model = Model.from_atoms(y, np.zeros(3), eps=[0.5])
    x = np.linspace(-2, 2, 81)[:, None]
    u = hopf_cole_u(x, y, g, 1.0, np.eye(1), 0.5)
    fit = fit_convex(model, x, quadratic_term(x, 1.0, model.hamiltonian) - u)
    assert fit.active.tolist() == [True, False, True]
    assert fit.n_atoms == 2 and fit.certificate["n_inactive"] == 1
    np.testing.assert_allclose(fit.g, [0.2, 0.1], atol=1e-6)


def test_eps_defaults_to_the_first_positive_value():
    y = np.array([[-1.0], [1.0]])
    model = Model.from_atoms(y, [0.0, 0.0], eps=[0.0, 0.4, 0.1])
    x = np.linspace(-2, 2, 41)[:, None]
    u = hopf_cole_u(x, y, np.array([0.3, 0.5]), 1.0, np.eye(1), 0.4)
    fit = fit_convex(model, x, x[:, 0] ** 2 / 4 - u)
    assert fit.eps == 0.4
    np.testing.assert_allclose(fit.g, [0.3, 0.5], atol=1e-6)


def test_solver_giving_up_is_a_run_error():
    y = np.array([[-1.0], [1.0]])
    model = Model.from_atoms(y, [0.0, 0.0], eps=[0.3])
    x = np.linspace(-2, 2, 41)[:, None]
    u = hopf_cole_u(x, y, np.array([0.3, 0.5]), 1.0, np.eye(1), 0.3)
    with pytest.raises(RunError, match="Hopf–Cole, ε = 0.3.*status") as info:
        fit_convex(model, x, x[:, 0] ** 2 / 4 - u, solver="SCS",
                   solver_options={"max_iters": 2})
    assert info.value.exit_code == 1
