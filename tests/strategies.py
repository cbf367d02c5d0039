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
