"""JAX for hjdsl: the user's platform and a float64 scope around hjdsl's own computations
(with the persistent compilation cache of hjdsl/jaxcache.py active inside it)."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading

from hjdsl.errors import UsageError

DEVICES = ("cpu", "gpu")
_INSTALL_GPU = 'pip install "jax[cuda12]"'

# Per thread, like JAX's own config contexts: the open scope's exit stack (None outside a scope).
_state = threading.local()
_device: str | None = None  # set by `use_device` (the CLI's --device); None: JAX's default


def use_device(name: str | None) -> None:
    """Run hjdsl's computations on `name` ("cpu", "gpu") or, for None, on JAX's default device."""
    global _device
    if name is not None and name not in DEVICES:
        raise UsageError.single(f"unknown device {name!r}: choose one of {', '.join(DEVICES)}")
    _device = name


def _requested_device() -> str | None:
    name = _device or os.environ.get("HJDSL_DEVICE") or None
    if name is not None and name not in DEVICES:
        raise UsageError.single(f"HJDSL_DEVICE={name!r} is not a device: choose one of "
                                f"{', '.join(DEVICES)}, or unset it for JAX's default")
    return name


def _device_context(jax):
    """A context placing new arrays on the requested device (a no-op for JAX's default)."""
    name = _requested_device()
    if name is None:
        return contextlib.nullcontext()
    try:
        found = jax.devices(name)
    except RuntimeError:
        found = []
    if not found:
        seen = ", ".join(sorted({d.platform for d in jax.devices()}))
        hint = f"install a GPU build of JAX: {_INSTALL_GPU}" if name == "gpu" else None
        raise UsageError.single(f"no {name} device is available to JAX (it sees: {seen})",
                                hint=hint)
    return jax.default_device(found[0])


def jax_x64():
    """Return `jax` with float64 on for the calling hjdsl computation.

    Inside a `float64()` scope (every public hjdsl entry point opens one) x64 is switched on
    for this thread until the scope closes, so the user's own `jax_enable_x64` is left as they
    set it. Outside any scope (an internal module called directly) there is nothing to restore
    it at, so x64 is switched on globally rather than silently computing in float32.
    """
    import jax

    stack = getattr(_state, "stack", None)
    if stack is None:
        jax.config.update("jax_enable_x64", True)
    elif not getattr(_state, "entered", False):
        # Entered lazily so that entry points that never touch JAX never import it.
        _state.entered = True
        stack.enter_context(jax.enable_x64(True))
        stack.enter_context(_device_context(jax))
        from hjdsl import jaxcache

        jaxcache.scope(stack)  # compiled programs persist across runs (hjdsl/jaxcache.py)
    return jax


@contextlib.contextmanager
def float64():
    """Run the block as hjdsl computes: float64 JAX (and the chosen device), restored afterwards.

    Nested scopes share the outermost one. JAX's x64 switch is per thread, so work handed to
    another thread must open its own scope.
    """
    if getattr(_state, "stack", None) is not None:
        if "jax" in sys.modules:  # JAX came in after the outer scope opened: switch it on now
            jax_x64()
        yield
        return
    with contextlib.ExitStack() as stack:
        _state.stack, _state.entered = stack, False
        try:
            if "jax" in sys.modules:  # already paid for: switch now, e.g. for a returned jit
                jax_x64()
            else:
                # Code that imports JAX inside the scope and computes without calling
                # jax_x64 first (jnp.asarray in a study task) must not get float32: JAX
                # reads this variable when it is imported. Undone when the scope closes.
                stack.enter_context(_x64_on_import())
            yield
        finally:
            _state.stack, _state.entered = None, False


@contextlib.contextmanager
def _x64_on_import():
    """JAX_ENABLE_X64=1 while the block runs; if JAX was imported in it, its global x64
    setting goes back to what the variable said before (off when unset)."""
    saved = os.environ.get("JAX_ENABLE_X64")
    os.environ["JAX_ENABLE_X64"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("JAX_ENABLE_X64", None)
        else:
            os.environ["JAX_ENABLE_X64"] = saved
        if "jax" in sys.modules:
            user = (saved or "").strip().lower() in ("1", "true", "yes", "on")
            sys.modules["jax"].config.update("jax_enable_x64", user)


def scoped(fn):
    """Decorate an hjdsl entry point (or a returned function) to run inside `float64()`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with float64():
            return fn(*args, **kwargs)

    return wrapper


def jit64(fn, **options):
    """`jax.jit(fn, **options)` for a kernel that is built once and cached: every call switches
    float64 on for its caller (`jax_x64`) before dispatching.

    A cached kernel outlives the scope that built it. Called later with x64 off, JAX would run it
    in float32 and, mixing its thread-local and global x64 settings, can even hand a float64
    buffer to the float32 executable (RuntimeProgramInputMismatch)."""
    jitted = jax_x64().jit(fn, **options)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        jax_x64()
        return jitted(*args, **kwargs)

    call.lower = jitted.lower  # keep the jitted function's inspection API
    return call
