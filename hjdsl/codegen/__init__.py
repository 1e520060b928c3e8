"""Code generation: standalone Python modules for the cvxpy, numpyro and jax targets."""

from __future__ import annotations

import importlib

from hjdsl.errors import Diagnostic, UsageError

# target -> (module, function); modules are imported on use so `hjdsl check` stays light.
TARGETS = {
    "cvxpy": ("hjdsl.codegen.cvxpy_target", "generate"),
    "jax": ("hjdsl.codegen.jax_target", "generate"),
    "numpyro": ("hjdsl.codegen.numpyro_target", "generate"),
}


def generate(model, target: str) -> str:
    """The source text of a standalone module reproducing hjdsl's numbers for `target`.

    >>> from hjdsl.model.ir import Model
    >>> src = generate(Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5]), "jax")
    >>> compile(src, "model_jax.py", "exec") is not None
    True
    """
    if target not in TARGETS:
        raise UsageError((Diagnostic("error", f"unknown code generation target {target!r}", None,
                                     "targets: " + ", ".join(TARGETS), "U022"),))
    module_name, function = TARGETS[target]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UsageError((Diagnostic("error", f"code generation for --target {target} is not "
                                     "available in this version of hjdsl", None, None,
                                     "U023"),)) from None
    return getattr(module, function)(model)


__all__ = ["TARGETS", "generate"]
