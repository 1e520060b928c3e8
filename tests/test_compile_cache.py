"""JAX's persistent compilation cache for hjdsl's programs: where it lives, opt-out, scope, races."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hjdsl import jaxcache

# One process: an hjdsl computation (its kernels are cached), then the user's own jit outside
# any hjdsl scope (never cached). Prints the cache hits JAX counted and the network values.
SCRIPT = r"""
import jax, numpy as np
from jax._src import monitoring
hits = []
monitoring.register_event_listener(lambda name, **kw: hits.append(name) if name.endswith("cache_hits") else None)
import hjdsl
from hjdsl.model.ir import Model
m = Model.from_atoms([[-1.5], [-0.5], [0.5], [1.5]], [1.0, 0.3, 0.3, 1.0])
ds = m.compare(eps=[1.0, 0.1, 0.0], x=[0.0, 0.7], audit=0, grid=False, quiet=True)
n_hjdsl = len(hits)
user = jax.jit(lambda v: jax.numpy.sin(v) * 3.0 + 1.0)(np.arange(7.0))
print(n_hjdsl, len(hits) - n_hjdsl, repr(ds.network.values.tolist()))
"""


def _run(env_extra: dict, cwd: Path) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key != "HJDSL_NO_JAX_CACHE"}
    env.update(env_extra)
    return subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc) -> tuple[int, int, str]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "cache" not in err.lower(), err  # no warning about reading or writing an entry
    hits, user_hits, values = out.split(" ", 2)
    return int(hits), int(user_hits), values.strip()


def _entries(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()} if path.exists() else set()


def test_second_process_reads_what_the_first_wrote_and_user_code_is_left_alone(tmp_path):
    cache = tmp_path / "cache"
    # two processes at once on an empty cache: both compile and write the same keys
    first = [_run({"HJDSL_JAX_CACHE_DIR": str(cache)}, tmp_path) for _ in range(2)]
    results = [_finish(p) for p in first]
    written = _entries(cache)
    assert len(written) >= 3 and not any(name.startswith(".tmp-") for name in written)
    # either may read an entry the other finished first (a legitimate race), but no user program
    assert all(user == 0 for _, user, _ in results)
    hits, user, values = _finish(_run({"HJDSL_JAX_CACHE_DIR": str(cache)}, tmp_path))
    assert hits >= len(written) and user == 0       # every hjdsl program read back, not the user's
    assert _entries(cache) == written                # nothing new written (the user's jit neither)
    assert values == results[0][2] == results[1][2]  # bit-identical values from cached programs


def test_opt_out_writes_nothing(tmp_path):
    cache = tmp_path / "cache"
    hits, _, _ = _finish(_run({"HJDSL_JAX_CACHE_DIR": str(cache), "HJDSL_NO_JAX_CACHE": "1"},
                              tmp_path))
    assert hits == 0 and not cache.exists()


@pytest.mark.parametrize("env, expected", [
    ({"HJDSL_JAX_CACHE_DIR": "/a/b"}, "/a/b"),
    ({"XDG_CACHE_HOME": "/xdg"}, "/xdg/hjdsl/jax"),
    ({"HOME": "/home/u"}, "/home/u/.cache/hjdsl/jax"),
])
def test_cache_dir(monkeypatch, env, expected):
    for name in ("HJDSL_JAX_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert jaxcache.cache_dir() == Path(expected)


@pytest.mark.parametrize("value, off", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_opt_out_values(monkeypatch, value, off):
    monkeypatch.setenv("HJDSL_NO_JAX_CACHE", value)
    assert jaxcache.disabled() is off


def test_the_suite_never_writes_the_real_home_cache():
    assert os.environ.get("HJDSL_JAX_CACHE_DIR")  # set by conftest.py before hjdsl is imported
    home = Path(os.path.expanduser("~")) / ".cache" / "hjdsl" / "jax"
    assert jaxcache.cache_dir() != home
