"""The checked attention spec: its heads, ε sweep and t, with compare and attribute."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from hjdsl.attention.heads import Heads
from hjdsl.errors import Diagnostic, Span, UsageError
from hjdsl.model.ir import Viscosity

# What an attention spec offers; anything else a verb asks of it is refused by name.
SUPPORTED = "an attention spec supports `hjdsl check`, `compare` and `attribute`"


class NotForAttention(UsageError, AttributeError):
    """What an attention spec lacks: a usage error for users, an AttributeError for hasattr."""


@dataclass(frozen=True)
class AttentionModel:
    """A checked `.hj` spec with an `attention` declaration (made by `hjdsl.load` / `parse`).

    Each query row of each head is a point of an LSE layer with W_j = k_j, b_j = 0 under
    H(p) = |p|^2: atoms y_j = 2t·k_j, g_j = −t|k_j|^2 (a masked key: cost +∞ for that query).
    """

    name: str
    t: float
    viscosity: Viscosity
    heads: Heads
    origin: str  # "synthetic" or the weights file as the spec wrote it
    layer: str = ""  # the attention statement's optional NAME
    normalised: bool = False  # Q, K, V made with LayerNorm from an input X
    description: str = ""
    constants: dict = field(default_factory=dict)
    source: str = ""
    path: str | None = None
    warnings: tuple[Diagnostic, ...] = ()
    overrides: tuple[str, ...] = ()
    span: Span | None = None

    def __repr__(self) -> str:
        """A few lines in the shape of Model's: the heads, the size, ε and H.

        >>> from hjdsl.attention.heads import synthetic
        >>> AttentionModel("a", 1.0, Viscosity(np.array([2.0, 0.0])), synthetic(0, 2, 3, 4, 5, 2),
        ...                "synthetic")
        <hjdsl.Model 'a'
          attention: 2 heads, 3 queries × 4 keys, d_k = 5, d_v = 2
          heads: synthetic
          size: d = 5, t = 1, 4 atoms (each head's keys)
          ε: 2, 0
          H(p): |p|^2>
        """
        from hjdsl.model.display import number, numbers

        h = self.heads
        origin = self.origin if len(self.origin) <= 30 else "…" + self.origin[-29:]
        facts = [f"{h.n_heads} head{'s' if h.n_heads != 1 else ''}",
                 f"{h.n_queries} queries × {h.n_keys} keys", f"d_k = {h.d_k}", f"d_v = {h.d_v}",
                 *(["causal"] if h.causal else []), *(["LayerNorm"] if self.normalised else [])]
        name = self.name if len(self.name) <= 40 else self.name[:39] + "…"
        return (f"<hjdsl.Model {name!r}\n  attention: {', '.join(facts)}\n  heads: {origin}\n"
                f"  size: d = {h.d_k}, t = {number(self.t)}, {h.n_keys} atoms (each head's keys)\n"
                f"  ε: {numbers(self.eps)}\n  H(p): |p|^2>")

    def summary(self) -> str:
        """What `hjdsl check` prints: `ok (model m, attention: 2 heads, 8 queries × 8 keys, …)`."""
        h, n_eps = self.heads, self.eps.size
        parts = [f"model {self.name}",
                 f"attention: {h.n_heads} head{'s' if h.n_heads != 1 else ''}",
                 f"{h.n_queries} queries × {h.n_keys} keys", f"d_k = {h.d_k}",
                 f"{n_eps} ε value{'s' if n_eps != 1 else ''}"]
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning{'s' if len(self.warnings) > 1 else ''}")
        return "ok (" + ", ".join(parts) + ")"

    def __getattr__(self, name: str):
        # Verbs written for atom specs (solve, bifurcate, compile) read fields an attention
        # spec does not have: say so instead of failing with an AttributeError.
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotForAttention((Diagnostic(
            "error", f"this needs an atom spec (it reads `{name}`, which attention heads do not "
            f"have): {SUPPORTED}",
            self.span, "analyse the heads with `hjdsl compare FILE` or `hjdsl attribute FILE`",
            "U070"),))

    # --- what every result's provenance and `hjdsl check` read ---------------------------
    @property
    def eps(self) -> np.ndarray:
        return self.viscosity.values

    @property
    def dim(self) -> int:
        return self.heads.d_k

    @property
    def n_atoms(self) -> int:
        return self.heads.n_keys

    @property
    def data(self):
        return None

    @property
    def hamiltonian(self):
        from hjdsl.hamiltonians import quadratic

        return quadratic(np.eye(self.heads.d_k), "|p|^2")

    @property
    def spec_sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    # --- the Python API ---------------------------------------------------------------------
    def compare(self, eps=None, audit=None, x=None, **options):
        """The four views per head and query for every ε (an xarray.Dataset, docs/attention.md).

        `audit`: how many queries per head the convex view solves (None or "all": every one,
        0: none). The points are the heads' queries, so `x` is refused; the options of atom
        specs' views (grid, chunk, quiet) have nothing to act on here and are ignored.

        >>> from hjdsl.attention.heads import synthetic
        >>> heads = synthetic(0, 1, 2, 3, 4, 2)
        >>> m = AttentionModel("a", 1.0, Viscosity(np.array([2.0])), heads, "synthetic")
        >>> m.compare(audit=0).output.dims
        ('head', 'eps', 'query', 'value_dim')
        """
        from hjdsl.attention.views import compare

        if x is not None:
            raise UsageError((Diagnostic(
                "error", "an attention spec's points are its queries: x does not apply",
                self.span, "leave out x", "U071"),))
        return compare(self, eps=eps, audit=audit)

    def attribute(self, at=None, eps=None, top=3, **options):
        """Per head and query: attention entropy, Ent/log N, the regime, ε/ε* and top keys."""
        from hjdsl.attention.attribution import attribute

        if at is not None:
            raise UsageError((Diagnostic(
                "error", "an attention spec's query points are its queries: --at does not apply",
                self.span, "leave out --at", "U071"),))
        return attribute(self, eps=eps, top=top)
