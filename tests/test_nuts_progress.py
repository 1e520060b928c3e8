"""NUTS shows its progress while the chains move (warm-up and draws, block by block), and the
chains it draws are numpyro's own: bit for bit those of MCMC(chain_method="vectorized")."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import hjdsl
import hjdsl.progress
from hjdsl.fit.infer import NUTS_STATS, nuts_chains
from hjdsl.jaxsetup import float64

SPEC = """
model nuts_progress
dim 1
viscosity eps = 0.3
hamiltonian H(p) = |p|^2
particles y = [-1, 0, 1]
initial g ~ normal(0, 2)
data synthetic n = 12 seed = 2 {
  x ~ uniform(-1.5, 1.5)
  truth y = [-1, 0, 1]
  truth g(y) = 0.5 * abs(y)
  value = network(x, 0.3)
  noise = 0.05
}
observe f ~ normal(sigma = 0.05)
evaluate x = grid(-1.5, 1.5, 5)
"""


@pytest.fixture
def bars(monkeypatch):
    """Record every bar opened: [description, total, enabled, advanced, number of advances]."""
    seen = []

    @contextlib.contextmanager
    def recording(description, total, enabled=True):
        bar = [description, total, enabled, 0, 0]
        seen.append(bar)

        def advance(n=1):
            bar[3] += n
            bar[4] += 1
        yield advance

    monkeypatch.setattr(hjdsl.progress, "progress", recording)
    return seen


# Both bar tests run the same fit, so the second reads its compiled programs from JAX's cache.
RUN = dict(method="nuts", chains=2, warmup=60, draws=80, seed=1, steps=50)


def test_warmup_and_draws_advance_in_many_steps(bars):
    hjdsl.parse(SPEC).solve(**RUN, quiet=False)
    nuts = [b for b in bars if b[0].startswith("nuts")]
    assert [b[0] for b in nuts] == ["nuts warm-up (2 chains, vectorised)",
                                    "nuts draws (2 chains, vectorised)"]
    for bar, total in zip(nuts, (60, 80)):
        assert bar[1] == total and bar[3] == total   # every step counted, none twice
        assert bar[4] >= 10                          # many small advances, not one jump
        assert bar[2]


def test_quiet_disables_the_nuts_bars(bars):
    hjdsl.parse(SPEC).solve(**RUN, quiet=True)
    assert bars and not any(b[2] for b in bars)


@pytest.mark.parametrize("chains", [1, 3])
def test_chains_are_numpyros_own_bit_for_bit(chains):
    """The same kernel driven by numpyro's MCMC (warm-up, then run from the post-warm-up state)
    gives identical draws and identical sampler statistics."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS
    from numpyro.infer.initialization import init_to_value

    def regression(x, v):
        a = numpyro.sample("a", dist.Normal(0.0, 1.0))
        s = numpyro.sample("s", dist.HalfNormal(1.0))
        numpyro.sample("obs", dist.Normal(a * x, s), obs=v)

    def kernel():
        return NUTS(regression, init_strategy=init_to_value(values={"a": 0.1, "s": 0.5}))

    with float64():
        x = jnp.linspace(-1.0, 1.0, 20)
        v = 0.7 * x + 0.1 * jnp.sin(7.0 * x)
        ours, extra = nuts_chains(kernel(), (x, v), chains=chains, warmup=30, draws=25, seed=3)
        mcmc = MCMC(kernel(), num_warmup=30, num_samples=25, num_chains=chains,
                    chain_method="vectorized", progress_bar=False)
        mcmc.warmup(jax.random.PRNGKey(3), x, v, extra_fields=tuple(NUTS_STATS))
        mcmc.run(mcmc.post_warmup_state.rng_key, x, v, extra_fields=tuple(NUTS_STATS))
        theirs = mcmc.get_samples(group_by_chain=True)
        their_extra = mcmc.get_extra_fields(group_by_chain=True)
    assert set(ours) == {"a", "s"}
    for site in ours:
        assert ours[site].shape == (chains, 25)
        np.testing.assert_array_equal(ours[site], np.asarray(theirs[site]))
    for name in NUTS_STATS:
        np.testing.assert_array_equal(extra[name], np.asarray(their_extra[name]))
    assert np.unique(ours["a"]).size > 5   # the chains moved


@pytest.mark.parametrize("warmup, draws, lengths", [
    (500, 1000, 1), (300, 400, 1), (60, 80, 1), (100, 100, 1), (3, 30, 1), (1, 1, 1),
    (501, 1000, 3), (997, 1000, 3), (7, 1000, 2),
])
def test_blocks_cover_each_phase_with_few_compiled_lengths(warmup, draws, lengths):
    """Each distinct block length compiles the NUTS step again: a divisor of both phases near
    the target size gives one (500 + 1,000 used to take three: 37, 19 and 1)."""
    from hjdsl.fit.infer import BLOCKS, _block_size, _blocks_of

    size = _block_size(warmup, draws)
    blocks = {phase: _blocks_of(phase, size) for phase in (warmup, draws)}
    for steps, parts in blocks.items():
        assert sum(parts) == steps and min(parts) >= 1   # every step once
    assert len({n for parts in blocks.values() for n in parts}) == lengths
    target = max(1, (warmup + draws) // (2 * BLOCKS))
    assert target / 2 <= size <= target                  # the bar still advances in many steps
