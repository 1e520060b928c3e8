"""The one data-file reader of `check` and `solve --data`, and the policy for what it may read."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np

from hjdsl.data_tables import DataFileError, csv_table, netcdf_table
from hjdsl.model.limits import format_bytes, over_memory

CSV_SUFFIXES = (".csv",)
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf", ".h5")
DATA_DIRS_ENV = "HJDSL_DATA_DIRS"  # more folders whose trees a spec may read data from
MIN_ROWS = 2
__all__ = ["DataFileError", "read_table", "allowed_folders", "DATA_DIRS_ENV"]


def read_table(name: str, folder: Path, x_cols, value_col: str, *, confined: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, d), value (n,)) of the columns `x_cols` and `value_col` of the file `name`.

    `name` is relative to `folder`; `confined` (a spec's own data) refuses a file that resolves
    (links followed) outside the folder's tree and the trees listed in $HJDSL_DATA_DIRS. Only a
    regular file is read, opened once, after its size is budgeted; messages quote at most a
    short escaped excerpt of its content.

    >>> x, v = read_table("abs.csv", Path("."), ["x"], "value", confined=True)  # doctest: +SKIP
    """
    shown = _short(name)
    if not name:
        raise DataFileError("the data file name is empty", "D001")
    if "\x00" in name:  # the OS cannot name such a file; os.path would raise ValueError
        raise DataFileError(f"the data file name {shown!r} contains a NUL character", "D001")
    real = os.path.realpath(Path(folder) / name)  # links resolved: the file that would be read
    if confined and not _inside(real, folder):
        raise DataFileError(
            f"data file `{shown}` is outside the folder of the spec", "D011",
            hint=f"a spec reads data only from its own folder and below (links are followed); "
                 f"allow another folder with {DATA_DIRS_ENV}=FOLDER, or pass the file with "
                 f"`hjdsl solve --data PATH`")
    suffix = Path(name).suffix.lower()
    if suffix not in CSV_SUFFIXES + NETCDF_SUFFIXES:
        raise DataFileError(f"unsupported data file type `{_short(suffix or name)}`", "D002",
                            hint="use a .csv file (with a header row) or a NetCDF .nc file")
    raw = _read_bytes(real, shown, "the folder of the spec" if confined else "the current folder")
    wanted = [(c, "x") for c in x_cols] + [(value_col, "value")]
    if suffix in CSV_SUFFIXES:
        table = csv_table(raw, shown, wanted)
    else:
        table = netcdf_table(raw, shown, wanted)
    if table.shape[0] < MIN_ROWS:
        n = table.shape[0]
        raise DataFileError(f"`{shown}` has {n} data row{'s' if n != 1 else ''}; at least "
                            f"{MIN_ROWS} are needed", "D005")
    return np.ascontiguousarray(table[:, :-1]), table[:, -1].copy()


def allowed_folders(folder: Path) -> list[str]:
    """The resolved folders whose trees a spec in `folder` may read: it and $HJDSL_DATA_DIRS."""
    extra = [p for p in os.environ.get(DATA_DIRS_ENV, "").split(os.pathsep) if p.strip()]
    return [os.path.realpath(p) for p in [folder, *extra]]


def _inside(real: str, folder: Path) -> bool:
    return any(os.path.commonpath([real, root]) == root for root in allowed_folders(folder))


# --- opening: every OS-level failure is a DataError naming the file -------------------------
def _read_bytes(real: str, shown: str, origin: str) -> bytes:
    """The file's bytes, after checking it is a regular file that fits the memory budget."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real, flags)  # no blocking on a pipe; no link swapped in since realpath
    except OSError as exc:
        raise _os_error(exc, shown, origin) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DataFileError(f"`{shown}` is a folder, not a data file", "D001")
        if not stat.S_ISREG(info.st_mode):
            raise DataFileError(f"`{shown}` is not a regular file (a device, pipe or socket)",
                                "D001")
        # the text, the parsed cells and the arrays take about twice the file's size at the peak
        problem = over_memory(2 * info.st_size, f"reading `{shown}` "
                              f"({format_bytes(info.st_size)})")
        if problem:
            raise DataFileError(problem, "D007")
        with open(fd, "rb", closefd=False) as fh:
            return fh.read(info.st_size)
    except OSError as exc:
        raise _os_error(exc, shown, origin) from None
    finally:
        os.close(fd)


def _os_error(exc: OSError, shown: str, origin: str) -> DataFileError:
    if exc.errno == errno.ENOENT:
        return DataFileError(f"data file `{shown}` not found", "D001",
                             hint=f"paths are relative to {origin}")
    if exc.errno == errno.EISDIR:
        return DataFileError(f"`{shown}` is a folder, not a data file", "D001")
    reason = (exc.strerror or type(exc).__name__).lower()
    if exc.errno == errno.ELOOP:
        reason += " (or a link where the file should be)"
    return DataFileError(f"cannot read data file `{shown}`: {reason}", "D001")


def _short(name: str) -> str:
    """A file name as messages show it: long names shortened in the middle."""
    return name if len(name) <= 80 else name[:50] + "…" + name[-25:]
