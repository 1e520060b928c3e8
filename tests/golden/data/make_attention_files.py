"""Write the attention weights files the golden specs tests/golden/bad/attention_*.hj point at.

Run: python tests/golden/data/make_attention_files.py (rewrites them next to this script).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 4)), \
        rng.standard_normal((2, 5, 2))
    # K has 4 columns where Q has 3: the keys do not live where the queries do
    np.savez(HERE / "attention_dk.npz", Q=q, K=k, V=v)
    # three heads of V against two of Q and K
    np.savez(HERE / "attention_heads.npz", Q=q, K=k[..., :3], V=rng.standard_normal((3, 5, 2)))
    # an input X of 6 features and projections with 5 rows
    np.savez(HERE / "attention_projection.npz", X=rng.standard_normal((4, 6)),
             W_Q=rng.standard_normal((5, 4)), W_K=rng.standard_normal((5, 4)),
             W_V=rng.standard_normal((5, 4)))
    q_nan = q.copy()
    q_nan[1, 2, 0] = np.nan
    np.savez(HERE / "attention_nan.npz", Q=q_nan, K=k[..., :3], V=v)
    np.savez(HERE / "attention_pickle.npz", Q=np.array([{"Q": 1}, None], dtype=object),
             K=k, V=v)


if __name__ == "__main__":
    main()
