"""Import JAX with float64 enabled; every module that needs JAX calls `jax_x64()` first."""

from __future__ import annotations

import os


def jax_x64():
    """Return the `jax` module with 64-bit floats on (hjdsl's default precision)."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax
