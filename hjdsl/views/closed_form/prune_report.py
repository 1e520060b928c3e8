"""The pruning certificate in the compare Dataset: per (ε, point) arrays and run attributes."""

from __future__ import annotations

import numpy as np


def prune_certificate(net: dict, hc: dict, n_atoms: int) -> dict:
    """The larger of two views' certificates (network and Hopf–Cole) per (ε, point).

    A view that ran dense has no certificate keys: nothing neglected, every atom evaluated.
    """
    shape = np.shape(net["f"] if "f" in net else net["u"])
    zeros = np.zeros(shape)

    def worst(key, default, combine=np.maximum):
        return combine(np.asarray(net.get(key, default)), np.asarray(hc.get(key, default)))

    return {"prune_neglected": worst("neglected", zeros),
            "prune_value_bound": worst("value_bound", zeros),
            "prune_support": worst("support", np.full(shape, n_atoms, dtype=np.int64)),
            "prune_pruned": worst("pruned", np.zeros(shape[0], bool), np.logical_or)}


def prune_variables(closed: dict, n_eps: int, n_points: int, n_atoms: int) -> dict:
    """The Dataset variables of the certificate (zeros and N where no view pruned)."""
    EP = ("eps", "point")
    shape = (n_eps, n_points)
    neglected = closed.get("prune_neglected", np.zeros(shape))
    return {
        "prune_neglected": (EP, neglected, {
            "long_name": "certified bound R on the Gibbs mass of the atoms pruned, relative to the "
                         "cheapest atom; also bounds |attribution - dense| (0: dense)"}),
        "prune_value_bound": (EP, closed.get("prune_value_bound", np.zeros(shape)), {
            "long_name": "eps log1p(R): bound on |network - dense| and |hopf_cole - dense| from "
                         "pruning"}),
        "prune_support": (EP, closed.get("prune_support",
                                         np.full(shape, n_atoms, dtype=np.int64)), {
            "long_name": "atoms evaluated at the point (all of them where dense)"}),
    }


def prune_attrs(pruning, closed: dict, eps) -> dict:
    """`pruning`: how the closed-form views ran; `prune_delta`: the certificate's δ."""
    from hjdsl.views.closed_form.prune import Pruning

    pruning = pruning or Pruning()
    pruned = np.asarray(closed.get("prune_pruned", np.zeros(len(eps), bool)), dtype=bool)
    if pruning.dense:
        text = "dense (exact_dense)"
    elif not pruned.any():
        text = "dense (the cost model found no eps where pruning pays)"
    else:
        at = ", ".join(f"{e:g}" for e in np.asarray(eps)[pruned])
        text = f"certified pruning at eps = {at}; dense at the others"
    return {"pruning": text, "prune_delta": float(pruning.delta)}
