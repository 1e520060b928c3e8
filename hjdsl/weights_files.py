"""Read named numeric arrays (a layer's W, b, ε) from .npz, .safetensors or NetCDF files, as data.

A weights file is data, never code: .npz members are read with `allow_pickle=False`, and an
object array (a pickle) is refused from its header. Every file's header is read first (the
.npy header of each zip member, the safetensors JSON header, NetCDF's lazily opened variables)
so that names, dtypes, shapes, truncation and the memory budget are checked before any array
is loaded. Failures are `DataFileError`s whose `part` names the role (W, b, eps, ...) the
caller asked for, so a checker can point at the spec text that named the array.
"""

from __future__ import annotations

import errno
import gc
import json
import math
import os
import stat
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from hjdsl.data_files import NETCDF_SUFFIXES, _inside, _os_error, _short
from hjdsl.data_tables import DataFileError, signature
from hjdsl.model.limits import format_bytes, over_memory

__all__ = ["read_arrays", "file_kind", "WEIGHTS_SUFFIXES", "DataFileError"]

WEIGHTS_SUFFIXES = {".npz": "npz", ".safetensors": "safetensors",
                    **{s: "netcdf" for s in NETCDF_SUFFIXES}}
SHOWN_NAMES = 10  # array names a hint may list
MAX_HEADER = 100 << 20  # a safetensors JSON header larger than this is not a real one
# safetensors dtypes as numpy kinds and item sizes; BF16 (read here) and F8 have no numpy dtype
SAFETENSORS_DTYPES = {"F64": ("f", 8), "F32": ("f", 4), "F16": ("f", 2), "BF16": ("bf16", 2),
                      "I64": ("i", 8), "I32": ("i", 4), "I16": ("i", 2), "I8": ("i", 1),
                      "U64": ("u", 8), "U32": ("u", 4), "U16": ("u", 2), "U8": ("u", 1),
                      "BOOL": ("b", 1), "F8_E4M3": ("f8", 1), "F8_E5M2": ("f8", 1)}


@dataclass(frozen=True)
class ArrayInfo:
    """What a file's header says about one array: shape, numpy kind and dtype name."""

    shape: tuple[int, ...]
    kind: str  # numpy dtype kind (f, i, u, b, O, ...) or bf16 / f8 (safetensors only)
    dtype: str

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def file_kind(name: str) -> str | None:
    """"npz", "safetensors" or "netcdf" from a file name's suffix, or None.

    >>> file_kind("layer.safetensors"), file_kind("w.NPZ"), file_kind("w.nc"), file_kind("w.pt")
    ('safetensors', 'npz', 'netcdf', None)
    """
    return WEIGHTS_SUFFIXES.get(Path(name).suffix.lower())


def read_arrays(name: str, folder: Path, wanted: Mapping[str, str], *, confined: bool = True,
                check_shapes: Callable[[dict[str, tuple[int, ...]]], None] | None = None
                ) -> dict[str, np.ndarray]:
    """{role: float64 array} of the arrays `wanted` maps roles to, read from the file `name`.

    `name` is relative to `folder`; `confined` (a spec's own file) refuses a file outside the
    folder's tree and those in $HJDSL_DATA_DIRS, as data files are. Only float and integer
    arrays are read, every value finite; a failure is a DataFileError with `part` = the role.
    `check_shapes({role: shape})` runs on the header's shapes before any array is read (raise a
    DataFileError with `part` to refuse them).

    >>> read_arrays("layer.safetensors", Path("."), {"W": "head.weight", "b": "head.bias"})
    ... # doctest: +SKIP
    {'W': array([[...]]), 'b': array([...])}
    """
    shown = _short(name)
    if not name or "\x00" in name:
        raise DataFileError(f"the weights file name {shown!r} is empty or contains a NUL "
                            "character", "D001")
    real = os.path.realpath(Path(folder) / name)
    if confined and not _inside(real, folder):
        raise DataFileError(f"weights file `{shown}` is outside the folder of the spec", "D011",
                            hint="a spec reads files only from its own folder and below (links "
                                 "are followed); allow another folder with HJDSL_DATA_DIRS=FOLDER")
    kind = file_kind(name)
    if kind is None:
        raise DataFileError(f"unsupported weights file type `{_short(Path(name).suffix or name)}`",
                            "D002", hint="use .npz (numpy.savez), .safetensors or NetCDF (.nc)")
    size = _regular_file(real, shown, "the folder of the spec" if confined else "the current folder")
    reader = _READERS[kind](real, shown, size)
    with reader:
        infos = reader.infos()
        for role, array in wanted.items():
            if array not in infos:
                raise DataFileError(f"array `{_short(array)}` not found in `{shown}`", "D003",
                                    hint=names_hint(infos), part=role)
            _check_dtype(infos[array], array, shown, role)
        if check_shapes is not None:
            check_shapes({role: infos[array].shape for role, array in wanted.items()})
        total = sum(infos[a].size for a in wanted.values())
        # the stored arrays and their float64 copies are held together at the peak
        problem = over_memory(16 * total, f"reading {total:,} numbers from `{shown}`")
        if problem:
            raise DataFileError(problem, "D007", part=next(iter(wanted), "file"))
        out = {}
        for role, array in wanted.items():
            values = np.asarray(reader.read(array, infos[array]), dtype=np.float64)
            if values.shape != infos[array].shape:
                raise _damaged(shown)
            _check_finite(values, array, shown, role)
            values.setflags(write=False)
            out[role] = values
    return out


def names_hint(infos: Mapping[str, ArrayInfo]) -> str:
    """'arrays in the file: a (3, 2), b (3,)' (at most SHOWN_NAMES of them)."""
    if not infos:
        return "the file holds no arrays"
    listed = [f"{_short(n)} {tuple(i.shape)}" for n, i in list(infos.items())[:SHOWN_NAMES]]
    rest = len(infos) - len(listed)
    return "arrays in the file: " + ", ".join(listed) + (f" and {rest} more" if rest else "")


# --- checks shared by every format ------------------------------------------------------------
def _regular_file(real: str, shown: str, origin: str) -> int:
    """The size of the regular file at `real`; a DataFileError for anything else."""
    try:
        info = os.stat(real)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise DataFileError(f"weights file `{shown}` not found", "D001",
                                hint=f"paths are relative to {origin}") from None
        raise _os_error(exc, shown, origin) from None
    if stat.S_ISDIR(info.st_mode):
        raise DataFileError(f"`{shown}` is a folder, not a weights file", "D001")
    if not stat.S_ISREG(info.st_mode):
        raise DataFileError(f"`{shown}` is not a regular file (a device, pipe or socket)", "D001")
    if not os.access(real, os.R_OK):
        raise DataFileError(f"cannot read weights file `{shown}`: permission denied", "D001")
    return info.st_size


def _check_dtype(info: ArrayInfo, array: str, shown: str, role: str) -> None:
    where = f"array `{_short(array)}` of `{shown}`"
    if info.kind == "O":
        raise DataFileError(f"{where} holds Python objects (a pickle): hjdsl reads only numbers "
                            "and never loads pickles", "D014", part=role,
                            hint="save plain float arrays, e.g. numpy.savez(f, W=W.astype(float))")
    if info.kind not in ("f", "i", "u", "bf16"):
        raise DataFileError(f"{where} holds {info.dtype} values, not float or integer numbers",
                            "D008", part=role, hint="save float32 or float64 arrays")


def _check_finite(values: np.ndarray, array: str, shown: str, role: str) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        at = tuple(int(i) for i in bad[0])
        index = ", ".join(map(str, at)) if at else ""
        raise DataFileError(f"array `{_short(array)}` of `{shown}` has {values[at]:g} at "
                            f"[{index}]: not a finite number", "D009", part=role,
                            hint=f"{len(bad)} non-finite value{'s' if len(bad) > 1 else ''} in "
                                 "this array; a trained layer's weights are finite")


def _damaged(shown: str, why: str = "the file is truncated or damaged") -> DataFileError:
    return DataFileError(f"cannot read `{shown}`: {why}", "D004",
                         hint="write it again (numpy.savez, safetensors' save_file or "
                              "xarray's to_netcdf)")


# --- one reader per format: infos() from the header, read(name) one array ------------------------
class _Reader:
    def __init__(self, real: str, shown: str, size: int):
        self.real, self.shown, self.size = real, shown, size

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        pass


class _Npz(_Reader):
    """A zip of .npy members; each member's header gives its dtype and shape."""

    def infos(self) -> dict[str, ArrayInfo]:
        try:
            self.zip = zipfile.ZipFile(self.real)
            out = {}
            for member in self.zip.namelist():
                if member.endswith(".npy"):
                    with self.zip.open(member) as fh:
                        out[member[:-4]] = _npy_info(fh)
            return out
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, struct.error,
                SyntaxError, TypeError, RuntimeError, NotImplementedError):
            raise _damaged(self.shown, "it is not a complete .npz (zip) archive of .npy arrays") \
                from None

    def read(self, name: str, info: ArrayInfo):
        try:
            with self.zip.open(name + ".npy") as fh:
                values = np.lib.format.read_array(fh, allow_pickle=False)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error, RuntimeError):
            raise _damaged(self.shown) from None
        return values

    def close(self) -> None:
        if getattr(self, "zip", None) is not None:
            self.zip.close()


def _npy_info(fh) -> ArrayInfo:
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(fh)
    else:
        shape, _, dtype = fmt._read_array_header(fh, version)  # 3.0: utf-8 field names
    return ArrayInfo(tuple(int(n) for n in shape), "O" if dtype.hasobject else dtype.kind,
                     dtype.name)


class _Safetensors(_Reader):
    """An 8-byte header length, a JSON header (dtype, shape, byte offsets), then the bytes."""

    def infos(self) -> dict[str, ArrayInfo]:
        with open(self.real, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise _damaged(self.shown, "it is too short to be a safetensors file")
            n = struct.unpack("<Q", head)[0]
            if n > min(MAX_HEADER, self.size - 8):
                raise _damaged(self.shown, "its header length is larger than the file: it is "
                                           "not a safetensors file, or it is truncated")
            try:
                header = json.loads(fh.read(n).decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise _damaged(self.shown, "its header is not valid JSON") from None
        if not isinstance(header, dict):
            raise _damaged(self.shown, "its header is not a JSON object")
        header.pop("__metadata__", None)
        out, self.starts, self.ends = {}, {}, {}
        for name, entry in header.items():
            try:
                dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
                kind, itemsize = SAFETENSORS_DTYPES.get(dtype, ("?", 0))
                shape = tuple(int(k) for k in shape)
                ok = all(isinstance(v, int) and v >= 0 for v in (*entry["shape"], begin, end))
            except (KeyError, TypeError, ValueError):
                raise _damaged(self.shown, f"its header entry for `{_short(name)}` is malformed") \
                    from None
            if not ok or (itemsize and end - begin != math.prod(shape) * itemsize):
                raise _damaged(self.shown, f"its header entry for `{_short(name)}` is malformed")
            out[name] = ArrayInfo(shape, kind, dtype)
            self.starts[name], self.ends[name] = 8 + n + begin, 8 + n + end
        return out

    def read(self, name: str, info: ArrayInfo):
        from safetensors import SafetensorError, safe_open

        if self.ends[name] > self.size:
            raise _damaged(self.shown, f"it is truncated: `{_short(name)}` ends at byte "
                                       f"{self.ends[name]:,} of a {self.size:,}-byte file")
        if info.kind == "bf16":
            return self.bfloat16(name, info)
        try:
            with safe_open(self.real, framework="np") as fh:
                return fh.get_tensor(name)
        except (SafetensorError, OSError, ValueError):
            raise _damaged(self.shown) from None


    def bfloat16(self, name: str, info: ArrayInfo) -> np.ndarray:
        """bfloat16 (PyTorch's usual training dtype; numpy has none): the top half of a float32."""
        with open(self.real, "rb") as fh:
            fh.seek(self.starts[name])
            raw = fh.read(self.ends[name] - self.starts[name])
        if len(raw) != 2 * info.size:
            raise _damaged(self.shown)
        half = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return half.view(np.float32).reshape(info.shape)


class _NetCDF(_Reader):
    """NetCDF-3 or NetCDF-4 opened lazily with xarray: variables' shapes before their values."""

    def infos(self) -> dict[str, ArrayInfo]:
        import xarray  # only for NetCDF weights

        with open(self.real, "rb") as fh:
            kind = signature(fh.read(1 << 16))
        if kind not in ("netcdf3", "hdf5"):
            what = f"it is {kind}" if kind else "it has neither the NetCDF-3 nor the HDF5 signature"
            raise DataFileError(f"`{self.shown}` is not a NetCDF file: {what}", "D004")
        engine = "scipy" if kind == "netcdf3" else "h5netcdf"
        # a damaged file leaves half-built reader objects whose __del__ raises when collected
        self.hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
        try:
            # packed variables (scale_factor, add_offset) are unpacked; fill values become NaN
            self.ds = xarray.open_dataset(self.real, engine=engine, decode_times=False,
                                          decode_timedelta=False)
        except Exception:  # noqa: BLE001 — a damaged file can make the readers raise anything
            self.ds = None
        if self.ds is None:
            raise _damaged(self.shown)
        return {str(k): ArrayInfo(tuple(int(n) for n in v.shape), v.dtype.kind, v.dtype.name)
                for k, v in self.ds.variables.items()}

    def read(self, name: str, info: ArrayInfo):
        try:
            return self.ds.variables[name].values
        except Exception:  # noqa: BLE001 — truncated data surfaces only when read
            raise _damaged(self.shown) from None

    def close(self) -> None:
        if getattr(self, "ds", None) is not None:
            self.ds.close()
            self.ds = None
        if hasattr(self, "hook"):
            gc.collect()
            sys.unraisablehook = self.hook


_READERS = {"npz": _Npz, "safetensors": _Safetensors, "netcdf": _NetCDF}
