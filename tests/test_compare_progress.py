"""`compare` reports progress per view (the convex programs per solved chunk, the grid per ε),
each bar's advances summing to its total, and draws nothing with quiet or without a terminal."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import hjdsl
import hjdsl.progress


@pytest.fixture
def bars(monkeypatch):
    """Record every progress bar compare opens: [description, total, enabled, advanced]."""
    seen = []

    @contextlib.contextmanager
    def recording(description, total, enabled=True):
        bar = [description, total, enabled, 0]
        seen.append(bar)

        def advance(n=1):
            bar[3] += n
        yield advance

    monkeypatch.setattr(hjdsl.progress, "progress", recording)
    return seen


@pytest.mark.parametrize("audit, workers_rows", [(3, 3), ("all", 7)])
def test_each_view_advances_to_its_total(bars, audit, workers_rows):
    m = hjdsl.load("examples/relativistic_1d.hj")   # 2 ε, 7 points, g an expression, d = 1
    m.compare(audit=audit)
    by_name = {b[0].split(" (")[0]: b for b in bars}
    assert set(by_name) == {"closed-form views", "convex programs", "grid solver"}
    convex = by_name["convex programs"]
    # per audited point: one simplex program per ε and one continuous Hopf–Lax program
    assert convex[1] == workers_rows * (2 + 1) and convex[3] == convex[1]
    assert by_name["grid solver"][1:4:2] == [2, 2]
    assert by_name["closed-form views"][1:4:2] == [1, 1]
    assert all(b[2] for b in bars)


def test_quiet_disables_every_bar(bars):
    m = hjdsl.load("examples/relativistic_1d.hj")
    m.compare(audit=2, quiet=True)
    assert bars and not any(b[2] for b in bars)


def test_no_terminal_draws_nothing(capsys):
    """Without a terminal (as under pytest) the real bars write nothing at all."""
    m = hjdsl.load("examples/norm_l2_1d.hj")
    ds = m.compare(audit=2)
    assert capsys.readouterr().err == ""
    assert np.isfinite(ds.hopf_lax.values).all()
