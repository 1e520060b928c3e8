"""Atomic output: results are written to a temporary file in the target folder, then renamed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from hjdsl.errors import Diagnostic, UsageError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path next to `target`; rename it onto `target` only if the block succeeds.

    >>> with atomic_path("/tmp/_hjdsl_doctest.txt") as tmp:
    ...     _ = Path(tmp).write_text("ok")
    >>> Path("/tmp/_hjdsl_doctest.txt").read_text()
    'ok'
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError((Diagnostic("error", f"cannot write {target}: folder {folder} does not exist",
                                     code="U001"),))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes the file private (0600); a result file gets the usual umask-based mode.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_dataset(ds, target: str | os.PathLike) -> Path:
    """Write an xarray Dataset (or DataTree) to netCDF atomically (engine h5netcdf)."""
    with atomic_path(target) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return Path(target)


def write_text(text: str, target: str | os.PathLike) -> Path:
    with atomic_path(target) as tmp:
        Path(tmp).write_text(text)
    return Path(target)


def save_figure(fig, target: str | os.PathLike, **kwargs) -> Path:
    """Save a matplotlib figure atomically; the format follows the target's extension."""
    fmt = Path(target).suffix.lstrip(".") or "png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, **kwargs)
    return Path(target)
