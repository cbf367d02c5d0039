"""Isotonic regression (PAV), Euclidean: refefl ext vs refefl NumPy vs scipy (C++) and scikit-learn."""
import numpy as np

import refefl
from benchmarks import _peers
from benchmarks._harness import Case, Implementation, Suite, Target, available, float32_no_slower
from benchmarks.suites import softmax_floor

CASES = tuple(Case((n,), kind) for n in (10**5, 10**6) for kind in ("random", "single block"))


def make_input(case: Case, dtype, rng: np.random.Generator) -> np.ndarray:
    if case.kind == "single block":  # strictly decreasing data pools into one block
        return np.linspace(1.0, -1.0, case.size, dtype=dtype)
    # a noisy increasing trend: many blocks of varied sizes
    return (np.linspace(0, 3, case.size) + rng.normal(size=case.size)).astype(dtype)


def implementations() -> list[Implementation]:
    return available(
        Implementation("refefl ext", lambda y: refefl.isotonic_regression(y, backend="ext")),
        Implementation("refefl numpy", lambda y: refefl.isotonic_regression(y, backend="numpy")),
        _peers.scipy_isotonic(),
        _peers.sklearn_isotonic(),
    )


SUITE = Suite(
    name="isotonic",
    title="Isotonic regression (PAV, Euclidean, unit weights)",
    cases=CASES,
    quick_cases=(Case((10**5,)), Case((10**5,), "single block")),
    make_input=make_input,
    reference=lambda y: refefl.isotonic_regression(y, backend="numpy"),
    implementations=implementations,
    floor=softmax_floor(),
    targets=(Target("refefl ext", "scipy isotonic_regression", 0.8), float32_no_slower()),
    scaling=tuple(Case((n,)) for n in (10**3, 10**4, 10**5, 10**6)),
)
