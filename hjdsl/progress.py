"""Progress bars for long runs: shown on a terminal, silent with --quiet or when piped."""

from __future__ import annotations

import contextlib
import sys


def silent(n: int = 1) -> None:
    """The `advance` of a run nobody watches."""


@contextlib.contextmanager
def progress(description: str, total: int | None, enabled: bool = True):
    """Yield `advance(n=1)`; draws a rich progress bar on stderr when it is a terminal.

    Without a terminal, or with `enabled` False (`--quiet`), nothing is drawn and `advance`
    does nothing, so callers pass it down unconditionally.
    """
    if not enabled or not sys.stderr.isatty():
        yield silent
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  "{task.completed}/{task.total}", TimeElapsedColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
