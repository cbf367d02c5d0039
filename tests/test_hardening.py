"""Corners of the input space: every one gives the mathematically right answer or a clear error naming the argument.

Each test pins one class of corner (huge spreads, values near the float64 limit, subnormals, empty batches,
option types, array kinds) on both backends, with Hypothesis drawing the extremes rather than fixed examples only.
"""
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import softmax as scipy_softmax

import refefl
from refefl import gda
from refefl.projections._root_finding import ConvergenceWarning
from strategies import empty_batch_shapes, huge_offsets, near_limit_vectors, subnormals, vectors


def quietly(func, *args, **kwargs):
    """Call ``func`` with every warning turned into an error: a warning means something is wrong."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return func(*args, **kwargs)


# -- 1. capped entropic map: spreads of 1e12 and more -----------------------------------------------------------
@pytest.mark.parametrize("x, s", [([1e16, 0, 1], 1.5), ([1e20, 1e20, -1e20], 1.5), ([1e12, 0, 1, 2], 2.0),
                                  ([1.7e308, -1.7e308, 0, 1], 1.5)])
def test_capped_entropic_sums_to_s_at_any_spread(backend, x, s):
    y = quietly(refefl.capped_simplex_entropic, x, s, backend=backend)
    assert abs(y.sum() - s) <= 4 * np.finfo(float).eps * s
    assert ((y >= 0) & (y <= 1)).all()


@given(vectors(1, 6), st.integers(1, 3), huge_offsets(), st.floats(0.01, 0.99), st.booleans())
def test_capped_entropic_huge_scores_saturate_and_leave_the_rest_unchanged(backend, v, n_huge, offset, fraction,
                                                                           high):
    """Scores ≥ max(v) + 1e12 get exactly 1 and the rest is the map of v with s − (their number); scores
    ≤ min(v) − 1e12 get exactly 0 and leave the map of v with s unchanged."""
    s_rest = fraction * v.size
    sign = 1.0 if high else -1.0
    x = np.concatenate([np.full(n_huge, sign * offset), v])
    s = s_rest + n_huge if high else s_rest
    want_rest = refefl.capped_simplex_entropic(v, s_rest, backend="numpy")
    y = quietly(refefl.capped_simplex_entropic, x, s, backend=backend)
    np.testing.assert_array_equal(y[:n_huge], 1.0 if high else 0.0)
    np.testing.assert_allclose(y[n_huge:], want_rest, rtol=1e-12, atol=1e-14, err_msg=backend)


# -- 2. isotonic regression near the float64 limit ------------------------------------------------------------
def test_isotonic_pools_near_the_float_limit(backend):
    np.testing.assert_array_equal(quietly(refefl.isotonic_regression, [1e308] * 3, backend=backend), [1e308] * 3)
    pooled = float((Fraction(1.5e308) + Fraction(1e308)) / 2)  # the correctly rounded mean
    got = quietly(refefl.isotonic_regression, [1.5e308, 1e308, 1.7e308], backend=backend)
    np.testing.assert_array_equal(got, [pooled, pooled, 1.7e308])
    assert pooled == 1.25e308


@given(vectors(1, 10), st.integers(-1000, 1018), st.booleans())
def test_isotonic_commutes_with_power_of_two_scaling(backend, y, exponent, weighted):
    """fit(2^k y) = 2^k fit(y) exactly, up to 2^k max|y| ≈ 1.7e308 (exact scalings, no overflow in the sums)."""
    assume(np.abs(y).max() * 2.0**exponent < 1.7e308 and np.abs(y[y != 0]).min(initial=1.0) * 2.0**exponent > 1e-290)
    weights = np.arange(1.0, y.size + 1) if weighted else None
    want = refefl.isotonic_regression(y, weights=weights, backend=backend) * 2.0**exponent
    got = quietly(refefl.isotonic_regression, y * 2.0**exponent, weights=weights, backend=backend)
    np.testing.assert_array_equal(got, want)


# -- 3. soft sort and rank near the float64 limit -------------------------------------------------------------
def test_soft_sort_of_a_range_beyond_the_float_limit_is_finite(backend):
    """P(θ) holds ρ/ε − mean + mean(θ) = (−1, 0, 1) when θ spans ±1e308: that is the L2 soft sort at ε = 1, to
    the rounding of sums of θ (about eps · 1e308); before, the spread of θ overflowed and gave −inf."""
    got = quietly(refefl.soft_sort, [1e308, -1e308, 0], backend=backend)
    np.testing.assert_allclose(got, [-1.0, 0.0, 1.0], atol=8 * np.finfo(float).eps * 1e308)
    assert np.isfinite(quietly(refefl.soft_sort, [1e308, -1e308, 0], strength=1e-310, backend=backend)).all()


@given(near_limit_vectors(2, 6), st.sampled_from(["l2", "kl"]), st.sampled_from(["ascending", "descending"]),
       st.floats(1e-300, 1e300), st.data())
def test_soft_sort_rank_and_jvps_stay_finite_near_the_float_limit(backend, theta, regularization, direction, strength,
                                                                  data):
    kwargs = dict(strength=strength, regularization=regularization, direction=direction)
    v = data.draw(vectors(theta.size, theta.size, bound=1.0))
    for func, args in [(refefl.soft_sort, ()), (refefl.soft_rank, ()), (refefl.projections.soft_sort_jvp, (v,)),
                       (refefl.projections.soft_rank_jvp, (v,))]:
        out = quietly(func, theta, *args, backend=backend, **kwargs)
        assert np.isfinite(out).all(), (func.__name__, backend)
    sorted_ = refefl.soft_sort(theta, backend=backend, **kwargs)
    if regularization == "l2":  # in P(θ): the sum is preserved and the entries stay within the range
        assert theta.min() <= sorted_.min() and sorted_.max() <= theta.max()


@given(near_limit_vectors(2, 6), st.floats(1e-300, 1e300))
def test_l2_soft_sort_is_scale_equivariant_near_the_float_limit(backend, theta, strength):
    """s_ε(θ) = 2 s_{2ε}(θ/2) (exact power-of-two scaling): no overflow changes the answer at the limit."""
    got = quietly(refefl.soft_sort, theta, strength=strength, backend=backend)
    want = 2.0 * refefl.soft_sort(theta / 2.0, strength=2.0 * strength, backend=backend)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(theta).max())


# -- 4. isotonic weights: invariant to their scale ------------------------------------------------------------
def test_isotonic_fit_ignores_the_scale_of_the_weights_example(backend):
    y, w = [3, 1, 2, 0.5, 4], np.array([1, 1, 2, 1, 3.0])
    want = refefl.isotonic_regression(y, weights=w, backend=backend)
    np.testing.assert_allclose(want, [1.7, 1.7, 1.7, 1.7, 4.0])
    np.testing.assert_array_equal(quietly(refefl.isotonic_regression, y, weights=5e-324 * w, backend=backend), want)


@given(vectors(1, 10), st.data(), st.integers(-1070, 1000))
def test_isotonic_fit_ignores_the_scale_of_the_weights(backend, y, data, exponent):
    w = data.draw(hnp.arrays(np.float64, y.size, elements=st.integers(1, 16).map(float)))
    want = refefl.isotonic_regression(y, weights=w, backend=backend)
    got = quietly(refefl.isotonic_regression, y, weights=w * 2.0**exponent, backend=backend)
    np.testing.assert_array_equal(got, want)


# -- 5. GDA data must lie on the unit sphere ------------------------------------------------------------------
@pytest.mark.parametrize("bad_row, row", [(np.zeros(3), 1), (np.array([3.0, 4.0, 0.0]), 2)])
def test_train_gda_refuses_data_off_the_sphere(bad_row, row):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(4, 3))
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    data[row] = bad_row
    student = gda.ReLUEnergy.random(8, 3, rng=rng)
    with pytest.raises(ValueError, match=rf"data must lie on the unit sphere: row {row} has norm"):
        gda.train_gda(data, student, n_iter=1, rng=0)


# -- 6. capped entropic map with a subnormal (or tiny) s ------------------------------------------------------
@given(vectors(1, 8), st.one_of(subnormals(), st.floats(1e-300, 1e-17)))
def test_capped_entropic_with_tiny_s_is_s_times_softmax(backend, x, s):
    """For s ≤ 1e-17, σ(u) = e^u (1 + O(s)): ŷ = s·softmax(x) to rounding, quietly, and reported converged."""
    y, info = quietly(refefl.capped_simplex_entropic, x, s, return_info=True, backend=backend)
    want = s * scipy_softmax(x)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=2 * 5e-324)
    assert info.converged and np.isfinite(info.max_abs_residual)


# -- 7. empty batches ----------------------------------------------------------------------------------------
_W3 = np.array([3.0, 1.0, 2.0])
EMPTY_MAPS = {
    "softmax": lambda x, b: refefl.softmax(x),
    "sparsemax": lambda x, b: refefl.sparsemax(x, backend=b),
    "projection_simplex": lambda x, b: refefl.projection_simplex(x, 2.0, backend=b),
    "entmax 1.5": lambda x, b: refefl.entmax(x, 1.5, backend=b),
    "entmax 1.3": lambda x, b: refefl.entmax(x, 1.3, backend=b),
    "projection_capped_simplex": lambda x, b: refefl.projection_capped_simplex(x, 1.0, backend=b),
    "capped_simplex_entropic": lambda x, b: refefl.capped_simplex_entropic(x, 1.0, backend=b),
    "isotonic_regression": lambda x, b: refefl.isotonic_regression(x, backend=b),
    "isotonic_regression weighted": lambda x, b: refefl.isotonic_regression(x, weights=np.ones(x.shape), backend=b),
    "isotonic_regression_kl": lambda x, b: refefl.isotonic_regression_kl(x, x, backend=b),
    "soft_sort": lambda x, b: refefl.soft_sort(x, backend=b),
    "soft_rank kl": lambda x, b: refefl.soft_rank(x, regularization="kl", backend=b),
    "soft_sort_jvp": lambda x, b: refefl.projections.soft_sort_jvp(x, x, backend=b),
    "soft_rank_jvp": lambda x, b: refefl.projections.soft_rank_jvp(x, x, backend=b),
}


@pytest.mark.parametrize("name", EMPTY_MAPS)
@given(shape=empty_batch_shapes())
def test_empty_batches_map_to_empty_batches(backend, name, shape):
    x = np.zeros(shape)
    out = quietly(EMPTY_MAPS[name], x, backend)
    assert out.shape == shape and out.dtype == x.dtype


@given(st.integers(0, 2), st.integers(1, 4))
def test_empty_batches_of_permutahedron_projections(backend, n_rows, k):
    z, w = np.zeros((0, n_rows, k)), np.arange(1.0, k + 1)
    assert quietly(refefl.projection_permutahedron, z, w, backend=backend).shape == z.shape
    assert quietly(refefl.projections.projection_permutahedron_jvp, z, w, z, backend=backend).shape == z.shape
    assert quietly(refefl.projection_permutahedron, z, w, regularization="kl", backend=backend).shape == z.shape


def test_empty_batch_returns_empty_blocks(backend):
    result = refefl.isotonic_regression(np.zeros((0, 3)), return_blocks=True, backend=backend)
    assert result.fit.shape == (0, 3) and result.starts.shape == (0, 4) and result.n_blocks.shape == (0,)


# -- 8. iteration budgets --------------------------------------------------------------------------------------
BUDGETED = {
    "entmax": lambda b, max_iter: refefl.entmax([1.0, 2.0, 3.0], 1.3, max_iter=max_iter, backend=b),
    "capped_simplex_entropic": lambda b, max_iter: refefl.capped_simplex_entropic(
        [1.0, 2.0, 3.0], 1.5, max_iter=max_iter, backend=b),
}


@pytest.mark.parametrize("name", BUDGETED)
@pytest.mark.parametrize("max_iter", [10**12, 2**31, 10**30, np.int64(2**62)])
def test_large_budgets_are_honoured(backend, name, max_iter):
    np.testing.assert_array_equal(quietly(BUDGETED[name], backend, max_iter), BUDGETED[name](backend, 200))


@pytest.mark.parametrize("name", BUDGETED)
@pytest.mark.parametrize("max_iter, error", [(2.5, TypeError), (3.0, TypeError), ("3", TypeError),
                                             (True, TypeError), (None, TypeError), (0, ValueError),
                                             (-1, ValueError), (-(10**20), ValueError)])
def test_bad_budgets_are_refused_by_name(backend, name, max_iter, error):
    with pytest.raises(error, match="max_iter"):
        BUDGETED[name](backend, max_iter)


# -- 9. booleans are bools, axes are ints ----------------------------------------------------------------------
FLAGS = {
    "increasing": lambda value: refefl.isotonic_regression([3.0, 2.0, 1.0], increasing=value),
    "return_blocks": lambda value: refefl.isotonic_regression([3.0, 2.0, 1.0], return_blocks=value),
    "increasing ": lambda value: refefl.isotonic_regression_kl([3.0, 2.0], [0.0, 0.0], increasing=value),
    "return_info": lambda value: refefl.capped_simplex_entropic([3.0, 2.0, 1.0], 1.0, return_info=value),
    "return_info ": lambda value: refefl.entmax([3.0, 2.0, 1.0], 1.3, return_info=value),
}


@pytest.mark.parametrize("name", FLAGS)
@pytest.mark.parametrize("value", ["no", "yes", 1, 0, 1.0, None, [True]])
def test_flags_must_be_bools(name, value):
    with pytest.raises(TypeError, match=name.strip()):
        FLAGS[name](value)


@pytest.mark.parametrize("name", FLAGS)
def test_numpy_bools_are_bools(name):
    for value in (np.True_, np.False_):
        FLAGS[name](value)


AXIS_MAPS = {
    "softmax": lambda axis: refefl.softmax([[1.0, 2.0], [3.0, 4.0]], axis=axis),
    "sparsemax": lambda axis: refefl.sparsemax([[1.0, 2.0], [3.0, 4.0]], axis=axis),
    "isotonic_regression": lambda axis: refefl.isotonic_regression([[1.0, 2.0], [3.0, 4.0]], axis=axis),
    "soft_rank": lambda axis: refefl.soft_rank([[1.0, 2.0], [3.0, 4.0]], axis=axis),
    "capped_simplex_entropic": lambda axis: refefl.capped_simplex_entropic([[1.0, 2.0], [3.0, 4.0]], 1, axis=axis),
}


@pytest.mark.parametrize("name", AXIS_MAPS)
@pytest.mark.parametrize("axis", [True, False, np.True_, 1.0, "1", None])
def test_axes_must_be_ints(name, axis):
    with pytest.raises(TypeError, match="axis"):
        AXIS_MAPS[name](axis)


@pytest.mark.parametrize("name", AXIS_MAPS)
def test_numpy_integer_axes_are_ints(name):
    np.testing.assert_array_equal(AXIS_MAPS[name](np.int64(0)), AXIS_MAPS[name](0))


# -- 10. no spurious warnings ----------------------------------------------------------------------------------
def exact_gaps(theta):
    """θ − max θ rounded once from exact rational arithmetic (−inf below −1e300: its exponential is 0)."""
    top = Fraction(float(theta.max()))
    gaps = [Fraction(float(t)) - top for t in theta]
    return np.array([float(g) if g > -(10**300) else -np.inf for g in gaps])


@given(near_limit_vectors(1, 8))
def test_softmax_near_the_float_limit_is_quiet_and_exact(theta):
    got = quietly(refefl.softmax, theta)
    e = np.exp(exact_gaps(theta))
    np.testing.assert_allclose(got, e / e.sum(), rtol=1e-12, atol=1e-300)


def test_softmax_of_the_float_limits():
    np.testing.assert_array_equal(quietly(refefl.softmax, [1.7e308, 0, -1.7e308]), [1.0, 0.0, 0.0])


@pytest.mark.parametrize("alpha", [1e3, 1e6, 1e300])
def test_entmax_with_huge_alpha_is_exact_and_quiet(backend, alpha):
    """As α → ∞ the map tends to the uniform distribution over the argmax; beyond the float range of the
    threshold that limit is exact, and it is no reason to warn."""
    y, info = quietly(refefl.entmax, [1.0, 1.0, 0.0], alpha, return_info=True, backend=backend)
    np.testing.assert_array_equal(y, [0.5, 0.5, 0.0])
    assert info.converged


@given(vectors(1, 8, bound=1.0), st.floats(2.0, 1e300))
def test_entmax_bisection_converges_for_any_alpha(backend, x, alpha):
    y, info = quietly(refefl.entmax, x, alpha, method="bisect", return_info=True, backend=backend)
    assert info.converged and abs(y.sum() - 1) < 1e-12
    assert (y[x == x.max()] > 0).all()


def test_capped_entropic_budget_warning_still_fires(backend):
    with pytest.warns(ConvergenceWarning):
        refefl.capped_simplex_entropic(np.linspace(0, 3, 7), 2.5, max_iter=1, backend=backend)


# -- 11. ragged input -----------------------------------------------------------------------------------------
RAGGED = {
    "theta": lambda: refefl.sparsemax([[1, 2], [3]]),
    "theta ": lambda: refefl.softmax([[1, 2], [3]]),
    "x": lambda: refefl.capped_simplex_entropic([[1, 2], [3]], 1),
    "y": lambda: refefl.isotonic_regression([[1, 2], [3]]),
    "weights": lambda: refefl.isotonic_regression([1.0, 2.0], weights=[[1], [1, 2]]),
    "theta  ": lambda: refefl.soft_sort([[1, 2], [3]]),
}


@pytest.mark.parametrize("name", RAGGED)
def test_ragged_input_names_the_argument(name):
    with pytest.raises(ValueError, match=rf"{name.strip()} .*(ragged|rectangular)"):
        RAGGED[name]()


# -- 12. masked arrays ----------------------------------------------------------------------------------------
MASKED = {
    "theta": lambda m: refefl.softmax(m),
    "theta ": lambda m: refefl.sparsemax(m),
    "x": lambda m: refefl.projection_capped_simplex(m, 1.0),
    "y": lambda m: refefl.isotonic_regression(m),
    "theta  ": lambda m: refefl.soft_rank(m),
}


@pytest.mark.parametrize("name", MASKED)
@pytest.mark.parametrize("mask", [[False, True, False], [False, False, False]])
def test_masked_arrays_are_refused(name, mask):
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=mask)
    with pytest.raises(TypeError, match=rf"{name.strip()} .*masked"):
        MASKED[name](masked)
