"""ArviZ's side of a sampling result: its convergence diagnostics, per-observation and prior groups."""

from __future__ import annotations

import warnings

import numpy as np

from hjdsl.errors import UsageError
from hjdsl.model.limits import over_memory

# The observed site of the generated numpyro model: ArviZ names log_likelihood and
# posterior_predictive variables after it, and observed_data holds it under the same name.
OBSERVED = "obs"
# What the result says about the reported r_hat / ess (ArviZ's estimators, Vehtari et al. 2021).
ESTIMATORS = "ArviZ's rank-normalised split r_hat, ess_bulk and ess_tail"


def _arviz():
    """arviz, imported without its once-a-day notice about a coming refactor (a FutureWarning on
    import): it is about arviz's own future API, not about this result, and it would land in the
    middle of hjdsl's report the first time each day."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*ArviZ is undergoing", category=FutureWarning)
        import arviz as az
    return az


def diagnostics(samples: dict) -> dict:
    """{"r_hat", "ess_bulk", "ess_tail"} -> site -> array, computed by arviz itself, so they equal
    az.rhat / az.ess(method="bulk" | "tail") on the written posterior."""
    import xarray as xr

    az = _arviz()

    ds = xr.Dataset({name: (("chain", "draw") + tuple(f"{name}_dim_{i}" for i in range(v.ndim - 2)), v)
                     for name, v in samples.items()})
    # a chain that never moved has zero variance: its r_hat / ess are NaN, reported as not mixed
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        found = {"r_hat": az.rhat(ds), "ess_bulk": az.ess(ds, method="bulk"),
                 "ess_tail": az.ess(ds, method="tail")}
    return {kind: {name: np.asarray(ds_[name].values, dtype=float) for name in samples}
            for kind, ds_ in found.items()}


def observation_groups(pm, flat: dict, data, chains: int, draws: int, seed: int) -> dict:
    """`log_likelihood` (per training observation: the data the posterior conditions on) and
    `posterior_predictive` (one replicate per draw at every observation, like `observed_data`),
    both with the variable `obs` and dims (chain, draw, datum)."""
    import jax
    import jax.numpy as jnp
    import xarray as xr

    from hjdsl.fit.infer import predict

    n_data, n_train = len(data.value), int(np.sum(data.train))
    message = over_memory(8 * chains * draws * (2 * n_data + n_train),
                          "the log-likelihood and posterior predictive draws (draws × data)")
    if message:
        raise UsageError.single(message, hint="use fewer --draws or --chains", code="U107")
    mean = predict(pm, flat, data.x)                           # (chains * draws, n_data)
    noise = {k: _per_draw(v, len(mean)) for k, v in {**pm.fixed, **flat}.items()
             if k in ("sigma", "nu")}
    law = pm.observation(jnp.asarray(mean), noise)
    log_lik = np.asarray(law.log_prob(jnp.asarray(data.value)))[:, data.train]
    replicate = np.asarray(law.sample(jax.random.fold_in(jax.random.PRNGKey(seed), 1)))
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    dims = ("chain", "draw", "datum")
    ll = xr.Dataset({OBSERVED: (dims, log_lik.reshape(chains, draws, n_train))},
                    coords={**coords, "datum": np.flatnonzero(data.train)})
    ll[OBSERVED].attrs["description"] = "pointwise log-likelihood of each training observation"
    pp = xr.Dataset({OBSERVED: (dims, replicate.reshape(chains, draws, n_data))},
                    coords={**coords, "datum": np.arange(n_data)})
    pp[OBSERVED].attrs["description"] = "a replicate of each observation drawn from the likelihood"
    return {"log_likelihood": ll, "posterior_predictive": pp}


def _per_draw(value, n_draws: int):
    """A scalar site as a column over draws (broadcasts against the (draws, data) means)."""
    import jax.numpy as jnp

    value = np.asarray(value, dtype=float)
    return jnp.asarray(value.reshape(n_draws, 1) if value.size == n_draws and value.ndim else value)


def verify_prior_memory(n_draws: int, n_data: int, n_values: int) -> None:
    """Raise a UsageError (U107) if `n_draws` prior draws of `n_values` learned scalars and the
    `obs` replicate at `n_data` points (kept twice: jax's arrays and the Dataset's) would not fit."""
    message = over_memory(2 * 8 * n_draws * (n_data + n_values),
                          "the prior and prior predictive draws (prior draws × data)")
    if message:
        raise UsageError.single(message, hint="use fewer --prior-draws", code="U107")


def prior_groups(pm, data, x_eval, n_draws: int, seed: int) -> dict:
    """`prior` (every learned site drawn from its prior, and `prediction` at the evaluation
    points) and `prior_predictive` (`obs` at every data point under those draws), drawn by
    numpyro's Predictive from the fit's own model, dims (chain = 1, draw, ...)."""
    import jax
    import jax.numpy as jnp
    import xarray as xr
    from numpyro.infer import Predictive

    n_data, n_eval = len(data.value), len(x_eval)
    n_values = sum(int(np.prod(p.batch_shape + p.event_shape)) for p in pm.priors.values())
    verify_prior_memory(n_draws, n_data + n_eval, n_values)
    # its own stream of the fit's seed: the posterior predictive replicates use fold_in(…, 1)
    key = jax.random.fold_in(jax.random.PRNGKey(seed), 2)
    drawn = Predictive(pm.fn, num_samples=n_draws)(key, jnp.asarray(data.x),
                                                   x_eval=jnp.asarray(x_eval))
    site_dims = {"y": ("particle", "dim"), "g": ("particle",), "prediction": ("point",)}
    coords = {"chain": np.arange(1), "draw": np.arange(n_draws)}
    prior = xr.Dataset(coords=coords)
    for name in list(pm.priors) + ["prediction"]:
        value = np.asarray(drawn[name], dtype=float)
        prior[name] = (("chain", "draw") + site_dims.get(name, ()), value[None])
    prior["prediction"].attrs["description"] = "the likelihood mean at the evaluation points"
    pp = xr.Dataset({OBSERVED: (("chain", "draw", "datum"),
                                np.asarray(drawn[OBSERVED], dtype=float)[None])},
                    coords={**coords, "datum": np.arange(n_data)})
    pp[OBSERVED].attrs["description"] = "a replicate of each observation under a prior draw"
    return {"prior": prior, "prior_predictive": pp}
