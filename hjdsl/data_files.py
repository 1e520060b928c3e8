"""Read a data file (CSV or NetCDF) as observations: the one reader behind `check` and `solve --data`.

Files are data, and their contents stay private: a spec reads only inside its own folder tree
(links resolved), a file is opened once and budgeted before it is read, and a message quotes at
most a short escaped excerpt of what failed to parse.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import re
import stat
from pathlib import Path

import numpy as np

from hjdsl.errors import DataError, Diagnostic
from hjdsl.model.limits import MAX_POINTS, format_bytes, over_memory

CSV_SUFFIXES = (".csv",)
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf", ".h5")
DATA_DIRS_ENV = "HJDSL_DATA_DIRS"  # more folders whose trees a spec may read data from
MIN_ROWS = 2
EXCERPT = 20  # characters of a file's content a message may quote
SHOWN_NAMES = 10  # column names a hint may list
CHUNK = 65_536  # CSV rows converted to floats at a time: bounds the strings held at once
SIGNATURES = ((b"CDF\x01", "netcdf3"), (b"CDF\x02", "netcdf3"), (b"CDF\x05", "netcdf3"),
              (b"\x89HDF\r\n\x1a\n", "hdf5"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff",
              "a JPEG image"), (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"),
              (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)"),
              (b"\x1f\x8b", "a gzip archive"))
FORMAT_NAMES = {"netcdf3": "a NetCDF-3 file", "hdf5": "a NetCDF-4 / HDF5 file"}
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")  # never in text; \t \n \v \f \r are
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a column a spec can map (the grammar's NAME)


class DataFileError(DataError):
    """A data file cannot be used; `part` ("file", "x" or "value") says what the spec should point at."""

    def __init__(self, message: str, code: str, hint: str | None = None, part: str = "file"):
        super().__init__((Diagnostic("error", message, None, hint, code),))
        self.part = part


def read_table(name: str, folder: Path, x_cols, value_col: str, *, confined: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, d), value (n,)) of the columns `x_cols` and `value_col` of the file `name`.

    `name` is relative to `folder`; `confined` (a spec's own data) refuses a file that resolves
    outside the folder's tree and the trees listed in $HJDSL_DATA_DIRS.

    >>> x, v = read_table("abs.csv", Path("."), ["x"], "value", confined=True)  # doctest: +SKIP
    """
    shown = _short(name)
    if not name:
        raise DataFileError("the data file name is empty", "D001")
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
        table = _csv_table(raw, shown, wanted)
    else:
        table = _netcdf_table(raw, shown, wanted)
    if table.shape[0] < MIN_ROWS:
        n = table.shape[0]
        raise DataFileError(f"`{shown}` has {n} data row{'s' if n != 1 else ''}; at least "
                            f"{MIN_ROWS} are needed", "D005")
    return np.ascontiguousarray(table[:, :-1]), table[:, -1].copy()


def allowed_folders(folder: Path) -> list[str]:
    """The resolved folders whose trees a spec in `folder` may read: its own and $HJDSL_DATA_DIRS."""
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


# --- CSV ------------------------------------------------------------------------------------
def _csv_table(raw: bytes, shown: str, wanted) -> np.ndarray:
    kind = _signature(raw)
    if kind is not None:
        hint = "rename it to .nc" if kind in FORMAT_NAMES else None
        raise DataFileError(f"`{shown}` is not CSV text: it is {FORMAT_NAMES.get(kind, kind)}",
                            "D004", hint=hint)
    text = _decode(raw, shown)
    del raw
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        return _csv_rows(rows, text, shown, wanted)
    except csv.Error as exc:  # e.g. a field over csv's size limit; the message quotes no content
        raise DataFileError(f"`{shown}` line {rows.line_num} is not valid CSV: {exc}",
                            "D004") from None


def _csv_rows(rows, text: str, shown: str, wanted) -> np.ndarray:
    header = None
    for fields in rows:
        if any(f.strip() for f in fields):
            header = [f.strip() for f in fields]
            break
    if header is None:
        raise DataFileError(f"data file `{shown}` is empty", "D004",
                            hint="a CSV file starts with a header row naming its columns")
    index = []
    for col, part in wanted:
        if col not in header:
            raise DataFileError(f"column `{col}` not found in `{shown}`", "D003",
                                hint=columns_hint(header), part=part)
        index.append(header.index(col))
    # rows ≤ lines (csv ends a line at \n, \r or both): the table is budgeted before it is filled
    bound = max(text.count("\n"), text.count("\r")) + 1
    if bound > MAX_POINTS + 1:
        bound = MAX_POINTS + 1
    problem = over_memory(bound * (len(wanted) + 1) * 8,  # + 1: each row's line number
                          f"the data of `{shown}` ({bound:,} rows × {len(wanted)} columns)")
    if problem:
        raise DataFileError(problem, "D007")
    table = np.empty((bound, len(wanted)))
    lines = np.empty(bound, dtype=np.int64)
    chunk, n = [], 0
    for fields in rows:
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise DataFileError(f"`{shown}` line {rows.line_num} has {len(fields)} fields; the "
                                f"header has {len(header)}", "D006")
        if n + len(chunk) >= MAX_POINTS:
            raise DataFileError(f"`{shown}` has more than {MAX_POINTS:,} data rows; the limit "
                                f"is {MAX_POINTS:,}", "D007")
        lines[n + len(chunk)] = rows.line_num
        chunk.append([fields[j] for j in index])
        if len(chunk) == CHUNK:
            n = _convert(chunk, table, lines, n, shown, wanted)
    n = _convert(chunk, table, lines, n, shown, wanted)
    table, lines = table[:n], lines[:n]
    for k, (col, part) in enumerate(wanted):
        _finite(table[:, k], lambda i: f"`{shown}` line {lines[i]}, column `{col}`", part)
    return table


def _convert(chunk: list, table: np.ndarray, lines: np.ndarray, n: int, shown, wanted) -> int:
    """Parse a chunk of rows into table[n:]; return the new row count and empty the chunk."""
    if not chunk:
        return n
    try:
        table[n:n + len(chunk)] = np.array(chunk, dtype=float)  # Python float() syntax per cell
    except ValueError:
        for i, cells in enumerate(chunk):
            for (col, part), cell in zip(wanted, cells):
                try:
                    float(cell)
                except ValueError:
                    raise DataFileError(f"`{shown}` line {lines[n + i]}, column `{col}`: cannot "
                                        f"read {excerpt(cell.strip())} as a number", "D008",
                                        part=part) from None
        raise
    n += len(chunk)
    chunk.clear()
    return n


def _decode(raw: bytes, shown: str) -> str:
    """UTF-8 (a byte-order mark dropped), else Latin-1, where every byte is a character."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataFileError(f"`{shown}` is UTF-16 text", "D004",
                            hint="save it as UTF-8 (or Latin-1) CSV")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    bad = _CONTROL.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise DataFileError(f"`{shown}` is not CSV text: it has a binary control character on "
                            f"line {line}", "D004",
                            hint="a CSV file is text: a header row, then one row of numbers per "
                                 "point")
    return text


def columns_hint(names) -> str:
    """'columns are: a, b' for the names a spec could map (at most SHOWN_NAMES, each shortened)."""
    usable = [str(n) for n in names if _NAME.fullmatch(str(n))]
    listed = [n if len(n) <= EXCERPT else n[:EXCERPT] + "…" for n in usable[:SHOWN_NAMES]]
    rest = len(names) - len(listed)
    if not listed:
        return (f"the file has {len(names)} column{'s' if len(names) != 1 else ''} and none is "
                "named with letters, digits and _ only, as a spec's column names are")
    more = f" and {rest} more" if rest else ""
    return "columns are: " + ", ".join(listed) + more


def excerpt(text: str) -> str:
    """A short, escaped quotation of a file's content: at most EXCERPT characters, repr-escaped.

    >>> excerpt("two"), excerpt("SECRET" * 10)
    ("'two'", "'SECRETSECRETSECRETSE'…")
    """
    return repr(text[:EXCERPT]) + ("…" if len(text) > EXCERPT else "")


def _finite(values: np.ndarray, where, part: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise DataFileError(f"{where(i)}: {values[i]:g} is not a finite number", "D009",
                            hint=f"{bad.size} non-finite value{'s' if bad.size > 1 else ''} in "
                                 "this column; remove or fill those rows", part=part)


# --- NetCDF ---------------------------------------------------------------------------------
def _netcdf_table(raw: bytes, shown: str, wanted) -> np.ndarray:
    import xarray  # only for NetCDF data

    kind = _signature(raw)
    if kind not in FORMAT_NAMES:
        what = f"it is {kind}" if kind else "it has neither the NetCDF-3 nor the HDF5 signature"
        raise DataFileError(f"`{shown}` is not a NetCDF file: {what}", "D004")
    engine = "scipy" if kind == "netcdf3" else "h5netcdf"
    try:
        with xarray.open_dataset(io.BytesIO(raw), engine=engine, decode_times=False,
                                 decode_timedelta=False) as ds:
            return _netcdf_columns(ds, shown, wanted)
    except DataFileError:
        raise
    except Exception:  # noqa: BLE001 — a damaged file can make the readers raise anything
        raise DataFileError(f"cannot read `{shown}` as NetCDF: the file is damaged or uses "
                            "features hjdsl cannot read", "D004",
                            hint="write it with xarray's to_netcdf, one 1-D variable per "
                                 "column") from None


def _netcdf_columns(ds, shown: str, wanted) -> np.ndarray:
    length = None
    for col, part in wanted:
        if col not in ds.variables:
            raise DataFileError(f"column `{col}` not found in `{shown}`", "D003",
                                hint=columns_hint(list(map(str, ds.variables))), part=part)
        var = ds.variables[col]
        if var.ndim != 1 or (length is not None and var.size != length):
            raise DataFileError(f"variable `{col}` of `{shown}` must be 1-D with one entry per "
                                f"point, got shape {var.shape}", "D006", part=part)
        if var.dtype.kind not in "biuf":
            raise DataFileError(f"variable `{col}` of `{shown}` holds {var.dtype.name} values, "
                                "not numbers", "D008", part=part)
        length = var.size
    if length > MAX_POINTS:
        raise DataFileError(f"`{shown}` has {length:,} points; the limit is {MAX_POINTS:,}",
                            "D007")
    problem = over_memory(length * len(wanted) * 8,
                          f"the data of `{shown}` ({length:,} points × {len(wanted)} columns)")
    if problem:  # a compressed file can hold far more than its size: check before decoding
        raise DataFileError(problem, "D007")
    table = np.empty((length, len(wanted)))
    for k, (col, part) in enumerate(wanted):
        table[:, k] = np.asarray(ds.variables[col].values, dtype=float)
        _finite(table[:, k], lambda i: f"`{shown}` variable `{col}`, entry {i}", part)
    return table


def _signature(raw: bytes) -> str | None:
    """What a file's first bytes say it is (HDF5 may start after a 512·2^k user block)."""
    for magic, kind in SIGNATURES:
        if raw.startswith(magic):
            return kind
    offset = 512
    while offset + 8 <= len(raw):
        if raw[offset:offset + 8] == b"\x89HDF\r\n\x1a\n":
            return "hdf5"
        offset *= 2
    return None


def _short(name: str) -> str:
    """A file name as messages show it: long names shortened in the middle."""
    return name if len(name) <= 80 else name[:50] + "…" + name[-25:]
