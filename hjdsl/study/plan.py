"""Which tasks a study's configurations become: large ones split by seed, longest first."""

from __future__ import annotations

import dataclasses

import numpy as np

# A task above this estimated cost (see `cost`) is split into tasks of fewer seeds, so the
# critical path of a run is not one large configuration with every seed in one process. The
# cap is fixed (not derived from the worker count) so every run makes the same tasks and
# gives the same Dataset: about the cost of d = 1, N = 200, 5 seeds (the paper's setting).
COST_CAP = 5 * 4800 * 200 * 1.25 * 3000


def cost(study, config) -> float:
    """Estimated work of a configuration: seeds × points × atoms × (1 + d/4) × steps.

    A step is one exp and a few passes over the (points, atoms) logits per seed, plus the
    d-long products x·W_j (measured: d = 4, N = 1000 costs 3.1× d = 1, N = 500)."""
    if study.kind != "trained":
        return float(len(config.seeds) * study.test * config.width)
    return float(len(config.seeds) * (config.n + study.test) * config.width
                 * (1 + config.dim / 4) * study.steps)


def split(study, config) -> list:
    """The tasks of one configuration: itself, or (above COST_CAP) the fewest equal seed
    chunks that each fall below it, one task per chunk at most one seed each."""
    seeds = config.seeds
    parts = min(len(seeds), int(np.ceil(cost(study, config) / COST_CAP)))
    if parts <= 1:
        return [config]
    chunks = np.array_split(np.arange(len(seeds)), parts)
    return [dataclasses.replace(config, seeds=tuple(seeds[i] for i in c),
                                part=f"-seeds{seeds[c[0]]}-{seeds[c[-1]]}") for c in chunks]


def tasks(study, configs) -> list:
    """Every task of `configs`, longest first (a long task started last is an idle tail)."""
    out = [t for c in configs for t in split(study, c)]
    return sorted(out, key=lambda t: -cost(study, t))


def merge(study, config, parts: list[dict]) -> dict:
    """One configuration's arrays from its tasks' (in seed order): per-seed arrays joined
    along the seed axis, the seconds summed (the CPU time of all its seeds)."""
    if len(parts) == 1:
        return parts[0]
    out = {"seconds": np.array(sum(float(p["seconds"]) for p in parts))}
    for k in parts[0]:
        if k != "seconds":
            out[k] = np.concatenate([np.asarray(p[k]) for p in parts])
    return out
