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
    ``stopping_tolerance`` is a peer's own documented stopping tolerance when it is coarser than the dtype's
    agreement tolerance (an iterative peer with a fixed default tolerance agrees only that far).
    """

    name: str
    run: Callable
    prepare: Callable = lambda x: x
    to_numpy: Callable = np.asarray
    traced_memory: bool = True
    stopping_tolerance: float = 0.0


@dataclass(frozen=True)
class Target:
    """``median(numerator) / median(denominator) <= bound`` on every case (or only ``cases``).

    Both medians are taken in the same case; by default both in float64 (the issue's targets are float64),
    ``numerator_dtype`` allows the "float32 no slower than float64" check.
    """

    numerator: str
    denominator: str
    bound: float
    cases: tuple[Case, ...] | None = None
    numerator_dtype: str = "float64"
    denominator_dtype: str = "float64"

    def describe(self) -> str:
        num = self.numerator + ("" if self.numerator_dtype == self.denominator_dtype else f" [{self.numerator_dtype}]")
        den = self.denominator + ("" if self.numerator_dtype == self.denominator_dtype else f" [{self.denominator_dtype}]")
        return f"{num} / {den} ≤ {self.bound:g}"


def float32_no_slower(implementation: str = "refefl ext") -> Target:
    """The float32 run of ``implementation`` takes at most the time of its float64 run on the same case."""
    return Target(implementation, implementation, 1.0, numerator_dtype="float32")


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
    #: peak bytes allowed per call of "refefl ext", in units of the input's size (the output counts: 2.0 means
    #: the output plus at most one more input-sized array); None: no memory target
    memory_budget: float | None = None
    #: agreement bounds by dtype name (relative to 1 + max |reference|) replacing the harness's defaults
    tolerance: dict[str, float] = field(default_factory=dict)
    #: a small input of the suite's shape for the agreement test (tests/test_benchmarks.py); None: a default
    agreement_case: Case | None = None
    #: the dtypes the suite runs in (a sampler fed float64 noise has no float32 case)
    dtypes: tuple[str, ...] = ("float64", "float32")


def softmax_floor() -> Implementation:
    """NumPy softmax of the same array: a few passes over memory, the yardstick of the projection targets."""

    def softmax(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
        return e

    return Implementation("numpy softmax (floor)", softmax)


def all_suites() -> list[Suite]:
    from benchmarks.suites import capped, isotonic, partition, simplex, soft_rank

    return [simplex.SPARSEMAX, simplex.ENTMAX15, simplex.ENTMAX_BISECT, isotonic.SUITE, soft_rank.SOFT_RANK_L2,
            soft_rank.SOFT_RANK_KL, capped.PROJECTION, capped.ENTROPIC, *partition.SUITES]


def suite_groups() -> dict[str, tuple[str, ...]]:
    """Names that select several suites at once on the command line (``--suites partition``)."""
    from benchmarks.suites import partition

    return {"partition": tuple(s.name for s in partition.SUITES)}
