"""Fuzz the frontend: mutated specs through `hjdsl.load` must give a Model or an HJError, fast.

    python scripts/fuzz_specs.py --count 100000 --seed 1 [--save DIR]

Specs are made from the shipped examples by byte edits, token edits, numeric extremes, deep
and long expressions and splices of two examples (one to three edits each). It prints the
counts: specs, Models, HJErrors, other exceptions by type, specs slower than --slow seconds of
CPU time, and the peak RSS of the process. CPU time, not wall time, judges "slow": the machine
may be shared. Exit status 1 if any spec raised something other than HJError or was slow.
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.hj")) + sorted((ROOT / "examples" / "paper").glob("*.hj"))
DATA = [ROOT / "examples" / "data", ROOT / "examples" / "digits.csv"]
TOKEN = r'"[^"\n]*"|#[^\n]*|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+|[A-Za-z_]\w*|\s+|.'
KEYWORDS = ["model", "dim", "time", "let", "viscosity", "hamiltonian", "particles", "initial",
            "data", "observe", "split", "evaluate", "fit", "in", "random", "seed", "synthetic",
            "truth", "grid", "linspace", "logspace", "normal", "uniform", "y", "x", "g", "eps"]
PUNCTUATION = list("()[]{},;=~+-*/^|'\"#\n") + ["", " ", "\t", "\r", "\x00", "é", "\u200b"]
EXTREMES = ["0", "-0", "1", "-1", "2", "33", "1000", "1001", "1e6", "1e7", "1e9", "4294967296",
            "9007199254740993", "1e15", "1e300", "1e308", "1e309", "-1e309", "1e-300", "1e-320",
            "5e-324", "0.5", "1.5", "nan", "inf", "-inf", "1" * 400, "1e99999"]
SLOW_SECONDS = 2.0
HANG_SECONDS = 60
STOP = []  # set by SIGTERM


class Hang(Exception):
    """A spec exceeded HANG_SECONDS of wall time (counted, then the campaign goes on)."""


def tokens(text: str) -> list[str]:
    import re

    return re.findall(TOKEN, text, flags=re.S)


# --- mutators: each takes (rng, text, corpus) and returns new text ---------------------------
def byte_edit(rng, text, corpus):
    raw = bytearray(text.encode("utf-8", "surrogateescape"))
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(raw) + 1)
        op = rng.random()
        if op < 0.4 and raw:
            raw[min(i, len(raw) - 1)] = rng.randrange(256)
        elif op < 0.7:
            raw[i:i] = bytes([rng.randrange(256)])
        else:
            del raw[i:i + rng.randint(1, 16)]
    return raw.decode("utf-8", "surrogateescape")


def token_edit(rng, text, corpus):
    toks = tokens(text)
    pool = KEYWORDS + PUNCTUATION + [t for t in toks if t.strip()]
    for _ in range(rng.randint(1, 6)):
        if not toks:
            toks.append(rng.choice(pool))
        i = rng.randrange(len(toks))
        op = rng.random()
        if op < 0.4:
            toks[i] = rng.choice(pool)
        elif op < 0.6:
            del toks[i]
        elif op < 0.8:
            toks.insert(i, rng.choice(pool))
        else:
            j = rng.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
    return "".join(toks)


def numeric_extreme(rng, text, corpus):
    toks = tokens(text)
    numbers = [i for i, t in enumerate(toks) if t[:1].isdigit() or t[:1] == "."]
    for i in rng.sample(numbers, min(len(numbers), rng.randint(1, 3))):
        toks[i] = rng.choice(EXTREMES)
    return "".join(toks)


def deep_expression(rng, text, corpus):
    depth = rng.choice([rng.randint(1, 40), rng.randint(40, 80), rng.randint(80, 3000)])
    kind = rng.choice(["paren", "bracket", "minus", "call", "power", "index", "mixed"])
    leaf = rng.choice(["1", "y", "x", "t", "2.5"])
    if kind == "paren":
        expr = "(" * depth + leaf + ")" * depth
    elif kind == "bracket":
        expr = "[" * depth + leaf + "]" * depth
    elif kind == "minus":
        expr = "-" * depth + leaf
    elif kind == "call":
        fn = rng.choice(["abs", "exp", "sqrt", "norm", "sum", "max", "log"])
        expr = f"{fn}(" * depth + leaf + ")" * depth
    elif kind == "power":
        expr = "^".join([leaf] * depth)
    elif kind == "index":
        expr = "[1, 2]" + "[0]" * depth
    else:
        opens = [rng.choice(["(", "[", "abs(", "-", "1 + ("]) for _ in range(depth)]
        closes = {"(": ")", "[": "]", "abs(": ")", "-": "", "1 + (": ")"}
        expr = "".join(opens) + leaf + "".join(closes[o] for o in reversed(opens))
    return _place(rng, text, expr)


def long_expression(rng, text, corpus):
    # mostly a few hundred terms; one in twenty near the size cap (20,000 terms is ~60 KB)
    n = rng.choices([rng.randint(2, 600), rng.randint(600, 5000), rng.randint(5000, 20000)],
                    [16, 3, 1])[0]
    kind = rng.random()
    if kind < 0.4:
        expr = "".join(rng.choice("1y") + rng.choice("+-*/") for _ in range(n)) + "1"
    elif kind < 0.7:
        expr = "[" + ", ".join(f"{rng.uniform(-3, 3):.6g}" for _ in range(n)) + "]"
    elif kind < 0.85:
        expr = "max(" + ", ".join(rng.choice(["y", "1", "abs(y)", "-y"]) for _ in range(n)) + ")"
    else:
        rows = max(1, int(n ** 0.5))
        expr = "[" + ", ".join("[" + ", ".join(["1"] * rows) + "]" for _ in range(rows)) + "]"
    return _place(rng, text, expr)


def splice(rng, text, corpus):
    other = rng.choice(corpus).split("\n")
    lines = text.split("\n")
    op = rng.random()
    if op < 0.4:  # graft a run of lines from another example
        a = rng.randrange(len(other))
        lines[rng.randrange(len(lines) + 1):0] = other[a:a + rng.randint(1, 6)]
    elif op < 0.6:
        rng.shuffle(lines)
    elif op < 0.8:
        i = rng.randrange(len(lines))
        lines[i:i] = [lines[i]] * rng.randint(1, 50)
    else:  # one-point crossover
        lines = lines[:rng.randrange(len(lines) + 1)] + other[rng.randrange(len(other) + 1):]
    return "\n".join(lines)


def _place(rng, text, expr):
    """Put an expression where a value goes: a new `let`, or after a `=` of a line."""
    lines = text.split("\n")
    targets = [i for i, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith("#")]
    if targets and rng.random() < 0.6:
        i = rng.choice(targets)
        head = lines[i].split("=", 1)[0]
        lines[i] = f"{head}= {expr}"
    else:
        lines.insert(rng.randrange(1, len(lines) + 1), f"let fz = {expr}")
    return "\n".join(lines)


MUTATORS = [(byte_edit, 2), (token_edit, 4), (numeric_extreme, 3), (deep_expression, 1),
            (long_expression, 1), (splice, 2)]


def mutate(rng: random.Random, corpus: list[str]) -> str:
    text = rng.choice(corpus)
    funcs, weights = zip(*MUTATORS)
    for fn in rng.choices(funcs, weights, k=rng.choice([1, 1, 2, 3])):
        text = fn(rng, text, corpus)
    return text


# --- the campaign -------------------------------------------------------------------------
def campaign(count: int, seed: int, slow: float = SLOW_SECONDS, save: Path | None = None,
             progress: bool = False) -> dict:
    """Run `count` mutated specs; return the counts (see the module docstring)."""
    import hjdsl
    from hjdsl.errors import HJError

    rng = random.Random(seed)
    corpus = [p.read_text(encoding="utf-8") for p in EXAMPLES]
    counts = collections.Counter()
    other: collections.Counter = collections.Counter()
    slowest = (0.0, "")
    peak_step = (0, "")
    signal.signal(signal.SIGALRM, _on_alarm)
    with tempfile.TemporaryDirectory(prefix="hjdsl-fuzz-") as tmp:
        work = Path(tmp)
        for item in DATA:  # the examples' data files, beside the fuzzed spec
            (shutil.copytree if item.is_dir() else shutil.copy)(item, work / item.name)
        spec = work / "fuzz.hj"
        for text in corpus:  # warm up imports (xarray for NetCDF data) outside the timings
            spec.write_text(text, encoding="utf-8")
            hjdsl.load(spec)
        for k in range(count):
            text = mutate(rng, corpus)
            spec.write_bytes(text.encode("utf-8", "surrogateescape"))
            rss_before = _rss()
            cpu, wall = time.process_time(), time.perf_counter()
            signal.alarm(HANG_SECONDS)
            try:
                hjdsl.load(spec)
                counts["model"] += 1
            except HJError:
                counts["hjerror"] += 1
            except Hang:
                other["Hang"] += 1
                _keep(save, "Hang", k, text)
            except BaseException as exc:  # noqa: BLE001 - the point is to find these
                if isinstance(exc, KeyboardInterrupt):
                    raise
                other[type(exc).__name__] += 1
                _keep(save, type(exc).__name__, k, text)
            finally:
                signal.alarm(0)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            counts["specs"] += 1
            if cpu > slow:
                counts["slow"] += 1
                _keep(save, "slow", k, text)
            if cpu > slowest[0]:
                slowest = (cpu, f"spec {k} ({len(text):,} chars, {wall:.2f} s wall)")
            if _rss() - rss_before > peak_step[0]:
                peak_step = (_rss() - rss_before, f"spec {k}")
            if progress and (k + 1) % 1000 == 0:
                print(f"  {k + 1:,} specs: {counts['model']:,} models, {counts['hjerror']:,} "
                      f"HJErrors, other {dict(other)}, slow {counts['slow']}, slowest "
                      f"{slowest[0]:.2f} s CPU, peak RSS {_rss() / 1024:.0f} MiB",
                      file=sys.stderr, flush=True)
            if STOP:  # SIGTERM: stop after this spec and report what was done
                break
    return {"specs": counts["specs"], "models": counts["model"], "hjerrors": counts["hjerror"],
            "other": dict(other), "slow": counts["slow"], "slowest_cpu_s": round(slowest[0], 3),
            "slowest": slowest[1], "peak_rss_mib": round(_rss() / 1024, 1),
            "largest_rss_step_mib": round(peak_step[0] / 1024, 1), "largest_rss_step": peak_step[1]}


def _on_alarm(signum, frame):
    raise Hang()


def _on_term(signum, frame):
    STOP.append(signum)


def _rss() -> int:
    """Peak resident set size of this process so far, in KiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _keep(save: Path | None, kind: str, k: int, text: str) -> None:
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        (save / f"{kind}_{k}.hj").write_bytes(text.encode("utf-8", "surrogateescape"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow", type=float, default=SLOW_SECONDS,
                        help="CPU seconds above which a spec counts as slow")
    parser.add_argument("--save", type=Path, help="folder to keep failing and slow specs in")
    args = parser.parse_args(argv)
    # A safety net for a shared machine: an allocation that slipped past the budget fails with
    # MemoryError (and is counted) instead of swapping.
    limit = 8 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGTERM, _on_term)
    start = time.perf_counter()
    result = campaign(args.count, args.seed, args.slow, args.save, progress=True)
    for key, value in result.items():
        print(f"{key:22s} {value}")
    print(f"{'wall_s':22s} {time.perf_counter() - start:.0f}")
    if STOP:
        print(f"stopped by SIGTERM after {result['specs']:,} of {args.count:,} specs")
    return 1 if result["other"] or result["slow"] else 0


if __name__ == "__main__":
    sys.exit(main())
