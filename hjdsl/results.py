"""Provenance of result Datasets: the one place that stamps it (netCDF-safe) and checks it."""

from __future__ import annotations

import datetime as _dt
import json

import numpy as np

from hjdsl.version import __version__


def provenance(model) -> dict:
    """Attributes every result carries: what produced it, from which spec, when."""
    ham = getattr(model, "hamiltonian", None)  # None: a stack, with an H and a t per layer
    return {
        "model": model.name,
        "description": model.description,
        "t": float(model.t) if ham is not None else None,
        "dim_d": int(model.dim),
        "hamiltonian": ham.text if ham is not None else None,
        "hamiltonian_kind": ham.kind if ham is not None else None,
        "spec_sha256": model.spec_sha256,
        "spec_path": model.path or "",
        "overrides": json.dumps(dict(o.split("=", 1) for o in getattr(model, "overrides", ()))),
        "hjdsl_version": __version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def netcdf_safe(attrs: dict) -> dict:
    """Keep attributes netCDF can store: str, int, float, bool→int, lists of numbers."""
    out = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)):
            out[key] = int(value)
        elif isinstance(value, (str, int, float, np.integer, np.floating)):
            out[key] = value
        elif isinstance(value, (list, tuple, np.ndarray)) and all(
            isinstance(v, (int, float, np.integer, np.floating)) for v in np.ravel(value)
        ):
            out[key] = np.asarray(value)
        else:
            out[key] = str(value)
    return out


def stamp(ds, model, **extra):
    """Return `ds` with provenance attributes (and `extra`) added, netCDF-safe, CF-described.

    For d = 1 the evaluation points become the coordinate `x` on `point`, indexed, so
    `ds.sel(x=0.5, method="nearest")` and `ds.network.plot.line(x="x")` work.
    """
    from hjdsl.units import describe

    ds = query_coordinate(ds)
    ds.attrs.update(netcdf_safe({**provenance(model), **extra}))
    return describe(ds)


def query_coordinate(ds):
    """d = 1: the (point, dim) variable `x` as a 1-D coordinate of `point` with an index."""
    if "x" not in ds.variables or ds["x"].dims != ("point", "dim") or ds.sizes["dim"] != 1:
        return ds
    x = ds["x"]
    ds = ds.drop_vars("x").assign_coords(x=("point", x.values[:, 0], dict(x.attrs)))
    return ds.set_xindex("x")


def points(ds):
    """The evaluation points of a result as an (n, d) array, whether `x` is 1-D (d = 1) or not."""
    x = np.asarray(ds["x"].values, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def describe_tree(tree):
    """Describe every group of a DataTree (CF) and say at its root where the groups are."""
    from hjdsl.units import describe

    for node in tree.subtree:
        node.dataset = describe(node.to_dataset(inherit=False))
    groups = sorted(node.path.lstrip("/") for node in tree.subtree if node.path != "/")
    tree.attrs.update({
        "groups": ", ".join(groups),
        "how_to_open": ("this file holds groups: xr.open_dataset reads only the root summary; "
                        "read everything with xr.open_datatree(path) or az.from_netcdf(path), "
                        "one group with xr.open_dataset(path, group=\"posterior\")"),
    })
    return tree


def check_provenance(attrs, model, path: str, n_atoms: int, dim: int) -> list[str]:
    """Whether a result file (a fit) belongs to `model`: warnings to show, or a DataError.

    Refused: atoms of another dimension or count — they cannot stand in for this spec's atoms.
    Warned: another spec hash (the spec was edited — perhaps only a comment, which changes the
    hash too — or is another spec), another model name, Hamiltonian or time t, or no provenance.
    """
    from hjdsl.errors import DataError, Diagnostic

    attrs = {k: v.item() if isinstance(v, np.generic) else v for k, v in dict(attrs).items()}
    problems = []
    if dim != model.dim:
        problems.append(f"its atoms have dimension {dim}, the model has dim {model.dim}")
    if n_atoms != model.n_atoms:
        problems.append(f"it has {n_atoms} atoms, the model has {model.n_atoms}")
    if problems:
        made = f" (made from model {attrs['model']!r})" if attrs.get("model") else ""
        raise DataError((Diagnostic(
            "error", f"{path} is a fit of another model{made}: {'; '.join(problems)}",
            hint="pass the spec the fit was made from, or fit this spec with `hjdsl solve`",
            code="D013"),))
    if "spec_sha256" not in attrs:
        return [f"{path} carries no provenance (no spec_sha256): cannot tell which spec it "
                "was fitted from"]
    if attrs["spec_sha256"] == model.spec_sha256:
        return []
    differ = [f"{label} {attrs[key]!r} (this spec: {ours!r})"
              for key, label, ours in (("model", "model", model.name),
                                       ("hamiltonian", "H(p) =", model.hamiltonian.text),
                                       ("t", "t =", float(model.t)))
              if key in attrs and attrs[key] != ours]
    what = ("; it was made with " + ", ".join(differ)) if differ else \
        " (the spec was edited since, perhaps only its comments)"
    return [f"{path} was fitted from a different spec text{what}"]
