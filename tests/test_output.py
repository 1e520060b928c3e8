"""Atomic output: nothing is left behind on failure or SIGKILL, concurrent writers never corrupt."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from hjdsl.errors import UsageError
from hjdsl.output import (atomic_path, check_figure_path, check_writable, stale_temp_files,
                          write_text)
from tests.conftest import EXAMPLES, ROOT

# A writer that stops half-way through its write and waits to be killed (the slow write).
SLOW_WRITER = """
import sys, time
from hjdsl.output import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    with open(tmp, "w") as fh:
        fh.write("half")
    print(tmp, flush=True)
    time.sleep(120)
"""


def _slow_writer(target):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    tmp = proc.stdout.readline().strip()
    assert tmp and os.path.exists(tmp), "the writer did not start its write"
    return proc, tmp


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)  # reaped: no zombie left
    proc.stdout.close()


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as fh:
                fh.write("half")
            raise RuntimeError("solver died")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def test_sigkill_mid_write_is_cleaned_by_the_next_write(tmp_path):
    target = tmp_path / "out.nc"
    target.write_text("previous")
    proc, tmp = _slow_writer(target)
    _kill(proc)
    # The kill left its temp file (nothing can run on SIGKILL) and the old result intact ...
    assert os.path.exists(tmp) and target.read_text() == "previous"
    assert stale_temp_files(target) == [tmp_path / os.path.basename(tmp)]
    # ... and the next write to the same target removes it.
    write_text("next", target)
    assert target.read_text() == "next"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]


def test_a_live_writers_temp_file_and_other_files_are_left_alone(tmp_path):
    target = tmp_path / "out.nc"
    proc, tmp = _slow_writer(target)
    try:
        foreign = [tmp_path / ".out.nc.abc123.tmp",             # not hjdsl's naming
                   tmp_path / ".other.nc.hjdsl-00000000-1-x.tmp",  # another target
                   tmp_path / "notes.txt"]
        for path in foreign:
            path.write_text("keep")
        write_text("mine", target)
        assert os.path.exists(tmp), "a running writer's temp file was deleted"
        assert all(path.exists() for path in foreign)
        assert stale_temp_files(target) == []
    finally:
        _kill(proc)
    assert stale_temp_files(target) == [tmp_path / os.path.basename(tmp)]


def test_sigkill_during_the_cli_netcdf_write(tmp_path):
    """End to end: `hjdsl compare -o out.nc` killed while h5netcdf writes; the rerun cleans up."""
    out = tmp_path / "views.nc"
    script = f"""
import sys, time, xarray as xr
from hjdsl.cli import main
real = xr.Dataset.to_netcdf
def slow(self, path, **kw):
    real(self, path, **kw)        # the temp file is complete on disk, the rename has not happened
    print(path, flush=True)
    time.sleep(120)
xr.Dataset.to_netcdf = slow
main(["compare", {str(EXAMPLES / "paper" / "four_atoms.hj")!r}, "--eps", "0.5", "--audit", "0",
      "--no-grid", "-q", "-o", {str(out)!r}])
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    tmp = proc.stdout.readline().strip()
    _kill(proc)
    assert os.path.exists(tmp) and not out.exists()
    from hjdsl.cli import main

    assert main(["compare", str(EXAMPLES / "paper" / "four_atoms.hj"), "--eps", "0.5",
                 "--audit", "0", "--no-grid", "-q", "-o", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["views.nc"]


CONCURRENT_WRITER = """
import sys
from hjdsl.output import write_text
tag = sys.argv[2]
for i in range(40):
    write_text(tag * 20000 + "\\n", sys.argv[1])   # 20 kB: the write is not a single syscall
"""


def test_concurrent_writers_never_corrupt_the_target(tmp_path):
    target = tmp_path / "shared.txt"
    target.write_text("0" * 20000 + "\n")
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(target), tag], cwd=ROOT)
             for tag in "abcd"]
    seen = set()
    while any(p.poll() is None for p in procs):
        text = target.read_text()
        assert len(text) == 20001 and len(set(text[:-1])) == 1, "a reader saw a partial file"
        seen.add(text[0])
        time.sleep(0.002)
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    assert target.read_text()[0] in "abcd" and len(seen) >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.txt"]


def test_written_file_has_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text("hello", tmp_path / "out.txt")
    finally:
        os.umask(old)
    assert path.read_text() == "hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_long_target_names_still_get_a_valid_temp_file(tmp_path):
    target = tmp_path / ("r" * 240 + ".nc")
    assert write_text("x", target).read_text() == "x"


@pytest.mark.parametrize("name, message", [
    ("nope/out.txt", "folder .*nope does not exist"),
    (".", "it is a folder"),
])
def test_unwritable_targets_are_usage_errors(tmp_path, name, message):
    with pytest.raises(UsageError, match=message):
        write_text("x", tmp_path / name)
    with pytest.raises(UsageError, match=message):
        check_writable(tmp_path / name)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder_is_a_usage_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(UsageError, match="is not writable"):
            write_text("x", folder / "out.txt")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("name, ok", [("f.png", True), ("f.PDF", True), ("f.svg", True),
                                      ("f.jpg", False), ("f", False), ("f.nc", False)])
def test_figure_formats(tmp_path, name, ok):
    if ok:
        assert check_figure_path(tmp_path / name).name == name
    else:
        with pytest.raises(UsageError, match=r"the name must end in \.png, \.pdf, \.svg"):
            check_figure_path(tmp_path / name)
