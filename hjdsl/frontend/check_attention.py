"""A spec's `attention` declaration at check time: its heads (from a file or seeded), ε and t.

`attention "heads.safetensors" heads = 2 causal = true` reads Q, K, V (or an input X and the
projections W_Q, W_K, W_V, with `layernorm = true` for Q = LN(X)W_Q); `attention synthetic
heads = 2 queries = 6 keys = 6 d_k = 8 seed = 1` draws them. Such a spec declares only `model`,
`time`, `let`, `viscosity` and `attention`; ε defaults to √d_k, the softmax temperature.
"""

from __future__ import annotations

import numpy as np

from hjdsl.errors import DataError, SpecError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.check_values import Invalid, frozen
from hjdsl.model import expr as E
from hjdsl.model.ir import Viscosity
from hjdsl.model.limits import MAX_ATOMS, MAX_DIM, array_bytes

ALLOWED = ("model", "time", "let", "viscosity", "attention")
MAX_HEADS = 1_024
FLAGS = ("causal", "layernorm")
SYNTHETIC = ("queries", "keys", "d_k", "d_v", "d_model", "seed")  # settings of drawn heads
DIRECT = {"q": "Q", "k": "K", "v": "V"}  # roles of a file and their default array names
PROJECTED = {"x": "X", "w_q": "W_Q", "w_k": "W_K", "w_v": "W_V"}
EXAMPLE = 'attention "heads.safetensors" heads = 2 x = "X" w_q = "W_Q" w_k = "W_K" w_v = "W_V"'


def is_attention(decls) -> bool:
    """Whether the spec is an attention spec (then only `model` is required)."""
    return "attention" in decls


def check_attention(c):
    """The AttentionModel of a spec with an `attention` declaration (c is the checker)."""
    from hjdsl.attention.model import AttentionModel

    decl: S.AttentionDecl = c.decls["attention"]
    for kw, other in c.decls.items():
        if kw not in ALLOWED:
            c.error(f"`{kw}` is not used by an attention spec (line {decl.span.line}): the heads' "
                    "keys are the atoms and their queries the points", other.keyword.span,
                    code="E170", hint="an attention spec declares model, time, let, viscosity "
                                      "and attention; remove this line")
    for stmt in c.spec.statements:
        if isinstance(stmt, S.LetDecl):
            c.step(c.check_let, stmt)
    t = c.step(c.check_time)
    c.env["t"] = np.float64(t if t is not None else 1.0)
    heads, normalised = c.step(_heads, c, decl) or (None, False)
    viscosity = c.step(_viscosity, c, heads)
    c.diagnostics.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
    if any(d.severity == "error" for d in c.diagnostics):
        data_only = all(d.code.startswith("D") for d in c.diagnostics if d.severity == "error")
        raise (DataError if data_only else SpecError)(c.diagnostics, c.spec.source)
    model = c.decls["model"]
    return AttentionModel(
        name=model.name.text, t=float(t), viscosity=viscosity, heads=heads,
        origin=decl.path or "synthetic", layer=decl.name.text if decl.name else "",
        normalised=normalised, description=model.description,
        constants={k: frozen(v) for k, v in c.env.items() if k in c.let_lines},
        source=c.spec.source, path=c.path,
        warnings=tuple(d for d in c.diagnostics if d.severity == "warning"), span=decl.span)


def _viscosity(c, heads) -> Viscosity:
    """The declared ε sweep, or √d_k (softmax(QKᵀ/√d_k) is the LSE layer at ε = √d_k)."""
    decl = c.decls.get("viscosity")
    if decl is not None and decl.op == "~":
        raise c.error("a learned eps (a prior) does not apply to attention heads: nothing is "
                      "fitted", decl.value.span, code="E171",
                      hint="give a value or a sweep: viscosity eps in [4, 2.83, 1, 0]")
    if decl is not None:
        return c.check_viscosity()
    if heads is None:
        raise Invalid("no heads")
    return Viscosity(frozen([np.sqrt(heads.d_k)], 1))


def _settings(c, decl) -> dict:
    """{key: Setting} of the line; unknown and repeated keys are errors."""
    known = ("heads", *FLAGS, *SYNTHETIC)
    out = {}
    for s in decl.settings:
        key = s.key.text
        if key in DIRECT or key in PROJECTED:
            c.error(f"`{key}` names an array of the weights file: write it in quotes, "
                    f'{key} = "{(DIRECT | PROJECTED)[key]}"', s.value.span, code="E172")
        elif key not in known:
            c.error(f"unknown attention setting `{key}`", s.key.span, code="E172",
                    hint="settings are " + ", ".join(known) + "; arrays of a file: "
                         + ", ".join((*DIRECT, *PROJECTED)))
        elif key in out:
            c.error(f"`{key}` is set twice on this line", s.key.span, code="E102")
        else:
            out[key] = s
    return out


def _flag(c, setting) -> bool:
    if setting is None:
        return False
    value = setting.value
    if isinstance(value, E.Name) and value.id in ("true", "false"):
        return value.id == "true"
    raise c.error(f"{setting.key.text} must be true or false", value.span, code="E173")


def _int(c, settings, key, low, high, default=None):
    s = settings.get(key)
    if s is None:
        return default
    return int(c.scalar(s.value, c.env, key, integer=True, low=low, high=high))


def _heads(c, decl: S.AttentionDecl):
    """(Heads, normalised) of the declaration; every problem recorded before raising."""
    before = len(c.diagnostics)
    settings = _settings(c, decl)
    causal, normalised = (c.step(_flag, c, settings.get(k)) for k in FLAGS)
    n_heads = c.step(_int, c, settings, "heads", 1, MAX_HEADS)
    if decl.path is None and not decl.synthetic:
        c.error("attention needs its heads: a weights file in quotes, or `synthetic`",
                decl.keyword.span, code="E174", hint=f"e.g. {EXAMPLE}")
    if len(c.diagnostics) > before:
        raise Invalid("attention settings")
    if decl.synthetic:
        return _synthetic(c, decl, settings, n_heads or 1, bool(causal), bool(normalised))
    return _from_file(c, decl, settings, n_heads, bool(causal), bool(normalised))


def _synthetic(c, decl, settings, n_heads, causal, normalised):
    from hjdsl.attention.heads import synthetic

    for a in decl.arrays:
        c.error(f"`{a.key.text}` names an array of a weights file; synthetic heads are drawn",
                a.span, code="E172", hint='give a file: attention "heads.npz" ...')
    d_k = c.step(_int, c, settings, "d_k", 1, MAX_DIM, 8)
    d_v = c.step(_int, c, settings, "d_v", 1, MAX_DIM, d_k)
    d_model = c.step(_int, c, settings, "d_model", 1, MAX_DIM)
    n_k = c.step(_int, c, settings, "keys", 1, MAX_ATOMS, 8)
    n_q = c.step(_int, c, settings, "queries", 1, MAX_ATOMS, n_k)
    seed = 0 if "seed" not in settings else c.step(c.seed, settings["seed"].value, c.env)
    if None in (d_k, d_v, n_k, n_q, seed) or (d_model is None and "d_model" in settings):
        raise Invalid("synthetic settings")
    if d_model is not None and n_q != n_k:
        raise c.error(f"with d_model the heads attend over one input X: queries ({n_q}) must "
                      f"equal keys ({n_k})", settings["queries"].value.span, code="E175",
                      hint="leave out `queries`, or leave out d_model to draw Q, K, V directly")
    if normalised and d_model is None:
        raise c.error("layernorm = true needs an input X: give d_model (synthetic) or x (a file)",
                      settings["layernorm"].key.span, code="E175")
    rows = n_q + 2 * n_k + (n_k if d_model else 0)
    c.budget(array_bytes(n_heads, rows, max(d_k, d_v, d_model or 1), 3),
             f"drawing {n_heads} head(s) of {n_q:,} queries × {n_k:,} keys", decl.span,
             "use fewer heads, queries or keys")
    return synthetic(seed, n_heads, n_q, n_k, d_k, d_v, d_model=d_model, normalise=normalised,
                     causal=causal), normalised


def _from_file(c, decl, settings, n_heads, causal, normalised):
    from hjdsl.attention.heads import Heads, causal_mask, project
    from hjdsl.weights_files import DataFileError, read_arrays

    for key in SYNTHETIC:
        if key in settings:
            c.error(f"`{key}` is a setting of synthetic heads; a file's arrays have their own "
                    "shapes", settings[key].key.span, code="E172", hint=f"remove `{key} = ...`")
    named = {}
    for a in decl.arrays:
        if a.key.text not in DIRECT and a.key.text not in PROJECTED:
            c.error(f"unknown array role `{a.key.text}`", a.key.span, code="E172",
                    hint="roles are q, k, v (the heads' Q, K, V) or x, w_q, w_k, w_v")
        elif a.key.text in named:
            c.error(f"`{a.key.text}` is named twice on this line", a.key.span, code="E102",
                    hint="keep one of the two")
        else:
            named[a.key.text] = a
    projected = any(r in named for r in PROJECTED)
    direct = [r for r in DIRECT if r in named]
    if projected and direct:
        c.error("give either Q, K, V or X with its projections, not both", named[direct[0]].span,
                code="E175", hint="remove " + ", ".join(f"`{r}`" for r in direct))
    if normalised and not projected:
        c.error("layernorm = true applies to an input X: name it and its projections, e.g. "
                'x = "X" w_q = "W_Q" w_k = "W_K" w_v = "W_V"', settings["layernorm"].key.span,
                code="E175")
    if any(d.severity == "error" for d in c.diagnostics):
        raise Invalid("attention arrays")
    roles = PROJECTED if projected else DIRECT
    wanted = {r: named[r].array if r in named else default for r, default in roles.items()}
    spans = {r: named[r].span if r in named else decl.path_span for r in roles}
    try:
        arrays = read_arrays(decl.path, c.base_dir, wanted, confined=True)
    except DataFileError as err:  # the reader's message, at the text that named the array
        first = err.diagnostics[0]
        raise c.error(first.message, spans.get(err.part, decl.path_span), hint=first.hint,
                      code=first.code) from None
    shapes = _Shapes(c, wanted, spans, n_heads)
    if projected:
        x = arrays["x"]
        if x.ndim != 2 or 0 in x.shape:
            raise c.error(f"X must be a matrix of tokens (n × d_model), but `{wanted['x']}` has "
                          f"shape {x.shape}", spans["x"], code="D006")
        heads = shapes.heads_of({r: arrays[r] for r in ("w_q", "w_k", "w_v")}, x.shape[1])
        ws = {r: shapes.split(arrays[r], r, heads) for r in ("w_q", "w_k", "w_v")}
        shapes.match(ws, ("w_q", "w_k"), 2, "columns (d_k)")
        return project(x, ws["w_q"], ws["w_k"], ws["w_v"], heads, normalise=normalised,
                       causal=causal), normalised
    heads = shapes.heads_of(arrays, None)
    qkv = {r: shapes.split(arrays[r], r, heads) for r in DIRECT}
    shapes.match(qkv, ("q", "k"), 2, "columns (d_k)")
    shapes.match(qkv, ("k", "v"), 1, "rows (one value per key)")
    q, k, v = (qkv[r] for r in DIRECT)
    if k.shape[1] > MAX_ATOMS:
        raise c.error(f"`{wanted['k']}` has {k.shape[1]:,} keys; the limit is {MAX_ATOMS:,} atoms",
                      spans["k"], code="E113")
    return Heads.of(q, k, v, causal_mask(q.shape[1], k.shape[1]) if causal else None), normalised


class _Shapes:
    """Shape checks of a file's arrays, each located at the text that named the array."""

    def __init__(self, c, wanted, spans, n_heads):
        self.c, self.wanted, self.spans, self.n_heads = c, wanted, spans, n_heads

    def heads_of(self, arrays, d_model) -> int:
        """The number of heads: 3-D arrays carry it first; else the `heads` setting (or 1)."""
        for role, a in arrays.items():
            if a.ndim not in (2, 3) or 0 in a.shape:
                raise self.c.error(f"`{self.wanted[role]}` must be 2-D or 3-D (heads first) "
                                   f"with no empty axis, but has shape {a.shape}",
                                   self.spans[role], code="D006")
            if d_model is not None and a.shape[-2] != d_model:
                raise self.c.error(f"`{self.wanted[role]}` must have d_model = {d_model} rows "
                                   f"(X's columns), but has shape {a.shape}", self.spans[role],
                                   code="D006", hint="a projection maps X (n × d_model) to "
                                                     "X @ W: W is d_model × d_head")
        counts = {a.shape[0] for a in arrays.values() if a.ndim == 3}
        if len(counts) > 1 or (counts and self.n_heads not in (None, *counts)):
            role = next(r for r, a in arrays.items() if a.ndim == 3)
            raise self.c.error(f"the arrays disagree on the number of heads ({sorted(counts)}"
                               + (f", heads = {self.n_heads}" if self.n_heads else "") + ")",
                               self.spans[role], code="D006")
        return counts.pop() if counts else (self.n_heads or 1)

    def split(self, a, role, heads) -> np.ndarray:
        """(heads, rows, cols): 3-D as given, 2-D with its columns split into `heads` blocks."""
        if a.ndim == 3:
            return a
        if a.shape[1] % heads:
            raise self.c.error(f"`{self.wanted[role]}` has {a.shape[1]} columns, not a multiple "
                               f"of heads = {heads}", self.spans[role], code="D006",
                               hint="a 2-D array holds the heads side by side: heads × d_head "
                                    "columns")
        return a.reshape(a.shape[0], heads, a.shape[1] // heads).transpose(1, 0, 2)

    def match(self, arrays, roles, axis, what) -> None:
        a, b = (arrays[r] for r in roles)
        if a.shape[axis] != b.shape[axis]:
            raise self.c.error(f"`{self.wanted[roles[0]]}` and `{self.wanted[roles[1]]}` must "
                               f"have the same number of {what} per head: {a.shape[axis]} vs "
                               f"{b.shape[axis]}", self.spans[roles[1]], code="D006")
