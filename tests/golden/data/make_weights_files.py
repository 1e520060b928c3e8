"""Write the bad weights files the golden specs tests/golden/bad/weights_*.hj point at.

Run: python tests/golden/data/make_weights_files.py (rewrites them next to this script).
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

HERE = Path(__file__).parent
W = np.array([[1.0, 0.5], [-0.5, 1.0], [0.0, -1.0]])
B = np.array([0.1, 0.2, 0.3])


def huge_safetensors(path: Path) -> None:
    """A header that promises a 10⁶ × 1000 float32 W (4 GB) in a file of a few hundred bytes."""
    n, d = 1_000_000, 1000
    header = {"W": {"dtype": "F32", "shape": [n, d], "data_offsets": [0, 4 * n * d]},
              "b": {"dtype": "F32", "shape": [n], "data_offsets": [4 * n * d, 4 * n * (d + 1)]}}
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text)


def main() -> None:
    save_file({"head.weight": W, "head.bias": B}, str(HERE / "weights_good.safetensors"))
    save_file({"head.weight": W, "head.bias": B, "temperature": np.array(0.5)},
              str(HERE / "weights_eps.safetensors"))
    raw = (HERE / "weights_good.safetensors").read_bytes()
    (HERE / "weights_truncated.safetensors").write_bytes(raw[:-20])
    np.savez(HERE / "weights_nan.npz", W=np.where(W > 0.9, np.nan, W), b=B)
    np.savez(HERE / "weights_pickle.npz", W=np.array([{"W": 1}, None], dtype=object), b=B)
    np.savez(HERE / "weights_bool.npz", W=W > 0, b=B)
    np.savez(HERE / "weights_short_b.npz", W=W, b=B[:2])
    with zipfile.ZipFile(HERE / "weights_damaged.npz", "w") as z:
        z.writestr("W.npy", b"\x93NUMPY\x01\x00garbage")
    huge_safetensors(HERE / "weights_huge.safetensors")


if __name__ == "__main__":
    main()
