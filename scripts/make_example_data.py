"""Write the small, seeded data files that the examples in examples/ read (CSV and NetCDF)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "examples" / "data"


def write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    names = list(columns)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in zip(*(columns[n] for n in names)):
            writer.writerow([f"{v:.6f}" for v in row])


def bumps_1d(rng) -> dict:
    """200 noisy samples (noise sd 0.02) on [-2, 2] of a two-well HJ value at t = 1: the Hopf–Lax
    solution of g(y) = min((y + 1)², (y − 1)² + 0.6)/2 under H = |p|², u = min((x + 1)²/6,
    (x − 1)²/6 + 0.3). Its x²/4 − u is convex, so an LSE layer at t = 1 can fit it (the wells of
    an earlier version, min((x + 1)², (x − 1)² + 0.3), curve more than x²/4 and cannot be fitted)."""
    x = np.sort(rng.uniform(-2, 2, 200))
    target = np.minimum((x + 1) ** 2 / 6, (x - 1) ** 2 / 6 + 0.3) + rng.normal(0, 0.02, x.size)
    return {"x1": x, "target": target}


def atoms_1d(rng) -> dict:
    """12 atoms and initial values g = |y| (read as `particles y = data`, `initial g = data`)."""
    y = np.linspace(-2, 2, 12)
    return {"x": y, "value": np.abs(y)}


def ridge_2d(rng):
    """150 scattered 2-D points of a ridge function, as NetCDF variables x1, x2, v."""
    import xarray as xr

    pts = rng.uniform(-1.5, 1.5, (150, 2))
    v = np.abs(pts[:, 0] - 0.5 * pts[:, 1]) + rng.normal(0, 0.01, 150)
    return xr.Dataset({"x1": ("point", pts[:, 0]), "x2": ("point", pts[:, 1]), "v": ("point", v)},
                      attrs={"title": "ridge |x1 - x2/2| with noise 0.01", "seed": 3})


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write_csv(OUT / "bumps_1d.csv", bumps_1d(np.random.default_rng(1)))
    write_csv(OUT / "atoms_1d.csv", atoms_1d(np.random.default_rng(2)))
    ridge_2d(np.random.default_rng(3)).to_netcdf(OUT / "ridge_2d.nc", engine="h5netcdf")
    print(f"wrote {', '.join(sorted(p.name for p in OUT.iterdir()))} in {OUT}")


if __name__ == "__main__":
    main()
