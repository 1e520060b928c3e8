"""A spec's `weights` declaration at check time: read W, b (and ε) from a file, map them to atoms.

`weights "layer.safetensors" W = "head.weight" b = "head.bias" eps = "temperature"` stands in
for `particles` and `initial`: the layer z_j(x) = W_j·x + b_j becomes the atoms
(y_j, g_j) = `weights_to_atoms(W, b, t, H)` for the spec's t and Hamiltonian (asked of H), so
every verb sees an ordinary model with fixed initial data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hjdsl.errors import Span
from hjdsl.frontend import syntax as S
from hjdsl.frontend.check_values import Invalid
from hjdsl.hamiltonians.base import NotSupported
from hjdsl.model import expr as E
from hjdsl.model.ir import InitialData, Particles, Viscosity, _frozen
from hjdsl.model.limits import MAX_ATOMS
from hjdsl.model.maps import weights_to_atoms
from hjdsl.views.unsupported import NOT_SUPPORTED
from hjdsl.weights_files import DataFileError, read_arrays

DEFAULT_NAMES = {"W": "W", "b": "b"}  # the roles a file must hold, and their default array names
ROLES = ("W", "b", "eps")
STANDS_IN_FOR = ("particles", "initial")


@dataclass(frozen=True)
class Layer:
    """The arrays of a `weights` declaration, checked: W (N, d), b (N,), ε or None."""

    W: np.ndarray
    b: np.ndarray
    eps: float | None
    decl: S.WeightsDecl
    spans: dict


def stands_in(keyword: str, decls) -> bool:
    """True when `weights` takes the place of the required `keyword` (particles, initial)."""
    return keyword in STANDS_IN_FOR and "weights" in decls


def read_layer(c, decl: S.WeightsDecl | None) -> Layer | None:
    """The checked arrays of a `weights` declaration (c is the checker), or None without one."""
    if decl is None:
        return None
    for kw in STANDS_IN_FOR:
        if kw in c.decls:
            c.error(f"`{kw}` cannot be declared together with `weights` (line {decl.span.line}): "
                    "the weights file gives the atoms and their values", c.decls[kw].keyword.span,
                    code="E159", hint="remove this line, or remove the `weights` line")
    before = len(c.diagnostics)
    wanted, spans = _names(c, decl)
    if len(c.diagnostics) > before:  # a misspelt entry: reading the default name would add noise
        raise Invalid("bad weights entries")
    try:
        arrays = read_arrays(decl.path, c.base_dir, wanted, confined=True,
                             check_shapes=lambda shapes: _check_shapes(shapes, wanted, c.d))
    except DataFileError as err:  # the reader's message, located at the text that named the array
        first = err.diagnostics[0]
        raise c.error(first.message, spans.get(err.part, decl.path_span), hint=first.hint,
                      code=first.code) from None
    eps = None
    if "eps" in arrays:
        eps = float(arrays["eps"].reshape(()))
        if eps < 0:
            raise c.error(f"eps must be ≥ 0, but `{wanted['eps']}` is {eps:g}", spans["eps"],
                          code="E112")
    return Layer(arrays["W"], arrays["b"], eps, decl, spans)


def _check_shapes(shapes: dict, wanted: dict, d: int | None) -> None:
    """Refuse, from the file's header and before reading, shapes that are not an LSE layer's."""
    W = shapes["W"]
    if len(W) != 2 or 0 in W:
        raise DataFileError(f"W must be a matrix with one row per unit (N × d), but "
                            f"`{wanted['W']}` has shape {W}", "D006", part="W",
                            hint="a PyTorch nn.Linear(d, N) stores its weight as (N, d)")
    n, cols = W
    if n > MAX_ATOMS:
        raise DataFileError(f"W has {n:,} rows (units); the limit is {MAX_ATOMS:,} atoms", "D007",
                            part="W")
    if d is not None and cols != d:
        raise DataFileError(f"W has {cols} column{'s' if cols != 1 else ''} (inputs) but the spec "
                            f"says dim {d}", "D006", part="W", hint=f"write `dim {cols}`")
    if shapes["b"] != (n,):
        raise DataFileError(f"b must hold one number per row of W ({n}), but `{wanted['b']}` has "
                            f"shape {shapes['b']}", "D006", part="b")
    if "eps" in shapes and math.prod(shapes["eps"]) != 1:
        raise DataFileError(f"eps must be one number, but `{wanted['eps']}` has shape "
                            f"{shapes['eps']}", "D006", part="eps")


def layer_viscosity(c, viscosity: Viscosity | None, layer: Layer | None) -> Viscosity | None:
    """The file's ε in place of the default one; an error when `viscosity` also gives ε."""
    if layer is None or layer.eps is None:
        return viscosity
    if "viscosity" in c.decls:
        raise c.error(f"eps is given twice: by the weights file and by `viscosity` (line "
                      f"{c.decls['viscosity'].span.line})", layer.spans["eps"], code="E102",
                      hint="remove `eps = ...` from the weights line to use the viscosity line, "
                           "or remove the viscosity line")
    return Viscosity(_frozen([layer.eps], 1), None, layer.spans["eps"])


def layer_atoms(c, layer: Layer | None) -> tuple[Particles | None, InitialData | None]:
    """(particles, initial) of the layer: y_j, g_j from the Hamiltonian's inverse weight map."""
    if layer is None or c.hamiltonian is None or c.t is None:
        return None, None
    decl = layer.decl
    try:
        y, g = weights_to_atoms(layer.W, layer.b, c.t, c.hamiltonian)
    except NotSupported as exc:
        c.error(f"weights from a file: {exc.message}", decl.keyword.span, code=NOT_SUPPORTED,
                hint=exc.hint or "an LSE layer is the Hopf–Cole solution of a quadratic H only: "
                                 "use |p|^2, a*|p|^2 or p' A p")
        return None, None
    bad = np.argwhere(~np.isfinite(y))
    if bad.size or not np.all(np.isfinite(g)):
        j = int(bad[0][0]) if bad.size else int(np.flatnonzero(~np.isfinite(g))[0])
        c.error(f"the atom of row {j} of W overflows (y = 2t·A·W_j, g = −b_j − t·W_jᵀAW_j)",
                layer.spans["W"], code="E109", hint="the weights are too large for this t")
        return None, None
    return (Particles("weights", _frozen(y, 2), span=decl.span),
            InitialData("literal", _frozen(g, 1), span=decl.span))


def _names(c, decl: S.WeightsDecl) -> tuple[dict, dict]:
    """({role: array name}, {role: span}) from `W = "..."` entries, with the defaults W and b."""
    wanted, spans = dict(DEFAULT_NAMES), {role: decl.path_span for role in DEFAULT_NAMES}
    seen: set[str] = set()
    for s in decl.settings:
        key = s.key.text
        if key in ROLES:
            c.error(f"`{key}` names an array of the file: write its name in double quotes",
                    s.value.span, code="E157", hint=f'e.g. {key} = "{_plain(s)}"')
        else:
            c.error(f"unknown entry `{key}` on a weights line", s.key.span, code="E157",
                    hint="entries name the file's arrays: W = \"...\", b = \"...\", eps = \"...\"")
    for entry in decl.arrays:
        key = entry.key.text
        if key not in ROLES:
            c.error(f"unknown entry `{key}` on a weights line", entry.key.span, code="E157",
                    hint="entries name the file's arrays: W = \"...\", b = \"...\", eps = \"...\"")
            continue
        if key in seen:
            c.error(f"`{key}` is given twice on this line", entry.key.span, code="E102")
            continue
        seen.add(key)
        wanted[key] = entry.array
        spans[key] = _string_span(entry)
    return wanted, spans


def _string_span(entry: S.NamedArray) -> Span:
    """The span of the quoted array name: the end of the entry (a string is on one line)."""
    s = entry.span
    return Span(s.file, s.end_line, s.end_col - len(entry.array) - 2, s.end_line, s.end_col)


def _plain(setting: S.Setting) -> str:
    value = setting.value
    return value.id if isinstance(value, E.Name) else "head.weight"
