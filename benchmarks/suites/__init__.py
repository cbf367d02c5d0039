"""Benchmark suites: one per refefl kernel, each listing its implementations, inputs, floor and targets."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    """One input configuration: a label for tables, the array shape and an input kind (e.g. "random")."""

    shape: tuple[int, ...]
    kind: str = "random"

    @property
    def label(self) -> str:
        dims = "×".join(f"{d:.0e}".replace("e+0", "e") if d >= 10**5 else str(d) for d in self.shape)
        return dims if self.kind == "random" else f"{dims} {self.kind}"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class Implementation:
    """A contender: ``run(prepared)`` is timed; ``prepare`` (untimed) converts the NumPy input, ``to_numpy`` back.

    ``traced_memory`` is False for libraries whose allocations tracemalloc cannot see (torch).
    """

    name: str
    run: Callable
    prepare: Callable = lambda x: x
    to_numpy: Callable = np.asarray
    traced_memory: bool = True


@dataclass(frozen=True)
class Target:
    """``median(numerator) / median(denominator) <= bound`` on the listed cases (all cases if ``cases`` is None)."""

    numerator: str
    denominator: str
    bound: float
    cases: tuple[Case, ...] | None = None

    def describe(self) -> str:
        return f"{self.numerator} / {self.denominator} ≤ {self.bound:g}"


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    cases: tuple[Case, ...]
    quick_cases: tuple[Case, ...]
    make_input: Callable[[Case, np.dtype, np.random.Generator], np.ndarray]
    reference: Callable[[np.ndarray], np.ndarray]
    implementations: Callable[[], list[Implementation]]
    floor: Implementation
    targets: tuple[Target, ...] = field(default_factory=tuple)
    #: the scaling family plotted against size (single rows of growing length)
    scaling: tuple[Case, ...] = field(default_factory=tuple)


def softmax_floor() -> Implementation:
    """NumPy softmax of the same array: a few passes over memory, the yardstick of the projection targets."""

    def softmax(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
        return e

    return Implementation("numpy softmax (floor)", softmax)


def all_suites() -> list[Suite]:
    from benchmarks.suites import isotonic, simplex

    return [simplex.SPARSEMAX, simplex.ENTMAX15, simplex.ENTMAX_BISECT, isotonic.SUITE]
