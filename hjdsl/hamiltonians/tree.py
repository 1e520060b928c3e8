"""The nodes of a composite Hamiltonian's tree: Scaled(a, node), Sum(terms), Max(terms) over atoms.

Each node states, by composition of its terms' facts: H (`value`), the radial profile
(`radial_parts`, `asymptote`), dom L (`domain`: scalings scale it, sums take Minkowski sums,
max the convex hull), the flux bound, and the perspective form λ·L(w/λ) row by row (`persp`):
Scaled(a, n) → persp(n, w, a·λ) since (a·f)*(v) = a·f*(v/a); Sum → the infimal convolution,
w = Σ w_i at the same λ; Max → w = Σ w_i, λ = Σ ν_i with ν_i ≥ 0 (the conjugate of a max is the
closed convex hull of the min of the conjugates). `key` is canonical text with constants as repr.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np

from hjdsl.hamiltonians.atoms import Atom

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
        same = len(kinds) == 1
        # balls of different norms all lie in the sup-norm ball (kind l1) of the same radius
        return (min(kinds) if same else "l1"), [d[1] for d in doms], same and all(d[2] for d in doms)


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


def single_atom(node):
    """(a, atom) when node is a scaled atom, else None."""
    a = 1.0
    while isinstance(node, Scaled):
        a, node = a * node.a, node.node
    return (a, node) if isinstance(node, Atom) else None


def count_nodes(node) -> int:
    """Nodes of the tree (the convex program's size)."""
    return 1 if isinstance(node, Atom) else 1 + sum(count_nodes(t) for t in node.terms)
