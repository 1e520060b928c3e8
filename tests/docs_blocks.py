"""Find the checked blocks of README.md and docs/*.md, compare their output, rewrite it in place.

The rules (also in docs/checked_examples.md):

- A fenced block whose first line starts with `$ ` is a shell block: every `$ ` line is a
  command, the lines after it (up to the next `$ ` line) are what it prints, stdout and stderr
  together.
- A ```python block runs; its output is the bare fenced block right after it (only blank lines
  between). A block with `>>>` prompts is doctest style: each example's output follows it.
  The python blocks of one page share one namespace, in order, as in a notebook.
- `<!-- docs-test: WORD (reason) -->` on the line(s) just above a block: `skip` (not run here,
  the reason says why), `slow` (runs only with `-m slow`), `illustration` (program output shown
  without its command, on purpose), `excerpt CMD` (the block is a verbatim run of lines of what
  CMD prints), `versions PKG=V ...` (figures exact only on these package versions; the name
  `cpu` pins the processor's vector instruction sets, `cpu_id()`), `exit N`
  (the block's commands exit with status N; without it a command must exit 0, or non-zero when
  its shown output has an `error:` line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[^`\s]*)\s*$")
DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<word>[a-z]+)\s*(?P<rest>.*?)\s*-->\s*$")
WORDS = {"skip", "slow", "illustration", "excerpt", "versions", "exit"}
OMITTED = "..."


def cpu_id() -> str:
    """The processor's vector instruction sets, as a short name: the widest family and a digest
    of every avx/fma/sse/amx flag (XLA and BLAS pick their kernels by these, so round-off
    digits of a long fit differ between processors that differ here)."""
    import hashlib
    import platform

    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    simd = sorted(f for f in flags if f.startswith(("avx", "fma", "sse", "amx", "asimd", "sve")))
    family = next((short for flag, short in (("avx512f", "avx512"), ("avx2", "avx2"),
                                             ("asimd", "asimd")) if flag in flags),
                  platform.machine() or "unknown")
    return f"{family}-{hashlib.sha256(' '.join(simd).encode()).hexdigest()[:8]}"


def installed(name: str) -> str:
    """What a `versions` pin compares against: a package's version, or `cpu_id()` for `cpu`."""
    from importlib import metadata

    return cpu_id() if name == "cpu" else metadata.version(name)


# Figures that legitimately differ between runs are masked before comparing. Each entry:
# (pattern, replacement, why). Everything not masked is compared exactly.
MASKS = (
    (re.compile(r"(\bseconds['\"]?:?\s+)[-+0-9.e]+"), r"\1<time>", "wall time"),
    (re.compile(r"\b[0-9]+(\.[0-9]+)? ?(s|ms|min)\b(?= wall| total| CPU|$|[,;)])"), "<time>",
     "wall or CPU time"),
    (re.compile(r"\btook [0-9.]+ ?(s|ms|min)\b"), "took <time>", "wall time"),
    (re.compile(r"(Running HiGHS )\S+ \(git hash: \S+\): Copyright \(c\) \d+"),
     r"\1<version>", "the solver's version banner"),
)
ERROR_LINE = re.compile(r"(^|: )error: ")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass
class Command:
    """One `$ ` line of a shell block and the output lines the page shows for it."""

    text: str
    line: int                  # 1-based line number of the `$ ` line in the page
    expected: list[str]
    expected_line: int         # line number of the first expected line


@dataclass
class Example:
    """One python unit: a whole plain block, or one `>>>` example of a doctest block."""

    source: str
    line: int
    expected: list[str]
    expected_line: int         # where the expected lines start (0: no output block yet)
    indent: str = ""


@dataclass
class Block:
    page: str                  # path relative to the repository root
    line: int                  # line of the opening fence
    kind: str                  # shell | python | doctest | excerpt | other
    body: list[str]
    indent: str
    directives: dict[str, str] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    end: int = 0               # line of the closing fence
    lead_in: str = ""          # the last line of prose before the block

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def checked(self) -> bool:
        runs = self.kind in {"shell", "python", "doctest", "excerpt"}
        return runs and "skip" not in self.directives


def expected_exit(block: Block, cmd: Command) -> str:
    """The exit status the page implies for `cmd`: "0", "nonzero" or the `exit N` directive's N."""
    if "exit" in block.directives:
        return block.directives["exit"].split()[0]
    return "nonzero" if any(ERROR_LINE.search(ln) for ln in cmd.expected) else "0"


def exit_ok(expected: str, returncode: int) -> bool:
    return returncode != 0 if expected == "nonzero" else returncode == int(expected)


def pages(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def parse_page(path: Path, root: Path = ROOT) -> list[Block]:
    """Every fenced block of one markdown page, classified, with its expected output."""
    lines = path.read_text(encoding="utf-8").split("\n")
    rel = str(path.relative_to(root))
    raw: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, j = m.group("indent"), i + 1
        while j < len(lines) and not (FENCE.match(lines[j]) and lines[j].strip() == "```"):
            j += 1
        if j == len(lines):
            raise ValueError(f"{rel}:{i + 1}: this ``` fence is never closed")
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1:j]]
        prose = [ln for ln in lines[:i] if ln.strip() and not DIRECTIVE.match(ln)]
        raw.append(Block(rel, i + 1, m.group("info"), body, indent, _directives(lines, i, rel),
                         end=j + 1, lead_in=prose[-1].strip() if prose else ""))
        i = j + 1
    return _classify(raw, lines)


def _directives(lines: list[str], fence: int, page: str) -> dict[str, str]:
    found, k = {}, fence - 1
    while k >= 0 and (DIRECTIVE.match(lines[k]) or (not lines[k].strip() and k == fence - 1)):
        m = DIRECTIVE.match(lines[k])
        if m:
            if m.group("word") not in WORDS:
                raise ValueError(f"{page}:{k + 1}: unknown docs-test directive {m.group('word')!r}"
                                 f" (known: {', '.join(sorted(WORDS))})")
            found[m.group("word")] = m.group("rest").strip()
        k -= 1
    return found


def _classify(raw: list[Block], lines: list[str]) -> list[Block]:
    out, skip_next = [], False
    for n, b in enumerate(raw):
        if skip_next:          # the output block of the python block before it
            skip_next = False
            continue
        first = next((ln for ln in b.body if ln.strip()), "")
        if "excerpt" in b.directives:
            b.kind = "excerpt"
        elif b.kind == "" and first.startswith("$ "):
            b.kind = "shell"
            b.commands = _commands(b)
        elif b.kind == "python":
            nxt = raw[n + 1] if n + 1 < len(raw) else None
            follows = (nxt is not None and nxt.kind == "" and not nxt.directives
                       and all(not ln.strip() for ln in lines[b.end:nxt.line - 1]))
            if any(ln.startswith(">>>") for ln in b.body):
                b.kind = "doctest"
                b.examples = _doctest_examples(b)
            else:
                start = b.line + 1
                out_block = nxt if follows else None
                b.examples = [Example("\n".join(b.body), start,
                                      list(out_block.body) if out_block else [],
                                      out_block.line + 1 if out_block else 0,
                                      out_block.indent if out_block else "")]
                skip_next = follows
        else:
            b.kind = "other"
        out.append(b)
    return out


def _commands(b: Block) -> list[Command]:
    cmds: list[Command] = []
    for k, ln in enumerate(b.body):
        lineno = b.line + 1 + k
        if ln.startswith("$ "):
            cmds.append(Command(ln[2:].strip(), lineno, [], lineno + 1))
        else:
            cmds[-1].expected.append(ln)
    return cmds


def _doctest_examples(b: Block) -> list[Example]:
    exs: list[Example] = []
    k = 0
    while k < len(b.body):
        ln = b.body[k]
        if ln.startswith(">>>"):
            src, start = [ln[4:]], b.line + 1 + k
            k += 1
            # continuation lines directly follow the `>>>` line (a later `...` is output)
            while k < len(b.body) and (b.body[k].startswith("... ") or b.body[k] == "..."):
                src.append(b.body[k][4:])
                k += 1
            want_line = b.line + 1 + k
            want = []
            while k < len(b.body) and b.body[k].strip() and not b.body[k].startswith(">>>"):
                want.append(b.body[k])
                k += 1
            exs.append(Example("\n".join(src), start, want, want_line, b.indent))
        else:
            k += 1
    return exs


# --- comparing ------------------------------------------------------------------------------

def mask(line: str) -> str:
    line = line.rstrip()
    for pattern, repl, _why in MASKS:
        line = pattern.sub(repl, line)
    return line


def mask_numbers(line: str) -> str:
    return NUMBER.sub("<n>", mask(line))


def _trim(lines: list[str]) -> list[str]:
    lines = [ln.rstrip() for ln in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(expected: list[str], actual: list[str], numbers: bool = True) -> bool:
    """True when `actual` shows `expected` under the masking rule; a `...` line omits lines."""
    key = mask if numbers else mask_numbers
    exp, act = [key(ln) for ln in _trim(expected)], [key(ln) for ln in _trim(actual)]
    return _match(exp, act)


def _match(exp: list[str], act: list[str]) -> bool:
    # segments between `...` lines must appear in order; the first is anchored at the start,
    # the last at the end (unless the page ends or starts with `...`)
    segs: list[list[str]] = [[]]
    for ln in exp:
        if ln.strip() == OMITTED:
            segs.append([])
        else:
            segs[-1].append(ln)
    if len(segs) == 1:
        return exp == act
    head, tail, middle = segs[0], segs[-1], segs[1:-1]
    if act[:len(head)] != head or (tail and act[len(act) - len(tail):] != tail):
        return False
    pos, stop = len(head), len(act) - len(tail)
    if stop < pos:
        return False
    for seg in middle:
        if not seg:
            continue
        found = next((p for p in range(pos, stop - len(seg) + 1)
                      if act[p:p + len(seg)] == seg), None)
        if found is None:
            return False
        pos = found + len(seg)
    return True


def diff(expected: list[str], actual: list[str]) -> str:
    import difflib

    return "\n".join(difflib.unified_diff(_trim(expected), _trim(actual), "doc", "actual",
                                          lineterm="", n=2))


# --- regenerating ---------------------------------------------------------------------------

def regenerate(expected: list[str], actual: list[str]) -> list[str]:
    """`expected` brought in line with `actual`: the page's `...` omissions are kept, and so is
    the page's own text of every line that matches under the mask (masked figures do not churn)."""
    import difflib

    exp, act = _trim(expected), _trim(actual)
    if matches(exp, act):
        return exp
    if not any(ln.strip() == OMITTED for ln in exp):
        return act
    a = [mask(ln) if ln.strip() != OMITTED else "\0omitted" for ln in exp]
    sm = difflib.SequenceMatcher(None, a, [mask(ln) for ln in act], autojunk=False)
    out: list[str] = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        e, new = exp[i1:i2], act[j1:j2]
        omits = [k for k, ln in enumerate(e) if ln.strip() == OMITTED]
        if tag == "equal":
            out += e
        elif tag == "insert":
            # lines the page does not show: next to a `...` they are part of what it omits
            beside = ((out and out[-1].strip() == OMITTED)
                      or (i1 < len(exp) and exp[i1].strip() == OMITTED))
            if not beside:
                out += new
        elif tag == "delete":
            out += [e[k] for k in omits]
        elif not omits:
            out += new
        else:  # the shown lines around the omission keep their count; the rest stays omitted
            before, after = omits[0], len(e) - omits[-1] - 1
            before = min(before, len(new))
            after = min(after, len(new) - before)
            out += new[:before] + [OMITTED] + (new[len(new) - after:] if after else [])
    return out if matches(out, act) else act


def edits_for(block: Block, results: dict) -> list[tuple[int, int, list[str], str]]:
    """(first line, number of lines, new lines, indent) replacements for one block's outputs.

    `results` maps the index of a command or example to its actual output lines."""
    edits = []
    units = block.commands if block.kind == "shell" else block.examples
    for k, unit in enumerate(units):
        if k not in results:
            continue
        new = regenerate(unit.expected, results[k])
        if new == _trim(unit.expected):
            continue
        if block.kind == "python" and not unit.expected_line:
            if new:   # a python block that prints gets an output block
                edits.append((block.end + 1, 0, ["", "```", *new, "```"], block.indent))
            continue
        old = _trim(unit.expected)
        lead = next((n for n, ln in enumerate(unit.expected) if ln.strip()), 0)
        indent = unit.indent if block.kind == "python" else block.indent
        edits.append((unit.expected_line + lead, len(old), new, indent))
    return edits


def apply_edits(path: Path, edits) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    for first, count, new, indent in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[first - 1:first - 1 + count] = [indent + ln if ln else ln for ln in new]
    path.write_text("\n".join(lines), encoding="utf-8")
