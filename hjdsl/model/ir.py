"""The checked model: a frozen, validated value that every backend lowers from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal, Mapping

import numpy as np

from hjdsl.errors import Diagnostic, Span
from hjdsl.jaxsetup import scoped
from hjdsl.model.expr import Expr

from hjdsl.hamiltonians import Hamiltonian, inverse_factor  # noqa: F401  (re-exported)

HamiltonianKind = Literal["quadratic", "l1", "l2", "linf"]


def _frozen(a, ndim: int | None = None) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"expected a {ndim}-d array, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class Prior:
    """A distribution: `normal(0, 1)`, `half_normal(0.1)`, `uniform(-2, 2)`, ...

    `params` maps canonical parameter names (loc, scale, low, high, df, ...) to numbers; `family`
    is one of the names in `hjdsl.model.distributions.FAMILIES`.
    """

    family: str
    params: Mapping[str, float]
    span: Span | None = None

    def __repr__(self) -> str:
        from hjdsl.model.display import prior_text

        return f"<Prior {prior_text(self)}>"


@dataclass(frozen=True)
class Viscosity:
    """ε: the sweep of values the views are evaluated at, and optionally a prior (learned ε).

    `values` is never empty; for a learned ε it holds the value used when no fit is given.
    """

    values: np.ndarray
    prior: Prior | None = None
    span: Span | None = None

    def __repr__(self) -> str:
        from hjdsl.model.display import numbers, prior_text

        prior = "" if self.prior is None else f" ~ {prior_text(self.prior)}"
        return f"<Viscosity {numbers(self.values)}{prior}>"

    @property
    def learned(self) -> bool:
        return self.prior is not None


@dataclass(frozen=True)
class Particles:
    """The atoms y_j. `points` is (N, d) whenever they are known before fitting.

    source: literal | grid | random | data | learned | weights (from an LSE layer's file). For
    `learned`, `prior` is set and `points` holds the deterministic starting positions (a seeded
    draw from the prior).
    """

    source: Literal["literal", "grid", "random", "data", "learned", "weights"]
    points: np.ndarray
    prior: Prior | None = None
    span: Span | None = None

    def __repr__(self) -> str:  # the (N, d) points would fill a screen
        return f"<Particles {self.source}: {self.points.shape[0]} atoms in d = {self.points.shape[1]}>"

    @property
    def count(self) -> int:
        return int(self.points.shape[0])

    @property
    def learned(self) -> bool:
        return self.source == "learned"


@dataclass(frozen=True)
class InitialData:
    """g_j. source: expr (an expression of y) | literal | learned (with a prior).

    `values` (N,) is g at the starting particles (the prior's mean for learned g).
    `expr` is the expression when source is expr (lower it to evaluate g at other y).
    """

    source: Literal["expr", "literal", "learned"]
    values: np.ndarray
    expr: Expr | None = None
    prior: Prior | None = None
    span: Span | None = None

    def __repr__(self) -> str:
        return f"<InitialData {self.source}: {self.values.shape[0]} values>"

    @property
    def learned(self) -> bool:
        return self.source == "learned"


@dataclass(frozen=True)
class Truth:
    """Known true initial data of a synthetic data set (atoms and an expression for g*)."""

    points: np.ndarray
    values: np.ndarray
    expr: Expr | None = None

    def __repr__(self) -> str:
        return f"<Truth: {self.points.shape[0]} atoms>"


@dataclass(frozen=True)
class Data:
    """Observations (x_i, v_i): x is (n, d), value is (n,). Loaded and validated at check time."""

    source: Literal["file", "synthetic"]
    x: np.ndarray
    value: np.ndarray
    path: str | None = None
    columns: Mapping[str, object] = field(default_factory=dict)
    seed: int | None = None
    noise: float = 0.0
    truth: Truth | None = None
    span: Span | None = None

    def __repr__(self) -> str:
        where = self.path if self.source == "file" else f"seed {self.seed}, noise {self.noise:g}"
        return f"<Data {self.source}: {self.size} points, d = {self.x.shape[1]} ({where})>"

    @property
    def size(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Split:
    """Hold out a fraction of the data (seeded) for testing."""

    test: float
    seed: int = 0


@dataclass(frozen=True)
class Observation:
    """Which quantity is observed (f = network output, u = HJ value) and its likelihood.

    `scale` is σ: a positive number or a prior. `df` is ν for student_t (number or prior).
    """

    quantity: Literal["f", "u"]
    likelihood: Literal["normal", "student_t", "laplace"]
    scale: float | Prior
    df: float | Prior | None = None
    split: Split | None = None
    span: Span | None = None


@dataclass(frozen=True)
class FitSettings:
    """Defaults for `solve`, from the spec's optional `fit` declaration (CLI flags override)."""

    method: Literal["map", "svi", "nuts", "convex"] = "map"
    steps: int = 2000
    lr: float = 0.01
    restarts: int = 1
    seed: int = 0
    polish: bool = True
    chains: int = 2
    warmup: int = 500
    draws: int = 500


@dataclass(frozen=True)
class Model:
    """A checked .hj model. Build it with `hjdsl.parse`, `hjdsl.load` or `Model.from_atoms`."""

    name: str
    dim: int
    t: float
    viscosity: Viscosity
    hamiltonian: Hamiltonian
    particles: Particles
    initial: InitialData
    evaluate: np.ndarray
    description: str = ""
    data: Data | None = None
    observe: Observation | None = None
    fit: FitSettings = field(default_factory=FitSettings)
    constants: Mapping[str, np.ndarray] = field(default_factory=dict)
    source: str = ""
    path: str | None = None
    warnings: tuple[Diagnostic, ...] = ()
    overrides: tuple[str, ...] = ()  # the `--set NAME=VALUE` texts applied to `source`, in order

    # --- how a terminal and a notebook show it (the fields hold arrays of any size) --------
    def __repr__(self) -> str:
        """A few lines: name, d, t, atoms, ε, H, what is learned, the data and what is observed.

        >>> Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5], eps=[1.0, 0.1])
        <hjdsl.Model 'atoms'
          size: d = 1, t = 1, 2 atoms (literal), g given
          ε: 1, 0.1
          H(p): |p|^2
          learned: nothing>
        """
        from hjdsl.model.display import model_repr

        return model_repr(self)

    def _repr_html_(self) -> str:
        """The same facts as an HTML table (Jupyter shows this), every value escaped."""
        from hjdsl.model.display import model_html

        return model_html(self)

    # --- derived quantities -------------------------------------------------------------
    @property
    def eps(self) -> np.ndarray:
        return self.viscosity.values

    @property
    def y(self) -> np.ndarray:
        return self.particles.points

    @property
    def g(self) -> np.ndarray:
        return self.initial.values

    @property
    def n_atoms(self) -> int:
        return self.particles.count

    @property
    def spec_sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def weights(self, y: np.ndarray | None = None, g: np.ndarray | None = None):
        """(W, b) of the LSE layer from atoms (forward map, quadratic H only)."""
        from hjdsl.model.maps import atoms_to_weights

        return atoms_to_weights(self.y if y is None else y, self.g if g is None else g,
                                self.t, self.hamiltonian)

    def with_atoms(self, y: np.ndarray, g: np.ndarray) -> "Model":
        """The same model with other (fixed) initial data, e.g. a fitted result."""
        import dataclasses

        y = _frozen(np.asarray(y, dtype=float).reshape(-1, self.dim))
        g = _frozen(np.asarray(g, dtype=float).reshape(-1))
        return dataclasses.replace(
            self,
            particles=Particles("literal", y, span=self.particles.span),
            initial=InitialData("literal", g, span=self.initial.span),
        )

    # --- construction without a spec -----------------------------------------------------
    @classmethod
    def from_atoms(cls, y, g, *, t: float = 1.0, eps=(0.1,), A=None, x=None,
                   hamiltonian: HamiltonianKind | Hamiltonian = "quadratic",
                   name: str = "atoms") -> "Model":
        """A model with given atoms, for embedding and tests.

        >>> m = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5], eps=[1.0, 0.1], x=[[0.0], [0.5]])
        >>> m.n_atoms, m.dim
        (2, 1)
        """
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        d = y.shape[1]
        from hjdsl.hamiltonians import norm, quadratic

        if isinstance(hamiltonian, Hamiltonian):  # any family's object, e.g. a composite H
            ham = hamiltonian
        elif hamiltonian == "quadratic":
            mat = np.eye(d) if A is None else np.asarray(A, dtype=float) * (np.eye(d) if np.ndim(A) == 0 else 1)
            iso = A is None or np.ndim(A) == 0
            ham = quadratic(mat, "|p|^2" if A is None else ("a*|p|^2" if iso else "p' A p"))
        else:
            ham = norm(hamiltonian)
        xs = y if x is None else np.asarray(x, dtype=float).reshape(-1, d)
        return cls(
            name=name, dim=d, t=float(t),
            viscosity=Viscosity(_frozen(np.atleast_1d(np.asarray(eps, dtype=float)), 1)),
            hamiltonian=ham,
            particles=Particles("literal", _frozen(y, 2)),
            initial=InitialData("literal", _frozen(np.asarray(g, dtype=float).reshape(-1), 1)),
            evaluate=_frozen(xs, 2),
        )

    # --- the Python API (lazy: heavy backends are imported on first use) -----------------
    # The examples below share `m`, four atoms on a line:
    #   m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
    @scoped  # float64 JAX for this call only; the user's jax_enable_x64 is untouched
    def compare(self, eps=None, x=None, **options):
        """The four views on the evaluation points for every ε (an xarray.Dataset).

        Options: `eps` (a list; default the spec's sweep), `x` (points (P, d); default the
        evaluation points), `audit` (how many points the convex view solves: None its default
        subset, 0 none, "all"), `grid` (False skips the finite-difference solver), `chunk`
        (points per JAX call). The Dataset is described in docs/views.md.

        >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
        >>> ds = m.compare(eps=[1.0, 0.1, 0.0], x=[[0.0], [0.7]], audit=0, grid=False)
        >>> ds.network.sel(eps=0.1).round(6).values.tolist()
        [-0.293185, -0.184505]
        """
        from hjdsl.views.compare import compare

        return compare(self, eps=eps, x=x, **options)

    @scoped
    def solve(self, method: str | None = None, data=None, **options):
        """Fit the initial data to the observations (an xarray.Dataset); see docs/fitting.md.

        `method`: map, svi, nuts, convex or hopf_lax (default the spec's `fit`). `data`: None (the
        spec's data), an `(x, value)` pair, or a CSV / NetCDF path read with the spec's columns.
        Options (default the spec's `fit`): steps, lr, restarts, seed, polish (map); draws (svi);
        chains, warmup, draws (nuts); eps (the ε to fit at); quiet (False shows progress).

        >>> m = hjdsl.load("examples/abs_1d.hj")                     # doctest: +SKIP
        >>> fit = m.solve(method="map", steps=500, restarts=1)        # doctest: +SKIP
        >>> fit.g_hat.values                                          # doctest: +SKIP
        """
        from hjdsl.fit.solve import solve

        return solve(self, method=method, data=data, **options)

    @scoped
    def attribute(self, at, eps=None, **options):
        """Gibbs weights, entropy, regime and certificates at query points (a Dataset).

        `at`: points (P, d); `eps`: ε > 0 values (default the spec's positive ones). Options:
        `top` (how many atoms to rank, default 3), `delta_f` (the output change the certified
        radius guards against, default 0.1). See docs/analysis.md.

        >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
        >>> ds = m.attribute([[0.7]], eps=[0.1], top=2)
        >>> round(float(ds.entropy[0, 0]), 6), str(ds.regime.values[0, 0])
        (0.134199, 'particle')
        """
        from hjdsl.analysis.attribution import attribute

        return attribute(self, at, eps=eps, **options)

    @scoped
    def bifurcate(self, **options):
        """Critical points of the entropy landscape continued in ε, and fold events (a Dataset).

        Options: `eps_range` (LO, HI[, N]) for N evenly spaced levels, or `eps` (an increasing
        list); `box` (lo, hi) the search box [lo, hi]^d; `tol` the critical-point tolerance;
        `quiet` (False shows progress). See docs/analysis.md.

        >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
        >>> ds = m.bifurcate(eps_range=(0.1, 1.0, 10), box=(-3, 3))
        >>> ds.n_min.values.tolist()[:2], ds.event_kind.values.tolist()
        ([2, 2], ['fold', 'fold'])
        """
        from hjdsl.analysis.bifurcation import bifurcate

        return bifurcate(self, **options)

    @scoped
    def to_cvxpy(self, **options):
        """The entropy-regularised convex program: (cvxpy Problem, dict of its Parameters).

        Options: `x` (the point, default the first evaluation point), `eps` (default the first
        of the sweep), `program` ("simplex", min over the Gibbs weights π; or "hopf_lax", min over
        y of g(y) + t·L((x − y)/t), for g given as an expression). See docs/convex.md.

        >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0], eps=[1.0])
        >>> problem, params = m.to_cvxpy(x=[0.7])
        >>> round(float(problem.solve(solver="CLARABEL")), 6), sorted(params)
        (-0.514908, ['costs', 'eps', 'pi'])
        """
        from hjdsl.views.convex import to_cvxpy

        return to_cvxpy(self, **options)

    @scoped
    def to_numpyro(self, **options):
        """The probabilistic model as an ordinary numpyro model function `fn(x, value, x_eval)`.

        Option: `eps` (the ε the model is written at; default the spec's, or learned). Run it
        with numpyro's own handlers, MCMC or SVI. See docs/fitting.md.

        >>> import jax, numpyro.infer as infer                        # doctest: +SKIP
        >>> m = hjdsl.load("examples/abs_1d.hj")                      # doctest: +SKIP
        >>> mcmc = infer.MCMC(infer.NUTS(m.to_numpyro()), num_warmup=200, num_samples=200)
        ... # doctest: +SKIP
        >>> mcmc.run(jax.random.PRNGKey(0), m.data.x, m.data.value)   # doctest: +SKIP
        """
        from hjdsl.fit.bayes import to_numpyro

        return to_numpyro(self, **options)

    @scoped
    def to_jax(self, **options):
        """Jitted JAX functions of the network and Hopf–Cole views (H with an exact LSE layer).

        Takes no options. The result has `network(x, eps)`, `hopf_cole(x, eps)`, `gibbs(x, eps)`,
        `entropy(x, eps)`, `tropical(x)` and the layer's `W`, `b`, `t`; all differentiable.

        >>> m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
        >>> round(float(m.to_jax().network(np.array([0.7]), 0.1)), 6)
        -0.184505
        """
        from hjdsl.views.closed_form.embed import to_jax

        return to_jax(self, **options)


__all__ = [
    "Data", "FitSettings", "Hamiltonian", "InitialData", "Model", "Observation", "Particles",
    "Prior", "Split", "Truth", "Viscosity",
]
