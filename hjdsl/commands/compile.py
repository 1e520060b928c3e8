"""`hjdsl compile FILE --info | --target cvxpy|numpyro|jax [-o OUT.py]`: summaries and code."""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np

from hjdsl.errors import Diagnostic, UsageError
from hjdsl.model.ir import Prior

HELP = "summarise a spec as JSON (--info) or emit a standalone Python module (--target)"
DESCRIPTION = """\
Compile a checked spec. --info prints a JSON summary of the model: name, dimension, atoms,
ε values, the Hamiltonian and which views are exact for it, what is learned, the data and
the evaluation points. --target writes a standalone, readable Python module for cvxpy,
numpyro or jax that reproduces hjdsl's numbers.
"""
EPILOG = """\
examples:
  hjdsl compile examples/quickstart.hj --info
  hjdsl compile examples/abs_1d.hj --target numpyro -o abs_1d_numpyro.py
  hjdsl compile examples/quickstart.hj --target cvxpy          (prints the module)

exit codes: 0 success, 2 invalid spec or arguments.
"""
TARGETS = ("cvxpy", "numpyro", "jax")


def configure(p) -> None:
    p.epilog = EPILOG
    p.add_argument("file", metavar="FILE", help="a .hj spec; `-` reads standard input")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--info", action="store_true", help="print a JSON summary of the model")
    what.add_argument("--target", choices=TARGETS, help="emit a Python module for this library")
    p.add_argument("-o", "--output", metavar="OUT.py",
                   help="write the module here (atomically) instead of standard output")
    from hjdsl.commands.common import add_set_arg

    add_set_arg(p)  # the generated module and the summary are of the overridden spec


def run(args) -> int:
    from hjdsl.commands.common import load_model

    if args.info and args.output:
        raise UsageError((Diagnostic("error", "-o/--output goes with --target, not --info",
                                     code="U004"),))
    if args.output:
        from hjdsl.output import check_writable

        check_writable(args.output)
    model = load_model(args.file, args.set)
    if args.info:
        print(json.dumps(info(model), indent=2, ensure_ascii=False))
        return 0
    try:
        codegen = importlib.import_module("hjdsl.codegen")
        generate = codegen.generate
    except (ModuleNotFoundError, AttributeError):
        raise UsageError((Diagnostic("error", f"code generation for --target {args.target} is not "
                                     "yet available", code="U005"),)) from None
    text = generate(model, args.target)
    if args.output:
        from hjdsl.output import write_text

        write_text(text, args.output)
        print(f"wrote {args.output} ({args.target})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _prior(p: Prior) -> dict:
    return {"family": p.family, **{k: float(v) for k, v in p.params.items()}}


def _number_or_prior(v):
    if v is None:
        return None
    return {"prior": _prior(v)} if isinstance(v, Prior) else float(v)


def exactness(hamiltonian) -> dict:
    """The four views' standing for this Hamiltonian, in words, from its own labels.

    Each view pairs its ε = 0 form with its ε > 0 form (network: the LSE layer at every ε).
    """
    words = {"exact": "exact", "structural": "structural analogue", "none": "none"}

    def say(at_zero: str, above: str | None = None) -> str:
        low = hamiltonian.exactness(at_zero)
        high = hamiltonian.exactness(above) if above else low
        if low.label == high.label:
            text = words[low.label]
            return text if low.label == "exact" else f"{text} ({low.reason})"
        return f"{words[low.label]} at eps = 0, {words[high.label]} for eps > 0"

    return {"network": say("network"), "tropical": say("hopf_lax"),
            "pde": say("pde_residual_hopf_lax", "pde_residual"),
            "convex": say("convex_lp", "convex_entropic")}


def info(model) -> dict:
    """The JSON summary printed by `hjdsl compile --info`."""
    ham = model.hamiltonian
    learned = []
    if model.particles.learned:
        learned.append("y")
    if model.initial.learned:
        learned.append("g")
    if model.viscosity.learned:
        learned.append("eps")
    obs = model.observe
    if obs is not None:
        learned += [n for n, v in (("sigma", obs.scale), ("nu", obs.df)) if isinstance(v, Prior)]
    data = None
    if model.data is not None:
        data = {"source": model.data.source, "size": model.data.size, "path": model.data.path,
                "seed": model.data.seed, "noise": model.data.noise,
                "truth": model.data.truth is not None}
    observe = None
    if obs is not None:
        observe = {"quantity": obs.quantity, "likelihood": obs.likelihood,
                   "sigma": _number_or_prior(obs.scale), "nu": _number_or_prior(obs.df),
                   "split": None if obs.split is None else {"test": obs.split.test,
                                                            "seed": obs.split.seed}}
    return {
        "name": model.name,
        "description": model.description,
        "file": model.path,
        "dim": model.dim,
        "t": model.t,
        "atoms": model.n_atoms,
        "particles": {"source": model.particles.source,
                      "prior": _prior(model.particles.prior) if model.particles.prior else None},
        "initial": {"source": model.initial.source,
                    "prior": _prior(model.initial.prior) if model.initial.prior else None},
        "eps": [float(e) for e in model.eps],
        "eps_prior": _prior(model.viscosity.prior) if model.viscosity.prior else None,
        "hamiltonian": {"text": ham.text, "kind": ham.kind, "isotropic": ham.isotropic,
                        "scale": ham.scale,
                        "matrix": None if ham.matrix is None else np.asarray(ham.matrix).tolist(),
                        **ham.describe()},  # + lagrangian (L = H*) and exactness per view
        "exact": exactness(ham),
        "learned": learned,
        "data": data,
        "evaluate": {"points": int(model.evaluate.shape[0])},
        "observe": observe,
        "fit": {k: getattr(model.fit, k) for k in model.fit.__dataclass_fields__},
        "warnings": [w.message for w in model.warnings],
        "overrides": list(model.overrides),
    }
