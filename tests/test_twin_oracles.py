"""The NumPy twins run the compiled kernels' algorithms; each equals the textbook algorithm kept as its oracle.

``projection_simplex_rows`` (Michelot's fixed point on candidates) against ``projection_simplex_rows_by_sort``,
``entmax15_rows`` (sort-free Newton) against ``entmax15_rows_by_sort``, ``projection_capped_simplex_rows`` (Newton
over the breakpoints) against ``projection_capped_simplex_rows_by_sort``, and the entropic
``projection_permutahedron_rows`` (weighted Euclidean PAV of e^{s − s_0}/e^{ℓ − ℓ_0}, or PAV in ratio form)
against ``projection_permutahedron_rows_by_kl_pav`` (logsumexp PAV), on random rows, ties, ``-inf`` entries,
float32, and magnitudes up to 1e300 (float64) / 1e8 (float32); and the same row statuses on invalid rows. Last,
the explicit table of twins (``refefl._twins``) lists every compiled kernel, and ``select`` reads it.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refefl._validation import SCORES_NAN, SCORES_OK, SCORES_POS_INF, SCORES_TOO_FEW_FINITE
from refefl.projections._capped_simplex import projection_capped_simplex_rows, projection_capped_simplex_rows_by_sort
from refefl.projections._entmax import entmax15_rows, entmax15_rows_by_sort
from refefl.projections._permutahedron_kernels import LINEAR_SPREAD, descending_order
from refefl.projections._permutahedron_kernels import projection_permutahedron_rows
from refefl.projections._permutahedron_kernels import projection_permutahedron_rows_by_kl_pav
from refefl.projections._simplex import projection_simplex_rows, projection_simplex_rows_by_sort
from refefl.testing import assert_close
from refefl.testing.strategies import HUGE, scores

DTYPES = [np.float64, np.float32]


def _batches(dtype):
    """Batches of scores: several scales up to the dtype's largest tested magnitude, with or without ties and
    ``-inf`` entries (rows of at least two entries when ``-inf`` is drawn, so that a row keeps a finite one)."""
    magnitudes = [0.1, 1.0, 10.0, 1e4, HUGE[np.dtype(dtype)]]
    plain = scores(1, 12, dtype=dtype, magnitude=magnitudes, ties=False, batch=5)
    tied = scores(1, 12, dtype=dtype, magnitude=magnitudes, ties=True, batch=5)
    padded = scores(2, 12, dtype=dtype, magnitude=magnitudes, ties=True, neg_inf=True, batch=5)
    return st.one_of(plain, tied, padded).map(np.ascontiguousarray)


def _invalid_rows(dtype):
    x = np.random.default_rng(3).normal(size=(6, 7)).astype(dtype)
    x[1, 2], x[2, 3], x[3] = np.nan, np.inf, -np.inf
    x[4, 1:] = -np.inf  # one finite score: valid
    expected = np.array([SCORES_OK, SCORES_NAN, SCORES_POS_INF, SCORES_TOO_FEW_FINITE, SCORES_OK, SCORES_OK], np.int8)
    return x, expected


# -- (a) simplex projection -------------------------------------------------------------------------------------
def _simplex(kernel, x, radius):
    out, status = np.empty_like(x), np.full(x.shape[0], -1, dtype=np.int8)
    kernel(x, radius, out, status)
    return out, status


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), radius=st.sampled_from([1.0, 0.25, 3.0, 1e-3]))
def test_michelot_simplex_equals_the_sort(dtype, data, radius):
    x = data.draw(_batches(dtype))
    x.setflags(write=False)
    got, status = _simplex(projection_simplex_rows, x, radius)
    want, want_status = _simplex(projection_simplex_rows_by_sort, x, radius)
    np.testing.assert_array_equal(status, want_status)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got[np.isneginf(x)], 0)  # −inf scores: exactly 0
    assert_close(got, want, dtype=dtype, scale=radius)


@pytest.mark.parametrize("dtype", DTYPES)
def test_michelot_simplex_row_statuses(dtype):
    x, expected = _invalid_rows(dtype)
    for kernel in (projection_simplex_rows, projection_simplex_rows_by_sort):
        out, status = _simplex(kernel, x, 1.0)
        np.testing.assert_array_equal(status, expected)
    valid = np.ascontiguousarray(x[[0, 4, 5]])
    assert_close(_simplex(projection_simplex_rows, valid, 1.0)[0], _simplex(projection_simplex_rows_by_sort, valid,
                                                                            1.0)[0], dtype=dtype)


def test_michelot_simplex_ties_share_the_support():
    # three tied maxima and a tie just below the threshold: y = (1/3, 1/3, 1/3, 0, 0) exactly for the ties
    x = np.array([[2.0, 2.0, 2.0, 1.0, 1.0], [0.0, 0.0, -1.0, -1.0, -np.inf]])
    got, _ = _simplex(projection_simplex_rows, x, 1.0)
    want, _ = _simplex(projection_simplex_rows_by_sort, x, 1.0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got[1], [0.5, 0.5, 0.0, 0.0, 0.0])


# -- (b) 1.5-entmax ---------------------------------------------------------------------------------------------
def _entmax15(kernel, x):
    out, status = np.empty_like(x), np.full(x.shape[0], -1, dtype=np.int8)
    kernel(x, out, status)
    return out, status


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_newton_entmax15_equals_the_sort(dtype, data):
    x = data.draw(_batches(dtype))
    x.setflags(write=False)
    got, status = _entmax15(entmax15_rows, x)
    want, want_status = _entmax15(entmax15_rows_by_sort, x)
    np.testing.assert_array_equal(status, want_status)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got[np.isneginf(x)], 0)
    assert_close(got, want, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_newton_entmax15_row_statuses(dtype):
    x, expected = _invalid_rows(dtype)
    for kernel in (entmax15_rows, entmax15_rows_by_sort):
        np.testing.assert_array_equal(_entmax15(kernel, x)[1], expected)
    valid = np.ascontiguousarray(x[[0, 4, 5]])
    assert_close(_entmax15(entmax15_rows, valid)[0], _entmax15(entmax15_rows_by_sort, valid)[0], dtype=dtype)


def test_newton_entmax15_ties_and_many_steps():
    # ties at the top and below; and a long row of near-equal scores, where Newton takes several steps
    x = np.array([[1.0, 1.0, 0.0, 0.0, -np.inf], [3.0, 1.0, 1.0, 1.0, 1.0]])
    long_row = np.random.default_rng(4).uniform(0, 1e-3, size=(1, 500))
    for rows in (x, long_row):
        got, want = _entmax15(entmax15_rows, rows)[0], _entmax15(entmax15_rows_by_sort, rows)[0]
        assert_close(got, want)
        assert_close(got.sum(axis=1), np.ones(rows.shape[0]))
    np.testing.assert_array_equal(_entmax15(entmax15_rows, x)[0][:, :2].ravel() > 0, [True, True, True, False])


# -- (c) capped simplex -----------------------------------------------------------------------------------------
def _capped(kernel, x, s):
    out, free, status = np.empty_like(x), np.empty(x.shape, np.uint8), np.full(x.shape[0], -1, dtype=np.int8)
    kernel(x, s, out, free, status)
    return out, free, status


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), s=st.sampled_from([0.5, 1.0, 2.0, 2.5, 4.0]), big=st.sampled_from([1.0, 1e15, 1e16]))
def test_newton_capped_simplex_equals_the_sort(dtype, data, s, big):
    """Same breakpoints, hence the same free set, bit for bit; scores scaled by 1e15 or 1e16 as well, where
    x − 1 rounds to x for some of them (when the scaled scores stay within the dtype's tested magnitude)."""
    x = data.draw(_batches(dtype))
    if float(np.abs(x[np.isfinite(x)]).max(initial=0.0)) * big <= HUGE[np.dtype(dtype)]:
        x = x * dtype(big)
    s = float(min(s, np.isfinite(x).sum(axis=1).min()))  # at least s finite scores in every row
    x.setflags(write=False)
    got, free, status = _capped(projection_capped_simplex_rows, x, s)
    want, want_free, want_status = _capped(projection_capped_simplex_rows_by_sort, x, s)
    np.testing.assert_array_equal(status, want_status)
    np.testing.assert_array_equal(free, want_free)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got[np.isneginf(x)], 0)
    assert_close(got, want, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_newton_capped_simplex_row_statuses(dtype):
    x, expected = _invalid_rows(dtype)
    expected[4] = SCORES_TOO_FEW_FINITE  # one finite score, s = 2
    for kernel in (projection_capped_simplex_rows, projection_capped_simplex_rows_by_sort):
        np.testing.assert_array_equal(_capped(kernel, x, 2.0)[2], expected)


def test_newton_capped_simplex_ties_flat_stretches_and_points():
    # ties on a breakpoint, a flat stretch of g at level s (τ at a kink, F empty), and a row with m = s
    x = np.array([[1.0, 1.0, 1.0, 0.0, 0.0], [3.0, 2.0, 0.0, -1.0, -5.0], [2.0, -np.inf, 1.0, -np.inf, 0.5]])
    for s in (1.0, 2.0, 3.0):
        got, free, _ = _capped(projection_capped_simplex_rows, x, s)
        want, want_free, _ = _capped(projection_capped_simplex_rows_by_sort, x, s)
        np.testing.assert_array_equal(free, want_free)
        np.testing.assert_array_equal(got, want)
    got, free, _ = _capped(projection_capped_simplex_rows, x, 2.0)
    np.testing.assert_array_equal(got[1], [1, 1, 0, 0, 0])  # flat at level 2 between 0 and 1: ŷ constant
    assert not free[1].any()
    got, free, _ = _capped(projection_capped_simplex_rows, x, 3.0)
    np.testing.assert_array_equal(got[2], [1, 0, 1, 0, 1])  # three finite scores, s = 3: their indicator
    assert not free[2].any()


# -- (d) entropic permutahedron ---------------------------------------------------------------------------------
def _permutahedron(kernel, x, log_w, eps):
    order = descending_order(x, True, backend="numpy")
    out, starts, n_blocks = np.empty_like(x), np.empty((x.shape[0], x.shape[1] + 1), np.intp), np.empty(x.shape[0],
                                                                                                         np.intp)
    kernel(x, order, log_w, eps, True, out, starts, n_blocks)
    return out, order, starts, n_blocks


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), eps=st.sampled_from([1e-3, 0.05, 0.7, 5.0, -0.3, -1e-2]), shared=st.booleans())
def test_entropic_pav_as_weighted_euclidean_equals_logsumexp_pav(dtype, data, eps, shared):
    """Both paths of the twin (a small ε makes the spread of x/ε exceed LINEAR_SPREAD on most rows) give log μ
    of the logsumexp PAV to rounding, in the same order; w shared by the rows or one per row."""
    x = data.draw(scores(1, 12, dtype=dtype, magnitude=[0.1, 1.0, 10.0, 1e4, HUGE[np.dtype(dtype)]],
                         ties=data.draw(st.booleans()), batch=5))
    x.setflags(write=False)
    n = x.shape[1]
    rho = np.arange(n, 0, -1.0)[None, :]
    log_w = np.log(rho) if shared else np.sort(np.log(rho) + data.draw(scores(n, n, dtype=np.float64,
                                                                              batch=1))[:1], axis=1)[:, ::-1]
    log_w = np.ascontiguousarray(np.broadcast_to(log_w, x.shape) if not shared else log_w)
    got, order, starts, n_blocks = _permutahedron(projection_permutahedron_rows, x, log_w, eps)
    want, want_order, *_ = _permutahedron(projection_permutahedron_rows_by_kl_pav, x, log_w, eps)
    np.testing.assert_array_equal(order, want_order)
    assert got.dtype == dtype
    assert_close(got, want, dtype=dtype, scale=max(1.0, float(np.abs(want).max())))
    # the blocks partition each row
    assert np.all(starts[:, 0] == 0) and np.all(starts[np.arange(x.shape[0]), n_blocks] == n)


def test_entropic_pav_runs_both_paths_on_ties():
    # one row far below the linear spread and one far above it, each with tied scores
    x = np.array([[1.0, 1.0, 0.5, 0.5, 0.0, -0.2], [3.0, 3.0, 1.0, 1.0, 0.0, -2.0]])
    log_w = np.log(np.arange(6, 0, -1.0))[None, :]
    for eps in (1.0, 6.0 / LINEAR_SPREAD * 0.5):
        got, order, starts, n_blocks = _permutahedron(projection_permutahedron_rows, x, log_w, eps)
        want, want_order, want_starts, want_blocks = _permutahedron(projection_permutahedron_rows_by_kl_pav, x,
                                                                    log_w, eps)
        assert_close(got, want)
        np.testing.assert_array_equal(n_blocks, want_blocks)
        used = np.arange(starts.shape[1]) <= n_blocks[:, None]  # the rest of a row of starts is unspecified
        np.testing.assert_array_equal(starts[used], want_starts[used])


# -- the table of twins -----------------------------------------------------------------------------------------
NOT_KERNELS = {"BUILD_FLAGS", "OPENMP", "max_threads"}


def test_the_table_lists_every_compiled_kernel_once():
    from refefl import _backend, _twins

    names = [name for _, name in _twins.TABLE]
    assert len(names) == len(set(names)) and len({func for func, _ in _twins.TABLE}) == len(names)
    for func, name in _twins.TABLE:
        assert func.__name__ == name and func.compiled_twin == name  # marked @numpy_twin, same name
    assert _backend.TWINS == dict((name, func) for func, name in _twins.TABLE)
    if not _backend.HAVE_EXT:
        pytest.skip("refefl_ext is not built")
    import refefl_ext

    assert set(names) == set(refefl_ext.__all__) - NOT_KERNELS


def test_select_reads_the_table():
    from refefl import _backend

    assert _backend.select(projection_simplex_rows, "numpy") is projection_simplex_rows
    if _backend.ext_runs():
        assert _backend.select(projection_simplex_rows, "ext") is _backend.ext_kernel("projection_simplex_rows")
    with pytest.raises(ValueError, match="not a NumPy twin"):
        _backend.select(projection_simplex_rows_by_sort, "numpy")  # an oracle has no compiled twin


@pytest.mark.parametrize("s", [1.0, 2.5, 100.0])
def test_newton_capped_simplex_long_rows_of_unequal_candidate_counts(s):
    # rows of 600 scores whose candidate lists shrink at different steps: the search splits them into groups
    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 600)) * rng.choice([0.1, 1.0, 30.0], size=(30, 1))
    x[::3, :300] -= 50.0
    x[::4, 0] = -np.inf
    got, free, _ = _capped(projection_capped_simplex_rows, x, s)
    want, want_free, _ = _capped(projection_capped_simplex_rows_by_sort, x, s)
    np.testing.assert_array_equal(free, want_free)
    assert_close(got, want)
