"""Output spaces {0,1}^k and permutations, and the Plackett-Luce sampler.

Samplers are checked against probabilities computed here independently (products of Bernoulli factors, the
Plackett-Luce product formula over itertools.permutations) by seeded chi-square tests whose power is shown on a
wrong distribution; every returned log-probability is recomputed from its sample (scipy's logsumexp over the tails,
both branches of the sampler); ``log_prob`` sums to one over ``enumerate()``; ``mode`` is the brute-force argmax.
"""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import log_expit, logsumexp
from scipy.stats import chisquare

from refefl.partition import BinaryVectors, Permutations, plackett_luce_sample
from refefl.partition._spaces import MAX_PERMUTATION_ITEMS
from refefl.testing import assert_close
from tests.strategies import matrices, with_ties

#: a correct sampler passes at this level (seeded: the figure is fixed); the wrong distributions below fail it
P_VALUE_FLOOR = 1e-4


# -- independent references ------------------------------------------------------------------------------------
def _pl_probability(scores, ranking) -> float:
    """Π_r e^{s_σr} / Σ_{t≥r} e^{s_σt} in plain floats (scores shifted by their maximum)."""
    top = max(scores)
    weights = [math.exp(scores[i] - top) for i in ranking]
    prob = 1.0
    for r in range(len(ranking) - 1):  # the last factor is 1 (also when its weight underflowed to 0)
        prob *= weights[r] / math.fsum(weights[r:])
    return prob


def _pl_log_prob(scores, sigma):
    """Σ_r s_σr − logsumexp(s_σt, t ≥ r) for scores (n, k) and rankings (n, m, k), one tail at a time (scores
    shifted by their row maximum first: at 1e300 the log 2 of two equal scores is below their rounding)."""
    scores = scores - scores.max(axis=1, keepdims=True)
    ordered = np.take_along_axis(np.broadcast_to(scores[:, None, :], sigma.shape), sigma, axis=-1)
    return sum(ordered[..., r] - logsumexp(ordered[..., r:], axis=-1) for r in range(sigma.shape[-1]))


def _bernoulli_probabilities(logits, states):
    """Π_i σ(a_i)^{y_i} (1 − σ(a_i))^{1 − y_i} for one row of logits and every state."""
    on = 1.0 / (1.0 + np.exp(-logits))
    return np.prod(np.where(states == 1, on, 1.0 - on), axis=1)


def _set_index(y):
    """Row of ``BinaryVectors.enumerate()`` holding each state (bits, most significant first)."""
    return y.astype(np.int64) @ (2 ** np.arange(y.shape[-1] - 1, -1, -1))


def _ranking_index(sigma):
    """Row of ``Permutations.enumerate()`` (lexicographic) holding each ranking."""
    k = sigma.shape[-1]
    codes = sigma @ (k ** np.arange(k - 1, -1, -1))
    all_codes = Permutations(k).enumerate() @ (k ** np.arange(k - 1, -1, -1))
    return np.searchsorted(all_codes, codes)


def _chi_square_p(index, probs) -> float:
    """p-value of the counts of ``index`` against ``probs``; states of probability 0 must not occur."""
    counts = np.bincount(index.ravel(), minlength=len(probs))
    assert not counts[probs == 0].any(), "a state of probability 0 was sampled"
    support = probs > 0
    expected = probs[support] / probs[support].sum() * counts.sum()
    assert expected.min() >= 5, "too few samples for a chi-square test"
    return chisquare(counts[support], expected).pvalue


# -- frequencies -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 4])
def test_uniform_sets_have_uniform_frequencies(k):
    space = BinaryVectors(k)
    y, log_prob = space.sample(np.random.default_rng(k), 2, 8000)
    assert y.dtype == np.int8 and y.shape == (2, 8000, k)
    assert _chi_square_p(_set_index(y), np.full(space.size, 1.0 / space.size)) > P_VALUE_FLOOR
    np.testing.assert_allclose(log_prob, -k * math.log(2.0), rtol=1e-15)


def test_bernoulli_proposal_frequencies_match_the_product_of_factors():
    space = BinaryVectors(3)
    logits = np.array([[0.4, -1.0, 1.5], [-0.3, 0.0, 2.0]])
    y, _ = space.sample(np.random.default_rng(1), 2, 20000, logits)
    for i in range(2):
        probs = _bernoulli_probabilities(logits[i], space.enumerate())
        assert _chi_square_p(_set_index(y[i]), probs) > P_VALUE_FLOOR
        wrong = _bernoulli_probabilities(logits[i] * 1.2, space.enumerate())  # the test has power
        assert _chi_square_p(_set_index(y[i]), wrong) < P_VALUE_FLOOR


def test_uniform_permutations_have_uniform_frequencies():
    space = Permutations(4)
    sigma, log_prob = space.sample(np.random.default_rng(2), 1, 24000)
    assert sigma.shape == (1, 24000, 4)
    assert _chi_square_p(_ranking_index(sigma), np.full(24, 1.0 / 24)) > P_VALUE_FLOOR
    np.testing.assert_allclose(log_prob, -math.log(24.0), rtol=1e-15)


@pytest.mark.parametrize("scores", [[0.3, -0.5, 1.0], [0.5, -0.2, 0.9, 0.0], [2.0, -1.0, 0.4, 1.1]],
                         ids=["k=3", "k=4", "k=4 spread"])
def test_plackett_luce_frequencies_match_the_product_formula(scores, backend):
    k = len(scores)
    space = Permutations(k)
    sigma, _ = space.sample(np.random.default_rng(k), 1, 40000, np.array([scores]), backend=backend)
    states = space.enumerate()
    probs = np.array([_pl_probability(scores, s) for s in states])
    assert math.isclose(probs.sum(), 1.0, rel_tol=1e-12)
    assert _chi_square_p(_ranking_index(sigma), probs) > P_VALUE_FLOOR
    wrong = np.array([_pl_probability([1.3 * s for s in scores], r) for r in states])  # the test has power
    assert _chi_square_p(_ranking_index(sigma), wrong) < P_VALUE_FLOOR


def test_plackett_luce_frequencies_in_the_wide_range_branch(backend):
    # a score range of 2e4 (k·range ≥ 600): the log-space branch; the three top items still compete, the last never
    scores = [1e4, 1e4 + 0.4, 1e4 - 0.3, -1e4]
    sigma, log_prob = Permutations(4).sample(np.random.default_rng(5), 1, 30000, np.array([scores]), backend=backend)
    probs = np.array([_pl_probability(scores, s) for s in Permutations(4).enumerate()])
    assert _chi_square_p(_ranking_index(sigma), probs) > P_VALUE_FLOOR
    assert np.isfinite(log_prob).all()


# -- log-probabilities of the samples ----------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [3.0, 1e17])  # 1e17: the small logits' terms sit beside huge ones
def test_bernoulli_log_prob_of_every_sample(scale):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 6)) * np.array([scale, 1.0, 1.0, 3.0, scale, 0.5])
    y, log_prob = BinaryVectors(6).sample(rng, 4, 50, logits)
    expected = (y * log_expit(logits)[:, None, :] + (1 - y) * log_expit(-logits)[:, None, :]).sum(axis=-1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(BinaryVectors(6).log_prob(y, logits), log_prob, rtol=1e-13, atol=1e-13)


SCALES = [1.0, 30.0, 1e4, 1e300]  # 1 and 30: the product branch for k ≤ 8; 1e4 and 1e300: the log-space branch


@given(scores=matrices(max_rows=3, max_cols=8), scale=st.sampled_from(SCALES), seed=st.integers(0, 2**32 - 1))
def test_plackett_luce_log_prob_of_every_sample(scores, scale, seed):
    scores = scores * (scale / 10.0)
    sigma, log_prob = plackett_luce_sample(scores, np.random.default_rng(seed).standard_exponential((len(scores), 5,
                                                                                                     scores.shape[1])))
    assert sigma.dtype == np.intp
    np.testing.assert_array_equal(np.sort(sigma, axis=-1), np.broadcast_to(np.arange(scores.shape[1]), sigma.shape))
    assert np.isfinite(log_prob).all() and (log_prob <= 1e-12).all()
    spread = float(np.ptp(scores))
    atol = 1e-13 * scores.shape[1] * (1.0 + spread)  # terms s − log-tail lose the float64 ulp of the spread
    np.testing.assert_allclose(log_prob, _pl_log_prob(scores, sigma), rtol=1e-12, atol=atol)
    np.testing.assert_allclose(Permutations(scores.shape[1]).log_prob(sigma, scores), log_prob, rtol=1e-12,
                               atol=atol)


@pytest.mark.parametrize("spread", [1e4, 1e300])
def test_wide_range_log_prob_agrees_with_a_direct_logaddexp_formula(spread, backend):
    rng = np.random.default_rng(7)
    scores = rng.permutation(np.linspace(-0.5, 0.5, 10))[None, :] * spread
    sigma, log_prob = Permutations(10).sample(rng, 1, 200, scores, backend=backend)
    assert np.isfinite(log_prob).all() and (log_prob <= 0).all()
    ordered = scores[0][sigma[0]]
    direct = np.zeros(200)
    for r in range(10):  # s_σr − log Σ_{t≥r} e^{s_σt}, the tail by repeated np.logaddexp
        tail = ordered[:, -1]
        for t in range(8, r - 1, -1):
            tail = np.logaddexp(tail, ordered[:, t])
        direct += ordered[:, r] - tail
    np.testing.assert_allclose(log_prob[0], direct, rtol=1e-12, atol=1e-15 * spread * 10)


@pytest.mark.parametrize("k", [7, 40])  # 40 items: the compiled twin's merge sort
def test_plackett_luce_backends_return_the_same_samples(k, backend):
    scores = np.random.default_rng(8).normal(size=(3, k))
    space = Permutations(k)
    sigma_np, lp_np = space.sample(np.random.default_rng(9), 3, 100, scores, backend="numpy")
    sigma, lp = space.sample(np.random.default_rng(9), 3, 100, scores, backend=backend)
    np.testing.assert_array_equal(sigma, sigma_np)
    np.testing.assert_allclose(lp, lp_np, rtol=1e-13, atol=1e-13)


# -- normalization -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_set_log_probs_sum_to_one(k):
    space = BinaryVectors(k)
    states = space.enumerate()[None]
    logits = np.random.default_rng(k).normal(scale=4.0, size=(1, k))
    assert logsumexp(space.log_prob(states, logits)) == pytest.approx(0.0, abs=1e-13)
    assert logsumexp(space.log_prob(states)) == pytest.approx(0.0, abs=1e-13)


@given(scores=matrices(max_rows=3, max_cols=5, bound=50.0), scale=st.sampled_from([1.0, 1e3, 1e300]))
def test_permutation_log_probs_sum_to_one(scores, scale):
    scores = scores * scale
    space = Permutations(scores.shape[1])
    states = np.broadcast_to(space.enumerate(), (len(scores), space.size, space.k))
    totals = logsumexp(space.log_prob(states, scores), axis=1)
    np.testing.assert_allclose(totals, 0.0, atol=1e-13 * space.k)
    assert logsumexp(space.log_prob(states[:1])) == pytest.approx(0.0, abs=1e-13)


# -- enumerate ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 5, 16])
def test_set_enumeration_lists_each_state_once(k):
    states = BinaryVectors(k).enumerate()
    assert states.shape == (2**k, k) and states.dtype == np.int8
    assert set(np.unique(states)) <= {0, 1}
    np.testing.assert_array_equal(_set_index(states), np.arange(2**k))  # each state once, in binary order


@pytest.mark.parametrize("k", [1, 3, 5, MAX_PERMUTATION_ITEMS])
def test_permutation_enumeration_lists_each_ranking_once(k):
    states = Permutations(k).enumerate()
    assert states.shape == (math.factorial(k), k)
    np.testing.assert_array_equal(np.sort(states, axis=1), np.broadcast_to(np.arange(k), states.shape))
    codes = states @ (k ** np.arange(k - 1, -1, -1))
    assert (np.diff(codes) > 0).all()  # strictly increasing: distinct and lexicographic


def test_enumeration_refuses_spaces_beyond_its_limits():
    with pytest.raises(ValueError, match="k <= 16"):
        BinaryVectors(17).enumerate()
    with pytest.raises(ValueError, match="at most 9 items"):
        Permutations(MAX_PERMUTATION_ITEMS + 1).enumerate()


# -- mode ----------------------------------------------------------------------------------------------------------
@given(scores=st.one_of(matrices(max_rows=3, max_cols=7), matrices(max_rows=3, max_cols=7).map(with_ties)))
def test_set_mode_is_the_brute_force_argmax(scores):
    space = BinaryVectors(scores.shape[1])
    mode = space.mode(scores)
    assert mode.shape == scores.shape and mode.dtype == np.int8
    values = scores @ space.enumerate().T.astype(np.float64)  # <u, y> for every state
    best = values[np.arange(len(scores)), _set_index(mode)]
    np.testing.assert_allclose(best, values.max(axis=1), rtol=1e-12, atol=1e-12)


@given(scores=st.one_of(matrices(max_rows=3, max_cols=6), matrices(max_rows=3, max_cols=6).map(with_ties)))
def test_permutation_mode_is_the_brute_force_argmax(scores):
    space = Permutations(scores.shape[1])
    mode = space.mode(scores)
    np.testing.assert_array_equal(np.sort(mode, axis=1), np.broadcast_to(np.arange(space.k), mode.shape))
    states = space.enumerate()
    rho = space.k - np.argsort(states, axis=1)  # (ρ_σ)_{σ_r} = k − r
    values = scores @ rho.T.astype(np.float64)
    best = values[np.arange(len(scores)), _ranking_index(mode)]
    np.testing.assert_allclose(best, values.max(axis=1), rtol=1e-12, atol=1e-12)


# -- dtypes ------------------------------------------------------------------------------------------------------
def test_float32_logits_keep_float32_log_probs(backend):
    rng = np.random.default_rng(11)
    logits = rng.normal(size=(3, 5)).astype(np.float32)
    y, lp = BinaryVectors(5).sample(np.random.default_rng(12), 3, 40, logits)
    assert lp.dtype == np.float32
    assert_close(lp, (y * log_expit(logits.astype(np.float64))[:, None, :]
                      + (1 - y) * log_expit(-logits.astype(np.float64))[:, None, :]).sum(-1), dtype=np.float32)
    sigma32, lp32 = Permutations(5).sample(np.random.default_rng(13), 3, 40, logits, backend=backend)
    sigma64, lp64 = Permutations(5).sample(np.random.default_rng(13), 3, 40, logits.astype(np.float64),
                                           backend=backend)
    assert lp32.dtype == np.float32 and Permutations(5).log_prob(sigma32, logits).dtype == np.float32
    np.testing.assert_array_equal(sigma32, sigma64)  # the sampler runs in float64 on the same values
    assert_close(lp32, lp64, dtype=np.float32)


# -- bad input -----------------------------------------------------------------------------------------------------
SPACES = [BinaryVectors(3), Permutations(3)]


@pytest.mark.parametrize("space", SPACES, ids=type)
@pytest.mark.parametrize("rng", [np.random.RandomState(0), 0, None], ids=repr)
def test_rng_must_be_a_generator(space, rng):
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        space.sample(rng, 2, 2)


@pytest.mark.parametrize("space", SPACES, ids=type)
def test_bad_sizes_and_proposals_are_refused(space):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        space.sample(rng, 0, 2)
    with pytest.raises(ValueError, match="m .* must be a positive integer"):
        space.sample(rng, 2, 0)
    with pytest.raises(TypeError, match="n must be a positive integer"):
        space.sample(rng, 2.0, 2)
    for shape in [(2, 4), (3,), (1, 3)]:
        with pytest.raises(ValueError, match="proposal must be logits of shape"):
            space.sample(rng, 2, 2, np.zeros(shape))
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="proposal must be finite"):
            space.sample(rng, 2, 2, np.array([[0.0, bad, 1.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(TypeError, match="proposal must hold real numbers"):
        space.sample(rng, 2, 2, np.zeros((2, 3), dtype=complex))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        type(space)(0)


@pytest.mark.parametrize("space", SPACES, ids=type)
def test_bad_scores_are_refused(space):
    with pytest.raises(ValueError, match="scores must have a last axis of length k = 3"):
        space.mode(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="scores must be finite"):
        space.mode(np.array([0.0, np.nan, 1.0]))


def test_bad_states_are_refused():
    sets, perms = BinaryVectors(3), Permutations(3)
    with pytest.raises(ValueError, match="every entry 0 or 1"):
        sets.log_prob(np.array([[[0, 2, 1]]]))
    with pytest.raises(ValueError, match="every row a permutation of 0..2"):
        perms.log_prob(np.array([[[0, 0, 1]]]))
    with pytest.raises(ValueError, match="every row a permutation"):
        perms.log_prob(np.array([[[0, 1, 3]]]))
    for space in (sets, perms):
        with pytest.raises(TypeError, match="samples must be an integer array"):
            space.log_prob(np.zeros((1, 1, 3)))
        with pytest.raises(ValueError, match=r"samples must have a non-empty shape \(n, m, k\)"):
            space.log_prob(np.zeros((1, 3), dtype=int))
    for space, state in ((sets, [0, 1, 1]), (perms, [2, 0, 1])):
        with pytest.raises(ValueError, match="proposal must be logits of shape"):
            space.log_prob(np.array([[state]]), np.zeros((2, 3)))  # one example, two rows of logits


def test_boolean_states_are_scored():
    y = np.array([[[True, False, True]]])
    logits = np.array([[0.5, -1.0, 2.0]])
    assert BinaryVectors(3).log_prob(y, logits)[0, 0] == pytest.approx(
        log_expit(0.5) + log_expit(1.0) + log_expit(2.0), rel=1e-13)


# -- inputs are not modified -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("space", SPACES, ids=type)
def test_inputs_are_not_modified(space):
    proposal = np.array([[0.2, -1.0, 3.0], [1e4, 0.0, -1e4]])
    proposal.setflags(write=False)  # a write would raise
    saved = proposal.copy()
    samples, log_prob = space.sample(np.random.default_rng(0), 2, 10, proposal)
    samples.setflags(write=False)
    saved_samples = samples.copy()
    np.testing.assert_allclose(space.log_prob(samples, proposal), log_prob, rtol=1e-12, atol=1e-9)
    space.mode(proposal)
    np.testing.assert_array_equal(proposal, saved)
    np.testing.assert_array_equal(samples, saved_samples)


@given(scores=hnp.arrays(np.float64, (2, 4), elements=st.floats(-5, 5)), seed=st.integers(0, 2**32 - 1))
def test_sampled_log_prob_equals_log_prob_of_the_sample(scores, seed, backend):
    space = Permutations(4)
    sigma, log_prob = space.sample(np.random.default_rng(seed), 2, 30, scores, backend=backend)
    np.testing.assert_allclose(space.log_prob(sigma, scores), log_prob, rtol=1e-12, atol=1e-12)
