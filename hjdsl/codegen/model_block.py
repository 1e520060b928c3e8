"""The model's numbers as the opening block every generated module shares (t, A, atoms, ε, x)."""

from __future__ import annotations

import numpy as np

from hjdsl.codegen import render
from hjdsl.errors import Diagnostic, UsageError


def require_quadratic(model, target: str) -> None:
    """Both numeric targets lower the LSE layer of the model, so they need the Hamiltonian to
    have one (today: the quadratic, possibly anisotropic, family)."""
    ham = model.hamiltonian
    if not ham.has_layer:
        raise UsageError((Diagnostic(
            "error", f"--target {target} supports quadratic Hamiltonians (a*|p|^2, p' A p), not "
            f"{ham.text}: {ham.exactness('network').reason}", None,
            f"H(p) = {ham.text} is available through `hjdsl compare` (Hopf–Lax view)", "U021"),))


def provenance_notes(model) -> list[str]:
    """Comments on where the embedded numbers came from (learned data use starting values)."""
    notes = []
    if model.particles.learned or model.initial.learned:
        notes.append("# The spec learns its initial data: these are the starting values. Fit with "
                     "`hjdsl solve`")
        notes.append("# and compile the fitted model to embed the fitted atoms instead.")
    if model.viscosity.learned:
        notes.append("# ε is learned in the spec: EPS holds the value used without a fit.")
    return notes


def model_block(model, points: np.ndarray, points_name: str = "X",
                points_comment: str = "evaluation points (P, d)") -> str:
    """`T = …`, `A = …`, `Y = …`, `G = …`, `EPS = […]` and the points, as exact literals."""
    ham = model.hamiltonian
    lines = [
        "# --- the model: numbers from the spec, exact (every float reads back bit for bit) ---",
        *provenance_notes(model),
        f"T = {render.number(model.t)}  # time t",
        render.array("A", ham.matrix, f"H(p) = p' A p  (spec: {ham.text})"),
        render.array("Y", model.y, f"atoms y_j, shape ({model.n_atoms}, {model.dim})"),
        render.array("G", model.g, "initial values g_j"),
        f"EPS = {render.floats(model.eps)}  # the viscosity sweep",
        render.array(points_name, points, points_comment),
    ]
    return "\n".join(lines) + "\n"


def imports(*third_party: str, arrays=()) -> str:
    """The import block: stdlib, then third-party lines; base64 only when an array needs it."""
    stdlib = ["argparse", "json"] + (["base64"] if render.needs_base64(*arrays) else [])
    return "\n".join([*(f"import {m}" for m in sorted(stdlib)), "", *third_party]) + "\n"
