"""Check a spec holding a `study` block and build its Study (every problem reported at once)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hjdsl.errors import Span, SpecError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.check_values import Invalid, Reporter
from hjdsl.model import expr as E
from hjdsl.study.spec import KINDS, SYMBOLS, Study, resolve

QUANTITIES = ("dim", "width", "n", "eps")
INITS = ("tangent", "uniform", "conjugate")
SETTINGS = {"kind", "init", "seeds", "seed", "x", "value", "noise", "test", "steps", "lr", "polish",
            "normalise", "t", *QUANTITIES}
ALLOWED_STATEMENTS = (S.ModelDecl, S.LetDecl, S.StudyDecl)
NORMALISATIONS = ("interval", "count")
MAX_SEEDS, MAX_VALUES, MAX_STEPS, MAX_DIM = 64, 64, 1_000_000, 16
EXAMPLE = "study s { dim = 1; width = [10, 25, 50]; eps = N^(-1/d); value = norm(x) }"


def is_study(spec: S.Spec) -> bool:
    return any(isinstance(s, S.StudyDecl) for s in spec.statements)


def check_study(spec: S.Spec, base_dir: Path, path: str | None) -> Study:
    """The Study of a spec with a `study` block; SpecError listing every problem."""
    with np.errstate(all="ignore"):
        return _StudyChecker(spec, path).run()


class _StudyChecker(Reporter):
    def __init__(self, spec: S.Spec, path: str | None):
        super().__init__(spec.file)
        self.spec, self.path = spec, path

    def run(self) -> Study:
        studies = [s for s in self.spec.statements if isinstance(s, S.StudyDecl)]
        models = [s for s in self.spec.statements if isinstance(s, S.ModelDecl)]
        for s in self.spec.statements:
            if not isinstance(s, ALLOWED_STATEMENTS):
                self.error(f"`{s.keyword.text}` has no place in a study spec: the study block "
                           "declares everything its fits need", s.keyword.span, code="E801",
                           hint="a study spec holds `model`, `let` lines and one `study` block")
        for extra in studies[1:]:
            self.error(f"a spec declares one study (first on line {studies[0].span.line})",
                       extra.keyword.span, code="E802", hint="split it into two specs")
        if not models:
            self.error("missing `model` declaration", Span.point(self.file, 1, 1), code="E104",
                       hint="add a line such as `model my_study`")
        study = None
        try:
            study = self.study(studies[0], models[0] if models else None)
        except Invalid:
            pass
        if any(d.severity == "error" for d in self.diagnostics):
            self.diagnostics.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
            raise SpecError(self.diagnostics, self.spec.source)
        return study

    def study(self, decl: S.StudyDecl, model: S.ModelDecl | None) -> Study:
        items = {}
        entries = [(s.key, "=", s.value, s.span) for s in decl.settings] + \
                  [(i.key, i.op, i.value, i.span) for i in decl.items if not i.truth]
        for key, op, value, span in entries:
            if key.text not in SETTINGS:
                self.error(f"unknown study setting `{key.text}`", key.span, code="E803",
                           hint="settings: " + ", ".join(sorted(SETTINGS)))
            elif key.text in items:
                self.error(f"`{key.text}` is set twice in the study (first on line "
                           f"{items[key.text][2].line})", key.span, code="E804",
                           hint="remove one of the two")
            elif (op == "~") != (key.text == "x"):
                self.error(f"`{key.text}` takes `{'~' if key.text == 'x' else '='}`", span,
                           code="E805", hint="e.g. `x ~ uniform(-2, 2)`, `width = [10, 25]`")
            else:
                items[key.text] = (value, key, span)
        kind = self.word(items, "kind", KINDS, "trained")
        normalise = self.word(items, "normalise", NORMALISATIONS, "interval")
        init = self.word(items, "init", INITS, "tangent")
        quantities, axis, values = self.quantities(items, decl, kind)
        seeds = self.seeds(items, kind)
        x_family, x_params = self.x_distribution(items, kind)
        number = self.number
        target = self.target(items, kind, decl)
        study = Study(
            name=decl.name.text if decl.name else (model.name.text if model else "study"),
            description=decl.description or (model.description if model else ""),
            kind=kind, axis=axis, values=values, quantities=quantities, seeds=seeds,
            x_family=x_family, x_params=x_params, target=target,
            noise=number(items, "noise", 0.0, nonneg=True),
            test=int(number(items, "test", 800 if kind == "trained" else 200, integer=True,
                            low=1, high=10**6)),
            steps=int(number(items, "steps", 3000, integer=True, low=1, high=MAX_STEPS)),
            lr=number(items, "lr", 0.006, positive=True),
            polish=bool(number(items, "polish", 0, integer=True, low=0, high=1)),
            normalise=normalise, init=init, t=number(items, "t", 1.0, positive=True),
            source=self.spec.source, path=self.path,
            model_name=model.name.text if model else "")
        if any(d.severity == "error" for d in self.diagnostics):
            raise Invalid("study")
        self.verify_configurations(study, items)
        return study

    # --- pieces ------------------------------------------------------------------------
    def word(self, items, key, choices, default) -> str:
        if key not in items:
            return default
        value, _, _ = items[key]
        if not isinstance(value, E.Name) or value.id not in choices:
            self.error(f"`{key}` is one of {', '.join(choices)}", value.span, code="E806",
                       hint=f"e.g. `{key} = {choices[0]}`")
            return default
        return value.id

    def number(self, items, key, default, **limits) -> float:
        if key not in items:
            return float(default)
        try:
            return self.scalar(items[key][0], {}, f"the study's `{key}`", **limits)
        except Invalid:
            return float(default)

    def quantities(self, items, decl, kind):
        """Each of dim / width / n / eps: a number, the swept list, or an expression."""
        out, swept = {}, []
        for q in ("dim", "width", "eps"):
            if q not in items:
                self.error(f"the study needs `{q}`", decl.keyword.span, code="E807",
                           hint=f"e.g. {EXAMPLE}")
        for q in QUANTITIES:
            if q not in items:
                continue
            value = items[q][0]
            if isinstance(value, E.Vector):
                swept.append(q)
                out[q] = self.sweep_values(value, q)
            elif _names(value):
                bad = sorted(set(_names(value)) - set(SYMBOLS.values()))
                if bad:
                    self.error(f"unknown name `{bad[0]}` in the study's `{q}`", value.span,
                               code="E808", hint="expressions may use N (width), n, eps and d")
                elif SYMBOLS[q] in _names(value):
                    self.error(f"`{q}` is defined in terms of itself", value.span, code="E809")
                out[q] = value
            else:
                out[q] = self.number(items, q, 1.0, positive=True)
        out.setdefault("n", 0.0 if kind == "quadrature" else 4000.0)
        if not swept:
            self.error("the study sweeps nothing: give one of dim, width, n, eps as a list",
                       decl.keyword.span, code="E810", hint="e.g. `width = [10, 25, 50, 100]`")
            raise Invalid("no sweep")
        for extra in swept[1:]:
            self.error(f"a study sweeps one quantity (`{swept[0]}` is swept already)",
                       items[extra][0].span, code="E811",
                       hint="tie the others to it, e.g. `eps = N^(-1/d)`, or write two studies")
        axis = swept[0]
        return out, axis, out[axis]

    def sweep_values(self, vector: E.Vector, q: str) -> tuple:
        values = []
        for item in vector.items:
            try:
                values.append(self.scalar(item, {}, f"a value of `{q}`", positive=True,
                                          integer=q != "eps"))
            except Invalid:
                return (1.0,)
        if not 2 <= len(values) <= MAX_VALUES or np.any(np.diff(values) <= 0):
            self.error(f"`{q}` must list 2 to {MAX_VALUES} increasing values", vector.span,
                       code="E812", hint=f"e.g. `{q} = [10, 25, 50, 100]`")
        return tuple(values)

    def seeds(self, items, kind) -> tuple[int, ...]:
        if "seeds" in items and "seed" in items:
            self.error("give `seeds` (a count) or `seed` (a list), not both",
                       items["seed"][1].span, code="E813")
        if "seed" in items:
            value = items["seed"][0]
            parts = value.items if isinstance(value, E.Vector) else (value,)
            try:
                found = tuple(self.seed(p, {}) for p in parts)
            except Invalid:
                return (0,)
            if len(set(found)) != len(found) or not 1 <= len(found) <= MAX_SEEDS:
                self.error(f"`seed` lists 1 to {MAX_SEEDS} different seeds", value.span,
                           code="E813")
            return found
        count = int(self.number(items, "seeds", 5 if kind == "trained" else 1, integer=True,
                                low=1, high=MAX_SEEDS))
        return tuple(range(count))

    def x_distribution(self, items, kind):
        if "x" not in items:
            return "uniform", {"low": -2.0, "high": 2.0} if kind == "trained" else \
                {"low": -1.0, "high": 1.0}
        dist = items["x"][0]
        try:
            prior = self.prior(dist, {}, "x")
        except Invalid:
            return "uniform", {"low": -2.0, "high": 2.0}
        return prior.family, dict(prior.params)

    def target(self, items, kind, decl):
        if "value" not in items:
            if kind == "trained":
                self.error("a trained study needs its target: `value = ...` in x",
                           decl.keyword.span, code="E814",
                           hint="e.g. `value = norm(x)`")
            return None
        value = items["value"][0]
        bad = sorted(set(_names(value)) - {"x", "pi"})
        if bad:
            self.error(f"unknown name `{bad[0]}` in the target", value.span, code="E808",
                       hint="the target is an expression in x, e.g. `value = norm(x)`")
        return value

    def verify_configurations(self, study: Study, items) -> None:
        """Every configuration must resolve to a width ≥ 1, n ≥ 2, ε > 0 and a whole d; the
        quadrature study needs a grid: N a d-th power of a whole number ≥ 2."""
        for i, v in enumerate(study.values):
            try:
                c = resolve(study, i, v)
            except Exception as exc:  # a failing expression: located at the swept item
                raise self.error(f"the study cannot resolve its configuration at "
                                 f"{study.axis} = {v:g}: {exc}", items[study.axis][0].span,
                                 code="E815") from None
            where = items[study.axis][0].span
            problems = [f"width {c.width}" if c.width < 1 else "",
                        f"ε = {c.eps:g}" if not (np.isfinite(c.eps) and c.eps > 0) else "",
                        f"d = {c.dim}" if not 1 <= c.dim <= MAX_DIM else "",
                        f"n = {c.n}" if study.kind == "trained" and c.n < 2 else ""]
            if any(problems):
                raise self.error(f"at {study.axis} = {v:g} the study resolves to "
                                 f"{', '.join(p for p in problems if p)}", where, code="E816")
            if study.kind == "trained":
                from hjdsl.study.task import LIVE_ARRAYS

                self.budget(LIVE_ARRAYS * 8 * len(study.seeds) * (c.n + study.test) * c.width,
                            f"the fit at {study.axis} = {v:g} ({len(study.seeds)} seeds × "
                            f"{c.n + study.test:,} points × {c.width:,} atoms)", where,
                            hint="use fewer seeds, points or atoms")
            if study.kind == "quadrature":  # logits, their exp and the atom grid
                self.budget(3 * 8 * (study.test + c.dim) * c.width,
                            f"the quadrature at {study.axis} = {v:g} ({study.test:,} points × "
                            f"{c.width:,} atoms)", where, hint="use fewer atoms or test points")
                side = round(c.width ** (1 / c.dim))
                if side < 2 or side ** c.dim != c.width:
                    raise self.error(f"a quadrature width is a grid: N = k^d with k ≥ 2, "
                                     f"got N = {c.width} in d = {c.dim}", where, code="E817",
                                     hint="e.g. widths 16, 36, 64 in d = 2")
        if study.target is not None:
            self.verify_target(study, items["value"][0], resolve(study, 0, study.values[0]).dim)

    def verify_target(self, study: Study, expr: E.Expr, d: int) -> None:
        """The target must give one finite number per point (tried at a few points)."""
        from hjdsl.errors import HJError
        from hjdsl.study.task import target_values

        x = np.linspace(-1.0, 1.0, 4 * d).reshape(4, d)
        try:
            v = target_values(study, x)
        except HJError as err:
            raise self.absorb(err) from None
        except ValueError:  # a shape that does not broadcast to one value per point
            v = None
        if v is None or np.shape(v) != (4,) or not np.all(np.isfinite(v)):
            raise self.error("the target must be one finite number per point x (in d > 1 "
                             "reduce x with norm, sum, ...)", expr.span, code="E818",
                             hint="e.g. `value = norm(x)`")


def _names(expr: E.Expr) -> list[str]:
    return [node.id for node in E.walk(expr) if isinstance(node, E.Name)]
