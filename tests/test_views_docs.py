"""The Python examples in docs/views.md run and print what the page shows."""

from __future__ import annotations

import doctest
import os

from tests.conftest import ROOT


def test_views_md_examples(monkeypatch):
    monkeypatch.chdir(ROOT)  # the page loads examples/… relative to the repository root
    result = doctest.testfile(os.fspath(ROOT / "docs" / "views.md"), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10
    assert result.failed == 0
