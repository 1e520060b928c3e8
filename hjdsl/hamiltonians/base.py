"""The protocol every Hamiltonian family follows: the facts the views, fits and code generators ask.

A Hamiltonian is an object, not a kind to branch on. Each family (quadratic.py, norms.py,
composite.py) states its facts once:

- `value(p)` H(p) over the last axis, and `grad(p)` ∇H (jax autodiff of `value` unless a family
  knows better);
- `lagrangian(v)` L = H* over the last axis (+inf outside the domain of L) and
  `lagrangian_text`, the formula a user reads in `compile --info`;
- `costs(x, y, g, t)` the atomic Hopf–Lax costs c_j(x) = g_j + t·L((x − y_j)/t), +inf where
  atom j cannot reach x (`reached`);
- `cvxpy_cost(w, t)` t·L(w/t) as a cvxpy expression and its constraints (w = x − y affine), for
  the continuous Hopf–Lax program;
- `gradient_bound(m)` α_k ≥ max |∂H/∂p_k| over the box |p_l| ≤ m_l (the Lax–Friedrichs flux);
- `weights(y, g, t)` the exact map to an LSE layer (W, b), when one exists;
- `exactness(view)` exact / structural / none for each view, with the reason a report prints.

A family that lacks a fact raises `NotSupported` from `require`, which the front end turns into
a located "not supported by this view for H = …" diagnostic; nothing else asks what family a
Hamiltonian belongs to.

The jitted kernels of the closed-form views compile once per `kernel_key` (a hashable summary of
what the traced cost function depends on besides its array arguments `kernel_args(t)`), so two
models with the same family share compiled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Literal

import numpy as np

Label = Literal["exact", "structural", "none"]

# The views a Hamiltonian states an exactness label for.
VIEWS = ("network", "hopf_cole", "hopf_lax", "convex_entropic", "convex_lp", "hopf_lax_program",
         "grid", "pde_residual", "pde_residual_hopf_lax", "fit_probabilistic", "fit_convex",
         "fit_hopf_lax")


class NotSupported(ValueError):
    """A view, fit or generator needs a fact this Hamiltonian does not have.

    `message` reads "not supported by this view for H = …: why" and `hint` says what works.
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Exactness:
    """How a view relates to the viscous HJ solution for this Hamiltonian, and why."""

    label: Label
    reason: str


class Hamiltonian:
    """Base of every family. Subclasses are frozen dataclasses with `kind` and `text` fields.

    `kind` names the family for people and result files (never for dispatch); `text` is the form
    as the user wrote it.
    """

    kind: str
    text: str
    coordinate_monotone: bool = False  # H depends on |p_1|, …, |p_d| only, non-decreasingly

    def __repr__(self) -> str:
        """`<Hamiltonian quadratic: H(p) = |p|^2>` (the fields hold matrices and atom trees)."""
        from hjdsl.model.display import hamiltonian_repr

        return hamiltonian_repr(self)

    def __init_subclass__(cls, **kwargs):
        # @dataclass writes its field dump as __repr__ unless the class body defines one, and it
        # runs after this hook: copying the short repr into each family keeps every family short.
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = Hamiltonian.__repr__

    # --- the facts every family states --------------------------------------------------------
    def value(self, p, xp=np):
        """H(p) over the last axis of p (numpy or jax.numpy as `xp`)."""
        raise NotImplementedError

    def grad(self, p):
        """∇H(p) over the last axis, by jax autodiff of `value` (families may override)."""
        from hjdsl.jaxsetup import jax_x64

        jax = jax_x64()
        import jax.numpy as jnp

        p = jnp.asarray(p, dtype=jnp.float64)
        flat = p.reshape(-1, p.shape[-1])
        out = jax.vmap(jax.grad(lambda q: self.value(q, jnp)))(flat)
        return out.reshape(p.shape)

    def lagrangian(self, v, xp=np):
        """L(v) = sup_p {p·v − H(p)} over the last axis; +inf outside the domain of L."""
        raise NotImplementedError

    @property
    def lagrangian_text(self) -> str:
        """L = H* as a formula in v, for `compile --info` and reports."""
        raise NotImplementedError

    def reached(self, x, y, t: float, xp=np):
        """(…, N) booleans: (x − y_j)/t lies in the domain of L (every atom, when that is ℝᵈ)."""
        x = xp.asarray(x)
        return xp.ones(x.shape[:-1] + (xp.asarray(y).shape[0],), dtype=bool)

    def costs(self, x, y, g, t: float, xp=np):
        """c_j(x) = g_j + t·L((x − y_j)/t) for points x (…, d), atoms y (N, d): shape (…, N)."""
        raise NotImplementedError

    def cvxpy_cost(self, w, t: float):
        """(expression, constraints): t·L(w/t) for a cvxpy affine expression w of shape (d,)."""
        raise self.unsupported("the continuous Hopf–Lax program",
                               "its Lagrangian has no cvxpy form")

    def gradient_bound(self, m: np.ndarray) -> np.ndarray:
        """α (d, …) with α_k ≥ max |∂H/∂p_k| over the box |p_l| ≤ m_l; m has shape (d, …)."""
        raise NotImplementedError

    def weights(self, y, g, t: float):
        """(W, b) of the LSE layer whose Hopf–Cole solution this is; NotSupported if none."""
        raise self.unsupported("the network view", "there is no exact LSE layer for it")

    def atoms_from_weights(self, W, b, t: float):
        """(y, g) of the LSE layer (W, b): the inverse of `weights`; NotSupported if none."""
        raise self.unsupported("the network view", "there is no exact LSE layer for it")

    def quadratic_term(self, x, t: float) -> np.ndarray:
        """q(x) with f_ε + u_ε = q(x) for every ε (the LSE identity); NotSupported if none."""
        raise self.unsupported("the network view", "there is no exact LSE layer for it")

    @property
    def domain(self) -> tuple[str, float, bool] | None:
        """dom L as a dual-norm ball: (q, r, exact) means dom L ⊆ {v : ‖v‖_q* ≤ r} (q one of
        l1, l2, linf, the norm whose dual ball it is), with equality when `exact`; None when
        dom L = ℝᵈ. Searches over displacements (quadrature, reach tests) stay inside it."""
        return None

    def diffusion(self, d: int) -> np.ndarray:
        """D in the viscous equation u_t + H(∇u) = ε tr(D∇²u) (I unless the family says)."""
        return np.eye(d)

    def exactness(self, view: str) -> Exactness:
        """The label of `view` (one of VIEWS) for this Hamiltonian."""
        raise NotImplementedError

    # --- the jitted kernels' view of the costs ------------------------------------------------
    @property
    def traceable(self) -> bool:
        """True when `costs` runs under jax.jit with xp = jax.numpy (closed-form or 1-D L)."""
        return True

    @property
    def kernel_key(self) -> Hashable:
        """What the traced costs depend on besides `kernel_args` (the jit cache key)."""
        return (type(self).__name__,)

    def kernel_args(self, t: float) -> Any:
        """The arrays `kernel_costs` takes (a pytree), for one t (a number, or a jax tracer when
        the PDE residual differentiates the costs in t)."""
        return as_scalar(t)

    def kernel_costs(self, x, y, g, t, args, xp):
        """`costs` written for the kernels: depends on self only through `kernel_key`."""
        return self.costs(x, y, g, t, xp)

    # --- derived, shared by every family ------------------------------------------------------
    @property
    def exact(self) -> bool:
        """Every view is exact (ε > 0 included): the LSE identity holds."""
        return all(self.exactness(v).label == "exact" for v in ("network", "hopf_cole"))

    @property
    def has_layer(self) -> bool:
        """An exact LSE layer (W, b) exists for this Hamiltonian."""
        return self.exactness("network").label == "exact"

    # plain defaults a family's own fields override
    isotropic: bool = True
    scale: float = 1.0
    matrix = None

    @property
    def condition(self) -> float:
        """cond(A) for a quadratic H; 1 otherwise (no matrix to invert)."""
        return 1.0

    def unsupported(self, view: str, why: str, hint: str | None = None) -> NotSupported:
        """The one "not supported" error: `raise ham.unsupported("the network view", "...")`."""
        return NotSupported(f"{view} is not supported for H(p) = {self.text}: {why}", hint)

    def require(self, view: str) -> None:
        """Raise NotSupported when `view` has label "none" for this Hamiltonian."""
        label = self.exactness(view)
        if label.label == "none":
            raise self.unsupported(VIEW_NAMES.get(view, view), label.reason)

    def describe(self) -> dict:
        """Facts for `compile --info` and result attributes (JSON-ready)."""
        return {"text": self.text, "kind": self.kind, "lagrangian": self.lagrangian_text,
                "exactness": {v: {"label": self.exactness(v).label,
                                  "reason": self.exactness(v).reason} for v in VIEWS}}


VIEW_NAMES = {
    "network": "the network view (LSE layer)",
    "hopf_cole": "the Hopf–Cole view",
    "hopf_lax": "the Hopf–Lax (tropical) view",
    "convex_entropic": "the entropic convex program (ε > 0)",
    "convex_lp": "the ε = 0 linear program",
    "hopf_lax_program": "the continuous Hopf–Lax program",
    "grid": "the grid PDE solver",
    "pde_residual": "the autodiff PDE residual",
    "pde_residual_hopf_lax": "the autodiff PDE residual of the ε = 0 Hopf–Lax value",
    "fit_probabilistic": "fitting with map, svi or nuts",
    "fit_convex": "fitting with the convex method",
    "fit_hopf_lax": "fitting at ε = 0 through the Hopf–Lax value",
}


def as_scalar(t):
    """np.float64(t) for a number; a jax tracer (or array) passes through, so `kernel_args` can be
    differentiated in t."""
    return np.float64(t) if isinstance(t, (int, float, np.number, np.ndarray)) else t


# Reasons shared by the families, so reports word the same fact the same way.
EXACT = Exactness("exact", "")
LSE_ONLY_QUADRATIC = ("the entropic (ε > 0) views equal the viscous solution only for quadratic "
                      "H; for this H they are a structural analogue")
