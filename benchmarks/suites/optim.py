"""Adam's update of a flat parameter vector (``--suites adam``): refefl ext vs refefl NumPy.

Every training step of refefl's estimators ends in :meth:`refefl.nn.Adam.flat_step` on the whole parameter vector
(6.5e3 entries for the (256,) ranking networks on vehicle, 2.2e4 on authorship). Both backends run through the
public ``flat_step`` at step t = 10 from the same moments, under ``config_context(backend=...)``; they agree bit
for bit (``tests/test_parity.py``). The floor is one NumPy multiply of the vector (one read, one write): the
update reads four vectors and writes three.
"""
from __future__ import annotations

import numpy as np

from benchmarks._harness import Case, Implementation, Suite, Target, float32_no_slower
from refefl import config_context
from refefl.nn import Adam

TARGET = Case((22_000,))
_OPTIMIZER = Adam(1e-3)


def make_input(case: Case, dtype, rng: np.random.Generator) -> np.ndarray:
    """Rows w, g, m, v (v ≥ 0) of the parameter vector's size, in one (4, n) array."""
    x = rng.normal(size=(4, case.size))
    x[2] *= 1e-2
    x[3] = 1e-4 * x[3] ** 2
    return x.astype(dtype)


def _state(x: np.ndarray) -> tuple:
    w, g, m, v = (np.ascontiguousarray(row) for row in x)
    return w, g, {"t": 9, "m": m, "v": v}


def _flat_step(backend: str):
    def run(args):
        with config_context(backend=backend):
            return _OPTIMIZER.flat_step(*args)[0]

    return run


def implementations() -> list[Implementation]:
    return [Implementation("refefl ext", _flat_step("ext"), prepare=_state),
            Implementation("refefl numpy", _flat_step("numpy"), prepare=_state)]


SUITE = Suite(
    name="adam",
    title="Adam update of a flat parameter vector (Adam.flat_step)",
    cases=(Case((6_500,)), TARGET, Case((10**5,)), Case((10**6,))),
    quick_cases=(TARGET,),
    make_input=make_input,
    reference=lambda x: _flat_step("numpy")(_state(x)),
    implementations=implementations,
    floor=Implementation("numpy multiply (floor)", lambda x: np.multiply(x[0], 0.9)),
    targets=(Target("refefl ext", "refefl numpy", 0.35), float32_no_slower()),
    scaling=tuple(Case((n,)) for n in (10**3, 10**4, 10**5, 10**6)),
    agreement_case=Case((3000,)),
)
