"""ε > 0 convex fit with fixed atoms: the Hopf–Cole model is linear in c_j = exp(−g_j/ε)."""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np

from hjdsl.errors import run_error
from hjdsl.solver_status import Check, judge

LOSSES = ("is", "kl")
TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "tol_ktratio": 1e-10}
# The tolerance this fit states (docs/fitting_convex.md): an answer not vouched for by Clarabel's
# own `optimal` must show, by _certificate, a duality gap and KKT residual below it. (The KKT
# residual of an unused atom sits near the solver's √tolerance, ~1e-8, so not much lower.)
CERT_TOL = 1e-7


@dataclass(frozen=True)
class HopfColeSolution:
    """g (N,) with +inf for inactive atoms, the active mask, the fitted u at the data points."""

    g: np.ndarray
    active: np.ndarray
    u_fit: np.ndarray
    status: str
    solver: str
    certificate: dict


def scaled_kernel(x, u, y, t, ainv, eps):
    """K̃_ij = exp((u_i − d_ij − γ_j)/ε), d_ij = (x_i−y_j)ᵀA⁻¹(x_i−y_j)/(4t), γ_j = max_i(u_i − d_ij).

    Row i is divided by w_i = exp(−u_i/ε) (so the fitted ratio q = K̃c̃ is 1 on exact data) and
    column j is multiplied by exp(γ_j/ε) (so every column has max 1); c̃_j = exp(−(g_j − γ_j)/ε).
    """
    diff = x[:, None, :] - y[None, :, :]
    dist = np.einsum("ijd,de,ije->ij", diff, ainv, diff) / (4.0 * t)
    logk = u[:, None] - dist
    gamma = logk.max(axis=0)
    return np.exp((logk - gamma) / eps), gamma


def fit_hopf_cole(x, u, y, t, ainv, eps, *, loss="is", solver="CLARABEL", solver_options=None,
                  inactive_below=1e-6) -> HopfColeSolution:
    """min_{c̃ ≥ 0} Σ_i ω_i (q_i − log q_i − 1),  q = K̃c̃  (convex: q linear in c̃, −log convex).

    loss "is" (ω = 1, Itakura–Saito): q_i = exp((u_i − û_i)/ε), so each term is r²/2 + O(r³) in
    r = (u_i − û_i)/ε — least squares on u near the fit. loss "kl" (ω_i ∝ w_i): the Poisson /
    generalised KL divergence Σ (Kc)_i − w_i log (Kc)_i of the unscaled problem, up to constants.

    >>> y = np.array([[-1.0], [1.0]]); x = np.linspace(-2, 2, 9)[:, None]
    >>> d = (x - y.T) ** 2 / 4; u = -0.5 * np.log(np.exp(-(d + [0.2, 0.4]) / 0.5).sum(1))
    >>> np.round(fit_hopf_cole(x, u, y, 1.0, np.eye(1), 0.5).g, 5)
    array([0.2, 0.4])
    """
    import cvxpy as cp

    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}")
    y = np.asarray(y, dtype=float)
    kt, gamma = scaled_kernel(x, u, y, t, ainv, eps)
    omega = np.ones(len(u)) if loss == "is" else np.exp(-(u - u.min()) / eps)
    omega = omega / omega.sum()
    c = cp.Variable(y.shape[0], nonneg=True)
    q = kt @ c
    problem = cp.Problem(cp.Minimize(omega @ q - omega @ cp.log(q)))
    # Tight tolerances first: near the optimum the loss is quadratic in (u − û)/ε, so a 1e-8 gap
    # leaves û uncertain at 1e-4·ε. If the solver cannot reach them, fall back to its defaults.
    status = "unsolved"
    for options in ([TIGHT, {}] if solver == "CLARABEL" and not solver_options else
                    [solver_options or {}]):
        status = _solve(problem, solver, options, eps)
        if status == "optimal":
            break
    ct = None if c.value is None else np.maximum(c.value, 0.0)
    cert = None if ct is None or not np.any(ct > 0) else _certificate(kt, ct, omega)
    # hjdsl's one rule (solver_status.py): only Clarabel with hjdsl's own tolerances is trusted
    # on its word; anything else must meet CERT_TOL by our own certificate
    checks = None if cert is None else [Check("duality gap", cert["duality_gap"], CERT_TOL),
                                        Check("KKT residual", cert["kkt_residual"], CERT_TOL)]
    trusted, verdict = judge(status, solver, checks,
                             primary=solver == "CLARABEL" and not solver_options)
    if not trusted or cert is None:
        raise run_error(f"convex fit (Hopf–Cole, ε = {eps:g}): the solver {solver} returned "
                        f"status {status!r} ({verdict})", hint="check ε and the data's scale")
    # c̃_j bounds atom j's relative weight at every data point; an interior-point solver leaves
    # an unused atom near √tolerance, not at 0, so the cut is 1e-6 (its resolution), not 0.
    active = ct > inactive_below * ct.max()
    with np.errstate(divide="ignore"):
        g = np.where(active, gamma - eps * np.log(ct), np.inf)
    qhat = kt[:, active] @ ct[active]
    cert.update(n_active=float(active.sum()), n_inactive=float((~active).sum()))
    return HopfColeSolution(g, active, u - eps * np.log(qhat), status, solver, cert)


def _solve(problem, solver, options, eps) -> str:
    import cvxpy as cp

    try:
        with warnings.catch_warnings():
            # an inaccurate solve is reported through the status, which we check
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=solver, **options)
    except cp.SolverError as exc:
        raise run_error(f"convex fit (Hopf–Cole, ε = {eps:g}): the solver {solver} failed: {exc}",
                        hint="try another solver, e.g. SCS") from None
    return problem.status


def _certificate(kt, ct, omega) -> dict:
    """Gap of the dual point λ = ∇F(K̃c̃) and the KKT residual of min_{c ≥ 0} F(K̃c).

    Fenchel dual: max Σ ω_i log(1 − λ_i/ω_i) s.t. K̃ᵀλ ≥ 0; at λ = ω(1 − 1/q) the gap is
    Σ ω_i (q_i − 1) = c̃ᵀK̃ᵀλ (complementarity) and dual infeasibility is max(0, −min K̃ᵀλ).
    """
    q = kt @ ct
    r = np.log(q)  # (u − û)/ε; expm1 keeps q − 1 − log q accurate when q ≈ 1
    lam = omega * (1.0 - 1.0 / q)
    grad = kt.T @ lam
    return {
        "objective": float(omega @ (np.expm1(r) - r)),
        "dual_objective": float(-omega @ r),
        "duality_gap": float(abs(omega @ np.expm1(r))),
        "dual_infeasibility": float(max(0.0, -grad.min())),
        "kkt_residual": float(np.abs(np.minimum(ct, grad)).max()),
        "max_residual_over_eps": float(np.abs(r).max()),
    }
