"""Measurement: agreement with the reference, wall-clock medians with their spread, and peak memory."""
from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Timing:
    median: float
    low: float
    high: float
    repeats: int


def time_call(func: Callable[[], object], repeats: int, *, budget: float = 2.0) -> Timing:
    """Median, min and max wall-clock seconds of ``func()`` over ``repeats`` calls after one warm-up.

    Calls that take long get fewer repeats (at least 3) so one measurement stays within about ``budget`` seconds.
    """
    start = time.perf_counter()
    func()  # warm-up: caches, lazy imports, thread pools
    first = time.perf_counter() - start
    repeats = max(3, min(repeats, int(budget / max(first, 1e-9))))
    samples = []
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            func()
            samples.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return Timing(float(np.median(samples)), float(np.min(samples)), float(np.max(samples)), repeats)


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


def max_abs_difference(actual, reference) -> float:
    """Largest absolute difference after converting both to float64 arrays (inf if the shapes differ)."""
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(actual - reference))) if actual.size else 0.0
