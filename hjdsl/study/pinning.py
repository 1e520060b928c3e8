"""Worker k of a LocalCluster's n keeps to its own share of the machine's cores."""

from __future__ import annotations

import contextlib
import os

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin


def shares(cores: list[int], n: int) -> list[set[int]]:
    """The cores split into min(n, len(cores)) contiguous, near-equal shares."""
    return [{int(c) for c in part} for part in np.array_split(np.array(cores), min(n, len(cores)))]


class PinCores(WorkerPlugin):
    """Set the CPU affinity of every thread of worker k's process to share k of the cores.

    XLA sizes its CPU thread pool by the cores a process may run on, so a pinned worker
    computes with its share only and n workers do not oversubscribe the machine (XLA_FLAGS
    thread options no longer change that pool)."""

    def __init__(self, n: int):
        self.n = n
        self.cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []

    def setup(self, worker):
        if not self.cores:
            return  # no affinity API here (not Linux): the workers share the cores
        k = int(worker.name) if str(worker.name).isdigit() else 0
        parts = shares(self.cores, self.n)
        mine = parts[k % len(parts)]
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                os.sched_setaffinity(int(tid), mine)
