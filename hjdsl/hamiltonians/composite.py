"""Composite Hamiltonians: any convex H built from atoms by scaling, sums and max.

A tree of `Atom` (atoms.py) and `Scaled(a, node)`, `Sum(terms)`, `Max(terms)` (tree.py) states
H, its flux bound and dom L by composition. L = H* is
- in closed form for a single (scaled) atom: (a·h)*(v) = a·h*(v/a);
- for radial trees (every atom a function of |p|_2): h*(|v|) by the exact 1-D solve of
  conjugate.py, which traces under jax.jit;
- otherwise by one batched convex program over the v's (numpy only, `traceable` False), from the
  perspective form λ·L(w/λ) every node states: Scaled(a, n) → persp(n, w, a·λ); Sum → the
  infimal convolution, w = Σ w_i at the same λ; Max → w = Σ w_i, λ = Σ ν_i, ν_i ≥ 0 (the
  conjugate of a max is the closed convex hull of the min of the conjugates).
`build` returns the simplest family for a tree: Quadratic or Norm when it is one of those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.hamiltonians import conjugate
from hjdsl.hamiltonians.atoms import Atom
from hjdsl.hamiltonians.base import EXACT, LSE_ONLY_QUADRATIC, Exactness, Hamiltonian
from hjdsl.hamiltonians.reach import dual_norm, reach_slack, reached
from hjdsl.hamiltonians.tree import Max, Scaled, Sum, count_nodes, single_atom

__all__ = ["Atom", "Scaled", "Sum", "Max", "Composite", "build"]

GAUGE_TOL = 1e-7  # the convex program's membership test of dom L: its solver tolerance, widened


_NO_LAYER = "the weight map to an LSE layer needs a quadratic H"
_NOT_SMOOTH = ("at ε > 0 the LSE model is only a structural analogue of the viscous solution for "
               "this H, so there is no smooth viscous solution to differentiate; the ε = 0 "
               "Hopf–Lax value has its own residual row")
_NO_AUTODIFF = ("its L = H* is a convex program (numpy only), which jax cannot differentiate, so "
                "the ε = 0 residual has no autodiff costs")
_NO_LIKELIHOOD = ("the LSE model at ε > 0 is only a structural analogue of the viscous solution "
                  "for this H, so map, svi and nuts would fit the wrong model")
_NOT_CONVEX_FIT = ("the convex fit is the quadratic LSE layer's program; for this H fit at ε = 0 "
                   "through the Hopf–Lax value")
_NONE = {"network": _NO_LAYER, "pde_residual": _NOT_SMOOTH, "fit_probabilistic": _NO_LIKELIHOOD,
         "fit_convex": _NOT_CONVEX_FIT}


@dataclass(frozen=True, eq=False)
class Composite(Hamiltonian):
    """H(p) = tree(p) for a tree of atoms; `text` the form as written, `dim` the dimension d."""

    text: str
    tree: object
    dim: int
    kind: str = "composite"

    # --- H ------------------------------------------------------------------------------------
    def value(self, p, xp=np):
        return self.tree.value(p, xp)

    def gradient_bound(self, m: np.ndarray) -> np.ndarray:
        return np.asarray(self.tree.gradient_bound(np.asarray(m, dtype=float)), dtype=float)

    @property
    def coordinate_monotone(self) -> bool:
        return self.tree.coordinate_monotone

    @property
    def radial(self) -> bool:
        return self.tree.radial

    # --- L ------------------------------------------------------------------------------------
    @property
    def domain(self):
        return self.tree.domain

    @property
    def traceable(self) -> bool:
        return single_atom(self.tree) is not None or self.tree.radial

    @property
    def lagrangian_text(self) -> str:
        single = single_atom(self.tree)
        if single is not None:
            return single[1].lagrangian_text(single[0])
        how = "1-D solve" if self.tree.radial else "convex program"
        return f"{_conjugate_text(self.tree)}: {how}"

    def lagrangian(self, v, xp=np):
        v = xp.asarray(v)
        if self.traceable:
            return self._lagrangian(v, xp, clip=False)
        if xp is not np:
            raise self.unsupported("the jitted kernels", "its L is a convex program (numpy only)")
        inside = self._inside(v.reshape(-1, v.shape[-1]), 1.0, slack=False)
        return self._program_values(v, inside).reshape(v.shape[:-1])

    def _lagrangian(self, v, xp, clip: bool):
        """L by closed form or 1-D solve; `clip`: v beyond dom L is on its boundary."""
        single = single_atom(self.tree)
        if single is not None:
            a, atom = single
            return a * atom.lagrangian(v / a, xp, clip=clip)
        slope, offset = self.tree.asymptote
        s = xp.sqrt(xp.sum(v * v, axis=-1))
        beyond = s >= slope
        inner = conjugate.radial_conjugate(self.tree.radial_parts, xp.where(beyond, 0.0, s), xp)
        edge = offset if clip else xp.where(s > slope, xp.inf, offset)
        return xp.where(beyond, edge, inner)

    def reached(self, x, y, t: float, xp=np):
        dom = self.domain
        if dom is None:
            return super().reached(x, y, t, xp)
        if dom[2]:
            return reached(x, y, dom[0], dom[1] * t, xp=xp)
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        v = (x[..., None, :] - y) / t
        return self._inside(v.reshape(-1, v.shape[-1]), t, slack=True).reshape(v.shape[:-1])

    def _inside(self, rows: np.ndarray, t: float, slack: bool) -> np.ndarray:
        """Rows v in dom L: by the reach test's norms when dom L is a ball, else by the gauge."""
        dom = self.domain
        if dom is None:
            return np.ones(rows.shape[0], dtype=bool)
        if dom[2]:
            allowance = reach_slack(0.0, 0.0, dom[1], rows.shape[-1]) if slack else 0.0
            return dual_norm(rows, dom[0]) <= dom[1] + allowance
        near = dual_norm(rows, dom[0]) <= dom[1] * (1.0 + GAUGE_TOL)  # the ball holds dom L
        out = np.zeros(rows.shape[0], dtype=bool)
        self._check_program(int(near.sum()))
        gauge = conjugate.program_gauge(self.tree.persp, rows[near])
        out[near] = gauge <= 1.0 + (GAUGE_TOL if slack else 0.0)
        return out

    def _program_values(self, v: np.ndarray, inside: np.ndarray) -> np.ndarray:
        """L at rows v (…, d) flattened, +inf outside; rows on the slack side scaled onto dom L."""
        rows = v.reshape(-1, v.shape[-1])
        out = np.full(rows.shape[0], np.inf)
        keep = rows[inside]
        if self.domain is not None and keep.shape[0]:
            gauge = conjugate.program_gauge(self.tree.persp, keep)
            keep = keep / np.maximum(gauge, 1.0)[:, None]
        self._check_program(keep.shape[0])
        out[inside] = conjugate.program_lagrangian(self.tree.persp, keep)
        return out

    def _check_program(self, rows: int) -> None:
        from hjdsl.errors import run_error
        from hjdsl.model.limits import over_memory

        problem = over_memory(conjugate.program_bytes(rows, self.dim, count_nodes(self.tree)),
                              f"the convex program for L = H* at {rows:,} displacements")
        if problem:
            raise run_error(problem, "use fewer points or atoms, or a radial H (1-D solve)")

    # --- the atomic costs ---------------------------------------------------------------------
    def costs(self, x, y, g, t: float, xp=np):
        if self.traceable:
            return self.kernel_costs(x, y, g, t, np.float64(t), xp)
        if xp is not np:
            raise self.unsupported("the jitted kernels", "its L is a convex program (numpy only)")
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        v = (x[..., None, :] - y) / t
        inside = self.reached(x, y, t).reshape(-1)
        values = self._program_values(v, inside).reshape(v.shape[:-1])
        return np.asarray(g, dtype=float) + t * values

    def kernel_costs(self, x, y, g, t, args, xp):
        x, y = xp.asarray(x), xp.asarray(y)
        v = (x[..., None, :] - y) / args
        c = xp.asarray(g) + args * self._lagrangian(v, xp, clip=True)
        return xp.where(self.reached(x, y, args, xp), c, xp.inf)

    @property
    def kernel_key(self):
        return ("composite", self.tree.key)

    def cvxpy_cost(self, w, t: float):
        import cvxpy as cp

        values, constraints = self.tree.persp(cp.reshape(w, (1, w.shape[0]), order="C"),
                                              np.array([float(t)]))
        return (0.0 if isinstance(values, np.ndarray) else cp.sum(values)), constraints

    # --- labels -------------------------------------------------------------------------------
    def exactness(self, view: str) -> Exactness:
        if view in ("hopf_lax", "convex_lp", "hopf_lax_program", "fit_hopf_lax", "grid"):
            return EXACT
        if view in ("hopf_cole", "convex_entropic"):
            return Exactness("structural", LSE_ONLY_QUADRATIC)
        if view == "pde_residual_hopf_lax":
            return EXACT if self.traceable else Exactness("none", _NO_AUTODIFF)
        return Exactness("none", _NONE.get(view, _NO_LAYER))


def _conjugate_text(node) -> str:
    single = single_atom(node)
    if single is not None:
        text = single[1].lagrangian_text(single[0])
        return f"({text})" if " on " in text else text
    parts = " and ".join(_conjugate_text(t) for t in node.terms)
    if isinstance(node, Scaled):
        return f"{node.a:g}*L({node.node.text})(v/{node.a:g})"
    if isinstance(node, Sum):
        return f"inf-convolution of {parts}"
    return f"convex hull of the min of {parts}"


# --- build ------------------------------------------------------------------------------------
def build(tree, text: str, d: int) -> Hamiltonian:
    """The simplest family for `tree`: a (scaled) |p|^2 or p'Ap → Quadratic, a scaled norm →
    Norm, anything else → Composite (nested sums and maxes flattened, scalings folded)."""
    from hjdsl.hamiltonians import norm, quadratic

    tree = simplify(tree)
    single = single_atom(tree)
    if single is not None:
        a, atom = single
        if atom.name == "sq":
            return quadratic(a * np.eye(d), text=text)
        if atom.name == "quad":
            return quadratic(a * atom.matrix, text=text)
        if atom.name in ("l1", "l2", "linf"):
            return norm(atom.name, a, text=text)
    return Composite(text, tree, int(d))


def simplify(node):
    """Fold nested scalings (dropping a = 1), flatten nested sums / maxes, unwrap 1-term ones."""
    if isinstance(node, Atom):
        return node
    if isinstance(node, Scaled):
        inner = simplify(node.node)
        a = node.a
        if isinstance(inner, Scaled):
            a, inner = a * inner.a, inner.node
        return inner if a == 1.0 else Scaled(a, inner)
    terms = []
    for term in (simplify(t) for t in node.terms):
        terms.extend(term.terms if type(term) is type(node) else (term,))
    return terms[0] if len(terms) == 1 else type(node)(tuple(terms))
