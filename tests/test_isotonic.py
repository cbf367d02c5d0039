"""Isotonic regression (PAV): scipy's solution and blocks, KKT conditions, the KL version, edge cases."""
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st

import refefl
from refefl import _backend
from refefl.testing import assert_close
from strategies import vectors, with_ties


@given(vectors(1, 40), st.booleans(), st.booleans())
def test_matches_scipy_values(backend, y, increasing, ties):
    y = with_ties(y) if ties else y
    weights = np.linspace(0.5, 2.0, y.size)
    fit = refefl.isotonic_regression(y, weights=weights, increasing=increasing, backend=backend)
    assert_close(fit, scipy.optimize.isotonic_regression(y, weights=weights, increasing=increasing).x)


@given(vectors(1, 40, unique=True), st.booleans())
def test_matches_scipy_blocks(backend, y, increasing):
    """Distinct unweighted data: block boundaries do not hinge on rounding, so they must equal scipy's.

    (With ties and weights, scipy's pooled mean Σwy/Σw of equal values can round away from them and split a
    block; refefl's incremental mean keeps equal values equal, so ties always pool.)
    """
    result = refefl.isotonic_regression(y, increasing=increasing, return_blocks=True, backend=backend)
    np.testing.assert_array_equal(result.blocks(), scipy.optimize.isotonic_regression(y, increasing=increasing).blocks)


def test_equal_values_get_equal_fits(backend):
    """Ties get one fitted value; exactly representable block sums pool them into one block."""
    y = np.full(5, 1.78817171)
    fit = refefl.isotonic_regression(y, weights=np.linspace(0.5, 2, 5), backend=backend)
    assert_close(fit, y)
    result = refefl.isotonic_regression(np.full(5, 1.5), return_blocks=True, backend=backend)
    np.testing.assert_array_equal(result.blocks(), [0, 5])


@given(vectors(1, 40))
def test_kkt_conditions(backend, y):
    """Monotone; each block holds the mean of its data; pooled prefixes never beat the block mean (optimality)."""
    fit, starts, n_blocks = refefl.isotonic_regression(y, return_blocks=True, backend=backend)
    blocks = starts[: n_blocks + 1]
    assert np.all(np.diff(fit) >= 0)
    for start, stop in zip(blocks[:-1], blocks[1:]):
        block = y[start:stop]
        assert_close(fit[start:stop], np.full(stop - start, block.mean()), scale=10)
        # within a block, every prefix mean is >= the block mean (else the block would split)
        prefix_means = np.cumsum(block) / np.arange(1, block.size + 1)
        assert np.all(prefix_means >= block.mean() - 1e-9 * (1 + np.abs(block).max()))


def test_published_fixture():
    result = refefl.isotonic_regression([8, 4, 8, 2, 2, 0, 8], return_blocks=True)
    np.testing.assert_array_equal(result.fit, [4, 4, 4, 4, 4, 4, 8])
    np.testing.assert_array_equal(result.blocks(), [0, 6, 7])


@given(vectors(1, 30), vectors(1, 30))
def test_kl_block_values_are_optimal(backend, s, log_w):
    n = min(s.size, log_w.size)
    s, log_w = s[:n], log_w[:n]
    result = refefl.isotonic_regression_kl(s, log_w, return_blocks=True, backend=backend)
    v, blocks = result.fit, result.blocks()
    assert np.all(np.diff(v) <= 0)
    for start, stop in zip(blocks[:-1], blocks[1:]):
        expected = np.logaddexp.reduce(s[start:stop]) - np.logaddexp.reduce(log_w[start:stop])
        assert_close(v[start:stop], np.full(stop - start, expected), scale=10)


def test_kl_matches_generic_solver():
    rng = np.random.default_rng(0)
    s, log_w = rng.normal(size=6), np.log(np.arange(6, 0, -1.0))
    v = refefl.isotonic_regression_kl(s, log_w)
    cons = [{"type": "ineq", "fun": lambda x, i=i: x[i] - x[i + 1]} for i in range(5)]
    obj = lambda x: np.exp(s - x).sum() + np.exp(log_w) @ x  # noqa: E731
    ref = scipy.optimize.minimize(obj, np.zeros(6), constraints=cons, method="SLSQP", options={"ftol": 1e-14})
    np.testing.assert_allclose(v, ref.x, atol=1e-6)


def test_float32_single_block_accumulates_in_float64(backend):
    y = np.full(10**6, 0.1, dtype=np.float32)[::-1].copy()
    y[: 10**6 // 2] += np.float32(1e-3)  # decreasing data: one block
    fit = refefl.isotonic_regression(y, backend=backend)
    assert fit.dtype == np.float32
    exact = np.mean(y.astype(np.float64))
    assert abs(fit[0] - exact) / exact < 1e-6


@pytest.mark.parametrize(
    "weights, message",
    [([1.0, 0.0, 1.0], "strictly positive"), ([1.0, -1.0, 1.0], "strictly positive"), ([1, np.nan, 1], "finite")],
)
def test_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        refefl.isotonic_regression([3.0, 2.0, 1.0], weights=weights)


@pytest.mark.parametrize("y, error", [([], ValueError), ([1.0, np.nan], ValueError), ([1j, 2j], TypeError)])
def test_bad_input(y, error):
    with pytest.raises(error):
        refefl.isotonic_regression(np.asarray(y))


def test_batched_axis_strided_readonly(backend):
    rng = np.random.default_rng(1)
    y = np.asfortranarray(rng.normal(size=(5, 7, 3)))
    y.setflags(write=False)
    before = y.copy()
    fit = refefl.isotonic_regression(y[:, ::2], axis=1, backend=backend)
    np.testing.assert_array_equal(y, before)
    for i in range(5):
        for j in range(3):
            ref = scipy.optimize.isotonic_regression(y[i, ::2, j]).x
            assert_close(fit[i, :, j], ref)


def test_integers_become_float64():
    assert refefl.isotonic_regression([3, 1, 2]).dtype == np.float64


@pytest.mark.parametrize("shape, axis", [((7,), -1), ((3, 7), -1), ((7, 3), 0), ((2, 3, 7), -1), ((2, 7, 3), 1)])
@pytest.mark.parametrize("kl", [False, True])
def test_return_blocks_is_one_result_type_for_every_shape(backend, shape, axis, kl):
    """An IsotonicResult for 1-D and batched input alike: the fit of return_blocks=False, the starts of each row
    padded with n, and each row's blocks equal to those of the row solved alone."""
    rng = np.random.default_rng(len(shape) + axis)
    y = np.round(rng.normal(size=shape), 1)  # ties included
    solve = ((lambda a, **kw: refefl.isotonic_regression_kl(a, -np.abs(a), **kw)) if kl
             else refefl.isotonic_regression)
    result = solve(y, axis=axis, return_blocks=True, backend=backend)
    assert type(result) is refefl.projections.IsotonicResult
    np.testing.assert_array_equal(result.fit, solve(y, axis=axis, backend=backend))
    n, batch = shape[axis], np.delete(shape, axis % len(shape))
    assert result.starts.shape == tuple(batch) + (n + 1,) and result.starts.dtype == np.intp
    assert result.n_blocks.shape == tuple(batch)
    rows = np.moveaxis(y, axis, -1)
    for index in np.ndindex(*batch):
        own = solve(rows[index], return_blocks=True, backend=backend)
        np.testing.assert_array_equal(result.blocks(*index), own.blocks())
        assert result.n_blocks[index] == own.n_blocks == own.blocks().size - 1
        np.testing.assert_array_equal(result.starts[index][result.n_blocks[index] + 1:], n)  # the padding
        np.testing.assert_array_equal(np.moveaxis(result.fit, axis, -1)[index], own.fit)


@pytest.mark.skipif(not _backend.ext_runs(), reason="refefl_ext is not built, or REFEFL_PURE_NUMPY=1")
def test_return_blocks_is_the_same_on_both_backends():
    y = np.round(np.random.default_rng(0).normal(size=(5, 9)), 1)
    numpy, ext = (refefl.isotonic_regression(y, return_blocks=True, backend=b) for b in ("numpy", "ext"))
    assert type(numpy) is type(ext)
    np.testing.assert_array_equal(numpy.starts, ext.starts)
    np.testing.assert_array_equal(numpy.n_blocks, ext.n_blocks)
    assert_close(ext.fit, numpy.fit)
