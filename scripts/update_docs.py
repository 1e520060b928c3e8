"""Regenerate the printed output of every checked block in README.md and docs/*.md, in place.

    python scripts/update_docs.py                 # every page, every block (slow ones too)
    python scripts/update_docs.py docs/views.md   # one page
    python scripts/update_docs.py --fast          # skip blocks marked `docs-test: slow`
    python scripts/update_docs.py --check         # only report what differs; write nothing

It runs the blocks exactly as tests/test_docs_commands.py does (scratch folder, same masking
rule), keeps each page's `...` omissions and the page's text of every line that still matches,
and rewrites the rest. Review the diff (`git diff README.md docs`) before committing: a changed
figure may be a regression, not drift. Excerpt blocks are only checked (fix them by hand).
"""

from __future__ import annotations

import argparse
import difflib
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.docs_blocks import (ROOT, apply_edits, edits_for, exit_ok,  # noqa: E402
                               expected_exit, installed, pages, parse_page)
from tests.docs_runner import run_command_output, run_python, run_shell, sandbox  # noqa: E402


def _versions_edit(block, page_lines):
    """Re-pin a `docs-test: versions` directive to the installed versions.

    Called once the block's output is exact on this installation (regenerated or unchanged)."""
    spec = block.directives.get("versions")
    if spec is None:
        return []
    names = [item.split("=")[0] for item in spec.split()]
    pins = " ".join(f"{name}={installed(name)}" for name in names)
    if pins == spec:
        return []
    for k in range(block.line - 2, max(block.line - 6, -1), -1):
        if "docs-test: versions" in page_lines[k]:
            indent = page_lines[k][:len(page_lines[k]) - len(page_lines[k].lstrip())]
            return [(k + 1, 1, [f"<!-- docs-test: versions {pins} -->"], indent)]
    return []


class Timer:
    """Wall time and the CPU time of the child processes (the commands) since it started."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), self._children()

    @staticmethod
    def _children() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def __str__(self) -> str:
        return (f"{time.perf_counter() - self.wall:6.1f} s wall "
                f"{self._children() - self.cpu:6.1f} s CPU")


def _show(block, edits, page_lines) -> None:
    for first, count, new, _indent in edits:
        old = page_lines[first - 1:first - 1 + count]
        print("\n".join("    " + ln for ln in difflib.unified_diff(
            old, new, f"{block.id} (page)", "now", lineterm="", n=1)))


def update_page(path: Path, fast: bool, check: bool) -> int:
    """Run one page's checked blocks; rewrite (or with `check`, show) what differs."""
    blocks = [b for b in parse_page(path) if b.checked and not (fast and "slow" in b.directives)]
    lines = path.read_text(encoding="utf-8").split("\n")
    edits, problems = [], 0

    def report(block, status, new, timer, kind):
        nonlocal edits, problems
        print(f"{block.id:28s} {status:9s} {timer}  {kind}", flush=True)
        if status in ("ok", "differs", "updated"):
            new = new + _versions_edit(block, lines)
            edits += new
        else:
            problems += 1
        if check and new:
            _show(block, new, lines)

    for b in [b for b in blocks if b.kind == "shell"]:
        timer = Timer()
        with sandbox() as cwd:
            ran = run_shell(b, cwd)
        new = edits_for(b, {k: r.output for k, r in enumerate(ran)})
        wrong = [(c, r) for c, r in zip(b.commands, ran)
                 if not exit_ok(expected_exit(b, c), r.returncode)]
        status = ("differs" if check else "updated") if new else "ok"
        if wrong:  # never write a failed run into the page
            status = f"EXIT {wrong[0][1].returncode}"
            print("\n".join("    " + ln for ln in wrong[0][1].output[-12:]))
        report(b, status, new, timer, "shell")
    session = [b for b in blocks if b.kind in ("python", "doctest")]
    if session:
        timer = Timer()
        with sandbox() as cwd:
            ran = iter(run_python(session, cwd))
        print(f"{path.relative_to(ROOT)}: python session {timer}")
        for b in session:
            results = {k: next(ran) for k in range(len(b.examples))}
            broken = [r for r in results.values() if not r.finished]
            if broken:
                print("\n".join("    " + ln for ln in broken[0].output[-12:]))
                report(b, "STOPPED", [], "", "python")
                continue
            new = edits_for(b, {k: r.output for k, r in results.items()})
            report(b, ("differs" if check else "updated") if new else "ok", new, "", "python")
    for b in [b for b in blocks if b.kind == "excerpt"]:
        timer = Timer()
        with sandbox() as cwd:
            out = [ln.rstrip() for ln in run_command_output(b.directives["excerpt"], cwd).output]
        body = [ln.rstrip() for ln in b.body]
        ok = any(out[k:k + len(body)] == body for k in range(len(out) - len(body) + 1))
        report(b, "ok" if ok else "EXCERPT", [], timer,
               "excerpt" if ok else "excerpt (fix by hand)")
    if edits and not check:
        apply_edits(path, edits)
    return problems + (len(edits) if check else 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="*", help="pages to update (default: README.md and docs/*.md)")
    ap.add_argument("--fast", action="store_true", help="skip blocks marked `docs-test: slow`")
    ap.add_argument("--check", action="store_true", help="report differences, write nothing")
    args = ap.parse_args(argv)
    targets = [Path(p).resolve() for p in args.pages] or pages()
    bad = sum(update_page(p, args.fast, args.check) for p in targets)
    if bad:
        print(f"{bad} output(s) differ or block(s) failed"
              + ("" if args.check else "; review `git diff README.md docs`"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
