"""Check a `residual` or `recurrent` network spec and build its FlowModel (every problem at once)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hjdsl.errors import DataError, Span, SpecError
from hjdsl.frontend import syntax as S
from hjdsl.frontend.check import EXAMPLE, _Checker
from hjdsl.frontend.check_data import check_data
from hjdsl.frontend.check_hamiltonian import check_hamiltonian
from hjdsl.frontend.check_values import Invalid, frozen
from hjdsl.model.limits import array_bytes
from hjdsl.networks.cells import CELLS, draw_params
from hjdsl.networks.flow import DeclaredPair, FlowModel
from hjdsl.networks.ode import REFINEMENTS

FLOW_KEYWORDS = ("residual", "recurrent")
ALLOWED = ("model", "dim", "let", "data", "hamiltonian", "viscosity", *FLOW_KEYWORDS)
CELL_NAMES = {kw: tuple(n for n, c in CELLS.items() if c.kind == kw) for kw in FLOW_KEYWORDS}
SETTINGS = {"residual": ("steps", "h", "T", "width", "eps", "seed", "scale", "learn", "lr"),
            "recurrent": ("width", "seed", "scale", "learn", "lr")}
EXAMPLES = {"residual": "residual tanh steps = 10 h = 0.1 seed = 0",
            "recurrent": "recurrent lstm width = 4 seed = 0"}
MAX_STEPS = 10_000     # layers or sequence steps: the recursions loop over them in Python
MAX_WIDTH = 1_000
MAX_LEARN = 100_000
STRUCTURAL_REASON = (
    "hjdsl knows no formula mapping this network's update to a viscous HJ step with the declared "
    "(H, eps): the pair is recorded as what the architecture discretises, structurally; no view "
    "of it is computed or presented as a theorem. What is exact here is the co-state identity")


def check_flow(spec: S.Spec, base_dir: Path, path: str | None) -> FlowModel:
    """The FlowModel of a spec with a `residual` or `recurrent` line; SpecError/DataError
    listing every problem."""
    with np.errstate(all="ignore"):
        return _FlowChecker(spec, base_dir, path).run()


class _FlowChecker(_Checker):
    def run(self) -> FlowModel:
        self.collect_flow()
        self.d = self.step(self.check_dim)
        for decl in self.spec.statements:
            if isinstance(decl, S.LetDecl):
                self.step(self.check_let, decl)
        flows = [s for s in self.spec.statements if isinstance(s, S.FlowDecl)]
        for extra in flows[1:]:
            self.error(f"a spec declares one network (first on line {flows[0].span.line})",
                       extra.keyword.span, code="E721", hint="split it into two specs")
        data = self.step(check_data, self, self.decls.get("data"))
        if "data" not in self.decls:
            self.error(f"a {flows[0].keyword.text} network needs `data`: its loss is "
                       "mean (r·x_K − value)^2", flows[0].keyword.span, code="E722",
                       hint="add e.g. `data synthetic n = 16 seed = 1 { x ~ uniform(-1, 1); "
                            "value = x[0] }`")
        flow = self.step(_network, self, flows[0], data) if self.d is not None else None
        declared = self.step(_declared, self, flow)
        self.diagnostics.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
        if any(d.severity == "error" for d in self.diagnostics):
            data_only = all(d.code.startswith("D") for d in self.diagnostics
                            if d.severity == "error")
            raise (DataError if data_only else SpecError)(self.diagnostics, self.spec.source)
        model_decl = self.decls["model"]
        return FlowModel(
            **flow, data=data, declared=declared, name=model_decl.name.text,
            description=model_decl.description, source=self.spec.source, path=self.path,
            warnings=tuple(d for d in self.diagnostics if d.severity == "warning"),
            constants={k: frozen(v) for k, v in self.env.items() if k in self.let_lines})

    def collect_flow(self) -> None:
        kind = next(s.keyword.text for s in self.spec.statements if isinstance(s, S.FlowDecl))
        for decl in self.spec.statements:
            kw = decl.keyword.text
            if kw == "let" or isinstance(decl, S.FlowDecl):
                continue
            if kw not in ALLOWED:
                self.error(f"`{kw}` does not apply to a {kind} network spec", decl.keyword.span,
                           code="E720", hint=f"a {kind} spec declares model, dim, data, let, and "
                           "optionally the (hamiltonian, viscosity) pair it discretises")
                continue
            if kw in self.decls:
                self.error(f"`{kw}` is declared twice (first on line {self.decls[kw].span.line})",
                           decl.keyword.span, code="E102", hint=f"remove one of the two `{kw}`s")
                continue
            self.decls[kw] = decl
        if "model" in self.decls and self.spec.statements[0] is not self.decls["model"]:
            self.error("`model` must be the first declaration", self.decls["model"].keyword.span,
                       code="E103", hint="move this line to the top of the file")
        for kw in ("model", "dim"):
            if kw not in self.decls:
                self.error(f"missing `{kw}` declaration", Span.point(self.file, 1, 1),
                           code="E104", hint=f"add a line such as `{EXAMPLE[kw]}`")


def _network(c, decl: S.FlowDecl, data) -> dict:
    kw = decl.keyword.text
    if decl.cell is None or decl.cell.text not in CELL_NAMES[kw]:
        where = decl.cell.span if decl.cell is not None else decl.keyword.span
        got = f"unknown {kw} cell `{decl.cell.text}`" if decl.cell else f"`{kw}` needs a cell"
        raise c.error(got, where, code="E723",
                      hint=f"cells: {', '.join(CELL_NAMES[kw])}, e.g. `{EXAMPLES[kw]}`")
    cell = CELLS[decl.cell.text]
    s = _settings(c, decl)
    recurrent = kw == "recurrent"
    if recurrent:
        steps, h = c.d, 1.0
        hidden = int(s.get("width", 4))
        width, atoms = cell.state_width(hidden), 0
    else:
        steps = int(s.get("steps", 10))
        if "h" in s and "T" in s:
            second = [st for st in decl.settings if st.key.text in ("h", "T")][1]
            raise c.error("give the step `h` or the horizon `T` (h = T/steps), not both",
                          second.key.span, code="E724", hint="K·h = T: keep one of the two")
        h = s["h"] if "h" in s else s.get("T", 1.0) / steps
        width, atoms = c.d, int(s.get("width", 4)) if cell.name == "lse" else 0
    shapes = cell.shapes(width, atoms)
    n = data.size if data is not None else 1
    # states, co-states, ℋ and autodiff's copies (6 per step); a residual net's ODE check also
    # runs the recursions at h/8 (2 × 8 more)
    per_step = 6 if recurrent else 6 + 2 * 2 ** (REFINEMENTS - 1)
    c.budget(array_bytes(steps + 1, n, width, per_step) + array_bytes(
        steps if not recurrent else 1, sum(int(np.prod(sh)) for sh in shapes.values()), 4),
        f"the states, co-states and parameters of {steps:,} steps", decl.span,
        "use fewer steps, a smaller width or less data")
    drawn = draw_params(cell, width, atoms, None if recurrent else steps,
                        int(s.get("seed", 0)), s.get("scale", 1.0))
    given = _literal_params(c, decl, shapes, None if recurrent else steps)
    params = {**drawn, **given}
    source = "literal" if len(given) == len(params) else "mixed" if given else "random"
    return dict(cell_name=cell.name, dim=c.d, steps=steps, h=float(h), width=width, atoms=atoms,
                eps=float(s.get("eps", 1.0)), param_source=source,
                params={k: frozen(v) for k, v in params.items() if k in cell.params},
                readout_params={k: frozen(v) for k, v in params.items() if k not in cell.params},
                learn=int(s.get("learn", 0)), lr=float(s.get("lr", 0.01)))


def _settings(c, decl: S.FlowDecl) -> dict:
    kw, out = decl.keyword.text, {}
    rules = {"steps": dict(integer=True, low=1, high=MAX_STEPS), "h": dict(positive=True),
             "T": dict(positive=True), "width": dict(integer=True, low=1, high=MAX_WIDTH),
             "eps": dict(positive=True), "seed": dict(integer=True, low=0, high=2**32 - 1),
             "scale": dict(positive=True), "learn": dict(integer=True, low=0, high=MAX_LEARN),
             "lr": dict(positive=True)}
    for st in decl.settings:
        key = st.key.text
        if key not in SETTINGS[kw]:
            c.error(f"unknown setting `{key}` of `{kw}`", st.key.span, code="E725",
                    hint=f"{kw} takes {', '.join(SETTINGS[kw])}"
                    + ("; the sequence length is dim" if key == "steps" else ""))
            continue
        if key in out:
            c.error(f"`{key}` is given twice", st.key.span, code="E725")
            continue
        try:
            out[key] = c.scalar(st.value, c.env, f"{kw} {key}", **rules[key])
        except Invalid:
            continue
    cell = decl.cell.text if decl.cell is not None else None
    for key, cells, why, hint in (("width", ("tanh", "softplus"), "its state width is dim",
                             "width sets the atoms of each component of an lse cell"),
                            ("eps", ("tanh",), "tanh has no temperature",
                             "eps is the temperature of a softplus or lse cell")):
        if cell in cells and key in out:
            st = next(s for s in decl.settings if s.key.text == key)
            c.error(f"a {cell} cell has no `{key}`: {why}", st.key.span, code="E725", hint=hint)
    return out


def _literal_params(c, decl: S.FlowDecl, shapes: dict, steps: int | None) -> dict:
    out = {}
    for item in decl.items:
        key = item.key.text
        if item.truth or item.op != "=" or key not in shapes:
            c.error(f"unknown parameter `{key}` of a {decl.cell.text} cell", item.key.span,
                    code="E726", hint=f"its parameters are {', '.join(shapes)}")
            continue
        try:
            value = c.const(item.value, c.env, key)
        except Invalid:
            continue
        shape = shapes[key]
        if steps is not None and value.shape == shape:  # one θ for every step
            value = np.broadcast_to(value, (steps, *shape)).copy()
        wanted = shape if steps is None else (steps, *shape)
        if value.shape != wanted:
            per = "" if steps is None else f" (one per step) or {shape} (shared by every step)"
            c.error(f"{key} must have shape {wanted}{per}, got {value.shape}", item.value.span,
                    code="E727", hint=_shape_hint(key, shape))
            continue
        out[key] = value
    return out


def _shape_hint(key: str, shape: tuple) -> str:
    if len(shape) == 1:
        return f"{key} is a vector of {shape[0]} numbers"
    return f"{key} is {' × '.join(map(str, shape))}: " + ("rows are outputs, columns inputs"
                                                        if len(shape) == 2 else
                                                        "(component, atom, input)")


def _declared(c, flow) -> DeclaredPair | None:
    ham, visc = c.decls.get("hamiltonian"), c.decls.get("viscosity")
    if ham is None:
        if visc is not None:
            c.error("`viscosity` here declares the (H, eps) pair: it needs a `hamiltonian`",
                    visc.keyword.span, code="E728", hint="add e.g. `hamiltonian H(p) = |p|^2`")
        return None
    if flow is None:
        raise Invalid("no network")
    d = c.d
    c.d = flow["width"]  # H acts on the co-state p, which lives in the state's coordinates
    try:
        hamiltonian = check_hamiltonian(c, ham)
    finally:
        c.d = d
    eps = tuple(float(e) for e in c.check_viscosity().values) if visc is not None else ()
    return DeclaredPair(hamiltonian.text, eps, STRUCTURAL_REASON)
