"""The numpyro model generated from the IR: priors on what is learned, an LSE likelihood."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from hjdsl.errors import Diagnostic, SpecError

# Prior families (hjdsl.model.distributions) -> numpyro distribution class name and the order
# of the canonical parameters it takes. One table; a missing family is a SpecError, not KeyError.
PRIOR_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "normal": ("Normal", ("loc", "scale")),
    "half_normal": ("HalfNormal", ("scale",)),
    "lognormal": ("LogNormal", ("loc", "scale")),
    "uniform": ("Uniform", ("low", "high")),
    "student_t": ("StudentT", ("df", "loc", "scale")),
    "laplace": ("Laplace", ("loc", "scale")),
    "exponential": ("Exponential", ("rate",)),
    "half_cauchy": ("HalfCauchy", ("scale",)),
}

# Likelihood name -> numpyro class; the mean is the LSE prediction, the scale is σ.
LIKELIHOODS = {"normal": "Normal", "student_t": "StudentT", "laplace": "Laplace"}


def prior_distribution(prior, shape: tuple[int, ...] = ()):
    """A numpyro distribution for an IR `Prior`, batched to `shape` as one event.

    >>> from hjdsl.model.ir import Prior
    >>> prior_distribution(Prior("normal", {"loc": 0.0, "scale": 1.0}), (3,)).event_shape
    (3,)
    """
    import numpyro.distributions as dist

    if prior.family not in PRIOR_FAMILIES:
        raise SpecError((Diagnostic("error", f"the fit does not support the prior `{prior.family}`",
                                    prior.span, "supported: " + ", ".join(PRIOR_FAMILIES), "F001"),))
    cls_name, names = PRIOR_FAMILIES[prior.family]
    missing = [n for n in names if n not in prior.params]
    if missing:
        raise SpecError.single(f"prior `{prior.family}` is missing parameter(s) {', '.join(missing)}",
                               prior.span, code="F001")
    base = getattr(dist, cls_name)(*(float(prior.params[n]) for n in names))
    if not shape:
        return base
    return base.expand(shape).to_event(len(shape))


@dataclass(frozen=True)
class ProbModel:
    """The generated model and what a runner needs to know about it.

    `fn(x, value=None, x_eval=None)` is an ordinary numpyro model. `priors` maps each learned
    site (y, g, sigma, nu, eps) to its prior distribution; `fixed` holds the values of the sites
    that are not learned. `forward(params, x)` is the mean of the likelihood (f or u) at x, and
    `observation(mean, params)` the likelihood's distribution of the observed site `obs` around it.
    """

    fn: Callable
    priors: Mapping[str, object]
    fixed: Mapping[str, object]
    forward: Callable
    quantity: str
    likelihood: str
    observation: Callable


def check_fittable(model) -> None:
    """Raise a SpecError if the LSE likelihood cannot be built for this model."""
    from hjdsl.fit.solve import verify_hamiltonian

    verify_hamiltonian(model)
    if model.observe is None:
        raise SpecError.single("nothing is observed: add an `observe f ~ normal(sigma = ...)` line",
                               code="F003")
    scale = model.observe.scale
    if not hasattr(scale, "family") and not (np.isfinite(scale) and scale > 0):
        raise SpecError.single(f"the observation scale sigma must be positive, got {scale}",
                               model.observe.span, code="F004")


def nothing_to_fit(model, declare: str) -> SpecError:
    """F005: every initial datum is given. A layer read from a weights file says so (its
    declaration stands in for `particles` and `initial`, so `declare` alone would not fit)."""
    if model.particles.source == "weights":
        return SpecError.single(
            "nothing to fit: the `weights` file fixes the layer's W and b (its atoms and g)",
            model.particles.span, code="F005",
            hint="check, compare, attribute and bifurcate analyse it as it is; to fit g instead, "
                 "replace the `weights` line by `particles y = ...` and `initial g ~ normal(0, 1)`")
    return SpecError.single(f"nothing to fit: the initial data are given; declare {declare}",
                            model.initial.span, code="F005")


def build(model, eps: float | None = None) -> ProbModel:
    """Generate the numpyro model of `model` at viscosity `eps` (ignored when ε is learned)."""
    from hjdsl.jaxsetup import jax_x64

    jax = jax_x64()
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    check_fittable(model)
    obs = model.observe
    n_atoms, d = model.n_atoms, model.dim
    priors: dict[str, object] = {}
    fixed: dict[str, object] = {}
    if model.particles.learned:
        priors["y"] = prior_distribution(model.particles.prior, (n_atoms, d))
    else:
        fixed["y"] = np.asarray(model.y, dtype=float)
    if model.initial.learned:
        priors["g"] = prior_distribution(model.initial.prior, (n_atoms,))
    else:
        fixed["g"] = np.asarray(model.g, dtype=float)
    _scalar_site("sigma", obs.scale, priors, fixed)
    if obs.likelihood == "student_t":
        _scalar_site("nu", 4.0 if obs.df is None else obs.df, priors, fixed)
    if model.viscosity.learned:
        priors["eps"] = prior_distribution(model.viscosity.prior)
    else:
        fixed["eps"] = float(model.eps[0] if eps is None else eps)
    if not any(k in priors for k in ("y", "g")):
        raise nothing_to_fit(model, "`initial g ~ normal(0, 1)` (and optionally `particles y ~ ...`)")

    ainv = jnp.asarray(model.hamiltonian.inverse)
    t = float(model.t)
    quantity = obs.quantity

    def forward(params, x):
        """Mean of the likelihood at x: f_ε (network) or u_ε = xᵀA⁻¹x/(4t) − f_ε."""
        y, g, e = params["y"], params["g"], params["eps"]
        ay = y @ ainv
        w = ay / (2.0 * t)
        b = -g - jnp.sum(y * ay, axis=-1) / (4.0 * t)
        z = x @ w.T + b
        # max-shift (exp never overflows); f does not depend on m, so no gradient through it
        m = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
        f = m[..., 0] + e * jnp.log(jnp.sum(jnp.exp((z - m) / e), axis=-1))
        if quantity == "u":
            return jnp.sum((x @ ainv) * x, axis=-1) / (4.0 * t) - f
        return f

    def likelihood(mean, params):
        name = LIKELIHOODS[obs.likelihood]
        if name == "StudentT":
            return dist.StudentT(params["nu"], mean, params["sigma"])
        return getattr(dist, name)(mean, params["sigma"])

    def fn(x, value=None, x_eval=None):
        params = {k: numpyro.sample(k, p) for k, p in priors.items()}
        params.update({k: jnp.asarray(v) for k, v in fixed.items() if k not in params})
        mean = forward(params, x)
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("obs", likelihood(mean, params), obs=value)
        if x_eval is not None:
            numpyro.deterministic("prediction", forward(params, x_eval))

    return ProbModel(fn, priors, fixed, forward, quantity, obs.likelihood, likelihood)


def _scalar_site(name: str, spec, priors: dict, fixed: dict) -> None:
    if hasattr(spec, "family"):
        priors[name] = prior_distribution(spec)
    else:
        fixed[name] = float(spec)


def to_numpyro(model, eps: float | None = None):
    """The probabilistic model as an ordinary numpyro model function `fn(x, value, x_eval)`.

    >>> import dataclasses, numpy as np, numpyro
    >>> from hjdsl.model.ir import InitialData, Model, Observation, Prior
    >>> m = Model.from_atoms([[-1.0], [1.0]], [0.0, 0.0], eps=[0.5])
    >>> m = dataclasses.replace(m, observe=Observation("f", "normal", 0.1), initial=InitialData(
    ...     "learned", m.g, prior=Prior("normal", {"loc": 0.0, "scale": 1.0})))
    >>> fn = to_numpyro(m)
    >>> trace = numpyro.handlers.trace(numpyro.handlers.seed(fn, 0)).get_trace(np.zeros((3, 1)))
    >>> [(name, site["type"]) for name, site in trace.items()]
    [('g', 'sample'), ('data', 'plate'), ('obs', 'sample')]
    """
    return build(model, eps=eps).fn
