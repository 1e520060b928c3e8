"""The solve result: one builder for the Dataset (map, convex) or DataTree (svi, nuts); load_fit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hjdsl.errors import DataError
from hjdsl.fit import metrics, quality

# Equal-tailed credible band reported for sampling methods (ArviZ's default mass).
BAND = 0.94


@dataclass(frozen=True)
class FitData:
    """The observations a fit used: training part and (with a split) the held-out part."""

    x: np.ndarray
    value: np.ndarray
    train: np.ndarray   # boolean mask over the data
    source: str

    @property
    def x_train(self):
        return self.x[self.train]

    @property
    def v_train(self):
        return self.value[self.train]


def build_result(model, outcome, data: FitData, eps: float, pm=None, prior_draws: int = 0):
    """Turn a runner's FitOutcome into the result of `solve` (Dataset or DataTree); a tree gets
    the `prior` and `prior_predictive` groups when `prior_draws` > 0."""
    import xarray as xr

    from hjdsl.results import stamp

    quantity = model.observe.quantity if model.observe is not None else "f"
    p = outcome.params
    y, g = np.asarray(p["y"], dtype=float), np.asarray(p["g"], dtype=float)
    eps_hat = float(p.get("eps", eps))
    t, ham = float(model.t), model.hamiltonian
    n_atoms, d = y.shape
    x_eval = np.asarray(model.evaluate, dtype=float)

    def predict(xs):
        return metrics.predict(quantity, xs, y, g, eps_hat, t, ham)

    coords = {"particle": np.arange(n_atoms), "dim": np.arange(d), "point": np.arange(len(x_eval))}
    root = xr.Dataset(coords=coords)
    root["y_hat"] = (("particle", "dim"), y)
    root["g_hat"] = ("particle", g)
    for name, (dims, values, description) in outcome.arrays.items():
        root[name] = (dims, values)
        root[name].attrs["description"] = description
    root["x"] = (("point", "dim"), x_eval)
    root["prediction"] = ("point", predict(x_eval))
    root["prediction"].attrs["description"] = f"{quantity} at the evaluation points from (y_hat, g_hat)"
    summary = {"method": outcome.method, "eps": eps_hat, "quantity": quantity,
               "final_loss": outcome.final_loss}
    for name in ("sigma", "nu", "eps"):
        if pm is not None and name in pm.priors:
            root[f"{name}_hat"] = ((), float(p[name]))
    if outcome.loss is not None:
        root["loss"] = ("step", np.asarray(outcome.loss, dtype=float))
        root = root.assign_coords(step=np.arange(len(outcome.loss)))
        root["loss"].attrs["description"] = {"map": "negative log joint density (Adam steps)",
                                             "svi": "negative ELBO"}.get(outcome.method, "loss")
    residual = predict(data.x_train) - data.v_train
    fit_mse = float(np.mean(residual ** 2))
    root["fit_mse"] = ((), fit_mse)
    summary["fit_mse"] = fit_mse
    if not np.all(data.train):
        held = ~data.train
        summary["heldout_mse"] = float(np.mean((predict(data.x[held]) - data.value[held]) ** 2))
        root["heldout_mse"] = ((), summary["heldout_mse"])
    weights = metrics.influence(data.x_train, y, g, eps_hat, t, ham).mean(axis=0)
    root["influence"] = ("particle", weights)
    root["influence"].attrs["description"] = "mean attribution of each atom over the training data"
    figures, warnings = quality.assess(model, y, weights, data.x_train, data.v_train, residual,
                                       _noise_sd(model, p), eps_hat)
    summary.update(figures)
    truth = model.data.truth if model.data is not None else None
    g_true = metrics.truth_values(truth, y, model)
    if g_true is not None:
        root["g_true"] = ("particle", g_true)
        summary["deviation"] = metrics.influence_deviation(weights, g, g_true)
        root["deviation"] = ((), summary["deviation"])
    observed = xr.Dataset(coords={"datum": np.arange(len(data.value)), "dim": np.arange(d)})
    observed["x_data"] = (("datum", "dim"), data.x)
    observed["obs"] = ("datum", data.value)
    observed["is_train"] = ("datum", data.train.astype(bool))
    attrs = {**summary, **_flat_info(outcome.info), "data_source": data.source,
             "n_data": len(data.value), "n_train": int(data.train.sum()),
             "warnings": " | ".join(list(outcome.warnings) + warnings)}
    if outcome.samples is None:
        root = root.merge(observed)
        return stamp(root, model, **attrs)
    return _tree(model, root, observed, outcome, pm, x_eval, attrs, data, prior_draws)


def _noise_sd(model, params) -> float:
    """The noise sd the likelihood states at the fitted (or fixed) sigma and nu; inf if none."""
    obs = model.observe
    sigma = params.get("sigma", None if obs is None or hasattr(obs.scale, "family") else obs.scale)
    if obs is None or sigma is None:
        return float("inf")
    nu = params.get("nu", obs.df if obs.df is not None and not hasattr(obs.df, "family") else 4.0)
    return quality.likelihood_sd(obs.likelihood, float(sigma), float(nu))


def _tree(model, root, observed, outcome, pm, x_eval, attrs, data, prior_draws=0):
    """Sampling methods: root summary + ArviZ's groups (posterior, log_likelihood,
    posterior_predictive, observed_data, sample_stats; prior, prior_predictive on request)
    + diagnostics."""
    import xarray as xr

    from hjdsl.fit.arviz_groups import observation_groups, prior_groups
    from hjdsl.fit.infer import predict
    from hjdsl.results import describe_tree, stamp

    samples = outcome.samples
    chains, draws = next(iter(samples.values())).shape[:2]
    flat = {k: v.reshape((chains * draws,) + v.shape[2:]) for k, v in samples.items()}
    pred = predict(pm, flat, x_eval).reshape(chains, draws, -1)
    lo, hi = np.quantile(pred, [(1 - BAND) / 2, (1 + BAND) / 2], axis=(0, 1))
    root["prediction_mean"] = ("point", pred.mean(axis=(0, 1)))
    root["prediction_lower"] = ("point", lo)
    root["prediction_upper"] = ("point", hi)
    root["prediction_lower"].attrs["description"] = f"{(1 - BAND) / 2:.0%} posterior quantile"
    root["prediction_upper"].attrs["description"] = f"{(1 + BAND) / 2:.0%} posterior quantile"
    site_dims = {"y": ("particle", "dim"), "g": ("particle",)}
    post = xr.Dataset(coords={"chain": np.arange(chains), "draw": np.arange(draws)})
    for name, value in samples.items():
        post[name] = (("chain", "draw") + site_dims.get(name, ()), value)
    post["prediction"] = (("chain", "draw", "point"), pred)
    groups = {"/": stamp(root, model, band=BAND, **attrs), "posterior": post,
              **observation_groups(pm, flat, data, chains, draws, outcome.info.get("seed", 0)),
              "observed_data": observed[["obs"]],
              # ArviZ's group for what the model conditions on but does not model (not
              # observed_data: az.plot_ppc would look for replicates of every variable there)
              "constant_data": observed[["x_data", "is_train"]]}
    if prior_draws:
        groups.update(prior_groups(pm, data, x_eval, prior_draws, outcome.info.get("seed", 0)))
    if outcome.sample_stats is not None:
        groups["sample_stats"] = xr.Dataset(
            {k: (("chain", "draw"), np.asarray(v)) for k, v in outcome.sample_stats.items()},
            coords={"chain": np.arange(chains), "draw": np.arange(draws)})
    if "r_hat" in outcome.info:
        diag = xr.Dataset()
        for name in samples:
            dims = site_dims.get(name, ())
            for kind in ("r_hat", "ess_bulk", "ess_tail"):
                diag[f"{kind}_{name}"] = (dims, outcome.info[kind][name])
        diag.attrs["estimators"] = outcome.info["diagnostics"]
        groups["diagnostics"] = diag
    return describe_tree(xr.DataTree.from_dict(groups))


def _flat_info(info: dict) -> dict:
    out = {}
    for key, value in info.items():
        if key in ("r_hat", "ess_bulk", "ess_tail"):
            continue
        if isinstance(value, dict):
            out.update({f"{key}_{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def root_of(result):
    """The root Dataset of a result (a Dataset is its own root)."""
    return result.to_dataset() if hasattr(result, "to_dataset") and hasattr(result, "children") \
        else result


def write_result(result, path) -> None:
    """Write a Dataset or DataTree atomically (netCDF4 via h5netcdf; groups for a DataTree)."""
    from hjdsl.output import write_dataset

    write_dataset(result, path)


def load_fit(path) -> tuple[np.ndarray, np.ndarray]:
    """(y_hat (N, d), g_hat (N,)) from a solve result file's root group.

    >>> y, g = load_fit("fit.nc")  # doctest: +SKIP
    """
    import xarray as xr

    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except (OSError, ValueError) as exc:
        raise DataError.single(f"cannot read the fit {path}: {exc}", code="D101") from None
    with ds:
        missing = [v for v in ("y_hat", "g_hat") if v not in ds]
        if missing:
            raise DataError.single(f"{path} is not a solve result: no {', '.join(missing)}",
                                   hint="write one with `hjdsl solve SPEC -o FIT.nc`", code="D102")
        return np.asarray(ds["y_hat"].values, dtype=float), np.asarray(ds["g_hat"].values, dtype=float)
