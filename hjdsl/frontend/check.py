"""Syntax → checked Model: resolve names, check shapes, ranges and sizes; report every problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hjdsl.errors import DataError, Span, SpecError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.check_attention import check_attention, is_attention
from hjdsl.frontend.check_data import check_data
from hjdsl.frontend.check_hamiltonian import check_hamiltonian
from hjdsl.frontend.check_settings import check_evaluate, check_fit, check_observe
from hjdsl.frontend.check_values import SWEEPS, Invalid, Reporter, frozen
from hjdsl.frontend.check_weights import layer_atoms, layer_viscosity, read_layer, stands_in
from hjdsl.model import distributions as D
from hjdsl.model import expr as E
from hjdsl.model.ir import InitialData, Model, Particles, Viscosity
from hjdsl.model.limits import MAX_ATOMS, MAX_DIM, MAX_EPS, array_bytes
from hjdsl.model.lower import CONSTANTS, FUNCTIONS, evaluate

REQUIRED = ("model", "dim", "hamiltonian", "particles", "initial")
EXAMPLE = {"model": "model my_model", "dim": "dim 1", "hamiltonian": "hamiltonian H(p) = |p|^2",
           "particles": "particles y = grid(-2, 2, 30)", "initial": "initial g(y) = abs(y)"}
RESERVED = {"x", "y", "t", "eps", "data", "grid", *SWEEPS, *CONSTANTS, *FUNCTIONS}
DEFAULT_EPS = 0.1


def check(spec: S.Spec, base_dir: Path | None = None, path: str | None = None) -> Model:
    """Check a parsed spec and build its Model; raise SpecError/DataError listing every problem."""
    if any(isinstance(s, S.LayerDecl) for s in spec.statements):  # a stack of LSE layers
        from hjdsl.frontend.check_stack import check_stack

        return check_stack(spec, base_dir or Path.cwd(), path)
    if any(isinstance(s, S.StudyDecl) for s in spec.statements):  # a sweep of fits
        from hjdsl.frontend.check_study import check_study

        return check_study(spec, base_dir or Path.cwd(), path)
    if any(isinstance(s, S.FlowDecl) for s in spec.statements):  # a residual or recurrent net
        from hjdsl.frontend.check_residual import check_flow

        return check_flow(spec, base_dir or Path.cwd(), path)
    with np.errstate(all="ignore"):  # overflow and invalid values are checked explicitly
        return _Checker(spec, base_dir or Path.cwd(), path).run()


class _Checker(Reporter):
    def __init__(self, spec: S.Spec, base_dir: Path, path: str | None):
        super().__init__(spec.file)
        self.spec, self.base_dir, self.path = spec, base_dir, path
        self.decls: dict[str, S.Stmt] = {}
        self.env: dict[str, np.ndarray] = {}
        self.let_lines: dict[str, int] = {}
        self.d = self.t = self.hamiltonian = self.data = self.particles = None

    def run(self) -> Model:
        self.collect()
        if is_attention(self.decls):  # heads from a file or drawn: their own statement checks
            return check_attention(self)
        self.d = self.step(self.check_dim)
        for decl in self.spec.statements:
            if isinstance(decl, S.LetDecl):
                self.step(self.check_let, decl)
        self.t = self.step(self.check_time)
        self.env["t"] = np.float64(self.t if self.t is not None else 1.0)
        viscosity = self.step(self.check_viscosity)
        layer = self.step(read_layer, self, self.decls.get("weights"))  # W, b, ε of a file
        viscosity = self.step(layer_viscosity, self, viscosity, layer)
        initial = evaluate_points = None
        if viscosity is not None and viscosity.values.size == 1 and not viscosity.learned:
            self.env["eps"] = viscosity.values[0]
        if self.d is not None:
            self.hamiltonian = self.step(check_hamiltonian, self, self.decls.get("hamiltonian"))
            self.data = self.step(check_data, self, self.decls.get("data"))
            if "weights" in self.decls:  # the file's layer stands in for particles and initial
                self.particles, initial = layer_atoms(self, layer)
            else:
                self.particles = self.step(self.check_particles)
                initial = self.step(self.check_initial)
            evaluate_points = self.step(check_evaluate, self, self.decls.get("evaluate"))
        observe = self.step(check_observe, self, self.decls.get("observe"), self.decls.get("split"))
        fit = self.step(check_fit, self, self.decls.get("fit"))
        self.warn_about(viscosity, observe)
        self.diagnostics.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
        if any(d.severity == "error" for d in self.diagnostics):
            data_only = all(d.code.startswith("D") for d in self.diagnostics
                            if d.severity == "error")
            raise (DataError if data_only else SpecError)(self.diagnostics, self.spec.source)
        model_decl = self.decls["model"]
        return Model(
            name=model_decl.name.text, dim=self.d, t=float(self.t), viscosity=viscosity,
            hamiltonian=self.hamiltonian, particles=self.particles, initial=initial,
            evaluate=frozen(evaluate_points, 2), description=model_decl.description,
            data=self.data, observe=observe, fit=fit,
            constants={k: frozen(v) for k, v in self.env.items() if k in self.let_lines},
            source=self.spec.source, path=self.path,
            warnings=tuple(d for d in self.diagnostics if d.severity == "warning"),
        )

    def step(self, fn, *args):
        try:
            return fn(*args)
        except Invalid:
            return None

    # --- structure -------------------------------------------------------------------
    def collect(self) -> None:
        statements = self.spec.statements
        if not statements:
            self.error("the spec is empty: it has no declarations", Span.point(self.file, 1, 1),
                       code="E101", hint="a spec starts with `model NAME`; see docs/language.md")
            return
        for decl in statements:
            kw = decl.keyword.text
            if kw == "let":
                continue
            if kw in self.decls:
                first = self.decls[kw].span.line
                self.error(f"`{kw}` is declared twice (first on line {first})", decl.keyword.span,
                           code="E102", hint=f"remove one of the two `{kw}` declarations")
                continue
            self.decls[kw] = decl
        if "model" in self.decls and statements[0] is not self.decls["model"]:
            self.error("`model` must be the first declaration", self.decls["model"].keyword.span,
                       code="E103", hint="move this line to the top of the file")
        missing = [kw for kw in REQUIRED if kw not in self.decls and not stands_in(kw, self.decls)
                   and not (kw != "model" and is_attention(self.decls))]
        for kw in missing:
            self.error(f"missing `{kw}` declaration", Span.point(self.file, 1, 1), code="E104",
                       hint=f"add a line such as `{EXAMPLE[kw]}`")

    def fixed_name(self, ident: S.Ident, expected: str, what: str) -> None:
        if ident.text != expected:
            raise self.error(f"the {what} must be called `{expected}`, not `{ident.text}`",
                             ident.span, code="E106", hint=f"write `{expected}`")

    # --- scalar declarations ---------------------------------------------------------
    def check_dim(self):
        decl = self.decls.get("dim")
        if decl is None:
            raise Invalid("no dim")
        return int(self.scalar(decl.value, {}, "dim", integer=True, low=1, high=MAX_DIM))

    def check_let(self, decl: S.LetDecl):
        name = decl.name.text
        if name in RESERVED:
            raise self.error(f"`{name}` is a reserved name and cannot be redefined", decl.name.span,
                             code="E107", hint="choose another name for this constant")
        if name in self.let_lines:
            raise self.error(f"`{name}` is already defined on line {self.let_lines[name]}",
                             decl.name.span, code="E102", hint="each `let` name is defined once")
        self.let_lines[name] = decl.span.line
        # The environment is read, never written, by evaluation: no copy per `let` (copying made
        # a spec of n lets cost n² time).
        self.env[name] = self.const(decl.value, self.env, f"`{name}`")

    def check_time(self) -> float:
        decl = self.decls.get("time")
        if decl is None:
            return 1.0
        self.fixed_name(decl.name, "t", "time")
        return self.scalar(decl.value, self.env, "t", positive=True)

    def check_viscosity(self) -> Viscosity:
        decl = self.decls.get("viscosity")
        if decl is None:
            return Viscosity(frozen([DEFAULT_EPS], 1))
        self.fixed_name(decl.name, "eps", "viscosity")
        if decl.op == "~":
            prior = self.prior(decl.value, self.env, "eps")
            if D.FAMILIES[prior.family].support == "real" or (
                    prior.family == "uniform" and prior.params["low"] < 0):
                raise self.error(f"the prior of eps must be on eps ≥ 0; {prior.family} is not",
                                 decl.value.span, code="E117",
                                 hint="use lognormal, half_normal, exponential or half_cauchy")
            median = D.median(prior.family, dict(prior.params))
            if not np.isfinite(median):
                raise self.error("the prior's median is not a finite number", decl.value.span,
                                 code="E109")
            return Viscosity(frozen([median], 1), prior, decl.span)
        if decl.op == "=":
            values = np.array([self.scalar(decl.value, self.env, "eps", nonneg=True)])
        else:
            values = self.sweep(decl.value)
        return Viscosity(frozen(values, 1), None, decl.span)

    def sweep(self, expr: E.Expr) -> np.ndarray:
        if isinstance(expr, E.Call) and expr.func in SWEEPS:
            if len(expr.args) != 3:
                raise self.error(f"{expr.func}() takes 3 arguments (start, stop, count)", expr.span,
                                 code="E207", hint=f"e.g. {expr.func}(-2, 0, 9)")
            a = self.scalar(expr.args[0], self.env, f"the start of {expr.func}")
            b = self.scalar(expr.args[1], self.env, f"the stop of {expr.func}")
            n = self.count(expr.args[2], self.env, f"the count of {expr.func}", MAX_EPS, "ε values")
            values = np.linspace(a, b, n) if expr.func == "linspace" else np.logspace(a, b, n)
        else:
            values = self.const(expr, self.env, "the eps sweep")
            if values.ndim != 1 or values.size == 0:
                raise self.error("an eps sweep must be a non-empty list of numbers", expr.span,
                                 code="E114", hint="e.g. eps in [1, 0.3, 0.1, 0]")
            if values.size > MAX_EPS:
                raise self.error(f"the sweep has {values.size:,} values; the limit is {MAX_EPS:,}",
                                 expr.span, code="E113")
        if not np.all(np.isfinite(values)):
            raise self.error("the eps sweep overflows (values too large)", expr.span, code="E109")
        if np.any(values < 0):
            bad = values[values < 0][0]
            raise self.error(f"eps must be ≥ 0, but the sweep contains {bad:g}", expr.span,
                             code="E112")
        return values

    # --- atoms and initial data -------------------------------------------------------
    def check_particles(self) -> Particles:
        decl = self.decls.get("particles")
        if decl is None:
            raise Invalid("no particles")
        self.fixed_name(decl.name, "y", "particles")
        d, value = self.d, decl.value
        if decl.op in ("random", "~"):
            prior = self.prior(value, self.env, "particle")
            n = self.count(decl.count, self.env, "the number of particles", MAX_ATOMS, "atoms")
            # n and d are each within their limits; the draw allocates their product (about
            # three n × d arrays at its peak, for draws such as loc + scale * t)
            self.budget(array_bytes(n, d, 3), f"drawing {n:,} particles in {d} dimension"
                        f"{'s' if d > 1 else ''}", decl.count.span,
                        "use fewer particles or a smaller dim")
            seed = 0 if decl.seed is None else self.seed(decl.seed, self.env)
            points = D.draw(prior.family, dict(prior.params), (n, d), seed)
            if not np.all(np.isfinite(points)):
                raise self.error("the drawn particles overflow; use a smaller scale", value.span,
                                 code="E109")
            source = "learned" if decl.op == "~" else "random"
            return Particles(source, frozen(points, 2), prior if source == "learned" else None,
                             decl.span)
        if isinstance(value, E.Call) and value.func == "grid":
            return Particles("grid", frozen(self.grid(value, self.env, d, "particles", MAX_ATOMS), 2),
                             span=decl.span)
        if isinstance(value, E.Name) and value.id == "data":
            if self.data is None:
                raise self.error("`particles y = data` needs a valid `data` declaration", value.span,
                                 code="E131", hint="add a data declaration, or give the atoms here")
            if self.data.size > MAX_ATOMS:
                raise self.error(f"the data has {self.data.size:,} points; the limit is "
                                 f"{MAX_ATOMS:,} atoms", value.span, code="E113")
            return Particles("data", frozen(self.data.x, 2), span=decl.span)
        return Particles("literal", frozen(self.point_list(value, self.env, d, "particles y"), 2),
                         span=decl.span)

    def check_initial(self) -> InitialData:
        decl = self.decls.get("initial")
        if decl is None:
            raise Invalid("no initial")
        self.fixed_name(decl.name, "g", "initial data")
        if decl.arg is not None:
            self.fixed_name(decl.arg, "y", "argument of g")
        if decl.op == "~":
            prior = self.prior(decl.value, self.env, "g")
            n = self.particles.count if self.particles is not None else 0
            values = np.full(n, D.center(prior.family, dict(prior.params)))
            if not np.all(np.isfinite(values)):
                raise self.error("the prior's mean and median are not finite numbers",
                                 decl.value.span, code="E109")
            return InitialData("learned", frozen(values, 1), prior=prior, span=decl.span)
        if self.particles is None:
            if decl.arg is not None:  # still report unknown names and functions in it
                self.structure_only(decl.value, "y")
            raise Invalid("no particles")
        n = self.particles.count
        value = decl.value
        if decl.arg is None and isinstance(value, E.Name) and value.id == "data":
            if self.particles.source != "data":
                raise self.error("`initial g = data` needs `particles y = data`", value.span,
                                 code="E131", hint="the data's values are g at the data's points")
            return InitialData("literal", frozen(self.data.value, 1), span=decl.span)
        if decl.arg is None:
            values = self.const(value, self.env, "g")
            if values.ndim == 0:
                values = np.full(n, float(values))
            if values.shape != (n,):
                raise self.error(f"g must be one number per atom: {n} values, got shape "
                                 f"{values.shape}", value.span, code="E140")
            return InitialData("literal", frozen(values, 1), span=decl.span)
        return InitialData("expr", frozen(self.per_point(value, self.particles.points), 1), expr=value,
                           span=decl.span)

    def structure_only(self, expr: E.Expr, var: str) -> None:
        """Report name, function and shape errors of an expression of `var` (values unknown)."""
        probe = np.ones(1) if self.d == 1 else np.ones((1, self.d))
        try:
            evaluate(expr, {**self.env, var: probe}, pointwise={var})
        except SpecError as err:
            self.absorb(err)

    def per_point(self, expr: E.Expr, points: np.ndarray, var: str = "y", what: str = "g(y)",
                  functions: dict | None = None) -> np.ndarray:
        """Evaluate an expression of `var` (y or x) at every point; one finite number each."""
        other = "x" if var == "y" else "y"
        if other in set(_names(expr)):
            raise self.error(f"`{other}` is not in scope in {what}: it is a function of {var}",
                             expr.span, code="E202")
        value = points[:, 0] if self.d == 1 else points
        try:
            values = np.asarray(evaluate(expr, {**self.env, var: value}, pointwise={var},
                                         functions=functions), dtype=float)
        except SpecError as err:
            raise self.absorb(err) from None
        n = points.shape[0]
        if values.ndim == 0:
            values = np.full(n, float(values))
        if values.shape != (n,):
            raise self.error(f"{what} must be one number per point, but it gives a vector of length "
                             f"{values.shape[-1]}", expr.span, code="E140",
                             hint="reduce it to a number, e.g. norm(y), sum(y) or y[0]")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            j = int(bad[0])
            raise self.error(f"{what} is not finite at point {j} ({var} = {_fmt(points[j])})",
                             expr.span,
                             code="E141", hint="check the domain of log, sqrt and divisions")
        return values

    # --- warnings -----------------------------------------------------------------------
    def warn_about(self, viscosity, observe) -> None:
        ham = self.hamiltonian
        if ham is not None and viscosity is not None and not ham.exact and (
                viscosity.learned or np.any(viscosity.values > 0)):
            self.warning(f"eps > 0 with H(p) = {ham.text}: the views at eps > 0 are a structural "
                         "analogue, not exact", viscosity.span or self.decls["hamiltonian"].span,
                         code="W001", hint="only eps = 0 (Hopf–Lax) is exact for a non-quadratic H")
        if observe is not None and "data" not in self.decls:
            self.warning("`observe` without `data`: give data to `hjdsl solve --data`",
                         self.decls["observe"].span, code="W002")
        if viscosity is not None and viscosity.values.size > np.unique(viscosity.values).size:
            values, counts = np.unique(viscosity.values, return_counts=True)
            self.warning(f"the eps sweep repeats {values[counts > 1][0]:g}", viscosity.span,
                         code="W003", hint="each value is computed once per repeat")
        split = observe.split if observe is not None else None
        if split is not None and self.data is not None:
            n_test = split.test * self.data.size
            if n_test < 1 or self.data.size - n_test < 1:
                self.warning(f"split test = {split.test:g} of {self.data.size} data points holds "
                             f"out {n_test:.3g} of them: too few to "
                             f"{'test' if n_test < 1 else 'fit'}", self.decls["split"].span,
                             code="W004", hint="use more data or another test fraction")


def _names(expr: E.Expr):
    return (node.id for node in E.walk(expr) if isinstance(node, E.Name))


def _fmt(point) -> str:
    point = np.atleast_1d(point)
    return f"{point[0]:g}" if point.size == 1 else "[" + ", ".join(f"{v:g}" for v in point) + "]"
