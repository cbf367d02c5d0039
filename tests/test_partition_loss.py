"""min_min_loss and log_mean_exp_loss: closed forms, unbiasedness, the variational identity, limits, gradients."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import brentq, minimize_scalar
from scipy.special import logsumexp

from refefl import sparsemax
from refefl.partition import log_mean_exp_loss, min_min_loss
from refefl.testing import assert_close, directional_derivative

finite = st.floats(-5, 5, allow_nan=False, width=64)
DIVERGENCES = [("kl", None), ("sparsemax", None), ("tsallis", 1.5), ("tsallis", 2.0)]


@st.composite
def problems(draw, weighted=False):
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 6))
    g = draw(arrays(np.float64, (n, m), elements=finite))
    gt = draw(arrays(np.float64, (n,), elements=finite))
    tau = draw(arrays(np.float64, (n,), elements=finite))
    lw = draw(arrays(np.float64, (n, m), elements=st.floats(-2, 2, width=64))) if weighted else None
    return gt, g, tau, lw


def f_star(v, divergence, alpha):
    """The conjugates of docs/partition.md, written directly."""
    if divergence == "kl":
        return np.exp(v) - 1
    if divergence == "sparsemax":
        return 0.5 * np.maximum(v, 0) ** 2 + 0.5
    base = np.maximum(1 + (alpha - 1) * (v - alpha + 1), 0)
    return base ** (alpha / (alpha - 1)) / alpha - 1 / alpha + alpha - 1


@pytest.mark.parametrize("divergence,alpha", DIVERGENCES)
@given(problem=problems(weighted=True))
def test_matches_definition(divergence, alpha, problem):
    gt, g, tau, lw = problem
    expected = tau + (np.exp(lw) * (f_star(g - tau[:, None], divergence, alpha) - f_star(-np.inf, divergence, alpha))
                      ).mean(axis=1) + f_star(-np.inf, divergence, alpha) - gt
    assert_close(min_min_loss(gt, g, tau, divergence=divergence, alpha=alpha, log_weights=lw), expected, scale=100)


@given(problem=problems(weighted=True))
def test_tsallis_two_is_sparsemax_and_one_is_kl(problem):
    gt, g, tau, lw = problem
    sparse = min_min_loss(gt, g, tau, divergence="sparsemax", log_weights=lw, return_grad=True)
    tsallis2 = min_min_loss(gt, g, tau, divergence="tsallis", alpha=2.0, log_weights=lw, return_grad=True)
    for a, b in zip([sparse[0], *sparse[1]], [tsallis2[0], *tsallis2[1]]):
        assert_close(a, b, scale=100)
    kl = min_min_loss(gt, g, tau, log_weights=lw, return_grad=True)
    near_one = min_min_loss(gt, g, tau, divergence="tsallis", alpha=1 + 1e-7, log_weights=lw, return_grad=True)
    for a, b in zip([kl[0], *kl[1]], [near_one[0], *near_one[1]]):  # f*_α - f*_1 = O(α - 1) e^v (v^2 + 1)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("divergence,alpha", DIVERGENCES)
@given(problem=problems(weighted=True), seed=st.integers(0, 2**32 - 1))
def test_gradients_match_finite_differences(divergence, alpha, problem, seed):
    gt, g, tau, lw = problem
    loss, (d_t, d_s, d_tau) = min_min_loss(gt, g, tau, divergence=divergence, alpha=alpha, log_weights=lw,
                                           return_grad=True)
    rng = np.random.default_rng(seed)
    vt, vs, vtau = rng.normal(size=gt.shape), rng.normal(size=g.shape), rng.normal(size=tau.shape)
    n, m = g.shape

    def total(x):
        return min_min_loss(x[:n], x[n:n + n * m].reshape(n, m), x[n + n * m:], divergence=divergence, alpha=alpha,
                            log_weights=lw).sum()

    x = np.concatenate([gt, g.ravel(), tau])
    v = np.concatenate([vt, vs.ravel(), vtau])
    numeric = directional_derivative(total, x, v)
    analytic = d_t @ vt + (d_s * vs).sum() + d_tau @ vtau
    # sparsemax has a kink at g = τ; the difference quotient straddles it with width 1e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-5 * (1 + np.abs(loss).sum()))


@given(problem=problems(weighted=True))
def test_log_mean_exp_definition_and_gradient(problem):
    gt, g, _, lw = problem
    loss, (d_t, d_s) = log_mean_exp_loss(gt, g, log_weights=lw, return_grad=True)
    assert_close(loss, logsumexp(g + lw, axis=1) - np.log(g.shape[1]) - gt)
    assert_close(d_s, np.exp(g + lw - logsumexp(g + lw, axis=1, keepdims=True)))
    assert_close(d_t, -np.ones_like(gt))


def _exact_expectation(g_all, gt, tau, divergence="kl", alpha=None):
    """τ + E_{y~uniform} f*(g(y) - τ) - g_target, exactly: all N states as the 'samples' with unit weights."""
    n_states = g_all.shape[-1]
    return min_min_loss(np.full(len(tau), gt), np.broadcast_to(g_all, (len(tau), n_states)), tau,
                        divergence=divergence, alpha=alpha)


@pytest.mark.parametrize("weighted", [False, True])
def test_m1_estimates_unbiased_and_log_mean_exp_biased(weighted):
    rng = np.random.default_rng(20250601)
    n_states, n_draws, gt, tau = 7, 40000, 0.3, -1.0
    g_all = rng.normal(scale=1.5, size=n_states)
    proposal = rng.dirichlet(np.ones(n_states)) if weighted else np.full(n_states, 1 / n_states)
    draws = rng.choice(n_states, size=(n_draws, 1), p=proposal)
    lw = (np.log(1 / n_states) - np.log(proposal))[draws]
    for divergence, alpha in DIVERGENCES:
        est = min_min_loss(np.full(n_draws, gt), g_all[draws], np.full(n_draws, tau), divergence=divergence,
                           alpha=alpha, log_weights=lw)
        exact = _exact_expectation(g_all, gt, np.array([tau]), divergence, alpha)[0]
        assert est.std() > 0 and abs(est.mean() - exact) < 4 * est.std() / np.sqrt(n_draws), divergence
    # the naive estimate with m = 5 on the same draws (grouped by five): biased below the exact LSE - g_target
    groups = draws.reshape(-1, 5)
    naive = log_mean_exp_loss(np.full(len(groups), gt), g_all[groups], log_weights=lw.reshape(-1, 5))
    exact_nll = logsumexp(g_all) - np.log(n_states) - gt
    assert exact_nll - naive.mean() > 4 * naive.std() / np.sqrt(len(groups))


@given(g_all=arrays(np.float64, st.integers(1, 8), elements=finite), gt=finite,
       taus=arrays(np.float64, 5, elements=st.floats(-20, 20, width=64)))
def test_every_tau_bounds_the_nll_and_the_minimizer_is_the_lse(g_all, gt, taus):
    lse = logsumexp(g_all) - np.log(g_all.size)
    assert (_exact_expectation(g_all, gt, taus) >= lse - gt - 1e-12 * (1 + abs(lse - gt))).all()
    assert_close(_exact_expectation(g_all, gt, np.array([lse])), [lse - gt], scale=10)
    best = minimize_scalar(lambda t: _exact_expectation(g_all, gt, np.array([t]))[0],
                           bracket=(lse - 1, lse + 1), tol=1e-12)
    np.testing.assert_allclose(best.x, lse, atol=1e-5)


@given(g_all=arrays(np.float64, st.integers(1, 10), elements=finite))
def test_sparsemax_model_with_uniform_q_is_sparsemax_of_g_over_n(g_all):
    n_states = g_all.size

    def slope(t):  # d/dτ of the exact expectation: 1 - E_q [g - τ]_+
        return min_min_loss([0.0], g_all[None], [t], divergence="sparsemax", return_grad=True)[1][2][0]

    tau_star = brentq(slope, g_all.min() - n_states - 1, g_all.max(), xtol=1e-14, rtol=1e-14)
    model = np.maximum(g_all - tau_star, 0) / n_states
    expected = sparsemax(g_all / n_states)
    assert_close(model, expected, scale=1e3)
    support = expected > 0
    threshold = (g_all / n_states - expected)[support][0]
    np.testing.assert_allclose(tau_star, n_states * threshold, rtol=1e-9, atol=1e-9)


def test_extreme_differences_stay_finite_and_float32_is_kept():
    loss, (_, d_s, d_tau) = min_min_loss([0.0, 0.0], [[700.0, -700.0], [-700.0, -700.0]], [0.0, 0.0],
                                         return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(d_s).all()
    assert_close(loss, [np.exp(700) / 2 - 1, np.exp(-700) - 1])
    assert_close(min_min_loss([0.0], [[1000.0]], [400.0]), [400 + np.exp(600) - 1])
    g32 = np.float32([[1.0, -np.inf, 2.0]])
    for divergence, alpha in DIVERGENCES:
        out = min_min_loss(np.float32([0.5]), g32, np.float32([0.2]), divergence=divergence, alpha=alpha,
                           log_weights=np.float32([[0.0, 0.1, -np.inf]]), return_grad=True)
        assert out[0].dtype == np.float32 and all(x.dtype == np.float32 for x in out[1])
        assert np.isfinite(out[0]).all()


def test_inputs_are_not_modified():
    g = np.array([[1.0, 2.0]])
    lw = np.array([[0.0, -1.0]])
    min_min_loss([0.0], g, [0.0], log_weights=lw, return_grad=True)
    log_mean_exp_loss([0.0], g, log_weights=lw, return_grad=True)
    np.testing.assert_array_equal(g, [[1.0, 2.0]])
    np.testing.assert_array_equal(lw, [[0.0, -1.0]])


@pytest.mark.parametrize("kwargs,match", [
    (dict(g_samples=np.zeros((2, 0))), "non-empty"),
    (dict(g_samples=np.zeros(3)), r"shape \(n, m\)"),
    (dict(g_target=np.zeros(3)), "g_target must have shape"),
    (dict(tau=np.zeros((2, 1))), "tau must have shape"),
    (dict(tau=[np.nan, 0.0]), "tau must be finite"),
    (dict(g_target=[np.inf, 0.0]), "g_target must be finite"),
    (dict(g_samples=[[np.nan, 0.0], [0.0, 0.0]]), "NaN"),
    (dict(g_samples=[[np.inf, 0.0], [0.0, 0.0]]), r"\+inf"),
    (dict(log_weights=np.zeros((2, 3))), "log_weights must have the shape"),
    (dict(log_weights=[[np.nan, 0.0], [0.0, 0.0]]), "NaN"),
    (dict(divergence="hellinger"), "divergence must be one of"),
    (dict(divergence="tsallis", alpha=None), r"alpha in \(1, 2\]"),
    (dict(divergence="tsallis", alpha=1.0), r"alpha in \(1, 2\]"),
    (dict(divergence="tsallis", alpha=2.5), r"alpha in \(1, 2\]"),
    (dict(divergence="kl", alpha=1.5), "only used with divergence='tsallis'"),
])
@pytest.mark.parametrize("divergence", ["kl", "sparsemax", "tsallis"])
def test_bad_input(kwargs, match, divergence):
    args = dict(g_target=np.zeros(2), g_samples=np.zeros((2, 2)), tau=np.zeros(2), divergence=divergence,
                alpha=1.5 if divergence == "tsallis" else None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        min_min_loss(args.pop("g_target"), args.pop("g_samples"), args.pop("tau"), **args)


@settings(max_examples=10)
@given(problem=problems(weighted=True))
def test_rows_are_independent(problem):
    gt, g, tau, lw = problem
    full = min_min_loss(gt, g, tau, log_weights=lw)
    for i in range(len(gt)):
        assert_close(min_min_loss(gt[i:i + 1], g[i:i + 1], tau[i:i + 1], log_weights=lw[i:i + 1]), full[i:i + 1])
