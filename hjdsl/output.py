"""Atomic output: results are written to a temporary file in the target folder, then renamed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
from pathlib import Path

from hjdsl.errors import Diagnostic, UsageError

# A temporary file is `.NAME.hjdsl-HOST-PID-RANDOM.tmp` next to the target: in the same folder so
# the final rename is atomic (same file system), and named after its writer so that a write
# killed before it could clean up (SIGKILL, power loss) is recognised and removed by the next
# write to the same target, once that writer's process is gone.
TEMP_MARK = "hjdsl"
MAX_NAME = 120  # longer target names are shortened in the temp name (file names stop at 255 bytes)
FIGURE_FORMATS = ("png", "pdf", "svg")


def _usage(message: str) -> UsageError:
    return UsageError((Diagnostic("error", message, code="U001"),))


def check_writable(target: str | os.PathLike) -> Path:
    """The target as a Path if a result can be written there; a UsageError saying why not.

    Commands call this before any work, so a bad `-o` fails in a second, not after the run.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise _usage(f"cannot write {target}: folder {folder} does not exist")
    if target.is_dir():
        raise _usage(f"cannot write {target}: it is a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _usage(f"cannot write {target}: folder {folder} is not writable")
    return target


def check_figure_path(target: str | os.PathLike) -> Path:
    """`check_writable`, and the extension names a figure format hjdsl writes (png, pdf, svg)."""
    target = check_writable(target)
    fmt = target.suffix.lstrip(".").lower()
    if fmt not in FIGURE_FORMATS:
        raise _usage(f"cannot write a figure to {target}: the name must end in "
                     f"{', '.join('.' + f for f in FIGURE_FORMATS)}")
    return target


def _host_tag() -> str:
    # Process ids mean something only on their own machine (a shared network folder may hold
    # temp files of writers on other hosts): files of another host are never touched.
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _temp_prefix(target: Path) -> str:
    name = target.name
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 9] + "~" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return f".{name}.{TEMP_MARK}-{_host_tag()}-"


def _alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (a killed writer not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    return True


def stale_temp_files(target: str | os.PathLike) -> list[Path]:
    """Temp files of earlier writes to `target` whose writer process no longer exists."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    prefix = _temp_prefix(target)
    pattern = re.compile(re.escape(prefix) + r"(\d+)-[A-Za-z0-9_]+\.tmp")
    stale = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(match.group(1))
            if pid != os.getpid() and not _alive(pid):
                stale.append(folder / entry.name)
    return stale


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path next to `target`; rename it onto `target` only if the block succeeds.

    The previous file at `target` stays intact until the rename; temp files left by writers
    that were killed are removed first (see `stale_temp_files`).

    >>> with atomic_path("/tmp/_hjdsl_doctest.txt") as tmp:
    ...     _ = Path(tmp).write_text("ok")
    >>> Path("/tmp/_hjdsl_doctest.txt").read_text()
    'ok'
    """
    target = check_writable(target)
    for path in stale_temp_files(target):
        with contextlib.suppress(FileNotFoundError):  # a concurrent writer may clean it too
            path.unlink()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(target)}{os.getpid()}-", suffix=".tmp",
                                   dir=target.parent if str(target.parent) else ".")
    except OSError as exc:
        raise _usage(f"cannot write {target}: {exc.strerror}") from None
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes the file private (0600); a result file gets the usual umask-based mode.
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise _usage(f"cannot write {target}: {exc.strerror}") from None
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
    fmt = check_figure_path(target).suffix.lstrip(".").lower()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, **kwargs)
    return Path(target)


def write_outputs(args, ds, talk: bool, plot=None) -> None:
    """A verb's -o (the Dataset) and --plot (drawn by `plot(ds, path)`), saying each path as it is
    written unless `talk` is off (-q, or --json, whose stdout is the JSON alone)."""
    if args.output:
        write_dataset(ds, args.output)
        if talk:
            print(f"wrote {args.output}")
    if plot is not None and getattr(args, "plot", None):
        plot(ds, args.plot)
        if talk:
            print(f"wrote {args.plot}")
