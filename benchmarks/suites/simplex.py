"""Maps onto the simplex: sparsemax (Euclidean projection), exact 1.5-entmax, and α-entmax by bisection."""
import numpy as np

import refefl
from benchmarks import _peers
from benchmarks._harness import Case, Implementation, Suite, Target, available, float32_no_slower
from benchmarks.suites import softmax_floor

CASES = (Case((10000, 100)), Case((1000, 1000)), Case((1, 10**6)))
QUICK = (Case((1000, 1000)), Case((1, 10**6)))  # two of the target shapes
SCALING = tuple(Case((1, n)) for n in (10**3, 10**4, 10**5, 10**6))


def make_input(case: Case, dtype, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=case.shape).astype(dtype)


def _refefl(func, **kwargs) -> list[Implementation]:
    return [
        Implementation("refefl ext", lambda x: func(x, backend="ext", **kwargs)),
        Implementation("refefl numpy", lambda x: func(x, backend="numpy", **kwargs)),
    ]


SPARSEMAX = Suite(
    name="sparsemax",
    title="Sparsemax / projection onto the simplex",
    cases=CASES,
    quick_cases=QUICK,
    make_input=make_input,
    reference=lambda x: refefl.sparsemax(x, backend="numpy"),
    implementations=lambda: available(
        *_refefl(refefl.sparsemax), _peers.torch_implementation("entmax.sparsemax", "sparsemax")
    ),
    floor=softmax_floor(),
    targets=(
        Target("refefl ext", "numpy softmax (floor)", 0.5),
        Target("refefl ext", "entmax.sparsemax", 1 / 20),
        float32_no_slower(),
    ),
    scaling=SCALING,
    memory_budget=2.0,
)

ENTMAX15 = Suite(
    name="entmax15",
    title="1.5-entmax (exact)",
    cases=CASES,
    quick_cases=QUICK,
    make_input=make_input,
    reference=lambda x: refefl.entmax(x, 1.5, backend="numpy"),
    implementations=lambda: available(
        *_refefl(refefl.entmax, alpha=1.5), _peers.torch_implementation("entmax.entmax15", "entmax15")
    ),
    floor=softmax_floor(),
    targets=(
        Target("refefl ext", "numpy softmax (floor)", 1.5),
        Target("refefl ext", "entmax.entmax15", 1 / 10),
        float32_no_slower(),
    ),
    scaling=SCALING,
    memory_budget=2.0,
)

ENTMAX_BISECT = Suite(
    name="entmax_bisect",
    title="α-entmax by threshold search (α = 1.5 through the general-α path)",
    cases=CASES,
    quick_cases=QUICK,
    make_input=make_input,
    reference=lambda x: refefl.entmax(x, 1.5, backend="numpy"),
    implementations=lambda: available(
        *_refefl(refefl.entmax, alpha=1.5, method="bisect"),
        _peers.torch_implementation("entmax.entmax_bisect", "entmax_bisect", alpha=1.5),
    ),
    floor=softmax_floor(),
    scaling=SCALING,
    memory_budget=2.0,
)
