"""A Hamiltonian's missing fact (`NotSupported`) as the user-facing error, with its code.

Views, analyses and embeddings ask the Hamiltonian (`ham.require(view)`, `ham.weights`, …); a
family that lacks the fact raises `hamiltonians.base.NotSupported`, which is turned here into a
UsageError (a Python call or command option asked for it) or a SpecError (the spec's own text
asked for it), never a KeyError or a traceback.
"""

from __future__ import annotations

from hjdsl.errors import Diagnostic, SpecError, UsageError
from hjdsl.hamiltonians.base import NotSupported

# The code every "not supported by this view for H = …" diagnostic carries.
NOT_SUPPORTED = "U014"


def as_error(exc: NotSupported, what: str = "", *, spec: bool = False, code: str = NOT_SUPPORTED,
             source: str | None = None):
    """The UsageError (or SpecError with `spec`) saying `what` cannot be done, and why."""
    message = f"{what}: {exc.message}" if what else exc.message
    cls = SpecError if spec else UsageError
    return cls((Diagnostic("error", message, None, exc.hint, code),), source)


def require(hamiltonian, view: str, what: str = "") -> None:
    """`hamiltonian.require(view)` with its NotSupported turned into a UsageError."""
    try:
        hamiltonian.require(view)
    except NotSupported as exc:
        raise as_error(exc, what) from None
