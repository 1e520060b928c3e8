"""Every command and Python block in README.md and docs/*.md runs and prints what the page shows.

Found: fenced blocks starting with `$ ` (each `$ ` line a command, the lines after it its output,
stdout and stderr together), ```python blocks (the bare block right after one is its output;
`>>>` blocks are doctest style; a page's python blocks share one namespace, in order), and blocks
marked `<!-- docs-test: excerpt CMD -->` (verbatim lines of what CMD prints). They run in a
scratch folder holding copies of examples/ and tests/golden/, so nothing is written into the
repository.

The rule for figures that legitimately vary (docs/checked_examples.md states it for readers):
- wall and CPU times (`0.3 s`, `'seconds': 0.302`, `took 2 s`) and the HiGHS version banner
  are masked;
- a block marked `<!-- docs-test: versions jax=… numpyro=… -->` (stochastic samplers: NUTS
  draws are bit-identical on one install, not across package versions) is compared exactly when
  the installed versions are those, and with every number masked otherwise; `cpu=…` in it pins
  the processor's vector instruction sets too (a long fit's last digits follow XLA's and BLAS's
  kernels, which differ between processors);
- a `...` line in the page stands for lines omitted there; trailing spaces and leading/trailing
  blank lines are ignored;
- everything else is compared exactly, and a command exits 0 unless its shown output has an
  `error:` line (then it must exit non-zero).

`pip install` lines are not run (they would change the environment the tests run in); the test
checks that they install this project with extras it declares. Blocks marked
`<!-- docs-test: skip (reason) -->` are not run; `<!-- docs-test: slow -->` ones run with
`-m slow`. When a block differs, run `python scripts/update_docs.py PAGE` and review the diff.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections import defaultdict

import pytest

from tests.docs_blocks import (ROOT, Block, diff, exit_ok, expected_exit, installed, mask,
                               mask_numbers, matches, pages, parse_page, regenerate)
from tests.docs_runner import run_command_output, run_python, run_shell, sandbox

BLOCKS = [b for p in pages() for b in parse_page(p)]
FIX = ("run `python scripts/update_docs.py {page}` to regenerate the page's printed output, "
       "then review the diff (git diff {page}) before committing")


def _param(obj, ident: str, slow: bool):
    return pytest.param(obj, id=ident, marks=[pytest.mark.slow] if slow else [])


SHELL = [_param(b, b.id, "slow" in b.directives) for b in BLOCKS if b.kind == "shell" and b.checked]
EXCERPTS = [_param(b, b.id, "slow" in b.directives) for b in BLOCKS
            if b.kind == "excerpt" and b.checked]
_by_page: dict[str, list[Block]] = defaultdict(list)
for _b in BLOCKS:
    if _b.kind in ("python", "doctest") and _b.checked:
        _by_page[_b.page].append(_b)
SESSIONS = [_param(bs, page, any("slow" in b.directives for b in bs))
            for page, bs in _by_page.items()]


def numbers_exact(block: Block) -> bool:
    """False when the block's figures were recorded on other package versions (see above)."""
    spec = block.directives.get("versions")
    if spec is None:
        return True
    pinned = dict(item.split("=", 1) for item in spec.split())
    return all(installed(pkg) == ver for pkg, ver in pinned.items())


def _check(block: Block, where: int, expected: list[str], actual: list[str]) -> None:
    exact = numbers_exact(block)
    if not matches(expected, actual, numbers=exact):
        # shown as the change the update script would make: the page's omissions kept
        pytest.fail(f"{block.page}:{where}: the output differs from the page"
                    f"{'' if exact else ' (numbers masked: other package versions)'}:\n"
                    f"{diff(expected, regenerate(expected, actual))}\n"
                    + FIX.format(page=block.page))


@pytest.mark.parametrize("block", SHELL)
def test_shell_block_prints_what_the_page_shows(block):
    with sandbox() as cwd:
        ran = run_shell(block, cwd)
    for cmd, result in zip(block.commands, ran):
        if cmd.text.startswith("pip "):
            continue
        want = expected_exit(block, cmd)
        if not exit_ok(want, result.returncode):
            pytest.fail(f"{block.page}:{cmd.line}: `{cmd.text}` exited {result.returncode}, but "
                        f"the page implies exit status {want}:\n" + "\n".join(result.output[-30:]))
        _check(block, cmd.line, cmd.expected, result.output)


@pytest.mark.parametrize("blocks", SESSIONS)
def test_python_blocks_print_what_the_page_shows(blocks):
    with sandbox() as cwd:
        ran = run_python(blocks, cwd)
    units = [(b, ex) for b in blocks for ex in b.examples]
    for (block, ex), result in zip(units, ran):
        if not result.finished:
            pytest.fail(f"{block.page}:{ex.line}: the block did not run to the end:\n"
                        + "\n".join(result.output[-30:]))
        _check(block, ex.line, ex.expected, result.output)


@pytest.mark.parametrize("block", EXCERPTS)
def test_excerpt_is_verbatim(block):
    with sandbox() as cwd:
        result = run_command_output(block.directives["excerpt"], cwd)
    assert result.returncode == 0, "\n".join(result.output[-30:])
    body = [ln.rstrip() for ln in block.body]
    out = [ln.rstrip() for ln in result.output]
    found = any(out[k:k + len(body)] == body for k in range(len(out) - len(body) + 1))
    assert found, (f"{block.id}: these lines are not a verbatim part of what "
                   f"`{block.directives['excerpt']}` prints; copy the current text by hand")


# What a reader would take for program output: it must come with its command, or say why not.
LOOKS_LIKE_OUTPUT = re.compile(r"(^|: )(error|warning|note|hint): |\b(PASS|FAIL|WARN)\b|^wrote ")
INTRODUCES_OUTPUT = re.compile(r"\b(prints?|printed|output)\b(.*:|)$", re.IGNORECASE)


def test_output_is_shown_with_its_command():
    orphans = [b.id for b in BLOCKS if b.kind == "other" and "illustration" not in b.directives
               and (any(LOOKS_LIKE_OUTPUT.search(ln) for ln in b.body)
                    or INTRODUCES_OUTPUT.search(b.lead_in))]
    assert not orphans, ("these blocks show program output without the command that prints it; "
                         "add the `$ ` command (then the test checks it) or mark the block "
                         "`<!-- docs-test: illustration (why) -->`: " + ", ".join(orphans))


def test_skipped_blocks_say_why():
    for b in BLOCKS:
        for word in ("skip", "illustration"):
            if word in b.directives:
                assert re.fullmatch(r"\(.+\)", b.directives[word]), \
                    f"{b.id}: `docs-test: {word}` needs a reason in parentheses"


def test_pip_commands_install_this_project_with_declared_extras():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    pips = [(b, c) for b in BLOCKS if b.kind == "shell" for c in b.commands
            if c.text.startswith("pip ")]
    assert pips, "the README's install command was not found"
    for b, c in pips:
        for part in c.text.split("&&"):
            m = re.fullmatch(r"""\s*pip install (?:\.|"\.\[(?P<extra>[\w,-]+)\]")\s*""", part)
            if part.strip().startswith("pip"):
                assert m, f"{b.page}:{c.line}: `{part.strip()}` does not install this project"
                assert set((m.group("extra") or "").split(",")) - {""} <= extras, c.text


SPEC = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.(?:hj|csv|nc))\b")


def _python_file_names(source: str) -> list[str]:
    """String literals naming a spec or data file (not `name=` labels, not comments)."""
    tree = ast.parse(source)
    labels = {id(k.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
              for k in node.keywords if k.arg == "name"}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in labels and SPEC.fullmatch(n.value)]


def test_every_file_a_command_reads_is_shipped():
    """A spec or data file named by a checked command exists, unless an earlier command made it."""
    missing = []
    for b in BLOCKS:
        if not b.checked or b.kind not in ("shell", "python", "doctest"):
            continue
        made: set[str] = set()
        if b.kind == "shell":
            named = [(c.text, SPEC.findall(c.text)) for c in b.commands]
        else:
            named = [(ex.source, _python_file_names(ex.source)) for ex in b.examples]
        for text, names in named:
            for name in names:
                written = re.search(rf"(-o|--output|--plot)[ =]{re.escape(name)}|>\s*{re.escape(name)}\b",
                                    text)
                if written:
                    made.add(name)
                elif name not in made and not (ROOT / name).exists():
                    missing.append(f"{b.id}: {name}")
    assert not missing, "files the docs use but the repository does not ship: " + ", ".join(missing)


def test_the_docs_have_checked_blocks():
    n_commands = sum(len([c for c in b.commands if not c.text.startswith("pip ")])
                     for b in BLOCKS if b.kind == "shell" and b.checked)
    n_python = sum(len(b.examples) for b in BLOCKS if b.kind in ("python", "doctest") and b.checked)
    assert n_commands >= 20 and n_python >= 20, (n_commands, n_python)


# --- the comparison rule itself, in both directions -------------------------------------------

@pytest.mark.parametrize("expected, actual, same", [
    (["a = 1.0"], ["a = 1.0  "], True),
    (["a = 1.0"], ["a = 1.1"], False),
    (["x", "...", "z"], ["x", "y1", "y2", "z"], True),
    (["x", "...", "z"], ["x", "z"], True),
    (["x", "...", "z"], ["x", "y", "w"], False),
    (["x", "...", "z"], ["w", "y", "z"], False),
    (["x", "...", "m", "...", "z"], ["x", "a", "m", "b", "z"], True),
    (["x", "...", "m", "...", "z"], ["x", "a", "n", "b", "z"], False),
    (["x"], ["x", "extra"], False),
    (["solve took 2.1 s"], ["solve took 14 s"], True),
    (["{'rounds': 1.0, 'seconds': 0.302}"], ["{'rounds': 1.0, 'seconds': 1.75}"], True),
    (["{'rounds': 1.0, 'seconds': 0.302}"], ["{'rounds': 2.0, 'seconds': 0.302}"], False),
    (["Running HiGHS 1.16.0 (git hash: f3f113d): Copyright (c) 2026 under MIT licence terms"],
     ["Running HiGHS 1.17.2 (git hash: 0123abc): Copyright (c) 2027 under MIT licence terms"],
     True),
    (["max r_hat 1.0047"], ["max r_hat 1.0048"], False),
])
def test_matching_rule(expected, actual, same):
    assert matches(expected, actual) is same


def test_masking_numbers_keeps_the_words():
    assert matches(["max r_hat 1.0047"], ["max r_hat 1.0048"], numbers=False)
    assert not matches(["max r_hat 1.0047"], ["min ess 1.0048"], numbers=False)
    assert mask_numbers("ess 686, r_hat 1.0047") == "ess <n>, r_hat <n>"
    assert mask("0.302 s wall") == "<time> wall"


def test_versions_pin_is_exact_only_on_the_pinned_install_and_processor():
    from importlib import metadata

    from tests.docs_blocks import cpu_id

    def block(spec):
        return Block("page.md", 1, "", [], "", {"versions": spec})

    here, jax = cpu_id(), metadata.version("jax")
    assert re.fullmatch(r"[a-z0-9_]+-[0-9a-f]{8}", here)
    assert numbers_exact(block(f"jax={jax}")) and numbers_exact(block(f"jax={jax} cpu={here}"))
    assert not numbers_exact(block("jax=0.0.1"))
    assert not numbers_exact(block(f"jax={jax} cpu=avx2-00000000"))
    assert not numbers_exact(block(f"jax=0.0.1 cpu={here}"))
    assert numbers_exact(Block("page.md", 1, "", [], ""))  # no pin: always exact


@pytest.mark.parametrize("expected, actual, want", [
    (["a 1", "...", "z 9"], ["a 2", "b", "c", "z 9"], ["a 2", "...", "z 9"]),
    (["a 1", "...", "z 9"], ["a 1", "b", "z 8"], ["a 1", "...", "z 8"]),
    (["a 1", "b 2"], ["a 1", "b 3", "c 4"], ["a 1", "b 3", "c 4"]),
    (["took 1 s", "v 1"], ["took 5 s", "v 2"], ["took 5 s", "v 2"]),
    (["took 1 s", "...", "v 1"], ["took 5 s", "x", "v 2"], ["took 1 s", "...", "v 2"]),
])
def test_regenerate_keeps_omissions_and_masked_text(expected, actual, want):
    got = regenerate(expected, actual)
    assert got == want
    assert matches(got, actual)


def test_scratch_folder_leaves_the_repository_clean():
    before = sorted(p.name for p in ROOT.iterdir())
    with sandbox() as cwd:
        (cwd / "made_by_a_doc.nc").write_text("x")
        assert (cwd / "examples" / "quickstart.hj").exists()
    assert sorted(p.name for p in ROOT.iterdir()) == before
