"""Composite Hamiltonians: any convex H built from atoms by scaling, sums and max.

A tree of `Atom` (atoms.py), `Scaled(a, node)`, `Sum(terms)` and `Max(terms)` states H, its flux
bound and dom L by composition (scalings multiply, sums add / take Minkowski sums, max takes the
max / the convex hull). L = H* is
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
from functools import reduce

import numpy as np

from hjdsl.hamiltonians import conjugate
from hjdsl.hamiltonians.atoms import Atom
from hjdsl.hamiltonians.base import EXACT, LSE_ONLY_QUADRATIC, Exactness, Hamiltonian
from hjdsl.hamiltonians.reach import dual_norm, reach_slack, reached

__all__ = ["Atom", "Scaled", "Sum", "Max", "Composite", "build"]

GAUGE_TOL = 1e-7  # the convex program's membership test of dom L: its solver tolerance, widened


@dataclass(frozen=True, eq=False)
class Scaled:
    """a·node with a > 0."""

    a: float
    node: object

    def __post_init__(self):
        if not float(self.a) > 0:
            raise ValueError(f"a scaling of H must be positive, not {self.a!r}")
        object.__setattr__(self, "a", float(self.a))

    terms = property(lambda self: (self.node,))
    radial = property(lambda self: self.node.radial)
    coordinate_monotone = property(lambda self: self.node.coordinate_monotone)
    key = property(lambda self: f"{self.a!r}*({self.node.key})")
    text = property(lambda self: f"{self.a:g}*{_wrapped(self.node)}")

    def value(self, p, xp=np):
        return self.a * self.node.value(p, xp)

    def radial_parts(self, r, xp=np):
        return tuple(self.a * part for part in self.node.radial_parts(r, xp))

    @property
    def asymptote(self):
        slope, offset = self.node.asymptote
        return self.a * slope, self.a * offset

    @property
    def domain(self):
        dom = self.node.domain
        return None if dom is None else (dom[0], self.a * dom[1], dom[2])

    def persp(self, w, lam):
        return self.node.persp(w, self.a * lam)  # λ·(a f)*(w/λ) = (aλ)·f*(w/(aλ))

    def gradient_bound(self, m):
        return self.a * self.node.gradient_bound(m)


@dataclass(frozen=True, eq=False)
class _Combination:
    terms: tuple

    def __post_init__(self):
        object.__setattr__(self, "terms", tuple(self.terms))
        if not self.terms:
            raise ValueError(f"{type(self).__name__} needs at least one term")

    radial = property(lambda self: all(t.radial for t in self.terms))
    coordinate_monotone = property(lambda self: all(t.coordinate_monotone for t in self.terms))

    @property
    def key(self):
        return f"{type(self).__name__.lower()}({', '.join(t.key for t in self.terms)})"

    def _domains(self):
        doms = [t.domain for t in self.terms]
        if any(d is None for d in doms):
            return None
        kinds = {d[0] for d in doms}
        # balls of different norms all lie in the sup-norm ball (kind l1) of the same radius
        kind = kinds.pop() if len(kinds) == 1 else "l1"
        return kind, [d[1] for d in doms], len(kinds) == 0 and all(d[2] for d in doms)


class Sum(_Combination):
    """Σ terms: L is the infimal convolution of the terms' L."""

    text = property(lambda self: " + ".join(_wrapped(t) for t in self.terms))

    def value(self, p, xp=np):
        return reduce(lambda a, b: a + b, (t.value(p, xp) for t in self.terms))

    def radial_parts(self, r, xp=np):
        parts = [t.radial_parts(r, xp) for t in self.terms]
        return tuple(reduce(lambda a, b: a + b, column) for column in zip(*parts))

    @property
    def asymptote(self):
        slopes, offsets = zip(*(t.asymptote for t in self.terms))
        return sum(slopes), sum(offsets)

    @property
    def domain(self):
        """dom L is the Minkowski sum of the terms' domains (ℝᵈ if one of them is)."""
        doms = self._domains()
        return None if doms is None else (doms[0], float(sum(doms[1])), doms[2])

    def persp(self, w, lam):
        import cvxpy as cp

        parts = [cp.Variable(w.shape) for _ in self.terms[1:]]
        parts.append(w - sum(parts) if parts else w)
        return _combine([t.persp(wi, lam) for t, wi in zip(self.terms, parts)], [])

    def gradient_bound(self, m):
        return sum(t.gradient_bound(m) for t in self.terms)


class Max(_Combination):
    """max(terms): L is the closed convex hull of the min of the terms' L."""

    text = property(lambda self: f"max({', '.join(t.text for t in self.terms)})")

    def value(self, p, xp=np):
        return reduce(xp.maximum, (t.value(p, xp) for t in self.terms))

    def radial_parts(self, r, xp=np):
        """The parts of the active term (ties: the larger right derivative, which is h'_+)."""
        best = None
        for part in (t.radial_parts(r, xp) for t in self.terms):
            if best is None:
                best = part
                continue
            take = (part[0] > best[0]) | ((part[0] == best[0]) & (part[1] > best[1]))
            best = tuple(xp.where(take, new, old) for new, old in zip(part, best))
        return best

    @property
    def asymptote(self):
        slope = max(t.asymptote[0] for t in self.terms)
        return slope, min(t.asymptote[1] for t in self.terms if t.asymptote[0] == slope)

    @property
    def domain(self):
        """dom L is the convex hull of the terms' domains (ℝᵈ if one of them is)."""
        doms = self._domains()
        return None if doms is None else (doms[0], float(max(doms[1])), doms[2])

    def persp(self, w, lam):
        import cvxpy as cp

        n = w.shape[0]
        weights = [cp.Variable(n, nonneg=True) for _ in self.terms]
        parts = [cp.Variable(w.shape) for _ in self.terms[1:]]
        parts.append(w - sum(parts) if parts else w)
        return _combine([t.persp(wi, nu) for t, wi, nu in zip(self.terms, parts, weights)],
                        [sum(weights) == lam])

    def gradient_bound(self, m):
        return reduce(np.maximum, (t.gradient_bound(m) for t in self.terms))


def _combine(pieces, constraints):
    values = sum(v for v, _ in pieces)
    return values, constraints + [c for _, cons in pieces for c in cons]


def _wrapped(node) -> str:
    return f"({node.text})" if isinstance(node, Sum) else node.text


def _single_atom(node):
    """(a, atom) when node is a scaled atom, else None."""
    a = 1.0
    while isinstance(node, Scaled):
        a, node = a * node.a, node.node
    return (a, node) if isinstance(node, Atom) else None


def _count(node) -> int:
    return 1 if isinstance(node, Atom) else 1 + sum(_count(t) for t in node.terms)


_NO_LAYER = "the weight map to an LSE layer needs a quadratic H"
_NOT_SMOOTH = ("the ε = 0 value is a minimum over atoms (not smooth) and at ε > 0 the LSE model is "
               "only a structural analogue of the viscous solution for this H")
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
        return _single_atom(self.tree) is not None or self.tree.radial

    @property
    def lagrangian_text(self) -> str:
        single = _single_atom(self.tree)
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
        single = _single_atom(self.tree)
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

        problem = over_memory(conjugate.program_bytes(rows, self.dim, _count(self.tree)),
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
        return Exactness("none", _NONE.get(view, _NO_LAYER))


def _conjugate_text(node) -> str:
    single = _single_atom(node)
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
    single = _single_atom(tree)
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
