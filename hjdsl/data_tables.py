"""Parse a data file's bytes (CSV text or NetCDF) into a float table, quoting little of it."""

from __future__ import annotations

import csv
import gc
import io
import operator
import re
import sys

import numpy as np

from hjdsl.errors import DataError, Diagnostic
from hjdsl.model.limits import MAX_POINTS, over_memory

EXCERPT = 20  # characters of a file's content a message may quote
SHOWN_NAMES = 10  # column names a hint may list
CHUNK = 65_536  # CSV rows converted to floats at a time: bounds the strings held at once
SIGNATURES = ((b"CDF\x01", "netcdf3"), (b"CDF\x02", "netcdf3"), (b"CDF\x05", "netcdf3"),
              (b"\x89HDF\r\n\x1a\n", "hdf5"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff",
              "a JPEG image"), (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"),
              (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)"),
              (b"\x1f\x8b", "a gzip archive"))
FORMAT_NAMES = {"netcdf3": "a NetCDF-3 file", "hdf5": "a NetCDF-4 / HDF5 file"}
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f]")  # never in text; \t \n \v \f \r are
_TEXT_BYTES = bytes(range(32, 256)) + b"\t\n\v\f\r"  # deleted, what is left is control bytes
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a column a spec can map (the grammar's NAME)


class DataFileError(DataError):
    """A data file cannot be used; `part` ("file", "x" or "value"): where in the spec to point."""

    def __init__(self, message: str, code: str, hint: str | None = None, part: str = "file"):
        super().__init__((Diagnostic("error", message, None, hint, code),))
        self.part = part


def excerpt(text: str) -> str:
    """A short, escaped quotation of a file's content: at most EXCERPT characters, repr-escaped.

    >>> excerpt("two"), excerpt("SECRET" * 10)
    ("'two'", "'SECRETSECRETSECRETSE'…")
    """
    return repr(text[:EXCERPT]) + ("…" if len(text) > EXCERPT else "")


def columns_hint(names) -> str:
    """'columns are: a, b' for the names a spec could map (at most SHOWN_NAMES, each shortened).

    >>> columns_hint(["x1", "value", "root:*:19000"])
    'columns are: x1, value and 1 more'
    """
    usable = [str(n) for n in names if _NAME.fullmatch(str(n))]
    listed = [n if len(n) <= EXCERPT else n[:EXCERPT] + "…" for n in usable[:SHOWN_NAMES]]
    rest = len(names) - len(listed)
    if not listed:
        return (f"the file has {len(names)} column{'s' if len(names) != 1 else ''} and none is "
                "named with letters, digits and _ only, as a spec's column names are")
    return "columns are: " + ", ".join(listed) + (f" and {rest} more" if rest else "")


def signature(raw: bytes) -> str | None:
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


# --- CSV ------------------------------------------------------------------------------------
def csv_table(raw: bytes, shown: str, wanted) -> np.ndarray:
    """The (n, k) table of the `wanted` (column, part) pairs of CSV bytes."""
    kind = signature(raw)
    if kind is not None:
        raise DataFileError(f"`{shown}` is not CSV text: it is {FORMAT_NAMES.get(kind, kind)}",
                            "D004", hint="rename it to .nc" if kind in FORMAT_NAMES else None)
    text = _decode(raw, shown)
    del raw
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        return _csv_rows(rows, text, shown, wanted)
    except csv.Error as exc:  # e.g. a field over csv's size limit; the message quotes no content
        raise DataFileError(f"`{shown}` line {rows.line_num} is not valid CSV: {exc}",
                            "D004") from None


def _decode(raw: bytes, shown: str) -> str:
    """UTF-8 (a byte-order mark dropped), else Latin-1, where every byte is a character."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataFileError(f"`{shown}` is UTF-16 text", "D004",
                            hint="save it as UTF-8 (or Latin-1) CSV")
    if raw.translate(None, _TEXT_BYTES):  # a control byte (the same in UTF-8 and Latin-1)
        line = raw.count(b"\n", 0, _CONTROL.search(raw).start()) + 1
        raise DataFileError(f"`{shown}` is not CSV text: it has a binary control character on "
                            f"line {line}", "D004",
                            hint="a CSV file is text: a header row, then one row of numbers per "
                                 "point")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.removeprefix(b"\xef\xbb\xbf").decode("latin-1")


def _records(rows, width: int, shown: str):
    """The data rows after the header: blank ones skipped, every other one `width` fields."""
    for fields in rows:
        if len(fields) != width or not all(fields):  # the cheap test first: this loop is hot
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != width:
                raise DataFileError(f"`{shown}` line {rows.line_num} has {len(fields)} fields; "
                                    f"the header has {width}", "D006")
        yield fields


def _csv_rows(rows, text: str, shown: str, wanted) -> np.ndarray:
    header = next(([f.strip() for f in r] for r in rows if any(f.strip() for f in r)), None)
    if header is None:
        raise DataFileError(f"data file `{shown}` is empty", "D004",
                            hint="a CSV file starts with a header row naming its columns")
    for col, part in wanted:
        if col not in header:
            raise DataFileError(f"column `{col}` not found in `{shown}`", "D003",
                                hint=columns_hint(header), part=part)
    pick = operator.itemgetter(*(header.index(col) for col, _ in wanted))  # ≥ 2: a tuple
    # rows ≤ lines (csv ends a line at \n, \r or \r\n): the table is budgeted before it is filled
    lines = text.count("\n") + text.count("\r") - text.count("\r\n") + 1
    bound = min(lines, MAX_POINTS + 1)
    problem = over_memory(bound * len(wanted) * 8,
                          f"the data of `{shown}` ({bound:,} rows × {len(wanted)} columns)")
    if problem:
        raise DataFileError(problem, "D007")
    table = np.empty((bound, len(wanted)))
    n, chunk = 0, []
    for fields in _records(rows, len(header), shown):
        chunk.append(pick(fields))
        if len(chunk) == CHUNK:
            n = _convert(chunk, table, n, text, shown, wanted)
    n = _convert(chunk, table, n, text, shown, wanted)
    for k, (col, part) in enumerate(wanted):
        _finite(table[:n, k], lambda i: f"`{shown}` line {_line_of(text, i)}, column `{col}`",
                part)
    return table[:n]


def _convert(chunk: list, table: np.ndarray, n: int, text: str, shown, wanted) -> int:
    """Parse a chunk of rows into table[n:]; return the new row count and empty the chunk."""
    if n + len(chunk) > MAX_POINTS:
        raise DataFileError(f"`{shown}` has more than {MAX_POINTS:,} data rows; the limit is "
                            f"{MAX_POINTS:,}", "D007")
    try:
        table[n:n + len(chunk)] = np.array(chunk, dtype=float).reshape(len(chunk), len(wanted))
    except ValueError:  # find the first cell float() cannot read (numpy uses float() per cell)
        bad = next(((i, k) for i, cells in enumerate(chunk) for k, cell in enumerate(cells)
                    if not _is_number(cell)), None)
        if bad is None:  # numpy refused what float() reads: convert cell by cell instead
            table[n:n + len(chunk)] = [[float(cell) for cell in cells] for cells in chunk]
        else:
            (i, k), (col, part) = bad, wanted[bad[1]]
            raise DataFileError(f"`{shown}` line {_line_of(text, n + i)}, column `{col}`: "
                                f"cannot read {excerpt(chunk[i][k].strip())} as a number",
                                "D008", part=part) from None
    n += len(chunk)
    chunk.clear()
    return n


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _line_of(text: str, i: int) -> int:
    """The file's line number of data row i, found again only when a message needs it."""
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(r for r in rows if any(f.strip() for f in r))
    for j, _ in enumerate(_records(rows, len(header), "")):
        if j == i:
            return rows.line_num
    raise AssertionError("row beyond the table")  # unreachable: i indexes a row already read


def _finite(values: np.ndarray, where, part: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise DataFileError(f"{where(i)}: {values[i]:g} is not a finite number", "D009",
                            hint=f"{bad.size} non-finite value{'s' if bad.size > 1 else ''} in "
                                 "this column; remove or fill those rows", part=part)


# --- NetCDF ---------------------------------------------------------------------------------
def netcdf_table(raw: bytes, shown: str, wanted) -> np.ndarray:
    """The (n, k) table of the `wanted` (variable, part) pairs of NetCDF-3 or NetCDF-4 bytes."""
    import xarray  # only for NetCDF data

    kind = signature(raw)
    if kind not in FORMAT_NAMES:
        what = f"it is {kind}" if kind else "it has neither the NetCDF-3 nor the HDF5 signature"
        raise DataFileError(f"`{shown}` is not a NetCDF file: {what}", "D004")
    engine = "scipy" if kind == "netcdf3" else "h5netcdf"
    # A damaged file leaves half-built reader objects whose __del__ raises; Python would print
    # that traceback whenever they are collected, so they are collected here, silently.
    hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
    try:
        try:
            with xarray.open_dataset(io.BytesIO(raw), engine=engine, decode_times=False,
                                     decode_timedelta=False) as ds:
                return _netcdf_columns(ds, shown, wanted)
        except DataFileError:
            raise
        except Exception:  # noqa: BLE001 — a damaged file can make the readers raise anything
            pass  # leave the except block first: its traceback holds the reader objects
        gc.collect()
    finally:
        sys.unraisablehook = hook
    raise DataFileError(f"cannot read `{shown}` as NetCDF: the file is damaged or uses features "
                        "hjdsl cannot read", "D004",
                        hint="write it with xarray's to_netcdf, one 1-D variable per column")


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
