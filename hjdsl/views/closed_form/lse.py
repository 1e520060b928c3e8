"""The LSE kernels every closed-form view shares: max/min-shifted log-sum-exp, softmax weights,
their entropy, and the chunked evaluation over points (one place; no view imports another's).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

# Points per chunk are chosen so one chunk's (points × atoms) block holds about this many floats:
# big enough to keep the matrix product efficient, small enough to stay in cache-friendly memory.
CHUNK_ELEMENTS = 1 << 19


def _jnp():
    from hjdsl.jaxsetup import jax_x64

    jax_x64()
    import jax.numpy as jnp

    return jnp


def lse(z, eps):
    """ε log Σ_j exp(z_j/ε) over the last axis, max-shifted; ε = 0 gives max_j z_j.

    Written as max_j z_j + ε log1p(r), r = Σ_j exp((z_j − max)/ε) − 1 ≥ 0 summed without the 1
    (see `_gibbs_parts`), so f_ε ≥ f_0 always and f_ε − f_0 keeps its relative accuracy.
    Entries of z may be −inf (an atom that does not count); a row of only −inf gives −inf.
    Derivatives are the exact ones, ∂/∂z = π and ∂/∂ε = Ent(π), also at ties (a custom JVP).

    >>> float(lse(np.array([0.0, 0.0]), 1.0))  # log 2
    0.6931471805599453
    """
    jnp = _jnp()
    z = jnp.asarray(z)
    return _lse_with_jvp()(z, jnp.asarray(eps, dtype=z.dtype))


# A weight below this (an exponent below −1.39) is far from the top one: see `_gibbs_parts`.
NEAR_TOP = 0.25
# ε below the smallest normal float divides as that float (1/ε must stay finite); the weights
# are one-hot to every representable digit either way.
EPS_FLOOR = float(np.finfo(np.float64).tiny)


def _gibbs_parts(z, eps):
    """(m, a, w, s, rest, weighted) of the max-shifted Gibbs measure of logits z (last axis).

    m = max_j z_j (−inf for a row of only −inf), a_j = (z_j − m)/ε ≤ 0, w_j = e^{a_j}, s = Σ_j w_j,
    rest = s − 1 and weighted = Σ_j w_j·(−a_j), so that log s = log1p(rest) and
    Ent(π) = log1p(rest) + weighted/(1 + rest).

    Two hazards shape this. (1) When s < 1 + NEAR_TOP every atom but the top one has w_j < 0.25,
    far below the top's w = 1, so rest and weighted are summed over those far atoms alone (no
    1 + tiny − 1): tiny values keep full relative accuracy down to the smallest normal float.
    (2) XLA may evaluate z twice — inside the max and inside the exp — with different rounding
    (a fused multiply-add in only one of them); at tiny ε one ulp of z over ε overflows exp
    (s = inf) or underflows the top weight (s = 0), and finite values came out ±inf. So the
    exponent is clamped to ≤ 0 and nothing relies on the two evaluations agreeing: every result
    is within the round-off of z itself.
    """
    jnp = _jnp()
    # m stays differentiable: the far-atom sums below depend on it (through the top atom).
    m = jnp.max(z, axis=-1, keepdims=True)
    m_safe = jnp.where(jnp.isfinite(m), m, 0.0)  # a row of only −inf: all weights 0 below
    e = jnp.where(eps > 0, jnp.maximum(eps, EPS_FLOOR), 1.0)  # ε = 0 never divides (unused)
    raw = (z - m_safe) / e
    a = jnp.where(raw > 0, 0.0, raw)  # a select, not min: its derivative is 1 at the top atom
    w = jnp.exp(a)
    far = w < NEAR_TOP
    s = jnp.sum(w, axis=-1)
    terms = jnp.where(w > 0, w * -a, 0.0)  # w_j = 0 (a_j = −inf): the term is 0, not NaN
    small = s < 1.0 + NEAR_TOP
    rest = jnp.where(small, jnp.sum(jnp.where(far, w, 0.0), axis=-1), s - 1.0)
    weighted = jnp.where(small, jnp.sum(jnp.where(far, terms, 0.0), axis=-1),
                         jnp.sum(terms, axis=-1))
    return m[..., 0], a, w, s, rest, weighted


def _lse_forward(z, eps):
    jnp = _jnp()
    m, _, _, _, rest, _ = _gibbs_parts(z, eps)
    value = m + jnp.where(eps > 0, eps, 1.0) * jnp.log1p(rest)
    return jnp.where((eps > 0) & jnp.isfinite(m), value, m)


@functools.lru_cache(maxsize=None)
def _lse_with_jvp():
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    jnp = _jnp()
    fn = jax.custom_jvp(_lse_forward)

    @fn.defjvp
    def _jvp(primals, tangents):
        z, eps = primals
        dz, deps = tangents
        pi = jnp.nan_to_num(softmax_weights(z, eps))  # a row of only −inf: no tangent
        ent = jnp.nan_to_num(entropy_of_logits(z, eps))
        return _lse_forward(z, eps), jnp.sum(pi * dz, axis=-1) + ent * deps

    return fn


def softmax_weights(z, eps):
    """softmax(z/ε) over the last axis; ε = 0 gives the one-hot of the first maximiser.

    A row of only −inf (no atom counts) has no Gibbs measure: NaN.
    """
    jnp = _jnp()
    z = jnp.asarray(z)
    m, _, w, s, _, _ = _gibbs_parts(z, eps)
    hard = (jnp.arange(z.shape[-1]) == jnp.argmax(z, axis=-1)[..., None]).astype(z.dtype)
    # s = 0 only when round-off underflowed every weight: then the measure is the one-hot one
    soft = jnp.where(s[..., None] > 0, w / jnp.where(s > 0, s, 1.0)[..., None], hard)
    return jnp.where(jnp.isfinite(m)[..., None], jnp.where(eps > 0, soft, hard), jnp.nan)


def entropy_of_logits(z, eps):
    """Ent(π) = −Σ π_j log π_j of π = softmax(z/ε), from the logits (no log of an underflowed π).

    With log π_j = a_j − log s: Ent = log1p(rest) + Σ_j w_j·(−a_j)/(1 + rest), a sum of two
    non-negative terms (no cancellation), each with full relative accuracy down to the smallest
    normal float (see `_gibbs_parts`). A row of only −inf gives NaN.

    >>> float(entropy_of_logits(np.array([0.0, -40.0]), 1.0))  # ≈ 41·e^-40
    1.7418252446695514e-16
    """
    jnp = _jnp()
    m, _, _, _, rest, weighted = _gibbs_parts(jnp.asarray(z), eps)
    ent = jnp.log1p(rest) + weighted / (1.0 + rest)
    return jnp.where(jnp.isfinite(m), jnp.where(eps > 0, ent, 0.0), jnp.nan)


def chunk_size(n_atoms: int, d: int = 1) -> int:
    """Points per chunk for N atoms (a power of two, so few distinct shapes get compiled)."""
    target = max(CHUNK_ELEMENTS // max(n_atoms * max(d, 1), 1), 1)
    return int(min(max(1 << (target.bit_length() - 1), 16), 8192))


def map_chunks(fn: Callable, x: np.ndarray, chunk: int):
    """Apply a jitted `fn(points) -> pytree of arrays with the point axis first` chunk by chunk.

    Every call sees exactly `chunk` points (the last chunk is padded by repeating its last
    point), so `fn` compiles once; the outputs are concatenated and trimmed to len(x).
    """
    import jax

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        raise ValueError("no evaluation points")
    chunk = min(chunk, 1 << max(int(n - 1).bit_length(), 0))  # small inputs: a small chunk
    out = treedef = None
    for start in range(0, n, chunk):
        block = x[start:start + chunk]
        if block.shape[0] < chunk:
            pad = np.repeat(block[-1:], chunk - block.shape[0], axis=0)
            block = np.concatenate([block, pad])
        leaves, treedef = jax.tree_util.tree_flatten(jax.device_get(fn(block)))
        if out is None:
            # The outputs are allocated once at their full size and filled chunk by chunk, so
            # the result is held once (a list of pieces joined at the end would hold it twice).
            out = [np.empty((n, *np.shape(leaf)[1:]), dtype=np.asarray(leaf).dtype)
                   for leaf in leaves]
        stop = min(start + chunk, n)
        for full, leaf in zip(out, leaves):
            full[start:stop] = np.asarray(leaf)[: stop - start]
    return jax.tree_util.tree_unflatten(treedef, out)


def gibbs_numpy(z: np.ndarray, eps: float):
    """(f, π, Ent) of logits z (…, k), all finite, at one ε ≥ 0, in numpy: the twin of `lse`,
    `softmax_weights` and `entropy_of_logits` (the same max shift and far-atom sums, see
    `_gibbs_parts`) for the pruned views' small blocks, whose many shapes jit would recompile.
    At ε = 0, π is the one-hot of the first maximiser along the last axis and Ent = 0.

    >>> f, pi, ent = gibbs_numpy(np.array([0.0, 0.0]), 1.0)
    >>> float(f), pi.tolist(), float(ent)
    (0.6931471805599453, [0.5, 0.5], 0.6931471805599453)
    """
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=-1)
    if eps == 0:
        hard = (np.arange(z.shape[-1]) == np.argmax(z, axis=-1)[..., None]).astype(np.float64)
        return m, hard, np.zeros_like(m)
    with np.errstate(under="ignore"):
        a = np.minimum((z - m[..., None]) / max(float(eps), EPS_FLOOR), 0.0)
        w = np.exp(a)
    s = w.sum(axis=-1)
    terms = w * -a
    far = w < NEAR_TOP
    small = s < 1.0 + NEAR_TOP
    rest = np.where(small, np.where(far, w, 0.0).sum(axis=-1), s - 1.0)
    weighted = np.where(small, np.where(far, terms, 0.0).sum(axis=-1), terms.sum(axis=-1))
    log_s = np.log1p(rest)
    return m + eps * log_s, w / s[..., None], log_s + weighted / (1.0 + rest)
