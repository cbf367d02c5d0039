"""α-entmax: threshold form (KKT), exact sort vs bisection, limits α = 2 and α → 1, invariances, edge cases."""
import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st

import refefl
from refefl.projections._root_finding import ConvergenceWarning, RootInfo
from refefl.testing import assert_close, default_tolerance
from strategies import DTYPES, matrices, vectors, with_ties

ALPHAS = st.sampled_from([1.2, 4 / 3, 1.5, 1.75, 2.0, 2.5, 4.0]) | st.floats(1.2, 4.0)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), alpha=ALPHAS, ties=st.booleans())
def test_threshold_form_and_feasibility(dtype, data, alpha, ties):
    """ŷ = [z − τ]₊^{1/(α−1)} with z = (α−1)(θ − max θ): z − ŷ^{α−1} is the same τ on the support, z ≤ τ off it,
    and Σŷ = 1."""
    theta = data.draw(vectors(1, 12, dtype=dtype))
    theta = with_ties(theta).astype(dtype) if ties else theta
    y = refefl.entmax(theta, alpha)
    assert y.dtype == dtype and np.all(y >= 0)
    assert_close(y.sum(), 1.0, dtype=dtype)
    z = (alpha - 1) * (theta.astype(np.float64) - theta.max())
    support = y > 0
    gaps = z[support] - y[support].astype(np.float64) ** (alpha - 1)
    tau = gaps.mean()
    scale = 1 + np.abs(z).max()
    assert_close(gaps, np.full(gaps.size, tau), dtype=dtype, scale=scale)
    assert np.all(z[~support] <= tau + default_tolerance(dtype)[1] * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_exact_15_equals_bisection(dtype, data):
    theta = data.draw(matrices(dtype=dtype, max_cols=12))
    exact, info = refefl.entmax(theta, 1.5, method="sort", return_info=True)
    assert info is None
    assert_close(exact, refefl.entmax(theta, 1.5, method="bisect"), dtype=dtype)


@given(matrices(max_cols=12), st.sampled_from(["sort", "bisect"]))
def test_alpha_2_is_sparsemax(theta, method):
    y = refefl.entmax(theta, 2.0, method=method)
    if method == "sort":
        np.testing.assert_array_equal(y, refefl.sparsemax(theta))
    else:
        assert_close(y, refefl.sparsemax(theta))


@given(vectors(1, 10, bound=2.0))
def test_alpha_to_one_is_softmax_to_first_order(theta):
    r"""With ε = α − 1 = 1e-3 and p = softmax(θ): ŷ = p + ε p ⊙ (g − ⟨p, g⟩) + O(ε²), g = LSE(θ) θ − θ²/2.

    (With t = −τ: ŷ_i = t^{1/ε} (1 + εθ_i/t)^{1/ε}, and log(1 + εθ_i/t)/ε = θ_i/t − εθ_i²/2 + O(ε²);
    Σŷ = 1 forces t = 1 − ε LSE(θ) + O(ε²), so log ŷ_i = θ_i + ε g_i + const + O(ε²).) The remainder is
    bounded by ε²(1 + ptp θ)^4 (measured ≤ 0.02 ε²(1 + ptp θ)^4 for ε ∈ [1e-4, 1e-2]); with |θ| ≤ 2 that is
    ≤ 6.3e-4, below the first-order term, so the test checks both the limit and its rate.
    """
    eps = 1e-3
    p = scipy.special.softmax(theta)
    g = scipy.special.logsumexp(theta) * theta - theta**2 / 2
    first_order = p + eps * p * (g - p @ g)
    y = refefl.entmax(theta, 1 + eps)
    np.testing.assert_allclose(y, first_order, rtol=0, atol=eps**2 * (1 + np.ptp(theta)) ** 4)


@pytest.mark.parametrize("method", ["sort", "bisect"])
@given(x=vectors(1, 12), random=st.randoms(use_true_random=False), shift=st.integers(-1000, 1000))
def test_permutation_equivariance_and_shift_invariance(method, x, random, shift):
    """x + c rounds each entry by ≤ ulp(|x| + |c|)/2; 1.5-entmax moves by at most a few times that."""
    y = refefl.entmax(x, 1.5, method=method)
    perm = np.array(random.sample(range(x.size), x.size))
    assert_close(refefl.entmax(x[perm], 1.5, method=method), y[perm])
    atol = 4 * np.finfo(np.float64).eps * (np.abs(x).max() + abs(shift))
    np.testing.assert_allclose(refefl.entmax(x + shift, 1.5, method=method), y, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), alpha=st.sampled_from([1.5, 2.0, 1.3, 3.0]), method=st.sampled_from(["auto", "bisect"]))
def test_neg_inf_padding(dtype, data, alpha, method):
    """−inf scores give 0; the rest is the entmax of the finite scores, bit for bit for the sort method, to
    rounding for bisection (the row sums group terms differently once zeros are added)."""
    finite = data.draw(vectors(1, 10, dtype=dtype))
    n_pad = data.draw(st.integers(1, 6))
    is_pad = np.array(data.draw(st.permutations([True] * n_pad + [False] * finite.size)), dtype=bool)
    full = np.full(is_pad.size, -np.inf, dtype=dtype)
    full[~is_pad] = finite
    y = refefl.entmax(full, alpha, method=method)
    np.testing.assert_array_equal(y[is_pad], 0)
    if method == "auto" and alpha in (1.5, 2.0):
        np.testing.assert_array_equal(y[~is_pad], refefl.entmax(finite, alpha, method=method))
    else:
        assert_close(y[~is_pad], refefl.entmax(finite, alpha, method=method))


@pytest.mark.parametrize("alpha, method", [(1.5, "sort"), (2.0, "sort"), (1.5, "bisect"), (1.1, "bisect"),
                                           (3.0, "bisect")])
def test_published_cases(alpha, method):
    """[0, 0, −inf] → [.5, .5, 0] (the zero exact, the halves to rounding: τ = −√½ for α = 1.5 squares back to
    0.5 + 1 ulp); the float32 pair at 1e8 → exactly [0, 1]."""
    y = refefl.entmax(np.array([0.0, 0.0, -np.inf]), alpha, method=method)
    assert y[2] == 0
    assert_close(y, [0.5, 0.5, 0.0])
    y = refefl.entmax(np.array([1.36762051e8, 1.59594639e8], dtype=np.float32), alpha, method=method)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0.0, 1.0])


@pytest.mark.parametrize("alpha", [1.5, 2.0, 1.3, 3.0])
@pytest.mark.parametrize("magnitude, dtype", [(1e300, np.float64), (1e8, np.float32)])
def test_huge_scores(alpha, magnitude, dtype):
    """At 1e8 (float32) or 1e300 the shifted gaps dwarf the threshold range: the argmax gets all the mass
    (bisection stops one ulp inside the root τ = −1, so 1 comes out as 1 − O(ulp) in float64)."""
    theta = np.array([[0.3, -1.0, 0.9, 0.1], [-1.0, -0.2, -0.7, -0.9]]) * magnitude
    y = refefl.entmax(theta.astype(dtype), alpha)
    assert y.dtype == dtype and np.count_nonzero(y) == 2
    assert_close(y, [[0, 0, 1, 0], [0, 1, 0, 0]])


def test_mass_is_exact_near_the_support_boundary_for_alpha_above_2():
    """α = 3, θ = [.5, δ, δ]: ŷ = [1 − 2s, s, s] with 3s² − 4s + c = 0, c = 1 + z_2 = 2δ (z = 2(θ − max θ)).

    ŷ_2 = √(z_2 − τ) has slope 1/(2ŷ_2) ≈ 1e6 in τ, so τ's one-ulp resolution (1.1e-16) alone would leave a mass
    error of ~2e-10 without the final normalization; the sum must now be 1 to rounding. ŷ_2 itself is only as
    accurate as that slope times the rounding of z_2 allows (≈ 1e-10 absolute): that is conditioning.
    """
    theta = np.array([0.5, 1e-6, 1e-6])
    y = refefl.entmax(theta, 3.0)
    assert abs(y.sum() - 1) <= 4 * np.finfo(np.float64).eps
    c = 1 + 2 * (theta[1] - theta[0])
    s = 2 * c / (4 + np.sqrt(16 - 12 * c))
    np.testing.assert_allclose(y, [1 - 2 * s, s, s], rtol=0, atol=4e-10)


@pytest.mark.parametrize("alpha", [1.3, 1.5, 2.0, 3.0])
def test_float32_matches_float64(alpha):
    theta = np.random.default_rng(0).normal(size=(20, 9)) * 3
    y32 = refefl.entmax(theta.astype(np.float32), alpha)
    assert y32.dtype == np.float32
    assert_close(y32, refefl.entmax(theta.astype(np.float32).astype(np.float64), alpha), dtype=np.float32)


def test_bisection_report_and_warning():
    theta = np.random.default_rng(1).normal(size=(5, 6))
    _, info = refefl.entmax(theta, 1.3, return_info=True)
    assert isinstance(info, RootInfo) and info.converged and 0 < info.iterations < 200
    assert info.max_abs_residual <= 8 * np.finfo(np.float64).eps
    with pytest.warns(ConvergenceWarning):
        refefl.entmax(theta, 1.3, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refefl.entmax(theta, 1.3)


def test_batched_axis_strided_readonly():
    rng = np.random.default_rng(2)
    theta = np.asfortranarray(rng.normal(size=(4, 7, 3)) * 2)
    theta.setflags(write=False)
    before = theta.copy()
    y = refefl.entmax(theta[:, ::2], 1.7, axis=1)
    np.testing.assert_array_equal(theta, before)
    for i in range(4):
        for j in range(3):
            assert_close(y[i, :, j], refefl.entmax(np.ascontiguousarray(theta[i, ::2, j]), 1.7))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"alpha": 1.0}, ValueError, "alpha"),
        ({"alpha": 0.5}, ValueError, "alpha"),
        ({"alpha": np.inf}, ValueError, "alpha"),
        ({"alpha": np.nan}, ValueError, "alpha"),
        ({"alpha": "1.5"}, TypeError, "alpha"),
        ({"alpha": True}, TypeError, "alpha"),
        ({"method": "newton"}, ValueError, "method"),
        ({"alpha": 1.3, "method": "sort"}, ValueError, "sort"),
        ({"max_iter": 0}, ValueError, "max_iter"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        refefl.entmax([0.0, 1.0], **kwargs)


@pytest.mark.parametrize("theta, match", [([0.0, np.nan], "NaN"), ([0.0, np.inf], r"\+inf"),
                                          ([-np.inf, -np.inf], "all -inf")])
def test_bad_scores(theta, match):
    with pytest.raises(ValueError, match=match):
        refefl.entmax(theta, 1.3)


def test_published_vectors():
    """The entmax package's README (printed to 4 decimals, hence atol = 5e-5)."""
    x = np.array([-2.0, 0.0, 0.5])
    np.testing.assert_allclose(refefl.softmax(x), [0.0486, 0.3592, 0.5922], atol=5e-5)
    np.testing.assert_allclose(refefl.sparsemax(x), [0.0, 0.25, 0.75], atol=5e-5)
    np.testing.assert_allclose(refefl.entmax(x, 1.5), [0.0, 0.3260, 0.6740], atol=5e-5)
    theta = np.array([[-1.0, 0.0, 0.5], [1.0, 2.0, 3.5]])
    expected = [[0.0460, 0.3276, 0.6264], [0.0026, 0.1012, 0.8963]]
    np.testing.assert_allclose(refefl.entmax(theta, 1.33), expected, atol=5e-5)
