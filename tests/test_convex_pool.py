"""The convex view's worker pool gives the serial numbers, from pytest and from a plain script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import numpy as np

import hjdsl
from hjdsl.views.convex import pool as convex_pool
from hjdsl.views.convex import convex_view

SPEC = """model pool "pool test"
dim 1
time t = 1
viscosity eps in [1, 0.2, 0]
hamiltonian H(p) = |p|^2
particles y = grid(-2, 2, 9)
initial g(y) = abs(y)
evaluate x = grid(-2.5, 2.5, 11)
"""


def test_pool_gives_the_serial_numbers(monkeypatch):
    model = hjdsl.parse(SPEC, name="pool.hj")
    serial = convex_view(model, model.eps, model.evaluate, audit=-1, workers=1)
    monkeypatch.setattr(convex_pool, "SERIAL_BELOW", 0)  # force the pool for this small job
    pooled = convex_view(model, model.eps, model.evaluate, audit=-1, workers=2)
    assert "in-process" in serial.note
    assert re.search(r"2 processes: this one and 1 worker, which solved [1-9]\d* of 16 chunks",
                     pooled.note), pooled.note
    for name in ("value", "pi", "duality_gap", "hopf_lax_value", "hopf_lax_argmin"):
        np.testing.assert_allclose(getattr(pooled, name), getattr(serial, name), rtol=0,
                                   atol=1e-10, err_msg=name)  # round-off: solver paths differ
    assert pooled.status.tolist() == serial.status.tolist()
    assert pooled.solver.tolist() == serial.solver.tolist() == ["CLARABEL", "CLARABEL", "HIGHS"]
    # and the numbers are right: u_0 = min_j c_j, the Hopf–Lax value of |y| is Huber
    x = model.evaluate[:, 0]
    costs = model.g + (x[:, None] - model.y[None, :, 0]) ** 2 / 4
    np.testing.assert_allclose(pooled.value[2], costs.min(1), atol=1e-9)
    huber = np.where(np.abs(x) <= 2, x**2 / 4, np.abs(x) - 1)
    np.testing.assert_allclose(pooled.hopf_lax_value, huber, atol=1e-7)


def test_pool_from_an_unguarded_script_with_jax_loaded(tmp_path):
    """Workers start from a fork server (never fork() beside JAX's threads), and they do not
    re-run the caller's script even without an `if __name__ == "__main__"` guard."""
    script = tmp_path / "audit.py"
    script.write_text(textwrap.dedent(f"""
        import json
        import jax.numpy as jnp
        import hjdsl
        from hjdsl.views.convex import pool as convex_pool
        from hjdsl.views.convex import convex_view
        jnp.ones(3).sum().block_until_ready()  # JAX is initialised in the parent
        convex_pool.SERIAL_BELOW = 0
        model = hjdsl.parse({SPEC!r}, name="pool.hj")
        r = convex_view(model, model.eps, model.evaluate, audit=-1, workers=2)
        print("RESULT", json.dumps({{"note": r.note, "u0": r.value[2].tolist()}}))
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert len(lines) == 1, proc.stdout  # the script ran once, not once more per worker
    out = json.loads(lines[0][len("RESULT "):])
    assert re.search(r"which solved [1-9]\d* of 16 chunks", out["note"]), out["note"]
    model = hjdsl.parse(SPEC, name="pool.hj")
    x = model.evaluate[:, 0]
    costs = model.g + (x[:, None] - model.y[None, :, 0]) ** 2 / 4
    np.testing.assert_allclose(out["u0"], costs.min(1), atol=1e-9)
