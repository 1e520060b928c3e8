"""Find and load the one .hj grammar (inside the installed package, or the repo's grammar/)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

_REPO_GRAMMAR = Path(__file__).resolve().parents[2] / "grammar" / "hj.lark"


def grammar_source() -> tuple[str, str]:
    """(text, where): the grammar text and the location it was read from.

    A wheel ships the grammar as `hjdsl/grammar/hj.lark`; an editable install reads the
    repository's top-level `grammar/hj.lark`.

    >>> text, where = grammar_source()
    >>> where.endswith("hj.lark") and "start:" in text
    True
    """
    try:
        packaged = resources.files("hjdsl").joinpath("grammar", "hj.lark")
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8"), str(packaged)
    except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover - odd installs
        pass
    return _REPO_GRAMMAR.read_text(encoding="utf-8"), str(_REPO_GRAMMAR)


@functools.lru_cache(maxsize=1)
def lark_parser():
    """The LALR(1) parser with a contextual lexer and source positions (built once)."""
    from lark import Lark

    text, _ = grammar_source()
    return Lark(text, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True)


def grammar_location() -> str:
    return grammar_source()[1]
