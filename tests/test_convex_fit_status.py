"""One rule for solver statuses (hjdsl/solver_status.py), in the convex fits as in the view."""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.errors import RunError
from hjdsl.fit.convex_fit import fit_convex
from hjdsl.fit.max_affine import fit_max_affine
from hjdsl.model.ir import Model
from hjdsl.solver_status import Check, judge

GOOD, BAD = Check("duality gap", 1e-9, 1e-7), Check("duality gap", 3e-5, 1e-7)


@pytest.mark.parametrize("status, solver, checks, primary, accepted, recorded", [
    ("optimal", "CLARABEL", [], True, True, "optimal"),
    ("optimal", "CLARABEL", [BAD], True, True, "optimal"),   # the primary solver's own word
    ("optimal", "SCS", [GOOD], False, True, "optimal"),
    ("optimal", "SCS", [BAD], False, False,
     "inaccurate: SCS optimal, duality gap 3.0e-05 > 1.0e-07"),
    ("optimal", "SCS", [], False, False, "inaccurate: SCS optimal, no certificate to vouch for it"),
    ("optimal_inaccurate", "CLARABEL", [GOOD], True, True, "optimal_inaccurate"),
    ("optimal_inaccurate", "CLARABEL", [GOOD, BAD], True, False,
     "inaccurate: CLARABEL optimal_inaccurate, duality gap 3.0e-05 > 1.0e-07"),
    ("optimal_inaccurate", "CLARABEL", [Check("KKT residual", float("nan"), 1e-7)], True, False,
     "inaccurate: CLARABEL optimal_inaccurate, KKT residual nan > 1.0e-07"),
    ("AlmostSolved", "Clarabel", [GOOD], True, True, "optimal_inaccurate"),
    ("Solved", "Clarabel", [], True, True, "optimal"),
    ("user_limit", "CLARABEL", [GOOD], True, False, "CLARABEL user_limit"),
])
def test_the_rule(status, solver, checks, primary, accepted, recorded):
    assert judge(status, solver, checks, primary=primary) == (accepted, recorded)


def _hopf_cole_data():
    y = np.array([[-1.0], [0.0], [1.0]])
    x = np.linspace(-2, 2, 41)[:, None]
    d = (x - y.T) ** 2 / 4
    u = -0.3 * np.log(np.exp(-(d + [0.3, 0.1, 0.5]) / 0.3).sum(1))
    return Model.from_atoms(y, np.zeros(3), eps=[0.3]), x, x[:, 0] ** 2 / 4 - u


def test_a_fallback_optimal_without_a_certificate_is_refused_by_the_hopf_cole_fit():
    """SCS with loose tolerances says `optimal`; our certificate says otherwise: a RunError."""
    model, x, f = _hopf_cole_data()
    with pytest.raises(RunError, match=r"inaccurate: SCS optimal, (duality gap|KKT residual)"):
        fit_convex(model, x, f, solver="SCS", solver_options={"eps_abs": 1e-3, "eps_rel": 1e-3})


def test_the_hopf_cole_fit_accepts_the_primary_solver():
    model, x, f = _hopf_cole_data()
    fit = fit_convex(model, x, f)
    assert fit.status == "optimal"
    np.testing.assert_allclose(fit.g, [0.3, 0.1, 0.5], atol=1e-6)


def test_the_max_affine_fit_judges_a_fallback_by_its_certificate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(25, 1))
    v = (x ** 2).sum(1)
    with pytest.raises(RunError, match=r"not certified \(inaccurate: SCS optimal"):
        fit_max_affine(x, v, naive=True, solver="SCS",
                       solver_options={"eps_abs": 1e-3, "eps_rel": 1e-3})
    fit = fit_max_affine(x, v, naive=True)  # the primary solver, hjdsl's tolerances
    assert fit.status == "optimal" and fit.certificate["kkt_residual"] < 1e-6
