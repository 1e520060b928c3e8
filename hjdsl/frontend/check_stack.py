"""Check a stack spec (`layer` declarations): each layer's kind, sizes, ε, t and weights → Stack."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hjdsl.errors import DataError, HJError, Span, SpecError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.check import DEFAULT_EPS, _Checker
from hjdsl.frontend.check_settings import check_evaluate
from hjdsl.frontend.check_stack_train import check_training
from hjdsl.frontend.check_values import Invalid, frozen
from hjdsl.model import distributions as D
from hjdsl.model.limits import MAX_ATOMS, array_bytes
from hjdsl.networks.stack import Layer, Stack

KINDS = ("lse", "softplus")
SETTINGS = {"lse": ("width", "atoms", "eps", "t", "seed"),
            "softplus": ("width", "eps", "t", "seed")}
MAX_WIDTH = 4096  # units per layer: a stack is a small network to be checked, not trained here
MAX_LAYERS = 64
# What a stack spec does not take, and why (each layer carries its own atoms and ε).
NOT_FOR_STACKS = {
    "particles": "each `layer` has its own atoms (its W and b)",
    "initial": "each `layer` has its own atoms (its W and b)",
    "weights": "read a layer's weights with `layer NAME \"file\" W = \"...\" b = \"...\"`",
    "hamiltonian": "every layer is an LSE layer, H(p) = |p|^2 in that layer's input coordinates",
    "viscosity": "each layer sets its own ε: `layer NAME eps = 0.1`",
    "observe": "a stack learns from `data` with `fit learn = STEPS lr = RATE`",
    "split": "a stack learns from all its `data` (full batch)",
    "attention": "attention heads and LSE stacks are separate specs",
}
STACK_DECLARATIONS = ("model", "dim", "time", "evaluate", "data", "fit")  # and `let`, `layer`


def check_stack(spec: S.Spec, base_dir: Path, path: str | None) -> Stack:
    """The Stack of a spec with `layer` declarations; SpecError/DataError listing every problem."""
    with np.errstate(all="ignore"):
        return _StackChecker(spec, base_dir, path).run()


class _StackChecker(_Checker):
    def run(self) -> Stack:
        self.collect_stack()
        self.d = self.step(self.check_dim)
        for decl in self.spec.statements:
            if isinstance(decl, S.LetDecl):
                self.step(self.check_let, decl)
        self.t = self.step(self.check_time)
        self.env["t"] = np.float64(self.t if self.t is not None else 1.0)
        layers, inputs, names = [], self.d, {}
        decls = self.layer_decls()
        if len(decls) > MAX_LAYERS:
            self.error(f"the stack has {len(decls)} layers; the limit is {MAX_LAYERS}",
                       decls[MAX_LAYERS].keyword.span, code="E113",
                       hint="a stack here is a network to check, layer by layer: keep it short")
            decls = decls[:MAX_LAYERS]
        for decl in decls:
            if decl.name.text in names:
                self.error(f"layer `{decl.name.text}` is declared twice (first on line "
                           f"{names[decl.name.text]})", decl.name.span, code="E181",
                           hint="give every layer its own name")
            names.setdefault(decl.name.text, decl.span.line)
            layer = self.step(self.check_layer, decl, inputs)
            layers.append(layer)
            # after a layer that failed, the next one's input size is what that layer wrote
            # (None when it wrote none: then its shapes are not held against it)
            inputs = layer.width if layer is not None else _written_width(decl)
        if layers and layers[-1] is not None and layers[-1].width != 1:
            self.error(f"the last layer must have width 1 (the stack's output f), not "
                       f"{layers[-1].width}", decls[-1].name.span, code="E185",
                       hint="add a readout layer, e.g. `layer out lse atoms = 4`")
        training = None
        if "data" in self.decls or "fit" in self.decls:
            training = self.step(check_training, self, layers)
        points = None
        if self.d is not None and "evaluate" in self.decls:
            points = self.step(check_evaluate, self, self.decls["evaluate"])
        self.diagnostics.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
        if any(d.severity == "error" for d in self.diagnostics):
            data_only = all(d.code.startswith("D") for d in self.diagnostics
                            if d.severity == "error")
            raise (DataError if data_only else SpecError)(self.diagnostics, self.spec.source)
        model = self.decls["model"]
        return Stack(name=model.name.text, dim=self.d, layers=tuple(layers),
                     evaluate=frozen(points, 2), description=model.description,
                     source=self.spec.source, path=self.path,
                     constants={k: frozen(v) for k, v in self.env.items() if k in self.let_lines},
                     warnings=tuple(d for d in self.diagnostics if d.severity == "warning"),
                     training=training)

    def layer_decls(self) -> list[S.LayerDecl]:
        return [s for s in self.spec.statements if isinstance(s, S.LayerDecl)]

    # --- structure: what a stack spec declares ----------------------------------------------
    def collect_stack(self) -> None:
        for decl in self.spec.statements:
            kw = decl.keyword.text
            if kw in ("let", "layer"):
                continue
            if kw not in STACK_DECLARATIONS:
                why = NOT_FOR_STACKS.get(kw, "a stack spec declares model, dim, time, let, "
                                             "evaluate and its layers")
                self.error(f"`{kw}` does not apply to a stack spec: {why}",
                           decl.keyword.span, code="E186", hint="remove this line")
                continue
            if kw in self.decls:
                self.error(f"`{kw}` is declared twice (first on line {self.decls[kw].span.line})",
                           decl.keyword.span, code="E102", hint=f"remove one of the two `{kw}`s")
                continue
            self.decls[kw] = decl
        if "model" in self.decls and self.spec.statements[0] is not self.decls["model"]:
            self.error("`model` must be the first declaration", self.decls["model"].keyword.span,
                       code="E103", hint="move this line to the top of the file")
        examples = {"model": "model my_stack", "dim": "dim 2",
                    "evaluate": "evaluate x = grid(-1, 1, 5)"}
        for kw, example in examples.items():
            if kw not in self.decls:
                self.error(f"missing `{kw}` declaration", Span.point(self.file, 1, 1),
                           code="E104", hint=f"add a line such as `{example}`")

    # --- one layer -------------------------------------------------------------------------
    def check_layer(self, decl: S.LayerDecl, inputs: int | None) -> Layer:
        kind = "lse" if decl.kind is None else decl.kind.text
        if kind not in KINDS:
            raise self.error(f"unknown layer kind `{kind}`", decl.kind.span, code="E180",
                             hint="a layer is `lse` (the default) or `softplus`")
        settings = self.layer_settings(decl, kind)
        eps = (self.scalar(settings["eps"], self.env, "the layer's eps", nonneg=True)
               if "eps" in settings else DEFAULT_EPS)
        t = (self.scalar(settings["t"], self.env, "the layer's t", positive=True)
             if "t" in settings else float(self.env["t"]))
        width = (self.count(settings["width"], self.env, "the layer's width", MAX_WIDTH, "units")
                 if "width" in settings else None)
        atoms = (self.count(settings["atoms"], self.env, "the layer's atoms", MAX_ATOMS, "atoms")
                 if "atoms" in settings else None)
        # by default each layer draws with its position as the seed: two layers of one shape
        # without seeds still get different weights
        seed = (self.seed(settings["seed"], self.env) if "seed" in settings
                else self.layer_decls().index(decl))
        if decl.path is not None:
            W, b = self.file_weights(decl, kind)
        else:
            W, b = self.block_weights(decl, kind, width, atoms, inputs, seed)
        W, b = self.shaped(decl, kind, W, b, width, atoms, inputs)
        return Layer(decl.name.text, kind, float(eps), float(t), frozen(W, 3), frozen(b, 2),
                     decl.span)

    def layer_settings(self, decl: S.LayerDecl, kind: str) -> dict:
        allowed, out = SETTINGS[kind], {}
        for s in decl.settings:
            key = s.key.text
            if key not in allowed:
                extra = " (a softplus unit has 2 atoms: 0 and w·h + c)" if key == "atoms" else ""
                self.error(f"`{key}` is not a setting of {_a(kind)} layer{extra}", s.key.span,
                           code="E182", hint=f"its settings are {', '.join(allowed)}")
            elif key in out:
                self.error(f"`{key}` is set twice", s.key.span, code="E102")
            else:
                out[key] = s.value
        for a in decl.arrays:
            if decl.path is None:
                self.error(f"`{a.key.text} = \"{a.array}\"` names an array of a weights file, but "
                           "this layer reads none", a.span, code="E183",
                           hint='write the file after the kind: layer NAME lse "w.npz" W = "..."')
        return out

    def block_weights(self, decl, kind, width, atoms, inputs, seed):
        """W and b from the block: literal (`=`) or seeded draws (`~`); normal(0, 1) otherwise."""
        w, n = width or 1, (2 if kind == "softplus" else atoms or 1)
        inputs = inputs or 1  # unknown (an earlier layer failed): the draw is never used
        shapes = {"W": (w, inputs) if kind == "softplus" else (w, n, inputs),
                  "b": (w,) if kind == "softplus" else (w, n)}
        found = {}
        for item in decl.items:
            key = item.key.text
            if key not in shapes or item.truth:
                self.error(f"`{key}` is not part of a layer: its block gives W and b",
                           item.key.span, code="E182", hint="e.g. { W ~ normal(0, 0.5); b = 0 }")
                continue
            if key in found:
                self.error(f"`{key}` is given twice", item.key.span, code="E102")
                continue
            found[key] = item
        out = {}
        for stream, key in enumerate(("W", "b")):
            item = found.get(key)
            if item is not None and item.op == "=":
                out[key] = self.const(item.value, self.env, f"the layer's {key}")
                if key == "W":  # a drawn b takes the units and atoms of the given W
                    shape = np.shape(out["W"])
                    if kind == "lse":  # (width, atoms, inputs), or (atoms, inputs) for width 1
                        shapes["b"] = (1, shape[0]) if len(shape) == 2 else shape[:2]
                    else:
                        shapes["b"] = shape[:1]
                continue
            self.budget(array_bytes(int(np.prod(shapes[key])), 1, 3),
                        f"drawing {key} of layer `{decl.name.text}`", decl.span,
                        "use fewer units or atoms")
            family, params = "normal", {"loc": 0.0, "scale": 1.0}
            if item is not None:
                prior = self.prior(item.value, self.env, f"the layer's {key}")
                family, params = prior.family, dict(prior.params)
            # W and b draw from two streams of the layer's seed: changing one never moves the other
            out[key] = D.draw(family, params, shapes[key], [seed, stream])
            if not np.all(np.isfinite(out[key])):
                raise self.error(f"the drawn {key} overflows; use a smaller scale",
                                 (item or decl).span, code="E109")
        return out["W"], out["b"]

    def file_weights(self, decl, kind):
        from hjdsl.weights_files import read_arrays

        if decl.items:
            raise self.error("a layer read from a weights file takes no `{ ... }` block",
                             decl.items[0].span, code="E183", hint="drop the block, or the file")
        names = {"W": "W", "b": "b"}
        spans = {"W": decl.path_span, "b": decl.path_span, "file": decl.path_span}
        for a in decl.arrays:
            if a.key.text not in names:
                raise self.error(f"`{a.key.text}` is not an array of a layer", a.key.span,
                                 code="E182", hint='name W and b: W = "fc.weight" b = "fc.bias"')
            names[a.key.text], spans[a.key.text] = a.array, a.span
        try:
            arrays = read_arrays(decl.path, self.base_dir, names)
        except HJError as err:
            part = getattr(err, "part", "file")
            span = spans.get(part, decl.path_span)
            self.diagnostics.extend(dataclasses.replace(d, span=d.span or span)
                                    for d in err.diagnostics)
            raise Invalid(str(err)) from None
        return arrays["W"], arrays["b"]

    def shaped(self, decl, kind, W, b, width, atoms, inputs):
        """W (width, atoms, inputs) and b (width, atoms), from the shapes a user writes."""
        W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
        where, written = self.weights_span(decl, "W"), W.shape
        known = inputs is not None  # None: the previous layer failed its check
        inputs = inputs if known else W.shape[-1] if W.ndim else 1
        features = f"{inputs} feature{'s' if inputs != 1 else ''}"
        if kind == "softplus":
            W = W.reshape(1, -1) if W.ndim == 1 else W
            if W.ndim != 2 or W.shape[1] != inputs:
                raise self.error(f"W of a softplus layer is (width, inputs) = (units, {inputs}); "
                                 f"got shape {written}", where, code="E184",
                                 hint=f"its input is {self.input_name(decl)} ({features})")
            self.agree(where, {"width": (width, W.shape[0])})
            b = np.broadcast_to(b, W.shape[:1]) if b.ndim == 0 or b.shape == (1,) else b
            if b.shape != W.shape[:1]:
                raise self.error(f"b must hold one number per unit ({W.shape[0]}), got shape "
                                 f"{b.shape}", self.weights_span(decl, "b"), code="E184")
            # softplus_ε(w·h + c) = ε log(e^0 + e^{(w·h + c)/ε}): atom 0 is the zero atom
            W = np.stack([np.zeros_like(W), W], axis=1)
            b = np.stack([np.zeros_like(b), b], axis=1)
        else:
            W = W[None] if W.ndim == 2 else W
            if W.ndim != 3 or W.shape[2] != inputs:
                raise self.error(f"W of an lse layer is (width, atoms, inputs) or, for width 1, "
                                 f"(atoms, inputs), with {inputs} inputs; got shape "
                                 f"{written}", where, code="E184",
                                 hint=f"its input is {self.input_name(decl)} ({features})")
            self.agree(where, {"width": (width, W.shape[0]), "atoms": (atoms, W.shape[1])})
            b = b.reshape(1, -1) if b.ndim == 1 and W.shape[0] == 1 else b
            b = np.broadcast_to(b, W.shape[:2]) if b.ndim == 0 else b
            if b.shape != W.shape[:2]:
                raise self.error(f"b must be (width, atoms) = {W.shape[:2]}, got shape {b.shape}",
                                 self.weights_span(decl, "b"), code="E184")
        return W, np.array(b)

    def agree(self, where: Span, sizes: dict) -> None:
        """`width =` / `atoms =` settings must match the weights' own shape."""
        for what, (given, actual) in sizes.items():
            if given is not None and given != actual:
                raise self.error(f"{what} = {given}, but the weights give {actual}", where,
                                 code="E184", hint=f"drop `{what} =` or make the two agree")

    def weights_span(self, decl, key: str) -> Span:
        for item in decl.items:
            if item.key.text == key:
                return item.span
        for a in decl.arrays:
            if a.key.text == key:
                return a.span
        return decl.path_span if decl.path is not None else decl.name.span

    def input_name(self, decl) -> str:
        decls = self.layer_decls()
        i = decls.index(decl)
        return "x" if i == 0 else f"the output of layer `{decls[i - 1].name.text}`"


def _written_width(decl: S.LayerDecl) -> int | None:
    """The width a layer that failed its check declares (so the next layer is still checked)."""
    from hjdsl.model import expr as E

    for s in decl.settings:
        if s.key.text == "width" and isinstance(s.value, E.Num) and s.value.value.is_integer():
            return int(s.value.value) if 1 <= s.value.value <= MAX_WIDTH else None
    return None


def _a(word: str) -> str:
    return ("an " if word == "lse" else "a ") + word  # "an el-es-ee layer"
