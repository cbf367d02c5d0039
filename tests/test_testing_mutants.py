"""The checks bite: each deliberately wrong implementation below (a bug a peer has shipped) is caught by the
property named in its test. ``EXAMPLES`` is the smallest count at which every mutant was caught on 20 seeds
(``benchmarks/conformance.py --flaky`` style runs); the checks' default is 100.
"""
import numpy as np
import pytest

import refefl
from refefl.losses import FenchelYoungLoss
from refefl.testing import check_fy_loss, check_jvp, check_prediction_map
from refefl.testing._check_derivatives import refefl_jvp

EXAMPLES = 30


def _sorted_desc(theta):
    return -np.sort(-theta, axis=-1)


def sparsemax_summing_every_partial_sum(theta):
    """Threshold from the sum of all partial sums over the support instead of the last one (right for |S| = 1)."""
    theta = np.asarray(theta, dtype=np.float64)
    z = _sorted_desc(theta)
    cumsum = np.cumsum(z, axis=-1)
    j = np.arange(1, theta.shape[-1] + 1)
    k = np.sum(1 + j * z > cumsum, axis=-1, keepdims=True)
    in_support = j <= k
    tau = (np.sum(np.where(in_support, cumsum, 0), axis=-1, keepdims=True) - 1) / k
    return np.maximum(theta - tau, 0).astype(np.asarray(theta).dtype)


def sparsemax_without_max_shift(theta):
    """The sort-based projection in the input's dtype without subtracting the row max first."""
    theta = np.asarray(theta)
    z = _sorted_desc(theta)
    cumsum = np.cumsum(z, axis=-1)
    j = np.arange(1, theta.shape[-1] + 1, dtype=theta.dtype)
    k = np.sum(1 + j * z > cumsum, axis=-1, keepdims=True)
    tau = (np.take_along_axis(cumsum, k - 1, axis=-1) - 1) / k.astype(theta.dtype)
    return np.maximum(theta - tau, 0).astype(theta.dtype)


def entmax15_fixed_bracket(theta, n_halvings=50):
    """Bisection for τ on the bracket [max θ − 1, max θ − n^(−1/2)] in the input's dtype, a fixed 50 halvings."""
    theta = np.asarray(theta)
    top = theta.max(axis=-1, keepdims=True)
    lo, hi = top - 1, top - np.asarray(theta.shape[-1], theta.dtype) ** -0.5
    for _ in range(n_halvings):
        tau = (lo + hi) / 2
        mass = np.sum(np.maximum((theta - tau) / 2, 0) ** 2, axis=-1, keepdims=True)
        lo, hi = np.where(mass >= 1, tau, lo), np.where(mass >= 1, hi, tau)
    p = np.maximum((theta - (lo + hi) / 2) / 2, 0) ** 2
    return (p / p.sum(axis=-1, keepdims=True)).astype(theta.dtype)


def sparsemax_loss_over_all_entries(theta, y):
    """⟨ŷ − y, θ⟩ + Ω(y) − Ω(ŷ) summed over every entry: 0·(−inf) = NaN where a score is −inf."""
    y_hat = refefl.sparsemax(theta)
    return np.sum((y_hat - y) * theta, axis=-1) + 0.5 * np.sum(y * y, axis=-1) - 0.5 * np.sum(y_hat * y_hat, axis=-1)


def sparsemax_loss_unclipped(theta, y):
    """Ω*(θ) + Ω(y) − ⟨θ, y⟩ as written, without the clip at 0: rounding makes it negative at the optimum."""
    y_hat = refefl.sparsemax(theta)
    conjugate = np.sum(theta * y_hat, axis=-1) - 0.5 * np.sum(y_hat * y_hat, axis=-1)
    return conjugate + 0.5 * np.sum(y * y, axis=-1) - np.sum(theta * y, axis=-1)


def isotonic_jvp_with_value_tolerance(y, v, tol=1e-9):
    """J v of isotonic regression with blocks re-detected as runs of fitted values within ``tol`` of each other."""
    fit = refefl.isotonic_regression(y)
    out = np.empty_like(np.asarray(v, dtype=np.float64))
    start = 0
    for i in range(1, len(fit) + 1):
        if i == len(fit) or abs(fit[i] - fit[start]) > tol:
            out[start:i] = np.mean(v[start:i])
            start = i
    return out


_SPARSEMAX_LOSS = FenchelYoungLoss(refefl.regularizer("sparsemax"))


def _caught(report, prop):
    result = report[prop]
    assert result.verdict == "failed", report.table()
    assert result.counterexample is not None
    return result


def test_multi_element_support_threshold_bug_is_caught_by_large_support():
    report = check_prediction_map(sparsemax_summing_every_partial_sum, "sparsemax", examples=EXAMPLES,
                                  properties=["large_support", "rows_of_length_one"])
    _caught(report, "large_support")
    assert report["rows_of_length_one"].passed  # supports of size 1 never notice


def test_no_max_shift_in_float32_is_caught_by_large_scores():
    report = check_prediction_map(sparsemax_without_max_shift, "sparsemax", dtype=np.float32, examples=EXAMPLES,
                                  properties=["large_scores", "agrees_with_refefl"])
    _caught(report, "large_scores")
    assert report["agrees_with_refefl"].passed  # at ordinary scales the mutant is right


def test_zero_times_neg_inf_in_the_loss_is_caught_by_neg_inf_scores():
    report = check_fy_loss(sparsemax_loss_over_all_entries, None, "sparsemax", examples=EXAMPLES,
                           properties=["neg_inf_scores", "agrees_with_refefl"])
    result = _caught(report, "neg_inf_scores")
    assert np.isnan(result.got).any() or "not finite" in result.reason
    assert report["agrees_with_refefl"].passed


def test_pav_blocks_redetected_by_value_are_caught_by_close_blocks():
    report = check_jvp(refefl.isotonic_regression, isotonic_jvp_with_value_tolerance, "isotonic",
                       examples=EXAMPLES, batched=False, properties=["close_blocks", "matches_refefl"])
    _caught(report, "close_blocks")
    assert report["matches_refefl"].passed  # blocks further apart are found correctly
    reference = refefl_jvp("isotonic")
    y, v = np.array([-3.0, 1.0, 1.0 + 5e-10]), np.array([0.0, 0.0, 1.0])
    np.testing.assert_array_equal(reference(y, v), v)  # the documented case: Jacobian row [0, 0, 1]


def test_gradient_with_the_wrong_sign_is_caught():
    report = check_fy_loss(_SPARSEMAX_LOSS.value, lambda theta, y: y - refefl.sparsemax(theta), "sparsemax",
                           examples=EXAMPLES, properties=["gradient_is_prediction_minus_target"])
    _caught(report, "gradient_is_prediction_minus_target")


def test_entmax_bisection_with_a_fixed_bracket_is_caught_in_float32_by_large_scores():
    report = check_prediction_map(entmax15_fixed_bracket, "tsallis", alpha=1.5, dtype=np.float32,
                                  examples=EXAMPLES, properties=["large_scores"])
    _caught(report, "large_scores")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_negative_near_the_optimum_is_caught_by_nonnegative(dtype):
    report = check_fy_loss(sparsemax_loss_unclipped, None, "sparsemax", dtype=dtype, examples=EXAMPLES,
                           properties=["nonnegative", "agrees_with_refefl"])
    result = _caught(report, "nonnegative")
    assert np.min(result.got) < 0
    assert report["agrees_with_refefl"].passed  # it is right up to rounding: only L ≥ 0 exposes it
