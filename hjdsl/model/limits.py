"""Size budgets: how large grids, data sets, atom sets and ε sweeps may be (checked before allocating)."""

from __future__ import annotations

import math

MAX_POINTS = 10_000_000  # evaluation or data points
MAX_ATOMS = 1_000_000  # particles y_j
MAX_EPS = 10_000  # values in one ε sweep
MAX_DIM = 1_000  # spatial dimension d
MAX_NESTING = 64  # brackets, calls, unary signs and powers inside one another
MAX_AXES = 32  # numpy's limit on the axes of one array
MAX_SPEC_BYTES = 65_536  # a spec is short text (examples are ~1 KB); point sets belong in data files
FLOAT_BYTES = 8

LIMITS = {"points": MAX_POINTS, "atoms": MAX_ATOMS, "eps": MAX_EPS, "dim": MAX_DIM}


def grid_size(counts) -> int:
    """Number of points of a grid with these per-axis counts, as an exact integer.

    >>> grid_size([1000, 1000, 1000])
    1000000000
    """
    return math.prod(int(c) for c in counts)


def count_text(n: int) -> str:
    """An exact count for messages, or its order of magnitude when it is astronomically large.

    Python refuses to print integers of more than 4,300 digits, and nobody reads 300 of them.

    >>> count_text(1234567), count_text(10**300 * 3)
    ('1,234,567', '3.0e+300')
    """
    if n < 10**24:
        return f"{n:,}"
    exponent = math.floor(math.log10(n))  # math.log10 accepts integers of any size
    mantissa = 10 ** (math.log10(n) - exponent)
    return f"{mantissa:.1f}e+{exponent}"


def array_bytes(*shape: int) -> int:
    """Bytes of a float64 array of this shape (exact, no allocation).

    >>> array_bytes(1_000_000, 1_000)
    8000000000
    """
    return FLOAT_BYTES * math.prod(int(n) for n in shape)


def over_budget(n: int, kind: str) -> str | None:
    """A message if `n` items of `kind` (points, atoms, eps, dim) exceed the budget, else None.

    >>> over_budget(10**9, "points")
    '1,000,000,000 points exceed the limit of 10,000,000'
    """
    limit = LIMITS[kind]
    if n > limit:
        return f"{n:,} {kind} exceed the limit of {limit:,}"
    return None


# --- memory: one budget for the whole run, overridable on purpose -----------------------------
MEMORY_ENV = "HJDSL_MAX_MEMORY"  # e.g. 16GiB, 512MiB or a byte count
DEFAULT_MEMORY = 4 << 30  # 4 GiB: a sixth of the 24 GiB machines hjdsl is tested on
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
          "tib": 1 << 40}


def memory_budget() -> int:
    """The byte budget of one run: $HJDSL_MAX_MEMORY if set (e.g. `16GiB`), else 4 GiB.

    An unreadable value falls back to the default rather than lifting the limit.

    >>> import os; os.environ.pop(MEMORY_ENV, None) and None
    >>> memory_budget() == DEFAULT_MEMORY
    True
    """
    import os
    import re

    text = os.environ.get(MEMORY_ENV, "").strip().lower().replace(" ", "")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]*)", text)
    if not match or match.group(2) not in _UNITS:
        return DEFAULT_MEMORY
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def format_bytes(n: float) -> str:
    """A byte count for people.

    >>> format_bytes(3 * 2**30), format_bytes(1536)
    ('3.0 GiB', '1.5 KiB')
    """
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def over_memory(nbytes: int, what: str) -> str | None:
    """A message if `what` would need more than the memory budget, else None.

    >>> import os; os.environ.pop(MEMORY_ENV, None) and None
    >>> over_memory(8 * 10**10, "the attribution array")  # doctest: +ELLIPSIS
    'the attribution array would need 74.5 GiB, over the 4.0 GiB budget (set HJDSL_MAX_MEMORY=... to allow more)'
    """
    budget = memory_budget()
    if nbytes > budget:
        return (f"{what} would need {format_bytes(nbytes)}, over the {format_bytes(budget)} budget "
                f"(set {MEMORY_ENV}=... to allow more)")
    return None
