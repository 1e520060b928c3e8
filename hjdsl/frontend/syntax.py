"""The syntax tree of a .hj file: frozen dataclasses, each with the source span it came from."""

from __future__ import annotations

from dataclasses import dataclass

from hjdsl.errors import Span
from hjdsl.model.expr import Expr


@dataclass(frozen=True)
class Ident:
    """A name as written, with its span (`eps` in `viscosity eps = 0.1`)."""

    text: str
    span: Span


@dataclass(frozen=True)
class DistArg:
    """One argument of a distribution: positional (`name` None) or named; a value or a prior."""

    name: Ident | None
    value: "Expr | Dist"
    span: Span


@dataclass(frozen=True)
class Dist:
    """`normal(0, 1)`, `student_t(nu = 4, sigma ~ half_normal(0.1))`."""

    family: Ident
    args: tuple[DistArg, ...]
    span: Span


@dataclass(frozen=True)
class Setting:
    """`key = value` on a declaration line (`n = 500`, `steps = 4000`)."""

    key: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class Item:
    """One line of a data block: `x ~ uniform(-2, 2)`, `value = abs(x)`, `truth g(y) = ...`."""

    key: Ident
    op: str  # "=" or "~"
    value: "Expr | Dist"
    span: Span
    truth: bool = False
    arg: Ident | None = None


@dataclass(frozen=True)
class Stmt:
    """Base of every declaration; `keyword` is its first word, `span` the whole line."""

    keyword: Ident
    span: Span


@dataclass(frozen=True)
class ModelDecl(Stmt):
    name: Ident
    description: str = ""


@dataclass(frozen=True)
class DimDecl(Stmt):
    value: Expr


@dataclass(frozen=True)
class TimeDecl(Stmt):
    name: Ident
    value: Expr


@dataclass(frozen=True)
class LetDecl(Stmt):
    name: Ident
    value: Expr


@dataclass(frozen=True)
class ViscosityDecl(Stmt):
    name: Ident
    op: str  # "=", "in" or "~"
    value: "Expr | Dist"


@dataclass(frozen=True)
class HamiltonianDecl(Stmt):
    func: Ident
    arg: Ident
    form: str
    form_span: Span


@dataclass(frozen=True)
class ParticlesDecl(Stmt):
    name: Ident
    op: str  # "=", "random" or "~"
    value: "Expr | Dist"
    count: Expr | None = None
    seed: Expr | None = None


@dataclass(frozen=True)
class InitialDecl(Stmt):
    name: Ident
    arg: Ident | None
    op: str  # "=" or "~"
    value: "Expr | Dist"


@dataclass(frozen=True)
class DataDecl(Stmt):
    path: str | None  # None for synthetic data
    path_span: Span
    settings: tuple[Setting, ...]
    items: tuple[Item, ...]


@dataclass(frozen=True)
class ObserveDecl(Stmt):
    quantity: Ident
    likelihood: Dist


@dataclass(frozen=True)
class SplitDecl(Stmt):
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class EvaluateDecl(Stmt):
    name: Ident
    value: Expr


@dataclass(frozen=True)
class FitDecl(Stmt):
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class Spec:
    """A parsed file: its declarations in order, the source text and the file name."""

    statements: tuple[Stmt, ...]
    source: str
    file: str


@dataclass(frozen=True)
class NamedArray:
    """`k = "blocks.0.attn.k"`: which array of a weights file plays which part."""

    key: Ident
    array: str
    span: Span


@dataclass(frozen=True)
class AttentionDecl(Stmt):
    """`attention [NAME] ("file" | synthetic) setting* named_array*`: attention heads."""

    name: Ident | None
    path: str | None  # None for synthetic heads (or when neither is written)
    path_span: Span
    synthetic: bool
    settings: tuple[Setting, ...]
    arrays: tuple[NamedArray, ...]


@dataclass(frozen=True)
class WeightsDecl(Stmt):
    """`weights "layer.safetensors" W = "head.weight" b = "head.bias"`: an LSE layer from a file."""

    path: str
    path_span: Span
    settings: tuple[Setting, ...]
    arrays: tuple[NamedArray, ...]


@dataclass(frozen=True)
class LayerDecl(Stmt):
    """`layer NAME [lse | softplus] ["file"] setting* named_array* { W ~ ...; b = ... }`."""

    name: Ident
    kind: Ident | None
    path: str | None
    path_span: Span
    settings: tuple[Setting, ...]
    arrays: tuple[NamedArray, ...]
    items: tuple[Item, ...]


@dataclass(frozen=True)
class FlowDecl(Stmt):
    """`residual tanh steps = 10 h = 0.1 { W = ... }` or `recurrent lstm width = 4` (the keyword
    says which)."""

    cell: Ident | None
    settings: tuple[Setting, ...]
    items: tuple[Item, ...]


@dataclass(frozen=True)
class StudyDecl(Stmt):
    """`study NAME ["description"] { width = [10, 25]; eps = N^(-1/d); ... }`: a sweep of fits."""

    name: Ident | None
    description: str
    settings: tuple[Setting, ...]
    items: tuple[Item, ...]
