"""The log-permanent: against enumeration, closed forms, invariances, extreme entries and bad input."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refefl.partition._permanent import log_permanent
from refefl.testing import assert_close


def log_permanent_by_enumeration(log_a):
    k = log_a.shape[0]
    rows = np.arange(k)
    weights = [log_a[rows, list(sigma)].sum() for sigma in itertools.permutations(range(k))]
    return float(np.logaddexp.reduce(np.array(weights, dtype=np.float64)))


@st.composite
def log_matrices(draw, max_k=7, bound=20.0, dtype=np.float64, neg_inf=True):
    """(k, k) log-entries in [-bound, bound], some of them -inf (zero entries) when ``neg_inf``."""
    k = draw(st.integers(1, max_k))
    width = np.dtype(dtype).itemsize * 8
    log_a = draw(hnp.arrays(dtype, (k, k), elements=st.floats(-bound, bound, width=width)))
    if neg_inf:
        log_a[draw(hnp.arrays(bool, (k, k)))] = -np.inf
    return log_a


@given(log_a=log_matrices())
def test_equals_enumeration(backend, log_a):
    assert_close(log_permanent(log_a, backend=backend), log_permanent_by_enumeration(log_a))


@given(log_a=log_matrices(dtype=np.float32, neg_inf=False))
def test_float32_is_kept_and_accurate_to_its_precision(backend, log_a):
    got = log_permanent(log_a, backend=backend)
    assert got.dtype == np.float32
    assert_close(got, log_permanent_by_enumeration(log_a), dtype=np.float32)


@pytest.mark.parametrize("k", [1, 2, 5, 12, 16])
def test_all_ones_matrix_gives_k_factorial(backend, k):
    assert_close(log_permanent(np.zeros((k, k)), backend=backend), math.lgamma(k + 1))


@given(log_diagonal=hnp.arrays(np.float64, st.integers(1, 14), elements=st.floats(-700, 700)))
def test_diagonal_matrix_gives_the_product_of_its_diagonal(backend, log_diagonal):
    log_a = np.full((log_diagonal.size,) * 2, -np.inf)
    np.fill_diagonal(log_a, log_diagonal)
    got = log_permanent(log_a, backend=backend)
    assert_close(got, log_diagonal.sum(), scale=max(1.0, float(np.abs(log_diagonal).sum())))


@given(log_a=log_matrices(max_k=9), data=st.data())
def test_invariant_to_row_and_column_permutations_and_transposition(backend, log_a, data):
    k = log_a.shape[0]
    rows, cols = data.draw(st.permutations(range(k))), data.draw(st.permutations(range(k)))
    want = log_permanent(log_a, backend=backend)
    assert_close(log_permanent(log_a[np.ix_(rows, cols)], backend=backend), want)
    assert_close(log_permanent(log_a.T, backend=backend), want)


@given(log_a=log_matrices(max_k=9), log_c=st.floats(-300, 300), data=st.data())
def test_scaling_a_row_by_c_adds_log_c(backend, log_a, log_c, data):
    row = data.draw(st.integers(0, log_a.shape[0] - 1))
    scaled = log_a.copy()
    scaled[row] += log_c
    want = log_permanent(log_a, backend=backend) + log_c
    assert_close(log_permanent(scaled, backend=backend), want, scale=max(1.0, abs(float(want))))


@settings(max_examples=10)  # each example is a batch of up to 24 matrices
@given(batch=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6), st.just(5), st.just(5)),
                        elements=st.floats(-30, 30)))
def test_batching_equals_a_loop_over_matrices(backend, batch):
    batch.setflags(write=False)  # inputs are never written to
    got = log_permanent(batch, backend=backend)
    assert got.shape == batch.shape[:2]
    want = np.array([[log_permanent(m, backend=backend) for m in row] for row in batch])
    assert_close(got, want)  # equal up to rounding: the NumPy twin's blocks of sign vectors depend on the batch size


def test_entries_of_plus_minus_700_give_exact_finite_results(backend):
    rng = np.random.default_rng(0)
    for k in [3, 6, 8]:
        log_a = rng.uniform(-700, 700, size=(k, k))
        got = log_permanent(log_a, backend=backend)
        assert np.isfinite(got)
        assert_close(got, log_permanent_by_enumeration(log_a), scale=700.0)


@pytest.mark.parametrize("magnitude", [1e20, 1e100, 1e200, 1e300])
def test_huge_entries_give_the_assignment_weight(backend, magnitude):
    # at |L| >> 1 the permanent is dominated by the best assignment: log per lies in [w*, w* + log k!], so w* is
    # the answer to the dtype's precision; the rounding of the dual potentials (far above 1) must not zero it
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(2)
    for k in [3, 7]:
        log_a = rng.normal(size=(k, k)) * magnitude
        log_a[0, 0] = log_a[k - 1, 1] = -np.inf
        rows, cols = linear_sum_assignment(log_a, maximize=True)
        weight = log_a[rows, cols].sum()
        got = log_permanent(log_a, backend=backend)
        assert np.isfinite(got)
        assert_close(got, weight)  # relative: log k! is far below the ulp of w*


def test_large_order_matches_a_rank_one_closed_form(backend):
    # per(x yᵀ) = k! Π x_i Π y_j: log-entries log x_i + log y_j
    rng = np.random.default_rng(1)
    for k in [14, 20]:
        log_x, log_y = rng.normal(size=k), rng.normal(size=k)
        got = log_permanent(log_x[:, None] + log_y[None, :], backend=backend)
        assert_close(got, math.lgamma(k + 1) + log_x.sum() + log_y.sum(), scale=10.0)


def test_zero_permanents_give_minus_inf(backend):
    k = 5
    for zero_pattern in [np.s_[2, :], np.s_[:, 3], np.s_[:3, :3]]:  # a row, a column, a 3x3 block (Hall)
        log_a = np.zeros((k, k))
        log_a[zero_pattern] = -np.inf
        assert log_permanent(log_a, backend=backend) == -np.inf


def test_rejects_bad_input(backend):
    with pytest.raises(ValueError, match="square"):
        log_permanent(np.zeros((3, 4)), backend=backend)
    with pytest.raises(ValueError, match="at least 2 dimension"):
        log_permanent(np.zeros(3), backend=backend)
    with pytest.raises(ValueError, match="at most 24"):
        log_permanent(np.zeros((25, 25)), backend=backend)
    with pytest.raises(ValueError, match="at least one matrix"):
        log_permanent(np.zeros((0, 3, 3)), backend=backend)
    with pytest.raises(ValueError, match="non-empty"):
        log_permanent(np.zeros((0, 0)), backend=backend)
    for bad, match in [(np.nan, "NaN"), (np.inf, r"\+inf")]:
        log_a = np.zeros((3, 3))
        log_a[1, 2] = bad
        with pytest.raises(ValueError, match=match):
            log_permanent(log_a, backend=backend)
    with pytest.raises(TypeError, match="log_a"):
        log_permanent(np.zeros((2, 2), dtype=complex), backend=backend)
    with pytest.raises(ValueError, match="backend"):
        log_permanent(np.zeros((2, 2)), backend="fortran")
