"""The solve driver: settings, data, split and ε, then one runner, then the result builder."""

from __future__ import annotations

import dataclasses

import numpy as np

from hjdsl.errors import DataError, Diagnostic, UsageError, run_error
from hjdsl.fit.budget import verify_memory, verify_settings
from hjdsl.fit.results import FitData, build_result

METHODS = ("map", "svi", "nuts", "convex", "hopf_lax")
# The view label each method needs from the Hamiltonian (`ham.exactness(view)`).
METHOD_VIEWS = {"map": "fit_probabilistic", "svi": "fit_probabilistic",
                "nuts": "fit_probabilistic", "convex": "fit_convex", "hopf_lax": "fit_hopf_lax"}
SETTINGS = ("steps", "lr", "restarts", "seed", "polish", "chains", "warmup", "draws")
MIN_POINTS = 2
# Methods whose result is a tree of ArviZ groups, so it can hold the prior groups too.
SAMPLING = ("svi", "nuts")


def solve(model, method: str | None = None, data=None, **options):
    """Fit the initial data of `model` to its observations.

    `data`: None (the spec's data), an `(x, value)` pair, or a CSV / NetCDF path read with the
    spec's column mapping. Options: steps, lr, restarts, seed, polish (map); chains, warmup, draws
    (nuts); draws (svi posterior draws); eps (the ε to fit at); quiet (no progress bar);
    prior_draws (svi, nuts: that many draws in the `prior` and `prior_predictive` groups; 0 off).

    >>> ds = model.solve(method="map", steps=4000, lr=0.01, restarts=3, seed=0)  # doctest: +SKIP
    >>> ds["g_hat"].values                                                        # doctest: +SKIP
    """
    quiet = bool(options.pop("quiet", True))
    eps_option = options.pop("eps", None)
    prior_draws = options.pop("prior_draws", None)
    unknown = set(options) - set(SETTINGS)
    if unknown:
        raise UsageError.single(f"unknown solve option(s): {', '.join(sorted(unknown))}",
                                hint="options: " + ", ".join(SETTINGS + ("eps", "prior_draws",
                                                                         "quiet")),
                                code="U101")
    settings = dataclasses.replace(model.fit, **{k: v for k, v in options.items() if v is not None})
    verify_settings(settings)
    method = method or settings.method
    if method not in METHODS:
        raise UsageError.single(f"unknown method {method!r}", hint="choose one of " + ", ".join(METHODS),
                                code="U102")
    prior_draws = verify_prior_draws(prior_draws, method)
    verify_hamiltonian(model, method)
    fit_data = resolve_data(model, data)
    x, v = fit_data.x_train, fit_data.v_train
    verify_memory(model, method, settings, len(v))
    if prior_draws:
        from hjdsl.fit.arviz_groups import verify_prior_memory
        from hjdsl.fit.budget import n_parameters

        verify_prior_memory(prior_draws, len(fit_data.value) + len(model.evaluate),
                            n_parameters(model))
    if method == "hopf_lax":
        from hjdsl.fit.hopf_lax_fit import run_hopf_lax

        outcome, pm, eps = run_hopf_lax(model, x, v, eps_option), None, 0.0
    elif method == "convex":
        outcome, pm = _convex(model, x, v, eps_option), None
        eps = outcome.params["eps"]
    else:
        eps = choose_eps(model, eps_option, method)
        from hjdsl.fit import infer
        from hjdsl.fit.bayes import build

        pm = build(model, eps=eps)
        outcome = infer.run_map(model, pm, x, v, steps=settings.steps, lr=settings.lr,
                                restarts=settings.restarts, seed=settings.seed,
                                polish=settings.polish, eps=eps, quiet=quiet)
        start = {k: outcome.params[k] for k in pm.priors}
        if method == "svi":
            outcome = infer.run_svi(model, pm, x, v, steps=settings.steps, lr=settings.lr,
                                    seed=settings.seed, draws=settings.draws, start=start,
                                    quiet=quiet)
        elif method == "nuts":
            outcome = infer.run_nuts(model, pm, x, v, chains=settings.chains,
                                     warmup=settings.warmup, draws=settings.draws,
                                     seed=settings.seed, start=start, quiet=quiet)
    return build_result(model, outcome, fit_data, eps, pm, prior_draws)


def verify_prior_draws(value, method: str) -> int:
    """The number of prior draws asked for (0 = none): an integer in [0, 2³¹ − 1] (U103), and
    only for svi / nuts (U109): a map or convex result is one Dataset of point estimates, with no
    ArviZ groups to add the prior to, so asking there is refused rather than silently dropped."""
    from hjdsl.fit.budget import MAX_COUNT, _is_int

    if value is None or (_is_int(value) and value == 0):
        return 0
    if not _is_int(value) or not 0 <= value <= MAX_COUNT:
        raise UsageError.single(f"--prior-draws must be an integer from 0 (none) to {MAX_COUNT:,}, "
                                f"got {value!r}", code="U103")
    if method not in SAMPLING:
        raise UsageError.single(f"--prior-draws is for the sampling methods; --method {method} "
                                "gives point estimates, with no ArviZ groups to add the prior to",
                                hint="use --method svi or nuts, or drop --prior-draws", code="U109")
    return int(value)


def verify_hamiltonian(model, method: str = "map") -> None:
    """Raise the one "cannot fit" error (F002) when the Hamiltonian's label for `method`'s view
    is "none": the message gives the Hamiltonian's own reason, the hint only methods that fit it.
    Every method (and the generated numpyro code, as map) asks here, so the hints agree."""
    ham = model.hamiltonian
    label = ham.exactness(METHOD_VIEWS[method])
    if label.label != "none":
        return
    able = [m for m in METHODS if ham.exactness(METHOD_VIEWS[m]).label != "none"]
    if able:
        hint = "methods that fit H(p) = " + ham.text + ": " + ", ".join(
            f"--method {m}" + (METHOD_NOTES.get(m, "")) for m in able)
    else:
        hint = f"give y and g and study H(p) = {ham.text} with `hjdsl compare`"
    raise UsageError.single(f"--method {method} cannot fit H(p) = {ham.text}: {label.reason}",
                            hint=hint, code="F002")


# What a user must know about a method when a hint sends them to it.
METHOD_NOTES = {"hopf_lax": " (eps = 0, fixed atoms, g learned)"}


def choose_eps(model, eps, method: str) -> float:
    """The ε a probabilistic fit runs at: the option, else the spec's single value, else the
    smallest ε > 0 of the sweep. A learned ε starts at the spec's value. ε = 0 is not smooth: the
    convex method fits it."""
    if eps is None:
        values = np.asarray(model.eps, dtype=float)
        positive = values[values > 0]
        eps = values[0] if values.size == 1 or positive.size == 0 else positive.min()
    eps = float(np.ravel(eps)[0])
    if not np.isfinite(eps) or eps < 0:
        raise UsageError.single(f"--eps must be finite and ≥ 0, got {eps}", code="U104")
    if eps == 0:
        hint = ("use --method convex (max-affine regression at eps = 0)" if model.particles.learned
                else "use --method hopf_lax (fixed atoms at eps = 0, through the Hopf–Lax value), "
                     "or fit at a small eps > 0")
        raise UsageError.single(f"--method {method} needs eps > 0 (the LSE likelihood is smooth only "
                                "for eps > 0)", hint=hint, code="U105")
    return eps


def _convex(model, x, v, eps):
    """The colleague's convex fit (hjdsl.fit.convex_fit); it picks ε itself unless one is given
    (free atoms: ε = 0 max-affine regression; fixed atoms: the Hopf–Cole program at ε > 0)."""
    from hjdsl.fit.infer import FitOutcome

    try:
        from hjdsl.fit.convex_fit import fit_convex
    except ImportError:
        raise run_error("--method convex is not yet available in this build of hjdsl",
                        hint="use --method map, svi or nuts") from None
    fit = fit_convex(model, x, v, **({} if eps is None else {"eps": float(eps)}))
    info = {"solver": fit.solver, "formulation": fit.formulation, "status": fit.status,
            "certificate": dict(fit.certificate)}
    return FitOutcome("convex", {"y": np.asarray(fit.y, float).reshape(-1, model.dim),
                                 "g": np.asarray(fit.g, float), "eps": float(fit.eps)},
                      float("nan"), info=info)


def resolve_data(model, data) -> FitData:
    """The observations (validated) and the train mask of the spec's split."""
    if data is None:
        if model.data is None:
            raise DataError.single("the spec declares no data to fit",
                                   hint="add a `data ...` declaration or pass --data PATH",
                                   code="D001")
        x, value, source = model.data.x, model.data.value, model.data.path or model.data.source
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, value, source = data[0], data[1], "arguments"
    else:
        from hjdsl.fit.datafile import read_observations

        x, value = read_observations(model, data)
        source = str(data)
    x, value = validate(model, x, value, source)
    train = np.ones(len(value), dtype=bool)
    split = model.observe.split if model.observe is not None else None
    if split is not None and split.test > 0:
        order = np.random.default_rng(split.seed).permutation(len(value))
        n_test = int(round(split.test * len(value)))
        train[order[:n_test]] = False
        if train.sum() < MIN_POINTS or n_test < 1:
            raise DataError.single(f"{source}: the split leaves {train.sum()} training and {n_test} "
                                   f"test points; need ≥ {MIN_POINTS} and ≥ 1", code="D006")
    return FitData(x, value, train, source)


def validate(model, x, value, source: str):
    """(x (n, d), value (n,)) as float arrays; a DataError for bad shapes or values."""
    x = np.asarray(x, dtype=float)
    value = np.asarray(value, dtype=float).reshape(-1)
    if x.ndim == 1:
        x = x[:, None] if model.dim == 1 else x[None, :]
    problems = []
    if x.ndim != 2 or x.shape[1] != model.dim:
        problems.append(f"x has dimension {x.shape[-1] if x.ndim else 0}, the spec declares dim {model.dim}")
    elif x.shape[0] != value.shape[0]:
        problems.append(f"{x.shape[0]} x rows but {value.shape[0]} values")
    if value.shape[0] < MIN_POINTS:
        problems.append(f"too few points: {value.shape[0]} (need at least {MIN_POINTS})")
    for name, arr in (("x", x), ("value", value)):
        bad = ~np.isfinite(arr)
        if bad.any():
            rows = np.unique(np.nonzero(bad)[0])[:5] + 1
            problems.append(f"{name} has {int(bad.sum())} NaN/inf entries (rows {', '.join(map(str, rows))})")
    if problems:
        raise DataError(tuple(Diagnostic("error", f"{source}: {p}", code="D002") for p in problems))
    return x, value
