"""A stack of LSE layers: the checked value (each layer with its own width, ε, t), forward pass."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from hjdsl.errors import Diagnostic, Span, UsageError


@dataclass(frozen=True)
class Layer:
    """One layer: `width` units, unit i = ε log Σ_j exp((W_ij·h + b_ij)/ε) of the input h.

    W is (width, atoms, inputs), b is (width, atoms). A softplus layer is stored as the two-atom
    LSE it is: softplus_ε(w·h + c) = ε log(e^0 + e^{(w·h + c)/ε}), atom 0 the zero atom.
    Unit i is one HJ step in the layer's input coordinates: atoms y_ij = 2t·W_ij,
    g_ij = −b_ij − t|W_ij|², and f_ε + u_ε = |h|²/(4t) exactly (see docs/networks.md).
    """

    name: str
    kind: Literal["lse", "softplus"]
    eps: float
    t: float
    W: np.ndarray
    b: np.ndarray
    span: Span | None = None

    def __post_init__(self):
        for name in ("W", "b"):  # a float64 copy, read-only: the caller's arrays stay theirs
            value = np.array(getattr(self, name), dtype=np.float64)
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        if self.W.ndim != 3 or self.b.shape != self.W.shape[:2]:
            raise UsageError.single(f"layer {self.name}: W must be (width, atoms, inputs) and b "
                                    f"(width, atoms), got {self.W.shape} and {self.b.shape}")
        if self.kind not in ("lse", "softplus") or not (self.eps >= 0 and self.t > 0):
            raise UsageError.single(f"layer {self.name}: kind must be lse or softplus, eps ≥ 0 "
                                    f"and t > 0 (got {self.kind}, {self.eps}, {self.t})")

    @property
    def width(self) -> int:
        return int(self.W.shape[0])

    @property
    def atoms(self) -> int:
        return int(self.W.shape[1])

    @property
    def inputs(self) -> int:
        return int(self.W.shape[2])

    @property
    def lipschitz(self) -> float:
        """A Lipschitz constant of the layer (and of its tropical limit) in ℓ∞ → ℓ∞.

        Every unit's gradient is a convex combination of its rows W_ij, so
        |F_i(h) − F_i(h')| ≤ max_j |W_ij·(h − h')| ≤ max_j ‖W_ij‖₁ ‖h − h'‖∞.
        """
        return float(np.max(np.sum(np.abs(self.W), axis=-1)))

    def atoms_of_unit(self, i: int):
        """(y, g) of unit i: the HJ initial data whose Hopf–Cole solution the unit is."""
        W, b = self.W[i], self.b[i]
        return 2.0 * self.t * W, -b - self.t * np.sum(W * W, axis=-1)


@dataclass(frozen=True)
class Stack:
    """A checked stack spec: layers in order, the input dimension and the evaluation points."""

    name: str
    dim: int
    layers: tuple[Layer, ...]
    evaluate: np.ndarray
    description: str = ""
    source: str = ""
    path: str | None = None
    warnings: tuple[Diagnostic, ...] = ()
    overrides: tuple[str, ...] = ()
    constants: dict = field(default_factory=dict)
    training: object = None  # hjdsl.networks.stack_train.Training when the spec has `data`

    kind = "stack"  # what `hjdsl check` and the verbs call this spec

    def __repr__(self) -> str:
        shape = " → ".join([str(self.dim)] + [str(layer.width) for layer in self.layers])
        return f"<hjdsl.Stack {self.name!r}: {len(self.layers)} layers, widths {shape}>"

    @property
    def spec_sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    @property
    def depth(self) -> int:
        return len(self.layers)

    def summary(self) -> str:
        """What `hjdsl check` prints: `ok (stack m, d=2, 3 layers 8-4-1, 6 points)`."""
        widths = "-".join(str(layer.width) for layer in self.layers)
        parts = [f"stack {self.name}", f"d={self.dim}",
                 f"{self.depth} layer{'s' if self.depth != 1 else ''} {widths}",
                 f"{self.evaluate.shape[0]} points"]
        if self.training is not None:
            parts.append(f"learns from {self.training.data.size} data points "
                         f"({self.training.steps} Adam steps)")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning{'s' if len(self.warnings) > 1 else ''}")
        return "ok (" + ", ".join(parts) + ")"

    def forward(self, x, tropical: bool = False) -> list[np.ndarray]:
        """The hidden features h_0 = x, h_1, …, h_L at points x (n, d) (numpy, float64).

        With `tropical` every layer is its ε → 0 limit (max over atoms): the max-plus network.

        >>> s = Stack("s", 1, (Layer("a", "softplus", 1.0, 1.0, np.array([[[0.0], [1.0]]]),
        ...                          np.zeros((1, 2))),), np.zeros((1, 1)))
        >>> round(float(s.forward(np.array([[0.0]]))[-1][0, 0]), 6)   # log 2
        0.693147
        """
        h = [np.asarray(x, dtype=np.float64)]
        for layer in self.layers:
            h.append(layer_forward(layer, h[-1], 0.0 if tropical else layer.eps))
        return h

    @property
    def bound_terms(self) -> np.ndarray:
        """(Π_{k>l} Lip_k)·ε_l log N_l per layer l: the stack bound is their sum."""
        return bound_terms(self.layers)

    # --- the Python API ------------------------------------------------------------------
    def trained(self) -> "Stack":
        """The stack with the weights learned from its `data` (itself when it has none)."""
        from hjdsl.networks.stack_train import trained

        return trained(self)

    def compare(self, x=None, quiet: bool = True):
        """Per-layer identities, the tropical stack and its bound (a Dataset with a `layer` dim)."""
        from hjdsl.jaxsetup import float64
        from hjdsl.networks.stack_views import compare_stack

        with float64():
            return compare_stack(self.trained(), x=x, quiet=quiet)

    def attribute(self, at):
        """Readout Gibbs weights and curvature ∇²f at points `at` (an xarray.Dataset)."""
        from hjdsl.jaxsetup import float64
        from hjdsl.networks.curvature import attribute_stack

        with float64():
            return attribute_stack(self.trained(), at)

    def __getattr__(self, name: str):
        # A verb written for single-layer specs asks for what a stack does not have (atoms,
        # a Hamiltonian, data): say so as a usage error, never an internal error.
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotForStacks(name)


class NotForStacks(UsageError, AttributeError):
    """A single-layer feature asked of a stack spec (an AttributeError too, for getattr)."""

    def __init__(self, name: str):
        what = {"solve": "fitting (solve)", "bifurcate": "bifurcate", "to_cvxpy": "compile",
                "to_numpyro": "compile", "to_jax": "compile"}.get(name)
        what = what or f"this command (it reads `{name}`, which a stack of layers does not have)"
        super().__init__((Diagnostic(
            "error", f"{what} is not available for a stack spec",
            hint="a stack supports check, compare and attribute; see docs/networks.md",
            code="U020"),))


def layer_forward(layer: Layer, h: np.ndarray, eps: float) -> np.ndarray:
    """The layer's units at inputs h (n, inputs) → (n, width), at the given ε (0: the max)."""
    from hjdsl.views.closed_form.lse import lse

    z = np.einsum("pd,ujd->puj", h, layer.W) + layer.b[None]
    return np.asarray(lse(z, eps), dtype=np.float64)


def bound_terms(layers) -> np.ndarray:
    """(Π_{k>l} Lip_k)·ε_l log N_l for each layer l (see docs/networks.md for the derivation)."""
    lips = np.array([layer.lipschitz for layer in layers])
    after = np.append(np.cumprod(lips[::-1])[::-1][1:], 1.0)  # Π_{k>l} Lip_k, 1 for the last
    return np.array([a * layer.eps * np.log(layer.atoms) for a, layer in zip(after, layers)])
