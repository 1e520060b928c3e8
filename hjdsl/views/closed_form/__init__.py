"""Closed-form views, evaluated in JAX float64 chunk by chunk.

`lse` holds the shared log-sum-exp kernels; `network` (the LSE layer), `hopf_cole` (the viscous
solution from the atomic costs), `tropical` (ε = 0: max-plus and Hopf–Lax) and `pde` (the
autodiff residual) import those kernels and never each other's internals. `embed` packs them as
jitted functions for use outside hjdsl (`Model.to_jax()`).
"""
