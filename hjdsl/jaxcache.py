"""JAX's persistent compilation cache for hjdsl's own programs: where it lives, atomic writes.

hjdsl's kernels compile in ~0.1–1 s each, under JAX's default 1 s threshold, so JAX would store
none of them. Inside an hjdsl scope (hjdsl.jaxsetup.float64) the threshold is 0 and the compiled
programs are read from and written to `cache_dir()`; outside one the cache neither reads nor
writes, so the user's own jitted code is left exactly as JAX's defaults treat it.

JAX's own file cache (jax/_src/lru_cache.py, JAX 0.10) writes an entry with one
`Path.write_bytes` and takes a lock only when a size cap is set: a second process could read a
half-written entry. `AtomicFileCache` writes to a temporary file in the same directory and
renames it into place (`os.replace` is atomic on POSIX and Windows), so a reader sees a whole
entry or none, and two processes writing one key write the same bytes.

Opt out with HJDSL_NO_JAX_CACHE=1; HJDSL_JAX_CACHE_DIR moves it (the test suite points it at a
temporary directory). A user who configured JAX's own cache (jax_compilation_cache_dir) keeps it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_installed: bool | None = None  # None: not tried yet; False: off (opted out, or JAX's own cache)
_scope = threading.local()  # .depth > 0 while this thread runs an hjdsl computation


def cache_dir() -> Path:
    """$HJDSL_JAX_CACHE_DIR, else $XDG_CACHE_HOME/hjdsl/jax, else ~/.cache/hjdsl/jax."""
    explicit = os.environ.get("HJDSL_JAX_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hjdsl" / "jax"


def disabled() -> bool:
    """HJDSL_NO_JAX_CACHE set to anything but "", "0", "false", "no"."""
    return os.environ.get("HJDSL_NO_JAX_CACHE", "").strip().lower() not in ("", "0", "false", "no")


def _cache_class():
    from jax._src.compilation_cache_interface import CacheInterface

    class AtomicFileCache(CacheInterface):
        """One file per key; written by temporary file + rename; active only in hjdsl scopes."""

        def __init__(self, path: Path):
            self._path = path

        def get(self, key: str):
            if not in_scope():
                return None
            try:
                return (self._path / key).read_bytes()
            except OSError:  # absent, or unreadable: compile afresh
                return None

        def put(self, key: str, value: bytes) -> None:
            if not in_scope() or (self._path / key).exists():
                return
            try:
                self._path.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self._path, prefix=".tmp-")
                try:
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(value)
                    os.replace(tmp, self._path / key)
                except BaseException:
                    os.unlink(tmp)
                    raise
            except OSError:
                pass  # a read-only or full disk costs a recompile next time, nothing more

    return AtomicFileCache


def install() -> bool:
    """Install the cache once per process (False when opted out or JAX's own cache is in use)."""
    global _installed
    if _installed is not None:
        return _installed
    with _lock:
        if _installed is not None:
            return _installed
        _installed = False
        if disabled():
            return False
        try:
            import jax
            from jax._src import compilation_cache as cc

            if jax._src.config.compilation_cache_dir.value or cc._cache is not None:
                return False  # the user's own cache: leave it alone
            with cc._cache_initialized_mutex:
                cc._cache = _cache_class()(cache_dir())
                cc._cache_initialized = True
            _installed = True
        except (ImportError, AttributeError, TypeError):
            # another JAX layout: no persistent cache, compile as before
            _installed = False
        return _installed


def in_scope() -> bool:
    return getattr(_scope, "depth", 0) > 0


def scope(stack) -> None:
    """Within the ExitStack `stack`: the cache active on this thread, JAX's threshold 0 s."""
    if not install():
        return
    import jax

    _scope.depth = getattr(_scope, "depth", 0) + 1
    stack.callback(_leave)
    try:
        # JAX's own thread-local override: every compile of the scope is stored, not only
        # those over 1 s; entries of any size (JAX's min entry size stays at its default, 0)
        stack.enter_context(jax._src.config.persistent_cache_min_compile_time_secs(0.0))
    except (AttributeError, TypeError):
        pass


def _leave() -> None:
    _scope.depth -= 1
