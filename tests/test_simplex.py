"""softmax, projection_simplex and sparsemax: closed forms, feasibility, KKT conditions, invariances, edge cases."""
import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st

import refefl
from refefl.testing import assert_close, default_tolerance
from strategies import DTYPES, matrices, vectors, with_ties

SIMPLEX_MAPS = [refefl.softmax, refefl.sparsemax, refefl.projection_simplex]


@st.composite
def padded(draw, dtype=np.float64):
    """Finite scores, the same scores with -inf inserted at random places, and the mask of those places."""
    finite = draw(vectors(1, 10, dtype=dtype))
    n_pad = draw(st.integers(0, 6))
    is_pad = np.array(draw(st.permutations([True] * n_pad + [False] * finite.size)), dtype=bool)
    full = np.full(is_pad.size, -np.inf, dtype=dtype)
    full[~is_pad] = finite
    return finite, full, is_pad


def default_atol(dtype):
    return default_tolerance(dtype)[1]


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_softmax_matches_scipy(dtype, data):
    theta = data.draw(matrices(dtype=dtype))
    probs = refefl.softmax(theta)
    assert probs.dtype == dtype
    assert_close(probs, scipy.special.softmax(theta, axis=-1), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), radius=st.sampled_from([1.0, 0.25, 3.0]), ties=st.booleans(), bound=st.sampled_from([10, 1]))
def test_projection_feasible_and_kkt(dtype, data, radius, ties, bound):
    """y = [x − τ]₊ with Σy = r: x − y is constant (= τ) on the support and x ≤ τ off it; and the variational
    inequality ⟨x − y, w − y⟩ ≤ 0 holds at every vertex w = r e_j of the simplex. (bound = 1 makes supports of
    several coordinates common.)"""
    x = data.draw(vectors(1, 12, dtype=dtype, bound=bound))
    x = with_ties(x).astype(dtype) if ties else x
    y = refefl.projection_simplex(x, radius)
    assert y.dtype == dtype and np.all(y >= 0)
    assert_close(y.sum(), radius, dtype=dtype, scale=radius)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    support = y > 0
    tau = np.mean(x64[support] - y64[support])
    scale = 1 + np.abs(x64).max()
    assert_close(x64[support] - y64[support], np.full(support.sum(), tau), dtype=dtype, scale=scale)
    assert np.all(x64[~support] <= tau + default_atol(dtype) * scale)
    residual = x64 - y64
    assert np.all(radius * residual <= residual @ y64 + default_atol(dtype) * scale * radius)


def test_sparsemax_threshold_uses_the_partial_sum_at_the_support_size():
    """Support of size 3: τ = (1 + .8 + .5 − 1)/3; summing every partial sum instead gives a wrong τ."""
    y = refefl.sparsemax([1.0, 0.8, 0.5, -1.0])
    np.testing.assert_allclose(y, [17 / 30, 11 / 30, 2 / 30, 0.0], rtol=1e-15, atol=1e-16)


@given(vectors(1, 12), st.sampled_from([0.5, 2.0, 7.0]))
def test_radius_scaling(x, radius):
    assert_close(refefl.projection_simplex(x, radius), radius * refefl.projection_simplex(x / radius), scale=10)


@pytest.mark.parametrize("func", SIMPLEX_MAPS)
@given(x=vectors(1, 12), random=st.randoms(use_true_random=False), shift=st.integers(-1000, 1000))
def test_permutation_equivariance_and_shift_invariance(func, x, random, shift):
    """x + c rounds each entry by at most ulp(|x| + |c|)/2; the maps are 2-Lipschitz in the max norm on
    those perturbations, which bounds the atol of the shift check."""
    y = func(x)
    perm = np.array(random.sample(range(x.size), x.size))
    assert_close(func(x[perm]), y[perm])
    atol = 4 * np.finfo(np.float64).eps * (np.abs(x).max() + abs(shift))
    np.testing.assert_allclose(func(x + shift), y, rtol=0, atol=atol)


@pytest.mark.parametrize("func", SIMPLEX_MAPS)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_neg_inf_padding(func, dtype, data):
    """−inf scores give exactly 0 and leave the finite part equal to the map of the finite scores: bit for bit
    for the sort-based projection (same sorted prefix, same sequential partial sums), up to the rounding of the
    normalizing sum for softmax (NumPy's pairwise sum groups the terms differently once zeros are added)."""
    finite, full, is_pad = data.draw(padded(dtype))
    y = func(full)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y[is_pad], 0)
    if func is refefl.softmax:
        assert_close(y[~is_pad], func(finite))
    else:
        np.testing.assert_array_equal(y[~is_pad], func(finite))


@pytest.mark.parametrize("func", SIMPLEX_MAPS)
def test_published_case_with_neg_inf(func):
    np.testing.assert_array_equal(func(np.array([0.0, 0.0, -np.inf])), [0.5, 0.5, 0.0])


@pytest.mark.parametrize("func", [refefl.sparsemax, refefl.projection_simplex])
def test_float32_large_scores_are_shifted(func):
    y = func(np.array([1.36762051e8, 1.59594639e8], dtype=np.float32))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0.0, 1.0])


@pytest.mark.parametrize("func", SIMPLEX_MAPS)
@pytest.mark.parametrize("magnitude, dtype", [(1e300, np.float64), (1e8, np.float32)])
def test_huge_scores_give_the_argmax(func, magnitude, dtype):
    theta = np.array([[0.3, -1.0, 0.9, 0.1], [-1.0, -0.2, -0.7, -0.9]]) * magnitude
    y = func(theta.astype(dtype))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, [[0, 0, 1, 0], [0, 1, 0, 0]])


@pytest.mark.parametrize("func", [refefl.sparsemax, refefl.projection_simplex])
def test_ties(func):
    np.testing.assert_allclose(func(np.ones(3)), np.full(3, 1 / 3), rtol=1e-15)
    np.testing.assert_allclose(func([2.0, 2.0, 0.0, 2.0]), [1 / 3, 1 / 3, 0, 1 / 3], rtol=1e-15)
    np.testing.assert_array_equal(func([3.0, 3.0, 1.0]), [0.5, 0.5, 0.0])


@pytest.mark.parametrize("func", SIMPLEX_MAPS)
def test_batched_axis_strided_readonly(func):
    rng = np.random.default_rng(0)
    theta = np.asfortranarray(rng.normal(size=(4, 7, 3)) * 2)
    theta.setflags(write=False)
    before = theta.copy()
    y = func(theta[:, ::2], axis=1)
    np.testing.assert_array_equal(theta, before)
    assert y.shape == (4, 4, 3)
    for i in range(4):
        for j in range(3):
            assert_close(y[i, :, j], func(np.ascontiguousarray(theta[i, ::2, j])))


@pytest.mark.parametrize("func", SIMPLEX_MAPS)
def test_integers_become_float64(func):
    y = func([3, 1, 2])
    assert y.dtype == np.float64
    assert_close(y.sum(), 1.0)


@pytest.mark.parametrize("func", SIMPLEX_MAPS)
@pytest.mark.parametrize(
    "theta, error, match",
    [
        ([0.0, np.nan], ValueError, "NaN"),
        ([0.0, np.inf], ValueError, r"\+inf"),
        ([[0.0, 1.0], [-np.inf, -np.inf]], ValueError, "all -inf"),
        (np.zeros((2, 0)), ValueError, "non-empty"),
        (np.array([1j, 2j]), TypeError, "dtype"),
        (np.array(["a", "b"]), TypeError, "dtype"),
        (np.float64(1.0), ValueError, "dimension"),
    ],
)
def test_bad_scores(func, theta, error, match):
    with pytest.raises(error, match=match):
        func(theta)


@pytest.mark.parametrize("func", SIMPLEX_MAPS)
def test_bad_axis(func):
    with pytest.raises(ValueError, match="out of bounds"):
        func(np.zeros((2, 3)), axis=2)
    with pytest.raises(TypeError, match="axis"):
        func(np.zeros((2, 3)), axis=1.0)


@pytest.mark.parametrize(
    "radius, error", [(0.0, ValueError), (-1.0, ValueError), (np.inf, ValueError), (np.nan, ValueError),
                      ("1", TypeError), (True, TypeError)]
)
def test_bad_radius(radius, error):
    with pytest.raises(error, match="radius"):
        refefl.projection_simplex([1.0, 2.0], radius)
