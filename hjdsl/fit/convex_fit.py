"""`solve --method convex`: choose the convex formulation, convert observations, return atoms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.errors import DataError, Diagnostic, UsageError
from hjdsl.model.maps import quadratic_term, weights_to_atoms

_MAX_AFFINE_OPTIONS = {"tol", "neighbours", "per_point", "max_rounds", "solver", "max_slope",
                       "naive", "solver_options", "prune", "prune_tol"}
_HOPF_COLE_OPTIONS = {"loss", "solver", "solver_options", "inactive_below"}
_COMMON = {"eps", "formulation"}


@dataclass(frozen=True)
class ConvexFit:
    """A convex fit's result: atoms (y, g), the solver's verdict and an optimality certificate.

    `certificate` holds floats (objective, duality_gap, kkt_residual, ...). `fitted` is the fitted
    value of the observed quantity (f or u) at the data points. `active` marks, for fixed-atom
    fits, which of the model's atoms were kept (the others have c_j = 0, i.e. g_j = +inf).
    """

    y: np.ndarray
    g: np.ndarray
    status: str
    certificate: dict
    solver: str
    formulation: str
    eps: float
    fitted: np.ndarray | None = None
    active: np.ndarray | None = None

    @property
    def n_atoms(self) -> int:
        return int(self.y.shape[0])


def _usage(message: str, hint: str | None = None) -> UsageError:
    return UsageError((Diagnostic("error", message, None, hint, "U010"),))


def _data_error(message: str) -> DataError:
    return DataError((Diagnostic("error", message, None, None, "D010"),))


def _check_inputs(model, x, v) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    v = np.asarray(v, dtype=float).reshape(-1)
    if x.ndim == 1 and model.dim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != model.dim:
        raise _data_error(f"convex fit: x must have shape (n, {model.dim}), got {x.shape}")
    if x.shape[0] != v.shape[0]:
        raise _data_error(f"convex fit: {x.shape[0]} points but {v.shape[0]} values")
    if x.shape[0] < 2:
        raise _data_error("convex fit: need at least 2 observations")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(v))):
        raise _data_error("convex fit: the data contain NaN or inf")
    return x, v


def _choose(model, options) -> tuple[str, float]:
    """Formulation and ε: free atoms → max-affine at ε = 0; fixed atoms → Hopf–Cole at ε > 0."""
    formulation = options.get("formulation", "auto")
    eps = options.get("eps")
    if formulation == "auto":
        if eps is None:
            formulation = "max_affine" if model.particles.learned else "hopf_cole"
        else:
            formulation = "max_affine" if float(eps) == 0 else "hopf_cole"
    if formulation == "max_affine":
        if eps is not None and float(eps) != 0:
            raise _usage(f"convex fit: free atoms are fitted only at ε = 0, not ε = {eps}",
                         hint="omit --eps, or fix the particles to fit g at ε > 0")
        return formulation, 0.0
    if formulation != "hopf_cole":
        raise _usage(f"convex fit: unknown formulation {formulation!r}",
                     hint="formulations: auto, max_affine, hopf_cole")
    if eps is None:
        positive = [e for e in np.asarray(model.eps, dtype=float) if e > 0]
        if not positive:
            raise _usage("convex fit with fixed atoms needs ε > 0 (least squares on the ε = 0 "
                         "value min_j c_j is not convex in g)",
                         hint="--method hopf_lax fits fixed atoms at ε = 0; or declare a "
                              "positive viscosity or pass --eps")
        eps = positive[0]
    if not float(eps) > 0:
        raise _usage(f"convex fit with fixed atoms needs ε > 0, got {eps}")
    return formulation, float(eps)


def fit_convex(model, x: np.ndarray, v: np.ndarray, **options) -> ConvexFit:
    """Fit the initial data by a convex program; see docs/fitting.md for the formulations.

    Free (learned) atoms → least-squares max-affine regression at ε = 0 (atoms and g from the
    pieces); fixed atoms → the Hopf–Cole program in c_j = exp(−g_j/ε) at the spec's first ε > 0.
    Options: eps, formulation, solver, tol, ... (unknown options are a UsageError).

    >>> from hjdsl.model.ir import Model
    >>> m = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.0], eps=[0.5])
    >>> xs = np.linspace(-2, 2, 21)[:, None]
    >>> u0 = np.minimum((xs[:, 0] + 1) ** 2, (xs[:, 0] - 1) ** 2) / 4
    >>> fit = fit_convex(m, xs, xs[:, 0] ** 2 / 4 - u0, formulation="max_affine")
    >>> fit.formulation, fit.n_atoms
    ('max_affine', 2)
    """
    from hjdsl.fit.solve import verify_hamiltonian

    verify_hamiltonian(model, "convex")
    formulation, eps = _choose(model, options)
    specific = _MAX_AFFINE_OPTIONS if formulation == "max_affine" else _HOPF_COLE_OPTIONS
    allowed = _COMMON | specific
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise _usage(f"convex fit ({formulation}): unknown option(s) {', '.join(unknown)}",
                     hint="known: " + ", ".join(sorted(allowed)))
    opts = {k: val for k, val in options.items() if k not in _COMMON}
    x, v = _check_inputs(model, x, v)
    quantity = model.observe.quantity if model.observe is not None else "f"
    quad = quadratic_term(x, model.t, model.hamiltonian)
    if formulation == "max_affine":
        return _fit_max_affine(model, x, v if quantity == "f" else quad - v, quad, quantity, opts)
    return _fit_hopf_cole(model, x, quad - v if quantity == "f" else v, quad, quantity, eps, opts)


def _fit_max_affine(model, x, f, quad, quantity, opts) -> ConvexFit:
    from hjdsl.fit.max_affine import fit_max_affine, prune_pieces

    prune = opts.pop("prune", True)
    # the interior-point solver's pieces for one facet differ by ~1e-6 (its accuracy); a cover
    # tolerance of 1e-5 (relative) merges them while keeping f_0(x_i) within it of φ_i.
    prune_tol = opts.pop("prune_tol", 1e-5) * max(1.0, float(np.abs(f).max()))
    sol = fit_max_affine(x, f, **opts)
    W, b = sol.pieces(x)
    n_raw = W.shape[0]
    if prune:
        W, b = prune_pieces(W, b, x, sol.phi, tol=prune_tol)
    y, g = weights_to_atoms(W, b, model.t, model.hamiltonian)
    cert = dict(sol.certificate, pieces_raw=n_raw, pieces=W.shape[0], prune_tol=prune_tol)
    cert = {key: float(val) for key, val in cert.items()}
    fitted = sol.phi if quantity == "f" else quad - sol.phi
    return ConvexFit(y, g, sol.status, cert, sol.solver, "max_affine", 0.0, fitted=fitted)


def _fit_hopf_cole(model, x, u, quad, quantity, eps, opts) -> ConvexFit:
    from hjdsl.fit.hopf_cole_fit import fit_hopf_cole

    sol = fit_hopf_cole(x, u, model.y, model.t, model.hamiltonian.inverse, eps, **opts)
    active = sol.active
    fitted = sol.u_fit if quantity == "u" else quad - sol.u_fit
    return ConvexFit(np.array(model.y)[active], sol.g[active], sol.status, sol.certificate,
                     sol.solver, "hopf_cole", eps, fitted=fitted, active=active)
