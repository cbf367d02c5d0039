"""Benchmark suites: one per refefl kernel, each listing its implementations, inputs, floor and targets."""
from __future__ import annotations

import numpy as np

from benchmarks._harness import Implementation, Suite


def softmax_floor() -> Implementation:
    """NumPy softmax of the same array: a few passes over memory, the yardstick of the projection targets."""

    def softmax(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
        return e

    return Implementation("numpy softmax (floor)", softmax)


def all_suites() -> list[Suite]:
    from benchmarks.suites import capped, isotonic, optim, partition, simplex, soft_rank

    return [simplex.SPARSEMAX, simplex.ENTMAX15, simplex.ENTMAX_BISECT, isotonic.SUITE, soft_rank.SOFT_RANK_L2,
            soft_rank.SOFT_RANK_KL, capped.PROJECTION, capped.ENTROPIC, *partition.SUITES, optim.SUITE]


def suite_groups() -> dict[str, tuple[str, ...]]:
    """Names that select several suites at once on the command line (``--suites partition``)."""
    from benchmarks.suites import partition

    return {"partition": tuple(s.name for s in partition.SUITES)}
