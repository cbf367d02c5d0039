"""Hypothesis strategies shared by the property tests."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = [np.float64, np.float32]


def vectors(min_size=1, max_size=12, *, dtype=np.float64, bound=10.0, unique=False):
    """1-D arrays of finite floats in [-bound, bound]."""
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=np.dtype(dtype).itemsize * 8)
    return hnp.arrays(dtype, st.integers(min_size, max_size), elements=elements, unique=unique)


def matrices(max_rows=4, min_cols=1, max_cols=10, *, dtype=np.float64, bound=10.0):
    """2-D arrays (rows, cols) of finite floats in [-bound, bound]."""
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=np.dtype(dtype).itemsize * 8)
    shapes = st.tuples(st.integers(1, max_rows), st.integers(min_cols, max_cols))
    return hnp.arrays(dtype, shapes, elements=elements)


def with_ties(draw_vector):
    """Round a vector to a coarse grid so that ties are frequent."""
    return np.round(draw_vector * 2) / 2


# -- extreme corners: spreads of 1e12 and more, values near the float64 limit, subnormals, empty batches --------
FLOAT64_MAX = float(np.finfo(np.float64).max)


def huge_offsets(min_value=1e12, max_value=1e300):
    """Offsets from 1e12 (a spread that loses every small score in a fixed-point frame) up to 1e300."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)


def near_limit_vectors(min_size=1, max_size=8):
    """Finite float64 vectors whose entries are near ±1.7e308 or moderate: spreads overflow their difference."""
    elements = st.one_of(st.floats(-FLOAT64_MAX, -1e307), st.floats(1e307, FLOAT64_MAX), st.floats(-10.0, 10.0))
    return hnp.arrays(np.float64, st.integers(min_size, max_size), elements=elements)


def subnormals():
    """Positive subnormal float64 numbers, from 5e-324 to just below the smallest normal."""
    return st.floats(5e-324, float(np.finfo(np.float64).tiny), exclude_max=True)


def empty_batch_shapes(min_k=1, max_k=5):
    """Shapes (..., k) with k >= 1 and at least one batch axis of length 0."""
    return st.tuples(st.lists(st.integers(0, 3), min_size=0, max_size=2), st.integers(0, 2),
                     st.integers(min_k, max_k)).map(lambda t: tuple(t[0][: t[1]]) + (0,) + tuple(t[0][t[1]:]) + (t[2],))
