"""`hjdsl bifurcate`: report, Dataset and figures, usage errors."""

from __future__ import annotations

import pytest

from conftest import run_cli_here


@pytest.fixture
def cli():
    """`hjdsl bifurcate` runs in this process (hjdsl.cli.main) as the shell runs it: no test here
    is about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


FOUR = """\
model four "theory.md Appendix A atoms"
dim 1
time t = 1
viscosity eps in [1, 0.1]
hamiltonian H(p) = |p|^2
particles y = [-1.5, -0.5, 0.5, 1.5]
initial g = [1, 0.3, 0.3, 1]
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "four.hj"
    path.write_text(FOUR)
    return path


def test_report_dataset_and_plots(cli, spec, tmp_path):
    import xarray as xr

    out, plot, snaps = tmp_path / "b.nc", tmp_path / "b.png", tmp_path / "s.png"
    code, stdout, err = cli("bifurcate", str(spec), "--box", "-3,3", "--eps-range", "0.05,1,12", "-o", str(out),
                            "--plot", str(plot), "--snapshots", str(snaps))
    assert code == 0, err
    lines = stdout.splitlines()
    assert "      0.05     0.3091     2      0    3" in lines
    assert "    0.3955          1     0      0    1" in lines
    assert sum("fold   at" in line for line in lines) == 2
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.n_max.values.tolist() == [3] * 4 + [1] * 8
        assert ds.event_kind.values.tolist() == ["fold", "fold"]
    assert plot.stat().st_size > 10_000 and snaps.stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["--eps-range", "1,0.5"], "--eps-range needs LO,HI[,N] with 0 < LO < HI"),
    (["--box", "3,1"], "--box needs LO,HI with LO < HI"),
    (["--eps-range", "0.1,1,1"], "a whole number of levels N ≥ 2, got 1"),
])
def test_usage_errors_exit_2(cli, spec, args, message):
    code, _, err = cli("bifurcate", str(spec), *args)
    assert code == 2
    assert message in err and "Traceback" not in err
