"""Write examples/digits.csv: 60 threes and 60 sevens of scikit-learn's 8x8 digits, PCA to 2-D."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def digits_atoms(per_class: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(x (120, 2), label (120,)): label 0 for a 3, 1 for a 7.

    The first `per_class` images of each digit in dataset order (threes first, then sevens);
    PCA with 2 components fit on those 120 images (centred, not whitened; scikit-learn's
    deterministic sign convention); both columns divided by the standard deviation of the
    first component's scores, so pc1 has unit spread and pc2 keeps its relative scale.
    """
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    images, target = load_digits(return_X_y=True)
    threes = images[target == 3][:per_class]
    sevens = images[target == 7][:per_class]
    pixels = np.vstack([threes, sevens]).astype(float)
    scores = PCA(n_components=2, svd_solver="full").fit_transform(pixels)
    scores /= scores[:, 0].std()
    return scores, np.array([0] * per_class + [1] * per_class)


def write_csv(target: Path) -> None:
    x, label = digits_atoms()
    lines = ["pc1,pc2,label"] + [f"{a:.6f},{b:.6f},{lab}" for (a, b), lab in zip(x, label)]
    target.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "examples" / "digits.csv"
    write_csv(out)
    sys.stdout.write(f"wrote {out}\n")
