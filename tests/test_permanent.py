"""The log-permanent and its gradient (the marginals): against enumeration, the Laplace expansion through minors,
closed forms, invariances, extreme entries and bad input."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refefl.partition._permanent import log_permanent, permanent_marginals
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


# -- the marginals M = ∂ log per(e^L) / ∂L ------------------------------------------------------------------------
def marginals_by_enumeration(log_a):
    """Σ_σ p(σ) P_σ with p(σ) ∝ exp Σ_i L[i, σ(i)] (P_σ[i, σ(i)] = 1), and log per(e^L)."""
    k = log_a.shape[0]
    sigmas = list(itertools.permutations(range(k)))
    weights = np.array([log_a[np.arange(k), list(s)].sum() for s in sigmas])
    p = np.exp(weights - np.logaddexp.reduce(weights))
    marginals = np.zeros((k, k))
    for weight, s in zip(p, sigmas):
        marginals[np.arange(k), list(s)] += weight
    return marginals, float(np.logaddexp.reduce(weights))


def marginals_by_minors(log_a):
    """M_ij = exp(L_ij + log per(e^{L without row i, column j}) − log per(e^L)): the Laplace expansion, k² minors
    through log_permanent (the previous implementation of the Birkhoff marginals)."""
    k = log_a.shape[-1]
    rest = np.nonzero(~np.eye(k, dtype=bool))[1].reshape(k, k - 1)  # rest[i] = every index but i
    minors = log_a[rest[:, None, :, None], rest[None, :, None, :]]
    return np.exp(log_a + log_permanent(minors, backend="numpy") - log_permanent(log_a, backend="numpy"))


def assignment_weight(log_a):
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(log_a, maximize=True)
    return log_a[rows, cols].sum(), cols


@given(log_a=log_matrices(max_k=6, neg_inf=False))
def test_marginals_and_log_permanent_equal_enumeration(backend, log_a):
    scaled, log_per, marginals = permanent_marginals(log_a, backend=backend)
    want_marginals, want_log_per = marginals_by_enumeration(log_a)
    assert_close(marginals, want_marginals, scale=10)
    weight, _ = assignment_weight(log_a)
    assert_close(log_per + weight, want_log_per, scale=max(1.0, abs(want_log_per)))
    assert 0.0 <= log_per <= math.lgamma(log_a.shape[0] + 1) + 1e-12
    # S ≤ 0 with a permutation of exact zeros (on an optimal assignment, which ties may choose differently)
    assert (scaled <= 0).all() and assignment_weight(scaled)[0] == 0.0


@given(log_a=log_matrices(max_k=9, bound=5.0, neg_inf=False))
def test_marginals_equal_the_laplace_expansion_through_minors(backend, log_a):
    if log_a.shape[0] == 1:
        return
    assert_close(permanent_marginals(log_a, backend=backend)[2], marginals_by_minors(log_a), scale=100)


@given(log_a=log_matrices(max_k=8, bound=30.0, neg_inf=False), data=st.data())
def test_scaled_matrix_keeps_every_permutation_weight_up_to_the_best(backend, log_a, data):
    # <S, P_σ> = <L, P_σ> − W* for every σ, whichever optimal dual potentials the backend found
    k = log_a.shape[0]
    scaled, _, marginals = permanent_marginals(log_a, backend=backend)
    sigma = data.draw(st.permutations(range(k)))
    weight, _ = assignment_weight(log_a)
    rows = np.arange(k)
    assert_close(scaled[rows, sigma].sum(), log_a[rows, sigma].sum() - weight, scale=30.0 * k)
    assert_close(marginals.sum(axis=0), np.ones(k), scale=10)
    assert_close(marginals.sum(axis=1), np.ones(k), scale=10)


@pytest.mark.parametrize("k", [1, 4, 11, 16])
def test_marginals_of_a_constant_matrix_are_uniform(backend, k):
    scaled, log_per, marginals = permanent_marginals(np.full((k, k), 3.0), backend=backend)
    assert_close(marginals, np.full((k, k), 1.0 / k))
    assert_close(log_per, math.lgamma(k + 1))


def test_marginals_of_a_rank_one_matrix_are_uniform_and_order_16_is_accurate(backend):
    # L_ij = x_i + y_j: every permutation has the same weight, so M = 1/k whatever the scales
    rng = np.random.default_rng(3)
    log_x, log_y = rng.normal(size=16) * 50, rng.normal(size=16) * 50
    scaled, log_per, marginals = permanent_marginals(log_x[:, None] + log_y[None, :], backend=backend)
    assert_close(marginals, np.full((16, 16), 1 / 16), scale=100)
    assert_close(log_per, math.lgamma(17), scale=100)


@pytest.mark.parametrize("magnitude", [1e20, 1e100, 1e200, 1e300])
def test_marginals_of_huge_entries_are_the_best_assignment(backend, magnitude):
    # at |L| >> 1 the distribution is a point mass on σ*: M = P_σ* exactly, log per(e^S) = 0
    rng = np.random.default_rng(2)
    for k in [3, 7, 11]:
        log_a = rng.normal(size=(k, k)) * magnitude
        _, cols = assignment_weight(log_a)
        scaled, log_per, marginals = permanent_marginals(log_a, backend=backend)
        want = np.zeros((k, k))
        want[np.arange(k), cols] = 1.0
        np.testing.assert_array_equal(marginals, want)
        assert log_per == 0.0 and np.isfinite(scaled).all()


def test_marginals_of_entries_of_plus_minus_700(backend):
    rng = np.random.default_rng(4)
    for k in [3, 6]:
        log_a = rng.uniform(-700, 700, size=(k, k)) / 50  # M is a nontrivial distribution at this range
        want, _ = marginals_by_enumeration(log_a)
        assert_close(permanent_marginals(log_a, backend=backend)[2], want, scale=100)
        log_a = rng.uniform(-700, 700, size=(k, k))
        got = permanent_marginals(log_a, backend=backend)
        assert all(np.isfinite(x).all() for x in got)
        assert_close(got[2], marginals_by_enumeration(log_a)[0], scale=100)


@given(log_a=log_matrices(max_k=7, dtype=np.float32, neg_inf=False))
def test_marginals_keep_float32_and_its_precision(backend, log_a):
    scaled, log_per, marginals = permanent_marginals(log_a, backend=backend)
    assert scaled.dtype == log_per.dtype == marginals.dtype == np.float32
    assert_close(marginals, marginals_by_enumeration(log_a.astype(np.float64))[0], dtype=np.float32, scale=10)


@settings(max_examples=10)
@given(batch=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 7), st.just(6), st.just(6)),
                        elements=st.floats(-30, 30)))
def test_marginals_batch_equals_a_loop_and_leaves_the_input(backend, batch):
    batch.setflags(write=False)
    scaled, log_per, marginals = permanent_marginals(batch, backend=backend)
    assert scaled.shape == marginals.shape == batch.shape and log_per.shape == batch.shape[:2]
    for index in np.ndindex(batch.shape[:2]):
        one = permanent_marginals(batch[index], backend=backend)
        assert_close(log_per[index], one[1])
        assert_close(marginals[index], one[2])


def test_marginals_reject_bad_input(backend):
    with pytest.raises(ValueError, match="square"):
        permanent_marginals(np.zeros((3, 4)), backend=backend)
    with pytest.raises(ValueError, match="at most 16"):
        permanent_marginals(np.zeros((17, 17)), backend=backend)
    with pytest.raises(ValueError, match="at least one matrix"):
        permanent_marginals(np.zeros((0, 3, 3)), backend=backend)
    for bad in (np.nan, np.inf, -np.inf):
        log_a = np.zeros((3, 3))
        log_a[1, 2] = bad
        with pytest.raises(ValueError, match="log_a"):
            permanent_marginals(log_a, backend=backend)
    with pytest.raises(TypeError, match="log_a"):
        permanent_marginals(np.zeros((2, 2), dtype=complex), backend=backend)
