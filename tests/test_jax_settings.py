"""hjdsl's JAX settings: float64 scoped to hjdsl's calls, the user's x64 and platform untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hjdsl.errors import UsageError
from tests.conftest import ROOT

# A user session: their own jax code before and after hjdsl's; prints what each side got.
USER_SESSION = """
import json, os, sys
import numpy as np
first = sys.argv[1]
if first == "jax":
    import jax, jax.numpy as jnp
import hjdsl
import jax, jax.numpy as jnp
x64 = sys.argv[2] == "on"
jax.config.update("jax_enable_x64", x64)
double = jax.jit(lambda a: 2 * a)
before = str(double(jnp.ones(2)).dtype)

m = hjdsl.Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0], eps=[0.1])
xs = np.array([[-2.0], [0.0], [0.7], [2.0]])
ds = m.compare(x=xs, audit=0, grid=False)
W, b = m.weights()
jm = m.to_jax()
fit = hjdsl.load("examples/abs_1d.hj").solve(method="map", steps=5, restarts=1, polish=False)
att = m.attribute([[0.7]], eps=[0.1])

print(json.dumps({
    "x64_after": bool(jax.config.jax_enable_x64),
    "user_before": before,
    "user_after": str(double(jnp.ones(2)).dtype),
    "user_new": str(jnp.asarray(np.ones(2)).dtype),
    "compare": str(ds.network.dtype), "network": ds.network.values.ravel().tolist(),
    "W": np.asarray(W).tolist(), "b": np.asarray(b).tolist(), "x": xs.tolist(),
    "to_jax": str(jm.network(np.array([0.7]), 0.1).dtype),
    "to_jax_value": float(jm.network(np.array([0.7]), 0.1)),
    "fit": str(fit.g_hat.dtype), "attribute": str(att.entropy.dtype),
    "platforms": os.environ.get("JAX_PLATFORMS"),
}))
"""


def _session(first: str, x64: str, env_extra: dict[str, str | None]) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    env.update({k: v for k, v in env_extra.items() if v is not None})
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", USER_SESSION, first, x64], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _lse(W, b, x, eps):
    """ε log Σ_j exp((W_j·x + b_j)/ε) in numpy float64, max-shifted (independent of hjdsl's JAX)."""
    z = (np.asarray(x) @ np.asarray(W).T + np.asarray(b)) / eps
    top = z.max(axis=-1)
    return eps * (top + np.log(np.exp(z - top[..., None]).sum(axis=-1)))


@pytest.mark.parametrize("first, x64, platforms", [
    ("hjdsl", "off", None),      # the default: no JAX_PLATFORMS, x64 off
    pytest.param("jax", "off", "cpu", marks=pytest.mark.slow),   # their platform, jax first
    pytest.param("hjdsl", "on", "cpu", marks=pytest.mark.slow),  # x64 on everywhere stays on
])
def test_float64_is_scoped_and_the_platform_respected(first, x64, platforms):
    out = _session(first, x64, {"JAX_PLATFORMS": platforms})
    user = "float64" if x64 == "on" else "float32"
    assert out["x64_after"] is (x64 == "on")
    assert out["user_before"] == out["user_after"] == out["user_new"] == user
    assert out["platforms"] == platforms  # neither forced to cpu nor removed
    for key in ("compare", "to_jax", "fit", "attribute"):
        assert out[key] == "float64", key
    # float64 in value, not only in dtype: float32 would be off by ~1e-7 relative.
    expected = _lse(out["W"], out["b"], out["x"], 0.1)
    np.testing.assert_allclose(out["network"], expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(out["to_jax_value"], _lse(out["W"], out["b"], [[0.7]], 0.1)[0],
                               rtol=1e-13)


def test_scope_restores_on_error_and_nests():
    jax = pytest.importorskip("jax")
    from hjdsl.jaxsetup import float64, jax_x64

    saved = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", False)
    try:
        with float64():
            with float64():
                jax_x64()
                assert jax.numpy.ones(1).dtype == np.float64
            assert jax.numpy.ones(1).dtype == np.float64  # the inner scope did not close it
        assert jax.numpy.ones(1).dtype == np.float32
        with pytest.raises(ZeroDivisionError):
            with float64():
                jax_x64()
                1 / 0
        assert not jax.config.jax_enable_x64
    finally:
        jax.config.update("jax_enable_x64", saved)


def test_missing_device_is_a_usage_error(monkeypatch):
    pytest.importorskip("jax")
    from hjdsl.jaxsetup import float64, jax_x64, use_device

    if any(d.platform == "gpu" for d in __import__("jax").devices()):
        pytest.skip("a GPU is present")
    use_device("gpu")
    try:
        with pytest.raises(UsageError, match="no gpu device is available to JAX"):
            with float64():
                jax_x64()
    finally:
        use_device(None)
    with pytest.raises(UsageError, match="unknown device 'tpu'"):
        use_device("tpu")
    monkeypatch.setenv("HJDSL_DEVICE", "bogus")
    with pytest.raises(UsageError, match="HJDSL_DEVICE='bogus'"):
        with float64():
            jax_x64()


def test_cli_device_option(cli):
    code, _, err = cli("--device", "gpu", "compare", "examples/quickstart.hj", "--audit", "0",
                       "--no-grid")
    if code == 0:
        pytest.skip("a GPU is present")
    assert code == 2 and "no gpu device is available to JAX" in err and "Traceback" not in err
    assert 'pip install "jax[cuda12]"' in err
    code, out, err = cli("--device", "cpu", "compare", "examples/quickstart.hj", "--audit", "0",
                         "--no-grid")
    assert code == 0, err
    code, _, err = cli("--device", "tpu", "check", "examples/quickstart.hj")
    assert code == 2 and "invalid choice: 'tpu'" in err


# A cached kernel used again after the scope that compiled it closed (an internal view called
# directly, as the property tests and a user's notebook do): it must still compute in float64.
# Before kernels switched x64 on at every call this raised RuntimeProgramInputMismatch.
CACHED_AFTER_SCOPE = """
import json
import numpy as np
import jax
import hjdsl
from hjdsl.views.closed_form.network import network_view
m = hjdsl.Model.from_atoms([[-1.0], [0.3], [1.0]], [0.0, 0.2, 0.5], eps=[1.0, 0.1])
m.compare(audit=0, grid=False, quiet=True)
x64_between = bool(jax.config.jax_enable_x64)
x = np.linspace(-2, 2, 8)[:, None] + 1e-9
W, b = m.weights()
out = network_view(x, W, b, m.eps)
print(json.dumps({"between": x64_between, "dtype": str(out["f"].dtype),
                  "f": out["f"].tolist(), "x": x.tolist(), "W": W.tolist(), "b": b.tolist()}))
"""


def test_cached_kernel_after_the_scope_closed_is_float64():
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", CACHED_AFTER_SCOPE], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["between"] is False      # the scope closed: the user's x64 (off) was restored
    assert got["dtype"] == "float64"
    for eps, row in zip([1.0, 0.1], got["f"]):
        np.testing.assert_allclose(row, _lse(got["W"], got["b"], got["x"], eps), rtol=1e-15,
                                   atol=1e-15)


# JAX imported for the first time inside a scope (the CLI opens one before any verb imports
# JAX), then used directly with jnp, as a study task does: float64 there and in a nested
# scope; afterwards the global x64 is what JAX_ENABLE_X64 said before (argv[1]: unset / 1).
IMPORTED_INSIDE = """
import json, os, sys
if sys.argv[1] != "unset":
    os.environ["JAX_ENABLE_X64"] = sys.argv[1]
from hjdsl.jaxsetup import float64
with float64():
    import jax.numpy as jnp
    first = str(jnp.asarray(1.0).dtype)
    with float64():
        nested = str((jnp.ones(3) / 3).dtype)
    third = float(jnp.asarray(1.0) / 3)
after = str(jnp.asarray(1.0).dtype)
print(json.dumps({"first": first, "nested": nested, "third": third, "after": after,
                  "env": os.environ.get("JAX_ENABLE_X64")}))
"""


@pytest.mark.parametrize("user", ["unset", "1"])
def test_jax_imported_inside_the_scope_computes_in_float64(user):
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_PLATFORMS", "JAX_ENABLE_X64")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", IMPORTED_INSIDE, user], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (got["first"], got["nested"]) == ("float64", "float64")
    assert got["third"] == 1 / 3  # in value too: float32 is off by ~1e-8
    assert got["after"] == ("float32" if user == "unset" else "float64")
    assert got["env"] == (None if user == "unset" else "1")
