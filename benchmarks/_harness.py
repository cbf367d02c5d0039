"""The harness every benchmark uses: the types of a kernel suite (:class:`Case`, :class:`Implementation`,
:class:`Target`, :class:`Suite`), the agreement check run before anything is timed, wall-clock medians with
their spread (one function at a time or several interleaved), and peak memory."""
from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

#: agreement bounds by dtype (relative to 1 + max |reference|), unless a suite sets its own
TOLERANCE = {np.dtype(np.float64): 1e-8, np.dtype(np.float32): 2e-4}


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


def available(*implementations: Implementation | None) -> list[Implementation]:
    """The implementations that exist here (a peer's constructor returns None when the peer is not installed)."""
    return [impl for impl in implementations if impl is not None]


@dataclass(frozen=True)
class Target:
    """``median(numerator) / median(denominator) <= bound`` on every case (or only ``cases``).

    Both medians are taken in the same case; by default both in float64 (the performance targets are float64),
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


def max_abs_difference(actual, reference) -> float:
    """Largest absolute difference after converting both to float64 arrays (inf if the shapes differ)."""
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(actual - reference))) if actual.size else 0.0


def check_agreement(suite: Suite, impls: Sequence[Implementation], x: np.ndarray, dtype) -> dict[str, float]:
    """Largest absolute difference of each implementation from the suite's reference on ``x``; stop (SystemExit)
    when one exceeds the dtype's tolerance (or the peer's own stopping tolerance) times 1 + max |reference|."""
    reference = suite.reference(x)
    scale = 1.0 + float(np.max(np.abs(reference)))
    diffs = {}
    tolerance = suite.tolerance.get(np.dtype(dtype).name, TOLERANCE[np.dtype(dtype)])
    for impl in impls:
        diff = max_abs_difference(impl.to_numpy(impl.run(impl.prepare(x))), reference)
        if not diff <= max(tolerance, impl.stopping_tolerance) * scale:
            raise SystemExit(f"{suite.name}: {impl.name} disagrees with refefl's NumPy reference by {diff:.3g}")
        diffs[impl.name] = diff
    return diffs


@dataclass(frozen=True)
class Timing:
    median: float
    low: float
    high: float
    repeats: int

    @classmethod
    def of(cls, seconds: Iterable[float]) -> "Timing":
        """Median, min and max of measured seconds (the count is the number of samples)."""
        seconds = np.asarray(list(seconds), dtype=np.float64)
        return cls(float(np.median(seconds)), float(np.min(seconds)), float(np.max(seconds)), len(seconds))


def time_call(func: Callable[[], object], repeats: int, *, budget: float = 2.0) -> Timing:
    """Median, min and max wall-clock seconds of ``func()`` over ``repeats`` calls after one warm-up.

    Calls that take long get fewer repeats (at least 3) so one measurement stays within about ``budget`` seconds.
    """
    start = time.perf_counter()
    func()  # warm-up: caches, lazy imports, thread pools
    first = time.perf_counter() - start
    repeats = max(3, min(repeats, int(budget / max(first, 1e-9))))
    return time_interleaved({"func": func}, repeats, warm_up=False)["func"]


def time_interleaved(funcs: dict[str, Callable[[], object]], repeats: int, *,
                     warm_up: bool = True) -> dict[str, Timing]:
    """Median, min and max wall-clock seconds of each function over ``repeats`` rounds, calling them in turn
    within every round so that all see the same machine load (after one warm-up call each)."""
    if warm_up:
        for func in funcs.values():
            func()
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    gc.disable()
    try:
        for _ in range(repeats):
            for name, func in funcs.items():
                start = time.perf_counter()
                func()
                samples[name].append(time.perf_counter() - start)
    finally:
        gc.enable()
    return {name: Timing.of(seconds) for name, seconds in samples.items()}


def peak_memory(func: Callable[[], object]) -> int:
    """Peak bytes allocated through Python/NumPy allocators during ``func()`` (tracemalloc; torch is invisible)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        func()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
