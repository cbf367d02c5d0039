"""Hypothesis strategies for property-testing Fenchel-Young implementations (needs Hypothesis).

Scores with a controllable magnitude, ties and ``-inf``; points of each domain (simplex, box, capped simplex,
permutahedron, monotone vectors); permutations; label sets (one-hot and multilabel); vectors whose PAV blocks
are a hair apart. Every strategy returns NumPy arrays of the requested dtype.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

#: the largest score magnitude each dtype is tested at (beyond, exp and squares overflow in any implementation
#: that does not shift by the row max)
HUGE = {np.dtype(np.float64): 1e300, np.dtype(np.float32): 1e8}


def _unit(dtype, size):
    width = np.dtype(dtype).itemsize * 8
    return hnp.arrays(np.float64, size, elements=st.floats(-1, 1, allow_nan=False, width=width))


@st.composite
def scores(draw, min_size: int = 1, max_size: int = 10, *, dtype=np.float64, magnitude=10.0, ties: bool = False,
           neg_inf: bool = False, batch: int | None = None):
    """Scores θ in [-magnitude, magnitude] of length in [min_size, max_size] (shape (batch, n) if ``batch``).

    ``magnitude`` may be a float or a list to draw it from (several scales exercise supports of every size);
    ``ties`` rounds to a coarse grid so that equal scores are frequent; ``neg_inf`` sets at least one entry
    (never all) of each row to ``-inf``.
    """
    n = draw(st.integers(min_size, max_size))
    scale = draw(st.sampled_from(magnitude)) if isinstance(magnitude, (list, tuple)) else magnitude
    shape = (n,) if batch is None else (draw(st.integers(1, batch)), n)
    x = draw(_unit(dtype, shape))
    if ties:
        x = np.round(x * 4) / 4
    x = (x * scale).astype(dtype)
    if neg_inf:
        rows = x.reshape(-1, n)
        for row in rows:
            k = draw(st.integers(1, n - 1))
            row[draw(st.permutations(range(n)))[:k]] = -np.inf
        x = rows.reshape(shape)
    return x


def permutations(n: int):
    """A permutation of ``range(n)`` as an integer array."""
    return st.permutations(range(n)).map(np.array)


@st.composite
def simplex_points(draw, n: int, *, dtype=np.float64, radius: float = 1.0):
    """Points of the simplex {y ≥ 0, Σy = radius}: vertices, faces and interior points."""
    kind = draw(st.sampled_from(["vertex", "face", "interior"]))
    if kind == "vertex":
        y = np.zeros(n)
        y[draw(st.integers(0, n - 1))] = 1.0
    else:
        w = np.abs(draw(_unit(np.float64, n)))
        if kind == "face":
            w[: draw(st.integers(0, n - 1))] = 0.0
            w = w[draw(permutations(n))]
        y = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    return (radius * y).astype(dtype)


@st.composite
def box_points(draw, n: int, *, dtype=np.float64):
    """Points of the box [0, 1]^n, corners included."""
    y = (draw(_unit(np.float64, n)) + 1) / 2
    if draw(st.booleans()):
        y = np.round(y)
    return y.astype(dtype)


@st.composite
def capped_simplex_points(draw, n: int, s: float, *, dtype=np.float64):
    """Points of the capped simplex {y ∈ [0,1]^n, Σy = s} (n ≥ s): label sets of size s and interior points."""
    from refefl.projections import projection_capped_simplex

    if draw(st.booleans()) and float(s).is_integer():
        y = np.zeros(n)
        y[draw(permutations(n))[: int(s)]] = 1.0
        return y.astype(dtype)
    return projection_capped_simplex(draw(_unit(np.float64, n)) * 3, s).astype(dtype)


@st.composite
def permutahedron_points(draw, w, *, dtype=np.float64):
    """Points of the permutahedron P(w): convex combinations of a few permutations of w."""
    w = np.asarray(w, dtype=np.float64)
    k = draw(st.integers(1, 3))
    weights = np.abs(draw(_unit(np.float64, k))) + 1e-3
    perms = [w[draw(permutations(len(w)))] for _ in range(k)]
    return (np.tensordot(weights / weights.sum(), np.array(perms), axes=1)).astype(dtype)


def one_hot(n: int, *, dtype=np.float64):
    """A one-hot label vector of length n."""
    return st.integers(0, n - 1).map(lambda i: np.eye(n, dtype=dtype)[i])


def label_sets(n: int, *, size: int | None = None, dtype=np.float64):
    """A multilabel indicator vector of length n (of exactly ``size`` labels if given)."""
    if size is None:
        return hnp.arrays(dtype, n, elements=st.sampled_from([0.0, 1.0]))
    return permutations(n).map(lambda p: np.isin(np.arange(n), p[:size]).astype(dtype))


@st.composite
def monotone_points(draw, n: int, *, dtype=np.float64, increasing: bool = True):
    """Monotone vectors (feasible points of isotonic regression), with ties."""
    y = np.sort(np.round(draw(_unit(np.float64, n)) * 8) / 2)
    return (y if increasing else y[::-1]).astype(dtype)


@st.composite
def close_blocks(draw, max_size: int = 8, *, gap: float = 5e-10, increasing: bool = True):
    """Strictly monotone float64 vectors in which some neighbours are only ``gap`` apart.

    Their isotonic fit is the vector itself, one block per entry, so its Jacobian is the identity; an
    implementation that re-detects blocks by comparing values with an absolute tolerance above ``gap`` merges them.
    """
    n = draw(st.integers(2, max_size))
    base = np.cumsum(np.array(draw(st.lists(st.integers(1, 4), min_size=n, max_size=n)), dtype=np.float64))
    close = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    close[draw(st.integers(1, n - 1))] = True
    y = np.empty(n)
    y[0] = base[0]
    for i in range(1, n):
        y[i] = y[i - 1] + (gap if close[i] else base[i] - base[i - 1])
    return y if increasing else y[::-1].copy()


def directions(n: int, *, dtype=np.float64):
    """A direction vector v in [-1, 1]^n, not all zero."""
    return _unit(dtype, n).filter(lambda v: np.abs(v).max() > 1e-3)
