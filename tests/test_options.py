"""Every option of compare / attribute / bifurcate / compile is range-checked before any work.

Each probe must be refused fast (exit 2, a message naming the limit), on the CLI and through
the Python API (Model.compare / attribute / bifurcate), and the budgets must be honest figures.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import hjdsl
from hjdsl.cli import main
from hjdsl.errors import UsageError
from tests.conftest import EXAMPLES

FOUR = str(EXAMPLES / "paper" / "four_atoms.hj")
QUICK = str(EXAMPLES / "quickstart.hj")
EPS_10001 = ",".join(["0.5"] * 10_001)

PROBES = [
    # compare
    (["compare", FOUR, "--eps", EPS_10001], "--eps has 10,001 values; the limit of one ε sweep is 10,000"),
    (["compare", FOUR, "--audit=-1"], "--audit must be ≥ 0, got -1"),
    (["compare", FOUR, "--audit", "lots"], "--audit takes a number of points or `all`"),
    (["compare", FOUR, "-o", "/nonexistent/dir/v.nc"], "folder /nonexistent/dir does not exist"),
    (["compare", FOUR, "--plot", "views.jpg"], "the name must end in .png, .pdf, .svg"),
    # attribute
    (["attribute", FOUR, "--top", "0"], "--top must be ≥ 1, got 0"),
    (["attribute", FOUR, "--top", "2.5"], "--top takes a whole number, got '2.5'"),
    (["attribute", FOUR, "--delta-f", "0"], "--delta-f must be > 0, got 0"),
    (["attribute", FOUR, "--delta-f", "-1"], "--delta-f must be > 0, got -1"),
    (["attribute", FOUR, "--delta-f", "nan"], "--delta-f takes a finite number, got 'nan'"),
    (["attribute", FOUR, "--eps", "0"], "attribution needs finite ε > 0"),
    (["attribute", FOUR, "--robustness-plot", "r.gif"], "the name must end in .png"),
    (["attribute", FOUR, "-o", "/"], "it is a folder"),
    # bifurcate
    (["bifurcate", FOUR, "--tol", "1e-300"], "--tol 1e-300 is finer than the bisection can resolve"),
    (["bifurcate", FOUR, "--tol", "-1"], "--tol must be > 0, got -1"),
    (["bifurcate", FOUR, "--tol", "inf"], "--tol takes a finite number, got 'inf'"),
    (["bifurcate", FOUR, "--eps-range", "0.05,0.6,1000000"],
     "--eps-range asks for 1,000,000 levels; the limit is 10,000"),
    (["bifurcate", FOUR, "--eps-range", "0.05,0.6,2.5"], "a whole number of levels N ≥ 2, got 2.5"),
    (["bifurcate", FOUR, "--eps-range", "0,0.6"], "--eps-range needs LO,HI[,N] with 0 < LO < HI"),
    (["bifurcate", FOUR, "--box", "0,inf"], "--box needs LO,HI with LO < HI (finite)"),
    (["bifurcate", FOUR, "--snapshots", "s.bmp"], "the name must end in .png"),
    # compile
    (["compile", FOUR, "--target", "jax", "-o", "/nonexistent/m.py"], "does not exist"),
    (["compile", FOUR, "--info", "-o", "x.py"], "-o/--output goes with --target, not --info"),
]


@pytest.fixture(scope="module", autouse=True)
def warm_imports():
    """Imports happen once per process; the probes time the checks, not the interpreter."""
    main(["check", "-q", FOUR])


@pytest.mark.parametrize("argv, message", PROBES, ids=[" ".join(a[:1] + a[2:])[:60] for a, _ in PROBES])
def test_probe_is_refused_fast(capsys, argv, message):
    start = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err and "internal error" not in err
    assert elapsed < 1.0, f"refused after {elapsed:.2f} s"


@pytest.mark.parametrize("verb, extra, what", [
    ("compare", [], "compare of 5 ε × 1,001 points × 4 atoms (d = 1) would need"),
    ("attribute", ["--eps", "0.5"], "attribution of 1,001 point(s) × 1 ε × 4 atoms (d = 1) would need"),
    ("bifurcate", [], "the critical-point search (4 atoms, d = 1) would need"),
])
def test_memory_budget_refuses_with_the_figure_and_the_way_past_it(capsys, monkeypatch, verb, extra,
                                                                   what):
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "64KiB")  # above the spec's own arrays
    start = time.perf_counter()
    code = main([verb, FOUR, *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert what in err and "over the 64.0 KiB budget (set HJDSL_MAX_MEMORY=... to allow more)" in err
    assert time.perf_counter() - start < 1.0


def test_attribute_over_budget_dense_and_sparse_names_the_request(capsys, monkeypatch):
    """Over the budget, attribute falls back to its sparse output; when that does not fit either,
    the refusal gives the dense figure of what was asked and says the fallback was tried."""
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "64KiB")
    assert main(["attribute", FOUR, "--eps", "0.5"]) == 2
    err = capsys.readouterr().err
    dense, sparse = (part.split(",")[0] for part in err.split("would need ")[1:])
    assert err == ("error: attribution of 1,001 point(s) × 1 ε × 4 atoms (d = 1) would need "
                   f"{dense}, over the 64.0 KiB budget (set HJDSL_MAX_MEMORY=... to allow more); "
                   "the sparse output, tried instead, does not fit either: sparse attribution of "
                   f"1,001 point(s) × 1 ε over up to 4 atoms (d = 1) would need {sparse}, over "
                   "the 64.0 KiB budget; use fewer points or ε values\n")


@pytest.fixture(scope="module")
def four():
    return hjdsl.load(FOUR)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.compare(eps=np.full(10_001, 0.5)), "10,001 ε values exceed the limit of 10,000"),
    (lambda m: m.compare(eps=[0.5], audit=-3), "--audit must be ≥ 0"),
    (lambda m: m.compare(eps=[0.5], audit=2.5), "--audit takes a number of points or `all`, got 2.5"),
    (lambda m: m.compare(eps=[0.5], chunk=-5), "chunk (points per JAX call) must be a whole number"),
    (lambda m: m.compare(eps=[0.5], chunk=2.5), "chunk (points per JAX call) must be a whole number"),
    (lambda m: m.attribute([[0.0]], eps=[0.5], top=0), "--top must be a whole number ≥ 1"),
    (lambda m: m.attribute([[0.0]], eps=[0.5], delta_f=-1.0), "--delta-f must be a finite number > 0"),
    (lambda m: m.attribute([[0.0]], eps=[0.5], delta_f=np.inf), "--delta-f must be a finite number > 0"),
    (lambda m: m.bifurcate(tol=1e-300), "is finer than the bisection can resolve"),
    (lambda m: m.bifurcate(tol=-1.0), "--tol must be a finite number > 0"),
    (lambda m: m.bifurcate(tol=float("nan")), "--tol must be a finite number > 0"),
    (lambda m: m.bifurcate(eps_range=(0.05, 0.6, 10**6)), "levels; the limit is 10,000"),
    (lambda m: m.bifurcate(eps=[0.1, 0.2, np.inf]), "ε levels must be finite, positive and increasing"),
    (lambda m: m.bifurcate(box=(-np.inf, 3)), "--box needs LO,HI with LO < HI (finite)"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_python_api_checks_the_same_ranges(four, call, message):
    start = time.perf_counter()
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(four)
    assert time.perf_counter() - start < 1.0


def test_valid_options_still_pass_the_checks(four):
    """The other direction: values at the edges of the ranges are accepted."""
    from hjdsl.analysis.attribution import check_options
    from hjdsl.analysis.bifurcation import check_tol, eps_levels

    assert check_options(1, 1e-300) == (1, 1e-300)
    assert check_tol(1e-12, np.array([0.5, 1.0])) == 1e-12
    assert eps_levels(four, (0.05, 0.6, 10_000)).size == 10_000
    assert eps_levels(four, (0.05, 0.6, 2.0)).tolist() == [0.05, 0.6]


@pytest.mark.timeout(120)
def test_bisection_ends_even_with_no_tolerance(four):
    """tol = 0 (below every float spacing): the loop stops when lo and hi are adjacent floats."""
    from hjdsl.analysis.continuation import MAX_BISECTIONS, refine, sweep, track
    from hjdsl.analysis.critical_points import Landscape
    from hjdsl.analysis.gibbs import layer_weights

    land = Landscape(*layer_weights(four), (-3.0, 3.0), t=four.t)
    start = sweep(land, [0.1, 1.0])[0]
    status, _ = track(land, start.x, start.index, 0.1, 1.0)
    dying = np.flatnonzero(status != "ok")
    assert dying.size, "the four-atom landscape loses critical points between ε = 0.1 and 1"
    calls = []
    real_track = track

    def counting(*args, **kwargs):
        calls.append(1)
        return real_track(*args, **kwargs)

    import hjdsl.analysis.continuation as continuation

    continuation.track = counting
    try:
        alive, dead, _, _ = refine(land, start.x[dying[0]], start.index[dying[0]], 0.1, 1.0, 0.0)
    finally:
        continuation.track = real_track
    assert 0.1 <= alive < dead <= 1.0
    assert np.nextafter(alive, np.inf) == dead or dead - alive <= 1e-15
    assert len(calls) <= MAX_BISECTIONS + 1


def test_compare_memory_estimate_is_an_honest_upper_bound(tmp_path):
    """The estimate against a real run's peak resident memory, in a fresh process."""
    import subprocess
    import sys

    script = f"""
import numpy as np, hjdsl
from hjdsl.views.compare import compare_memory

def status(key):  # kB figures of /proc/self/status, in bytes
    line = next(l for l in open("/proc/self/status") if l.startswith(key + ":"))
    return int(line.split()[1]) * 1024

m = hjdsl.load({QUICK!r})
m.compare(eps=[0.5, 0.0], x=m.evaluate[:3], audit=0, grid=False)   # imports and compiles
# reset the high-water mark, so the peak below is that of the run alone (not of the imports)
open("/proc/self/clear_refs", "w").write("5")
base = status("VmRSS")
eps = np.linspace(1, 0.01, 1500)
m.compare(eps=eps, audit=0, grid=False)
print(status("VmHWM") - base, sum(compare_memory(m, eps.size, m.evaluate.shape[0], 0, False).values()))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    measured, estimate = (int(v) for v in out.split())
    # The upper factor guards against an estimate grown loose. With the terms re-derived from
    # the code (π held once, no convex π at audit 0, the identity tolerance and the views'
    # workspaces bounded by their blocks) the estimate is 332 MB against measured peaks of
    # 236–295 MB (1.1–1.4x, warm or cold compilation cache); the old terms gave 790 MB (3.0x).
    assert measured <= estimate <= 2.0 * measured, (measured, estimate)


def test_a_long_compare_is_warned_not_refused(capsys, monkeypatch):
    from hjdsl.views import compare as driver

    model = hjdsl.load(QUICK)
    # 10⁴ ε × 25 audited points of 30 atoms, plus 10⁴ grid solves: about an hour
    assert driver.work_estimate(model, 10_000, 201, None, True) > 3000
    assert driver.work_estimate(model, 5, 201, None, True) < 10
    monkeypatch.setattr(driver, "work_estimate", lambda *a: 3600.0)
    code = main(["compare", FOUR, "--eps", "0.5", "--audit", "0", "--no-grid", "-q"])
    err = capsys.readouterr().err
    assert code == 0
    assert "will take roughly 60 minutes (convex audit and grid solver); --audit 0, --no-grid" in err


@pytest.mark.parametrize("spec", [FOUR, str(EXAMPLES / "norm_l2_1d.hj")])
def test_views_over_eps_blocks_match_one_call(monkeypatch, spec):
    """The bounded-memory path (views called on ε blocks) gives the one-call numbers."""
    from hjdsl.views import compare as driver

    model = hjdsl.load(spec)
    eps, x = np.array([1.0, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.0]), model.evaluate[::50]
    whole = driver.closed_form(model, eps, x)
    monkeypatch.setattr(driver, "VIEW_ELEMENTS", 1)  # one ε per block: 8 blocks
    assert driver.eps_block_size(model, x.shape[0]) == 1
    blocked = driver.closed_form(model, eps, x)
    assert whole.keys() == blocked.keys()
    for key in whole:
        if key == "pde":  # a residual: zero up to round-off of its terms, which XLA may reorder
            scale = 4 * np.finfo(float).eps * np.nan_to_num(whole["pde_scale"])
            assert np.all((np.abs(blocked[key] - whole[key]) <= scale)
                          | (np.isnan(blocked[key]) & np.isnan(whole[key])))
        else:
            np.testing.assert_allclose(blocked[key], whole[key], rtol=1e-15, atol=0, err_msg=key)


def test_a_long_bifurcate_is_warned_before_it_starts(capsys, monkeypatch):
    from hjdsl.analysis import bifurcation

    clusters = hjdsl.load(str(EXAMPLES / "paper" / "two_clusters.hj"))
    assert bifurcation.bifurcate_seconds(clusters.n_atoms, 2, 10_000) > 1800  # ~0.4 s a level
    assert bifurcation.bifurcate_seconds(4, 1, 41) < 5

    def stop(*args, **kwargs):
        raise UsageError.single("stopped before the sweep")

    monkeypatch.setattr(bifurcation, "bifurcate", stop)
    code = main(["bifurcate", str(EXAMPLES / "paper" / "two_clusters.hj"),
                 "--eps-range", "0.05,0.6,10000"])
    err = capsys.readouterr().err
    assert code == 2 and err.index("warning: this bifurcate (10,000 ε levels, 16 atoms, d = 2) "
                                   "will take roughly") < err.index("stopped before the sweep")


def test_the_reported_compare_is_budgeted_as_a_whole(capsys, monkeypatch):
    """10⁴ ε × 201 points × 30 atoms: every ε × point × atom array counts, not only one."""
    from hjdsl.views.compare import compare_memory

    model = hjdsl.load(QUICK)
    parts = compare_memory(model, 10_000, 201, None, True)
    one_pi = 8 * 10_000 * 201 * 30
    assert parts["attribution (ε × points × atoms)"] >= one_pi
    assert parts["convex attribution (ε × points × atoms)"] == one_pi
    # π, the convex π and the copy h5netcdf makes while writing, plus the per-point arrays
    assert sum(parts.values()) > 4 * one_pi
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "2GiB")
    start = time.perf_counter()
    code = main(["compare", QUICK, "--eps", ",".join(["0.5"] * 10_000)])
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - start < 1.5
    assert "compare of 10,000 ε × 201 points × 30 atoms (d = 1) would need" in err
    assert "over the 2.0 GiB budget (set HJDSL_MAX_MEMORY=... to allow more). Largest parts:" in err
