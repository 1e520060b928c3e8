"""One rule for accepting a convex solver's answer: its status, vouched for by our own certificate.

Used by the convex view and by every convex fit, so `optimal_inaccurate` means the same
everywhere:

1. A status other than `optimal` / `optimal_inaccurate` is refused.
2. A clean `optimal` from the primary solver (the one hjdsl runs first, with tolerances set for
   the task) is accepted: its own stopping criteria are the tolerance.
3. Anything else — `optimal_inaccurate`, or any answer from a fallback solver (SCS, or a solver the
   user picked with options hjdsl did not set) — is accepted only when every check of a
   certificate computed by hjdsl itself (duality gap, KKT residual, …) meets its stated tolerance.
   Without a certificate it is refused.

A refused answer gets a status that says what happened, e.g.
`inaccurate: SCS optimal, duality gap 3.1e-05 > 1.0e-07`, which starts with neither `optimal`
nor `failed`, so reports count it as not optimal.

>>> judge("optimal", "SCS", [Check("duality gap", 3.1e-5, 1e-7)], primary=False)
(False, 'inaccurate: SCS optimal, duality gap 3.1e-05 > 1.0e-07')
>>> judge("optimal_inaccurate", "CLARABEL", [Check("duality gap", 2e-9, 1e-7)], primary=True)
(True, 'optimal_inaccurate')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ACCEPTABLE = ("optimal", "optimal_inaccurate")
# Clarabel's own names (when called without cvxpy) mapped to cvxpy's.
_NATIVE = {"Solved": "optimal", "AlmostSolved": "optimal_inaccurate"}


@dataclass(frozen=True)
class Check:
    """One certificate figure: `value` (a bound hjdsl computed) against its stated `tolerance`."""

    name: str
    value: float
    tolerance: float

    @property
    def holds(self) -> bool:
        return math.isfinite(self.value) and self.value <= self.tolerance


def normalise(status) -> str:
    """cvxpy's status string for a cvxpy or a native Clarabel status (`SolverStatus.Solved`)."""
    text = str(status).split(".")[-1]
    return _NATIVE.get(text, text)


def judge(status, solver: str, checks, *, primary: bool) -> tuple[bool, str]:
    """(accepted, the status to record) under the module's rule.

    `checks` is a list of Check (empty or None when no certificate could be computed); `primary`
    says whether `solver` is the first solver hjdsl ran with its own tolerances.
    """
    status = normalise(status)
    if status not in ACCEPTABLE:
        return False, f"{solver} {status}"
    if status == "optimal" and primary:
        return True, status
    checks = list(checks or ())
    if not checks:
        return False, f"inaccurate: {solver} {status}, no certificate to vouch for it"
    failed = [c for c in checks if not c.holds]
    if not failed:
        return True, status
    why = ", ".join(f"{c.name} {c.value:.1e} > {c.tolerance:.1e}" for c in failed)
    return False, f"inaccurate: {solver} {status}, {why}"
