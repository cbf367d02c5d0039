"""Soft rank (Euclidean and entropic): refefl ext vs refefl NumPy, against ``np.argsort`` of the same array.

The floor is the sort every soft rank needs. fast-soft-sort (not on PyPI) and torchsort (compiled against a
matching torch) are timed when importable and left out otherwise.
"""
import numpy as np

import refefl
from benchmarks import _peers
from benchmarks._harness import Case, Implementation, Suite, Target, available, float32_no_slower

CASES = (Case((10**5,)), Case((10**6,)), Case((1000, 1000)))
TARGET_CASE = Case((10**6,))


def make_input(case: Case, dtype, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=case.shape).astype(dtype)


def argsort_floor() -> Implementation:
    return Implementation("numpy argsort (floor)", lambda x: np.argsort(x, axis=-1))


def _fast_soft_sort(regularization: str) -> Implementation | None:
    if not _peers.installed("fast_soft_sort"):
        return None
    from fast_soft_sort import numpy_ops

    def run(x):
        rows = x.reshape(-1, x.shape[-1])
        ranks = [numpy_ops.SoftRank(row, regularization=regularization).compute() for row in rows]
        return np.stack(ranks).reshape(x.shape)

    return Implementation("fast-soft-sort", run)


def _torchsort(regularization: str) -> Implementation | None:
    if not (_peers.installed("torch") and _peers.installed("torchsort")):
        return None
    import torch
    import torchsort

    def run(tensor):
        with torch.no_grad():
            return torchsort.soft_rank(tensor, regularization=regularization)

    def prepare(x):
        return torch.from_numpy(x.reshape(-1, x.shape[-1]))

    return Implementation("torchsort", run, prepare=prepare, to_numpy=lambda t: t.numpy().squeeze(0),
                          traced_memory=False)


def _suite(regularization: str) -> Suite:
    def implementations() -> list[Implementation]:
        return available(
            Implementation("refefl ext", lambda x: refefl.soft_rank(x, regularization=regularization, backend="ext")),
            Implementation("refefl numpy",
                           lambda x: refefl.soft_rank(x, regularization=regularization, backend="numpy")),
            _fast_soft_sort(regularization),
            _torchsort(regularization),
        )

    return Suite(
        name=f"soft_rank_{regularization}",
        title=f"Soft rank, regularization={regularization!r} (strength 1, ascending)",
        cases=CASES,
        quick_cases=(TARGET_CASE,),
        make_input=make_input,
        reference=lambda x: refefl.soft_rank(x, regularization=regularization, backend="numpy"),
        implementations=implementations,
        floor=argsort_floor(),
        targets=(
            Target("refefl ext", "numpy argsort (floor)", 1.5, cases=(TARGET_CASE,)),
            Target("refefl ext", "refefl numpy", 1 / 1.7, cases=(TARGET_CASE,)),
            float32_no_slower(),
        ),
        scaling=tuple(Case((n,)) for n in (10**3, 10**4, 10**5, 10**6)),
    )


SOFT_RANK_L2 = _suite("l2")
SOFT_RANK_KL = _suite("kl")
