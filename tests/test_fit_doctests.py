"""The examples in the fitting modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["hjdsl.fit.bayes", "hjdsl.fit.init", "hjdsl.fit.metrics", "hjdsl.fit.results",
           "hjdsl.fit.solve", "hjdsl.fit.infer", "hjdsl.fit.datafile", "hjdsl.fit.quality",
           "hjdsl.fit.budget",
           "hjdsl.codegen.numpyro_target", "hjdsl.plot.fit"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
