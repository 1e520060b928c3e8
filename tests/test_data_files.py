"""One data reader: `check` (a spec's `data "FILE"`) and `solve --data FILE` read the same way."""

from __future__ import annotations

import errno
import gc
import os
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hjdsl
from hjdsl.data_files import read_table
from hjdsl.errors import DataError, SpecError, UsageError
from hjdsl.fit.solve import resolve_data

from conftest import run_cli_here


@pytest.fixture
def cli():
    """The commands run in this process (hjdsl.cli.main) as the shell runs them: no test here is
    about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


X = np.linspace(-2.0, 2.0, 30)
HEAD = "model m\ndim 1\nhamiltonian H(p) = |p|^2\nparticles y = grid(-2, 2, 5)\n" \
       "initial g ~ normal(0, 1)\nobserve f ~ normal(sigma = 0.1)\nevaluate x = [0]\n"
SECRET = "SECRET_TOKEN_123"


def csv_text(header="x,value", extra="") -> str:
    """X and |X| as CSV (repr: every digit kept), `extra` appended to each row."""
    return header + "\n" + "".join(f"{float(a)!r},{float(abs(a))!r}{extra}\n" for a in X)


def write_netcdf(path, x=X, value=None, encoding=None, engine="h5netcdf"):
    import xarray as xr

    value = np.abs(x) if value is None else value
    xr.Dataset({"x": ("i", x), "value": ("i", value)}).to_netcdf(path, engine=engine,
                                                                  encoding=encoding)
    return path


def via_check(folder, name: str):
    """x, value as `check` reads `data "name"` of a spec in `folder`, or the error's outcome."""
    spec = folder / "check.hj"
    spec.write_text(HEAD + f'data "{name}"\n', encoding="utf-8")
    try:
        model = hjdsl.load(spec)
    except DataError as err:
        return outcome(err)
    return model.data.x, model.data.value


def via_solve(folder, name: str, monkeypatch):
    """x, value as `solve --data name` reads it (from `folder`), or the error's (code, text)."""
    monkeypatch.chdir(folder)
    model = hjdsl.parse(HEAD)
    try:
        data = resolve_data(model, name)
    except DataError as err:
        return outcome(err)
    return data.x, data.value


def outcome(err: DataError):
    first = err.diagnostics[0]
    assert err.exit_code == 2 and first.code.startswith("D")
    return first.code, first.message, first.hint


def both(folder, name, monkeypatch):
    """The outcome of check and of solve --data, asserted to be the same (the hints may differ
    only in what a path is relative to)."""
    a, b = via_check(folder, name), via_solve(folder, name, monkeypatch)
    if isinstance(a[0], str):
        assert a[:2] == b[:2]
        assert a[2] == b[2] or a[2] == "paths are relative to the folder of the spec"
    else:
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    return a


# --- 1, 2: formats, encodings and shapes ------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


@pytest.mark.parametrize("name, content, code, message", [
    ("picture.png", PNG, "D002", "unsupported data file type `.png`"),
    ("picture.csv", PNG, "D004", "`picture.csv` is not CSV text: it is a PNG image"),
    ("picture.nc", PNG, "D004", "`picture.nc` is not a NetCDF file: it is a PNG image"),
    ("zeros.csv", b"x,value\n0,\x00\x01\n", "D004",
     "`zeros.csv` is not CSV text: it has a binary control character on line 2"),
    ("text.nc", csv_text().encode(), "D004", "`text.nc` is not a NetCDF file: it has neither "
     "the NetCDF-3 nor the HDF5 signature"),
    ("wide.csv", "\ufeffx,value\n".encode("utf-16"), "D004", "`wide.csv` is UTF-16 text"),
])
def test_unreadable_content_is_a_data_error_naming_the_file(tmp_path, monkeypatch, name, content,
                                                           code, message):
    (tmp_path / name).write_bytes(content)
    got = both(tmp_path, name, monkeypatch)
    assert got[:2] == (code, message)
    assert got[2] is None or "IHDR" not in got[2]  # nothing of a binary file is quoted


@pytest.mark.parametrize("name, content", [
    ("latin1.csv", csv_text("x,value,temp\u00e9rature", ",1").encode("latin-1")),
    ("bom.csv", b"\xef\xbb\xbf" + csv_text().encode()),
    ("crlf.csv", csv_text().replace("\n", "\r\n").encode()),
    ("gaps.csv", ("\n" + csv_text().replace("\n", "\n\n", 3)).encode()),
])
def test_text_encodings_read_the_same_numbers(tmp_path, monkeypatch, name, content):
    (tmp_path / name).write_bytes(content)
    x, value = both(tmp_path, name, monkeypatch)
    np.testing.assert_array_equal(x[:, 0], X)
    np.testing.assert_array_equal(value, np.abs(X))


@pytest.mark.parametrize("name", ["good.h5", "GOOD.NC", "classic.CDF", "upper.Csv"])
def test_suffixes_are_matched_without_case(tmp_path, monkeypatch, name):
    if name.lower().endswith(".csv"):
        (tmp_path / name).write_text(csv_text())
    else:  # NetCDF-4 (HDF5), or NetCDF-3 for .cdf
        write_netcdf(tmp_path / name, engine="scipy" if name.endswith("CDF") else "h5netcdf")
        assert (tmp_path / name).read_bytes()[:3] == (b"CDF" if name.endswith("CDF") else b"\x89HD")
    x, value = both(tmp_path, name, monkeypatch)
    np.testing.assert_array_equal(x[:, 0], X)
    np.testing.assert_array_equal(value, np.abs(X))


@pytest.mark.parametrize("shapes, message", [
    (((30, 2), (30, 2)), "variable `x` of `d.nc` must be 1-D with one entry per point, got "
                         "shape (30, 2)"),
    (((30,), (29,)), "variable `value` of `d.nc` must be 1-D with one entry per point, got "
                     "shape (29,)"),
])
def test_netcdf_shapes_are_checked_not_flattened(tmp_path, monkeypatch, shapes, message):
    import xarray as xr

    dims = {"x": ("i", "j")[:len(shapes[0])], "value": ("k", "j")[:len(shapes[1])]}
    xr.Dataset({k: (dims[k], np.zeros(shape)) for k, shape in zip(("x", "value"), shapes)}
               ).to_netcdf(tmp_path / "d.nc", engine="h5netcdf")
    assert both(tmp_path, "d.nc", monkeypatch)[:2] == ("D006", message)


def test_netcdf_text_variables_are_refused_without_quoting_them(tmp_path, monkeypatch):
    import xarray as xr

    xr.Dataset({"x": ("i", X), "value": ("i", [SECRET] * X.size)}).to_netcdf(
        tmp_path / "d.nc", engine="h5netcdf")
    code, message, hint = both(tmp_path, "d.nc", monkeypatch)
    assert code == "D008" and message.startswith("variable `value` of `d.nc` holds ")
    assert SECRET not in message + str(hint)


@pytest.mark.parametrize("text, code, message", [
    ("x,value\n0,1\n1,nan\n", "D009", "`d.csv` line 3, column `value`: nan is not a finite number"),
    ("x,value\n0,1\n\n-inf,1\n", "D009", "`d.csv` line 4, column `x`: -inf is not a finite number"),
    ("x,value\n0,1\n1,\n", "D008", "`d.csv` line 3, column `value`: cannot read '' as a number"),
    ("x,value\n0,1\n1\n", "D006", "`d.csv` line 3 has 1 fields; the header has 2"),
    ("a,b\n0,1\n1,2\n", "D003", "column `x` not found in `d.csv`"),
    ("x,value\n0,1\n", "D005", "`d.csv` has 1 data row; at least 2 are needed"),
    ("\n \n", "D004", "data file `d.csv` is empty"),
])
def test_table_problems_are_reported_alike(tmp_path, monkeypatch, text, code, message):
    (tmp_path / "d.csv").write_text(text)
    assert both(tmp_path, "d.csv", monkeypatch)[:2] == (code, message)


def test_a_damaged_netcdf_leaves_no_traceback_behind(tmp_path, monkeypatch):
    """h5netcdf leaves a half-built File whose __del__ raises (seen for corrupted HDF5 headers);
    Python prints that whenever the object is collected, so the reader must collect it quietly."""
    import xarray

    class HalfBuilt:
        def __del__(self):
            raise AttributeError("'File' object has no attribute '_writable'")

    def damaged(*args, **kwargs):
        reader = HalfBuilt()  # noqa: F841 — held by the traceback, as h5netcdf's File is
        raise OSError("Unable to synchronously open object (bad object header)")

    write_netcdf(tmp_path / "d.nc")
    monkeypatch.setattr(xarray, "open_dataset", damaged)
    printed = []
    monkeypatch.setattr(sys, "unraisablehook", printed.append)
    code, message, _ = both(tmp_path, "d.nc", monkeypatch)
    gc.collect()
    assert (code, printed) == ("D004", [])
    assert message == ("cannot read `d.nc` as NetCDF: the file is damaged or uses features hjdsl "
                       "cannot read")


# --- 3: files are data, and their contents stay private ---------------------------------------
@pytest.fixture
def outside(tmp_path):
    """A project folder, and a secret CSV outside it."""
    (tmp_path / "private").mkdir()
    secret = tmp_path / "private" / "secret.csv"
    secret.write_text(f"{SECRET}:*:19000:0:99999:7:::\nx,value\n{SECRET},1\n2,3\n")
    (tmp_path / "project").mkdir()
    return tmp_path / "project", secret


@pytest.mark.parametrize("how", ["link", "dotdot", "absolute", "link to a link"])
def test_a_spec_cannot_read_outside_its_folder(outside, how):
    project, secret = outside
    if how == "link":
        (project / "data.csv").symlink_to(secret)
        name = "data.csv"
    elif how == "link to a link":
        (project / "sub").mkdir()
        (project / "sub" / "inner.csv").symlink_to(secret)
        (project / "data.csv").symlink_to(project / "sub" / "inner.csv")
        name = "data.csv"
    else:
        name = "../private/secret.csv" if how == "dotdot" else str(secret)
    code, message, hint = via_check(project, name)
    # a long absolute path (pytest's tmp folders grow with its run count) is shown shortened
    shown = name if len(name) <= 80 else name[:50] + "…" + name[-25:]
    assert code == "D011" and message == f"data file `{shown}` is outside the folder of the spec"
    assert "HJDSL_DATA_DIRS=" in hint and "solve --data" in hint
    assert SECRET not in message + hint and "19000" not in message + hint


def test_links_inside_the_folder_are_followed(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "real.csv").write_text(csv_text())
    (tmp_path / "link.csv").symlink_to(tmp_path / "sub" / "real.csv")
    np.testing.assert_array_equal(both(tmp_path, "link.csv", monkeypatch)[1], np.abs(X))


def test_an_allowed_folder_and_the_command_line_may_read_outside(outside, monkeypatch):
    """$HJDSL_DATA_DIRS opens another tree to specs; --data is the user's own choice anyway.
    Either way a value that fails to parse is quoted only as a short escaped excerpt."""
    project, secret = outside
    secret.write_text(f"x,value\n{SECRET * 4}\x7f,1\n2,3\n")
    (project / "data.csv").symlink_to(secret)
    shown = (SECRET * 4)[:20]
    expected = ("D008", f"`data.csv` line 2, column `x`: cannot read {shown!r}… as a number")
    assert via_check(project, "data.csv")[0] == "D011"
    assert via_solve(project, "data.csv", monkeypatch)[:2] == expected
    monkeypatch.setenv("HJDSL_DATA_DIRS", str(secret.parent))
    assert via_check(project, "data.csv")[:2] == expected


@pytest.mark.parametrize("header, hint", [
    ("a,b,value", "columns are: a, b, value"),
    (f"{SECRET}:*:19000:0:99999:7:::", "the file has 1 column and none is named with letters, "
     "digits and _ only, as a spec's column names are"),
    (",".join(f"c{i}" for i in range(14)) + ",a_very_long_column_name_indeed",
     "columns are: " + ", ".join(f"c{i}" for i in range(10)) + " and 5 more"),
])
def test_the_columns_hint_quotes_only_short_column_names(tmp_path, monkeypatch, header, hint):
    (tmp_path / "d.csv").write_text(header + "\n" + "\n".join(["1," * header.count(",") + "1"] * 3))
    code, message, got = both(tmp_path, "d.csv", monkeypatch)
    assert (code, message, got) == ("D003", "column `x` not found in `d.csv`", hint)


# --- 4: budgets as a product, before anything is allocated ------------------------------------
def test_synthetic_data_is_budgeted_as_points_times_dim():
    text = ("model m\ndim 1000\nhamiltonian H(p) = |p|^2\nparticles y = [[0" + ", 0" * 999 +
            "]]\ninitial g = 0\ndata synthetic n = 10000000 { x ~ uniform(-1, 1)\n"
            "value = sum(x) }\n")
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        hjdsl.parse(text)
    assert time.perf_counter() - start < 2.0
    first, = (d for d in info.value.errors if "synthetic" in d.message)
    nbytes = 10_000_000 * 1001 * 8  # x (n × d) and one value per point, float64
    assert first.code == "E113" and first.message.startswith(
        f"the synthetic data (10,000,000 points × 1000 coordinates, and a value each) would need "
        f"{nbytes / 2**30:.1f} GiB, over the 4.0 GiB budget")


def test_a_file_over_the_memory_budget_is_refused_before_reading(tmp_path, monkeypatch):
    (tmp_path / "d.csv").write_text(csv_text())
    size = (tmp_path / "d.csv").stat().st_size
    assert 1024 < size < 2048  # over a 1 KiB budget; its text and table fit in 4 KiB
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "4KiB")
    assert isinstance(both(tmp_path, "d.csv", monkeypatch)[0], np.ndarray)
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "1KiB")
    code, message, _ = both(tmp_path, "d.csv", monkeypatch)
    assert code == "D007" and message == (
        f"reading `d.csv` ({size / 1024:.1f} KiB) would need {2 * size / 1024:.1f} KiB, over the "
        "1.0 KiB budget (set HJDSL_MAX_MEMORY=... to allow more)")


def test_the_table_is_budgeted_from_its_line_count(tmp_path, monkeypatch):
    (tmp_path / "d.csv").write_text("x,value\n" + "0,0\n" * 5000)  # 20 KB of text, 5,001 lines
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "64KiB")  # the text fits twice, the table does not
    code, message, _ = both(tmp_path, "d.csv", monkeypatch)
    assert code == "D007" and message.startswith(
        f"the data of `d.csv` (5,002 rows × 2 columns) would need {5002 * 2 * 8 / 1024:.1f} KiB, "
        "over the 64.0 KiB")


def test_a_compressed_netcdf_is_budgeted_before_it_is_decoded(tmp_path, monkeypatch):
    n = 200_000
    write_netcdf(tmp_path / "z.nc", np.zeros(n), np.zeros(n),
                 encoding={"x": {"zlib": True}, "value": {"zlib": True}})
    assert (tmp_path / "z.nc").stat().st_size < 100_000  # far smaller than its 3.2 MB of data
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "1MiB")
    code, message, _ = both(tmp_path, "z.nc", monkeypatch)
    assert code == "D007" and message.startswith(
        "the data of `z.nc` (200,000 points × 2 columns) would need 3.1 MiB, over the 1.0 MiB")


# --- 5: every OS-level failure is a located DataError ------------------------------------------
def test_os_level_failures_are_data_errors(tmp_path, monkeypatch):
    long_name = "a" * 300 + ".csv"
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    os.mkfifo(tmp_path / "pipe.csv")  # would block a reader that opened it for reading
    cases = {
        long_name: f"cannot read data file `{'a' * 50}…{'a' * 21}.csv`: file name too long",
        "folder.csv": "`folder.csv` is a folder, not a data file",
        "loop.csv": "cannot read data file `loop.csv`: too many levels of symbolic links (or a "
                    "link where the file should be)",
        "pipe.csv": "`pipe.csv` is not a regular file (a device, pipe or socket)",
        "none.csv": "data file `none.csv` not found",
        "": "the data file name is empty",
    }
    for name, message in cases.items():
        assert both(tmp_path, name, monkeypatch)[:2] == ("D001", message)


@pytest.mark.parametrize("number", [errno.EACCES, errno.EIO, errno.EMFILE])
def test_any_errno_opening_a_file_is_a_data_error(tmp_path, monkeypatch, number):
    (tmp_path / "d.csv").write_text(csv_text())

    def refuse(*args, **kwargs):
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr("hjdsl.data_files.os.open", refuse)
    code, message, _ = both(tmp_path, "d.csv", monkeypatch)
    assert (code, message) == ("D001", f"cannot read data file `d.csv`: "
                                       f"{os.strerror(number).lower()}")


# --- the command line: same exit code and message from check and solve --data ------------------
def test_cli_check_and_solve_agree_on_a_bad_file(cli, tmp_path):
    (tmp_path / "picture.png").write_bytes(PNG)
    (tmp_path / "spec.hj").write_text(HEAD + 'data "picture.png"\n')
    (tmp_path / "plain.hj").write_text(HEAD)
    code_c, _, err_c = cli("check", "spec.hj", cwd=tmp_path)
    code_s, _, err_s = cli("solve", "plain.hj", "--data", "picture.png", cwd=tmp_path)
    assert code_c == code_s == 2
    assert "error: unsupported data file type `.png`" in err_c
    assert "\nerror: unsupported data file type `.png`" in err_s
    assert "internal error" not in err_c + err_s and "Traceback" not in err_c + err_s


def test_cli_never_prints_an_outside_files_content(cli, outside):
    project, secret = outside
    (project / "data.csv").symlink_to(secret)
    (project / "spec.hj").write_text(HEAD + 'data "data.csv"\n')
    code, out, err = cli("check", "spec.hj", cwd=project)
    assert code == 2 and "is outside the folder of the spec" in err
    assert SECRET not in out + err and "19000" not in out + err


@pytest.mark.parametrize("data, error, message", [
    ("a\x00.csv", DataError, "the data file name 'a\\x00.csv' contains a NUL character"),
    ({"x": 1}, UsageError, "data must be a file path or an (x, value) pair, not dict"),
])
def test_names_no_file_can_have_are_input_errors(data, error, message):
    with pytest.raises(error) as info:
        resolve_data(hjdsl.parse(HEAD), data)
    assert info.value.diagnostics[0].message == message and info.value.exit_code == 2


# --- properties: the numbers written are the numbers read; any bytes are data or a DataError ----
@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.tuples(st.floats(allow_nan=False, allow_infinity=False),
                                 st.floats(allow_nan=False, allow_infinity=False)),
                       min_size=2, max_size=20),
       newline=st.sampled_from(["\n", "\r\n", "\r"]), bom=st.booleans(),
       blank=st.integers(0, 3))
def test_csv_round_trips_every_float(tmp_path_factory, values, newline, bom, blank):
    folder = tmp_path_factory.mktemp("rt")
    lines = ["value,x"] + [f"{v!r},{x!r}" for x, v in values]
    lines[blank:blank] = ["  "]  # a blank line anywhere is skipped
    (folder / "d.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"")
                                   + newline.join(lines).encode())
    x, value = read_table("d.csv", folder, ["x"], "value", confined=True)
    np.testing.assert_array_equal(x[:, 0], [a for a, _ in values])
    np.testing.assert_array_equal(value, [b for _, b in values])


@settings(max_examples=40, deadline=None)
@given(content=st.one_of(st.binary(max_size=300),
                         st.text(max_size=200).map(lambda t: ("x,value\n" + t).encode())),
       suffix=st.sampled_from([".csv", ".nc"]))
def test_any_bytes_are_read_or_refused_with_a_data_error(tmp_path_factory, content, suffix):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / f"d{suffix}").write_bytes(content)
    try:
        read_table(f"d{suffix}", folder, ["x"], "value", confined=True)
    except DataError as err:
        first = err.diagnostics[0]
        assert first.code.startswith("D") and f"`d{suffix}`" in first.message
        assert len(first.message) < 200 and len(first.hint or "") < 300
