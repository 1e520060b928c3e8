"""Write layer.safetensors: a 16-unit LSE layer in d = 2, saved as PyTorch would save one.

The layer is the tangent-plane network of φ(x) = sqrt(1 + |x|²) at a 4 × 4 grid of points p_j:
W_j = ∇φ(p_j), b_j = φ(p_j) − W_j·p_j, so its tropical limit max_j (W_j·x + b_j) lies below φ and
touches it at every p_j. The arrays are float32 and named like an `nn.Linear` called `head` in a
`state_dict` (`head.weight` (N, d), `head.bias` (N,)), with the output temperature as a scalar.
A PyTorch user writes the same file with

    safetensors.torch.save_file({**model.state_dict(), "temperature": torch.tensor(0.05)}, path)

Run: python examples/weights/make_layer.py (rewrites the file next to this script, bit for bit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

TEMPERATURE = 0.05


def layer() -> dict[str, np.ndarray]:
    """The arrays of the file, by name (float32, as a trained PyTorch layer stores them)."""
    axis = np.linspace(-1.5, 1.5, 4)
    p = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    phi = np.sqrt(1.0 + np.sum(p * p, axis=1))
    W = p / phi[:, None]
    b = phi - np.sum(W * p, axis=1)
    return {"head.weight": W.astype(np.float32), "head.bias": b.astype(np.float32),
            "temperature": np.array(TEMPERATURE, dtype=np.float32)}


def main(path: Path = Path(__file__).with_name("layer.safetensors")) -> Path:
    save_file(layer(), str(path))
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
