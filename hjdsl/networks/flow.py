"""A checked residual or recurrent network spec: the cell, its parameters, its data, its (H, ε)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from hjdsl.errors import Diagnostic, UsageError
from hjdsl.model.ir import Data
from hjdsl.networks.cells import CELLS, Cell
from hjdsl.networks.costate import Net

VERBS = "hjdsl check, hjdsl compare and hjdsl attribute"


class NotAnAtomModel(UsageError, AttributeError):
    """Asked a flow spec for what only an atom model has: a usage error (exit 2), and to
    `hasattr` simply a missing attribute."""


@dataclass(frozen=True)
class DeclaredPair:
    """The (H, ε) a user says the architecture discretises: shown, always labelled structural."""

    hamiltonian: str
    eps: tuple[float, ...]
    reason: str


@dataclass(frozen=True)
class FlowModel:
    """x_{k+1} = x_k + h·F(x_k, θ_k, u_k), k = 0…K−1, with the terminal loss mean (r·x_K − v)².

    A residual net starts at the data's x (x_0 ∈ ℝ^dim) with one θ_k per step; a recurrent net
    starts at 0 and reads the data's x as the input sequence u_0…u_{K−1} (K = dim), h = 1.
    """

    name: str
    dim: int
    cell_name: str
    steps: int
    h: float
    width: int                      # state width d (residual: dim; LSTM: 2 × hidden)
    atoms: int                      # LSE atoms per component (lse cell), else 0
    eps: float                      # the cell's temperature (softplus, lse)
    params: Mapping[str, np.ndarray]
    readout_params: Mapping[str, np.ndarray]
    param_source: str               # "literal", "random", "mixed"
    data: Data
    learn: int = 0                  # Adam steps on the loss before the checks (0: as given)
    lr: float = 0.01
    declared: DeclaredPair | None = None
    description: str = ""
    source: str = ""
    path: str | None = None
    warnings: tuple[Diagnostic, ...] = ()
    overrides: tuple[str, ...] = ()
    constants: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def cell(self) -> Cell:
        return CELLS[self.cell_name]

    @property
    def kind(self) -> str:
        return self.cell.kind

    @property
    def spec_sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def net(self, params: Mapping[str, np.ndarray] | None = None) -> Net:
        """The runnable network (optionally with other parameters, e.g. after training)."""
        x, v = self.data.x, self.data.value
        recurrent = self.kind == "recurrent"
        x0 = np.zeros((x.shape[0], self.width)) if recurrent else np.array(x, dtype=np.float64)
        u = np.ascontiguousarray(x.T, dtype=np.float64) if recurrent else None
        theta = {n: np.array(a, dtype=np.float64) for n, a in (params or self.params).items()}
        return Net(self.cell, theta, x0, u, np.array(v, dtype=np.float64), self.h, self.steps,
                   self.eps, {n: np.array(a) for n, a in self.readout_params.items()})

    def compare(self, quiet: bool = True):
        """The co-state, weight-gradient and ODE checks as a Dataset with a `step` dim."""
        from hjdsl.networks.flow_results import flow_dataset

        return flow_dataset(self, quiet=quiet)

    def attribute(self, quiet: bool = True):
        """Per sample and step: p_k, ∂_θℋ, the step-gate attribution A_k (π for lse), a Dataset."""
        from hjdsl.networks.flow_attribute import flow_attribution

        return flow_attribution(self, quiet=quiet)

    def summary(self) -> str:
        """`ok (model m, residual tanh, 10 steps, h = 0.1, state width 2, 16 data points)`."""
        kind = f"{self.kind} {self.cell_name}"
        step = f", h = {self.h:g}" if self.kind == "residual" else ""
        parts = [f"model {self.name}", kind, f"{self.steps} steps{step}", f"state width {self.width}",
                 f"{self.data.size} data points"]
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning{'s' if len(self.warnings) > 1 else ''}")
        return "ok (" + ", ".join(parts) + ")"

    def __getattr__(self, name: str):
        # Verbs written for atom models (solve, bifurcate, compile …) ask for atoms, ε sweeps
        # and views this spec does not have: say so instead of failing deep inside them.
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotAnAtomModel.single(
            f"this is a {self.kind} network spec (model {self.name!r}): it runs with {VERBS}, "
            f"not with a command that needs atoms (it asked for `{name}`)",
            hint=f"run `hjdsl compare {self.path or 'SPEC'}` for the co-state and gradient checks",
            code="U091")

    def __repr__(self) -> str:
        return (f"<hjdsl.FlowModel {self.name!r}: {self.kind} {self.cell_name}, {self.steps} "
                f"steps, state width {self.width}, {self.data.size} data points>")
