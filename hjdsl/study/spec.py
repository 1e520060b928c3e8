"""A checked `study` declaration and its expansion into independent configurations."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from hjdsl.model import expr as E

KINDS = ("trained", "quadrature")
# Part of every fingerprint: raised when a task's computation changes (2: float64 in every
# process, the tiled gradient), so results stored by an older hjdsl are recomputed.
TASK_VERSION = 2
# The swept quantity -> the name it has in expressions (`eps = N^(-1/d)`).
SYMBOLS = {"width": "N", "n": "n", "eps": "eps", "dim": "d"}
# Theory slope of the error along each power-law axis: N^(-1/d) (quadrature / trained width
# scaling) and n^(-1/(d+2)) (minimax rate of Lipschitz regression at fixed t).
THEORY = {"width": lambda d: -1.0 / d, "n": lambda d: -1.0 / (d + 2.0)}


@dataclass(frozen=True)
class Config:
    """One configuration of a study: every quantity resolved; the seeds are fitted together."""

    index: int
    dim: int
    width: int
    n: int
    eps: float
    seeds: tuple[int, ...]
    part: str = ""  # "" for the whole configuration; "-seeds2-3" for one task of a split one

    @property
    def key(self) -> str:
        """A stable name for its stored file: the resolved values, hashed with the study."""
        return f"{self.index:03d}-d{self.dim}-N{self.width}-n{self.n}-eps{self.eps:.6g}{self.part}"


@dataclass(frozen=True)
class Study:
    """A `study` block: what is swept, how the other quantities follow, what each task fits.

    `quantities` maps width / n / eps / dim to a number, a tuple of values (the one swept axis)
    or an expression in N, n, eps, d; `axis` names the swept one.
    """

    name: str
    description: str
    kind: str
    axis: str
    values: tuple[float, ...]
    quantities: dict
    seeds: tuple[int, ...]
    x_family: str = "uniform"
    x_params: dict = field(default_factory=lambda: {"low": -2.0, "high": 2.0})
    target: E.Expr | None = None
    noise: float = 0.0
    test: int = 800
    steps: int = 3000
    lr: float = 0.006
    polish: bool = False
    init: str = "tangent"
    normalise: str = "interval"
    t: float = 1.0
    source: str = ""
    path: str | None = None
    model_name: str = ""
    warnings: tuple = ()
    overrides: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """A few lines, as Model's: the sweep, the fit and the target (the source stays out).

        The fields hold the whole spec text and expression trees; a notebook needs the facts.
        """
        values = ", ".join(f"{v:g}" for v in self.values[:8]) + (", …" if len(self.values) > 8
                                                                 else "")
        others = ", ".join(f"{k} = {self._text(v)}" for k, v in sorted(self.quantities.items())
                           if k != self.axis)
        fit = (f"{self.steps} Adam steps, lr = {self.lr:g}, init {self.init}"
               if self.kind == "trained" else f"no training ({self.normalise} weights)")
        target = self._text(self.target) if self.target is not None else "—"
        return (f"<hjdsl.Study '{self.name}'\n"
                f"  {self.kind}: {self.axis} in [{values}] × {len(self.seeds)} seed(s)\n"
                f"  with {others}\n"
                f"  fit: {fit}; target {target}, test {self.test} points>")

    def _text(self, value, limit: int = 40) -> str:
        """A number as %g; an expression as the spec wrote it (its span's text), clipped."""
        if isinstance(value, (int, float)):
            return f"{value:g}"
        span, lines = getattr(value, "span", None), self.source.splitlines()
        if span is not None and span.line == span.end_line and 0 < span.line <= len(lines):
            text = lines[span.line - 1][span.col - 1:span.end_col - 1]
        else:
            text = type(value).__name__
        return text if len(text) <= limit else text[:limit - 1] + "…"

    def summary(self) -> str:
        """What `hjdsl check` prints: `ok (study s: trained, 6 widths × 5 seeds, d=1)`."""
        d = self.quantities["dim"]
        dim = f", d={int(d)}" if not isinstance(d, (E.Expr, tuple)) else ""
        return (f"ok (study {self.name}: {self.kind}, {len(self.values)} values of "
                f"{self.axis} × {len(self.seeds)} seed{'s' if len(self.seeds) > 1 else ''}{dim})")

    @property
    def spec_sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    @property
    def fingerprint(self) -> str:
        """What a stored configuration must match to be reused: everything but the description."""
        text = json.dumps([self.kind, self.axis, self.values, sorted(
            (k, repr(v)) for k, v in self.quantities.items()), self.seeds, self.x_family,
            sorted(self.x_params.items()), repr(self.target), self.noise, self.test, self.steps,
            self.lr, self.polish, self.normalise, self.t, self.init, TASK_VERSION])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def theory_slope(self) -> float | None:
        """The slope of log error against log(axis) that theory predicts, if there is one."""
        d = self.quantities["dim"]
        return THEORY[self.axis](float(d)) if self.axis in THEORY and not isinstance(d, E.Expr) \
            else None

    def configurations(self) -> list[Config]:
        """Every configuration, in sweep order (see `resolve`)."""
        return [resolve(self, i, v) for i, v in enumerate(self.values)]

    def run(self, *, workers: int | None = None, scheduler: str | None = None,
            store: str | None = None, quiet: bool = True):
        """Run every configuration (on dask) and return the result Dataset.

        >>> study = hjdsl.load("examples/studies/quadrature_d1.hj")  # doctest: +SKIP
        >>> study.run(workers=1)["alpha"].item()                      # doctest: +SKIP
        """
        from hjdsl.study.runner import run_study

        return run_study(self, workers=workers, scheduler=scheduler, store=store, quiet=quiet)


def resolve(study: Study, index: int, value: float) -> Config:
    """The configuration at `value` of the swept axis: each other quantity is a number or an
    expression of the ones already known (evaluated in dependency order)."""
    known = {SYMBOLS[study.axis]: float(value)}
    pending = {k: v for k, v in study.quantities.items() if k != study.axis}
    while pending:
        ready = [k for k, v in pending.items()
                 if not isinstance(v, E.Expr) or set(names(v)) <= set(known)]
        if not ready:  # check_study rejects cycles; this guards the Python API
            raise ValueError(f"study {study.name}: cannot resolve {', '.join(sorted(pending))}")
        for k in ready:
            known[SYMBOLS[k]] = value_of(pending.pop(k), known)
    return Config(index, int(round(known["d"])), int(round(known["N"])),
                  int(round(known["n"])), float(known["eps"]), study.seeds)


def value_of(quantity, env: dict) -> float:
    from hjdsl.model.lower import evaluate

    if isinstance(quantity, E.Expr):
        return float(np.asarray(evaluate(quantity, {k: np.float64(v) for k, v in env.items()})))
    return float(quantity)


def names(expr: E.Expr) -> list[str]:
    return [node.id for node in E.walk(expr) if isinstance(node, E.Name)]

