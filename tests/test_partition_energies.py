"""Energies on samples of the output spaces: values against direct formulas, VJPs and exact NLL gradients against
finite differences, marginals and log-partitions against enumeration, the NLL as the minimum over τ of the exact
min-min expectation (and its gradient as that of the min-min loss at the optimal τ), the NLL's bound and
normalization, modes against brute force, float32, and bad input."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

from refefl.partition import (BirkhoffEnergy, PairwiseSetEnergy, PermutahedronEnergy, UnarySetEnergy,
                              min_min_loss)
from refefl.testing import assert_close, directional_derivative

KINDS = ["unary", "pairwise", "permutahedron", "birkhoff"]
ENERGIES = {"unary": UnarySetEnergy, "pairwise": PairwiseSetEnergy, "permutahedron": PermutahedronEnergy,
            "birkhoff": BirkhoffEnergy}
#: largest k whose k! or 2^k states the enumeration properties below list per example
SMALL_K = {"unary": 6, "pairwise": 6, "permutahedron": 5, "birkhoff": 5}


def symmetric_zero_diagonal(a):
    U = (a + np.swapaxes(a, -1, -2)) / 2
    idx = np.arange(a.shape[-1])
    U[..., idx, idx] = 0
    return U


def random_params(kind, rng, n, k, scale=1.0, dtype=np.float64):
    if kind == "pairwise":
        return (scale * rng.normal(size=(n, k))).astype(dtype), \
            symmetric_zero_diagonal(scale * rng.normal(size=(n, k, k))).astype(dtype)
    shape = (n, k, k) if kind == "birkhoff" else (n, k)
    return (scale * rng.normal(size=shape)).astype(dtype)


def leaves(kind, params):
    return list(params) if kind == "pairwise" else [params]


def flatten(kind, params):
    return np.concatenate([p.ravel() for p in params]) if kind == "pairwise" else params.ravel()


def unflatten(kind, x, like):
    if kind != "pairwise":
        return x.reshape(like.shape)
    u, U = like
    return x[:u.size].reshape(u.shape), x[u.size:].reshape(U.shape)


def all_states(energy, n):
    states = energy.space.enumerate()
    return np.broadcast_to(states, (n, *states.shape))


def direct_value(kind, params, y):
    """g(y) for one example's params and one state, by its definition."""
    k = y.size
    if kind == "unary":
        return float(params @ y)
    if kind == "pairwise":
        u, U = params
        return float(u @ y + sum(U[i, j] * y[i] * y[j] for i in range(k) for j in range(i + 1, k)))
    if kind == "permutahedron":
        return float(sum(params[y[r]] * (k - r) for r in range(k)))
    return float(sum(params[y[r], r] for r in range(k)))


def example(params, kind, i):
    return tuple(p[i] for p in params) if kind == "pairwise" else params[i]


cases = st.tuples(st.sampled_from(KINDS), st.integers(1, 3), st.integers(1, 5), st.integers(0, 2**32 - 1),
                  st.sampled_from([0.3, 1.0, 3.0]))


# -- values and VJPs ------------------------------------------------------------------------------------------
@given(case=cases, m=st.integers(1, 4))
def test_value_is_the_definition(case, m):
    kind, n, k, seed, scale = case
    rng = np.random.default_rng(seed)
    energy, params = ENERGIES[kind](k), random_params(kind, rng, n, k, scale)
    samples, _ = energy.space.sample(rng, n, m)
    values = energy.value(params, samples)
    assert values.shape == (n, m)
    for i in range(n):
        for j in range(m):
            assert_close(values[i, j], direct_value(kind, example(params, kind, i), samples[i, j]), scale=10)


@given(case=cases, m=st.integers(1, 4))
def test_vjp_is_the_derivative_of_the_weighted_sum(case, m):
    kind, n, k, seed, scale = case
    rng = np.random.default_rng(seed)
    energy, params = ENERGIES[kind](k), random_params(kind, rng, n, k, scale)
    samples, _ = energy.space.sample(rng, n, m)
    weights = rng.normal(size=(n, m))
    direction = random_params(kind, rng, n, k)  # symmetric, zero diagonal for U: the admissible directions

    def total(x):
        return (weights * energy.value(unflatten(kind, x, params), samples)).sum()

    numeric = directional_derivative(total, flatten(kind, params), flatten(kind, direction))
    analytic = flatten(kind, energy.vjp(params, samples, weights)) @ flatten(kind, direction)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-7)


# -- exact oracles --------------------------------------------------------------------------------------------
@given(case=cases)
def test_log_partition_and_marginals_are_enumeration(case):
    kind, n, k, seed, scale = case
    k = min(k, SMALL_K[kind])
    rng = np.random.default_rng(seed)
    energy, params = ENERGIES[kind](k), random_params(kind, rng, n, k, scale)
    states = all_states(energy, n)
    g = energy.value(params, states)
    assert_close(energy.log_partition(params), logsumexp(g, axis=1) - math.log(states.shape[1]), scale=100)
    p = np.exp(g - logsumexp(g, axis=1, keepdims=True))  # E_p φ = Σ_y p(y) φ(y) = vjp with weights p
    assert_close(flatten(kind, energy.marginals(params)), flatten(kind, energy.vjp(params, states, p)), scale=100)


@given(case=cases)
def test_nll_is_the_minimum_over_tau_of_the_exact_min_min_expectation(case):
    kind, n, k, seed, scale = case
    k = min(k, SMALL_K[kind])
    rng = np.random.default_rng(seed)
    energy, params = ENERGIES[kind](k), random_params(kind, rng, n, k, scale)
    y, _ = energy.space.sample(rng, n, 1)
    states = all_states(energy, n)
    n_states = states.shape[1]
    # every state once, weight q(y) / (1/N) = 1: min_min_loss's sample mean is then the expectation under q
    log_weights = np.full((n, n_states), energy.space.log_uniform + math.log(n_states))
    g_states, g_y = energy.value(params, states), energy.value(params, y)[:, 0]

    def expected_loss(tau):
        return min_min_loss(g_y, g_states, tau, log_weights=log_weights)

    nll, grad = energy.nll(params, y[:, 0], return_grad=True)
    log_z = energy.log_partition(params)
    assert_close(expected_loss(log_z), nll, scale=100)
    for t in (-2.0, -0.1, 0.1, 2.0):  # every τ bounds the NLL from above, by e^δ - 1 - δ with δ = log Z - τ
        gap = expected_loss(log_z + t) - nll
        assert (gap >= 0).all()
        assert_close(gap, np.full(n, math.expm1(-t) + t), scale=1e3)
    for i in range(n):
        best = minimize_scalar(lambda t: expected_loss(np.where(np.arange(n) == i, t, log_z))[i],
                               bracket=(log_z[i] - 1, log_z[i] + 1), tol=1e-12)
        np.testing.assert_allclose(best.fun, nll[i], rtol=1e-9, atol=1e-9)
    # at τ = log Z the min-min gradient in the params (chain rule through both energies) is the NLL gradient
    _, (d_target, d_samples, d_tau) = min_min_loss(g_y, g_states, log_z, log_weights=log_weights, return_grad=True)
    assert_close(d_tau, np.zeros(n), scale=1e4)
    chained = flatten(kind, energy.vjp(params, states, d_samples)) + flatten(kind, energy.vjp(params, y,
                                                                                                 d_target[:, None]))
    assert_close(chained, flatten(kind, grad), scale=1e3)


@given(case=cases)
def test_nll_lower_bound_and_normalization(case):
    # NLL(y) = -log p(y) + log q(y) with q = 1/N: NLL > -log N, and Σ_y exp(-NLL(y)) / N = Σ_y p(y) = 1.
    # (NLL >= 0 is false in general: a state with the largest energy of a peaked model has NLL near -log N.)
    kind, n, k, seed, scale = case
    k = min(k, SMALL_K[kind])
    rng = np.random.default_rng(seed)
    energy, params = ENERGIES[kind](k), random_params(kind, rng, n, k, scale)
    states = energy.space.enumerate()
    nll = np.stack([energy.nll(params, np.broadcast_to(s, (n, k))) for s in states], axis=1)  # (n, N)
    assert (nll > -math.log(len(states)) - 1e-12).all()
    assert_close(np.exp(logsumexp(-nll, axis=1) - math.log(len(states))), np.ones(n), scale=100)


@pytest.mark.parametrize("kind", KINDS)
def test_sampled_min_min_at_log_z_is_unbiased_for_the_nll_with_a_proposal(kind):
    # the training loop's path: samples from a proposal r (Bernoulli or Plackett-Luce logits), log-weights
    # log q - log r from the space, energies from value(): the m = 2 estimate at τ = log Z averages to the NLL
    rng = np.random.default_rng(20250607)
    k, n, m = 4, 20000, 2
    energy = ENERGIES[kind](k)
    params = random_params(kind, np.random.default_rng(1), 1, k)
    params = tuple(np.repeat(p, n, axis=0) for p in params) if kind == "pairwise" else np.repeat(params, n, axis=0)
    proposal = np.repeat(rng.normal(size=(1, k)), n, axis=0)
    samples, log_r = energy.space.sample(rng, n, m, proposal)
    y = energy.space.sample(np.random.default_rng(2), 1, 1)[0][:, 0].repeat(n, axis=0)
    g_y = energy.value(params, y[:, None])[:, 0]
    estimate = min_min_loss(g_y, energy.value(params, samples), energy.log_partition(params),
                            log_weights=energy.space.log_uniform - log_r)
    nll = energy.nll(params, y)[0]
    assert estimate.std() > 0 and abs(estimate.mean() - nll) < 4 * estimate.std() / math.sqrt(n)


def test_nll_can_be_negative():
    energy = UnarySetEnergy(3)
    nll = energy.nll(np.full((1, 3), 20.0), np.ones((1, 3), dtype=np.int8))
    assert -3 * math.log(2) < nll[0] < -3 * math.log(2) + 1e-7


@given(case=cases)
def test_nll_gradient_matches_finite_differences(case):
    kind, n, k, seed, scale = case
    rng = np.random.default_rng(seed)
    energy, params = ENERGIES[kind](k), random_params(kind, rng, n, k, scale)
    y, _ = energy.space.sample(rng, n, 1)
    direction = random_params(kind, rng, n, k)
    nll, grad = energy.nll(params, y[:, 0], return_grad=True)

    def total(x):
        return energy.nll(unflatten(kind, x, params), y[:, 0]).sum()

    numeric = directional_derivative(total, flatten(kind, params), flatten(kind, direction))
    np.testing.assert_allclose(flatten(kind, grad) @ flatten(kind, direction), numeric, rtol=1e-6, atol=1e-7)


def test_unary_nll_closed_form():
    rng = np.random.default_rng(0)
    u, y = rng.normal(size=(4, 6)) * 3, rng.integers(0, 2, size=(4, 6))
    nll, grad = UnarySetEnergy(6).nll(u, y, return_grad=True)
    logistic = np.logaddexp(0, u) - u * y  # binary logistic loss per label
    assert_close(nll, logistic.sum(axis=1) - 6 * math.log(2))
    assert_close(grad, 1 / (1 + np.exp(-u)) - y)


def test_unary_nll_at_extreme_scores_has_no_cancellation():
    u = np.array([[1e300, -1e300, 40.0, -40.0, 1e-20]])
    y = np.array([[1, 0, 1, 0, 1]])
    nll, grad = UnarySetEnergy(5).nll(u, y, return_grad=True)
    tail = math.log1p(math.exp(-40.0)) - math.log(2)  # log((1 + e^-40) / 2)
    assert_close(nll, [-2 * math.log(2) + 2 * tail + math.log1p(math.expm1(-1e-20) / 2)])
    tiny = 1 / (1 + math.exp(40.0))  # sigmoid(-40): sigmoid(40) - 1 would round it to a multiple of 1e-16
    np.testing.assert_allclose(grad, [[0.0, 0.0, -tiny, tiny, 1 / (1 + math.exp(1e-20)) - 1]], rtol=1e-15, atol=0)


@pytest.mark.parametrize("scale", [1e4, 1e100, 1e300])
@pytest.mark.parametrize("kind", ["permutahedron", "birkhoff"])
def test_permutation_oracles_at_huge_scores(kind, scale):
    # a peaked model: the mode has p -> 1, NLL -> -log k!, marginals -> its statistic; log Z ~ scale would cancel
    # g(mode) to noise of scale * 1e-16 if the NLL were not formed on the assignment-scaled scores
    rng = np.random.default_rng(11)
    k = 6
    energy = ENERGIES[kind](k)
    params = random_params(kind, rng, 3, k, scale=scale / (k if kind == "permutahedron" else 1))
    mode = energy.mode(params)
    nll, grad = energy.nll(params, mode, return_grad=True)
    assert_close(nll, np.full(3, -math.lgamma(k + 1)))
    np.testing.assert_allclose(grad, np.zeros_like(grad), atol=1e-11)  # the runner-up has p ~ e^-(its gap)
    statistic = energy.vjp(params, mode[:, None], np.ones((3, 1)))
    np.testing.assert_allclose(energy.marginals(params), statistic, atol=1e-11)


# -- modes ----------------------------------------------------------------------------------------------------
@given(case=cases, ties=st.booleans())
def test_modes_are_brute_force_maximizers(case, ties):
    kind, n, k, seed, scale = case
    k = min(k, SMALL_K[kind])
    rng = np.random.default_rng(seed)
    energy, params = ENERGIES[kind](k), random_params(kind, rng, n, k, scale)
    if ties:  # a coarse grid: equal scores and tied states are frequent
        params = tuple(np.round(p) for p in params) if kind == "pairwise" else np.round(params)
    states = all_states(energy, n)
    g = energy.value(params, states)
    mode = energy.mode(params)
    assert_close(energy.value(params, mode[:, None])[:, 0], g.max(axis=1), scale=10)
    if kind == "unary":  # documented tie rule: u_i = 0 gives 0
        np.testing.assert_array_equal(mode, params > 0)
    elif kind == "pairwise":  # documented tie rule: the first maximizer in enumerate() order
        np.testing.assert_array_equal(mode, states[0][np.argmax(g, axis=1)])
    elif kind == "permutahedron":  # documented tie rule: equal scores by item index
        np.testing.assert_array_equal(mode, np.argsort(-params, axis=1, kind="stable"))


@given(n=st.integers(1, 4), k=st.integers(1, 24), seed=st.integers(0, 2**32 - 1))
def test_pairwise_icm_reaches_a_single_flip_maximum_above_the_rounded_unary(n, k, seed):
    rng = np.random.default_rng(seed)
    energy, params = PairwiseSetEnergy(k), random_params("pairwise", rng, n, k)
    y, info = energy.mode(params, method="icm", return_info=True)
    assert not info.exact and info.converged.all()
    value = energy.value(params, y[:, None])[:, 0]
    start = (params[0] > 0).astype(np.int8)
    assert (value >= energy.value(params, start[:, None])[:, 0] - 1e-12).all()
    flips = np.abs(y[:, None, :] - np.eye(k, dtype=np.int8))  # every single-label flip of y
    assert (energy.value(params, flips) <= value[:, None] + 1e-12).all()
    if k > 16:  # "auto" is ICM beyond the enumeration limit
        np.testing.assert_array_equal(energy.mode(params), y)


def test_pairwise_icm_warns_when_unconfirmed():
    params = (np.array([[1.0, 1.0]]), np.array([[[0.0, -3.0], [-3.0, 0.0]]]))  # [1, 1] -> [0, 1] in one sweep
    with pytest.warns(RuntimeWarning, match="not checked to be a single-flip local maximum"):
        y, info = PairwiseSetEnergy(2).mode(params, method="icm", max_iter=1, return_info=True)
    assert not info.converged[0] and info.n_sweeps[0] == 1
    np.testing.assert_array_equal(y, [[0, 1]])
    y, info = PairwiseSetEnergy(2).mode(params, method="icm", return_info=True)
    assert info.converged[0] and info.n_sweeps[0] == 2


def test_birkhoff_mode_on_larger_k_is_the_assignment():
    rng = np.random.default_rng(5)
    energy = BirkhoffEnergy(12)
    Theta = rng.normal(size=(3, 12, 12))
    sigma = energy.mode(Theta)
    # a maximizer beats every ranking that swaps two of its ranks
    best = energy.value(Theta, sigma[:, None])[:, 0]
    swaps = np.repeat(sigma[:, None], 66, axis=1)
    pairs = [(a, b) for a in range(12) for b in range(a + 1, 12)]
    for j, (a, b) in enumerate(pairs):
        swaps[:, j, [a, b]] = swaps[:, j, [b, a]]
    assert (energy.value(Theta, swaps) <= best[:, None] + 1e-12).all()


# -- dtypes, inputs, bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_float32_is_kept(kind):
    rng = np.random.default_rng(1)
    energy = ENERGIES[kind](4)
    params = random_params(kind, rng, 2, 4, dtype=np.float32)
    samples, _ = energy.space.sample(rng, 2, 3)
    nll, grad = energy.nll(params, samples[:, 0], return_grad=True)
    outputs = [energy.value(params, samples), energy.log_partition(params), nll,
               *leaves(kind, energy.vjp(params, samples, np.ones((2, 3), dtype=np.float32))), *leaves(kind, grad)]
    assert all(out.dtype == np.float32 for out in outputs), [out.dtype for out in outputs]
    params64 = tuple(p.astype(np.float64) for p in params) if kind == "pairwise" else params.astype(np.float64)
    assert_close(nll, energy.nll(params64, samples[:, 0]), dtype=np.float32, scale=10)


@pytest.mark.parametrize("kind", KINDS)
def test_inputs_are_not_modified(kind):
    rng = np.random.default_rng(2)
    energy = ENERGIES[kind](3)
    params = random_params(kind, rng, 2, 3)
    samples, _ = energy.space.sample(rng, 2, 2)
    weights = np.ones((2, 2))
    copies = [np.copy(x) for x in (*leaves(kind, params), samples, weights)]
    energy.vjp(params, samples, weights), energy.nll(params, samples[:, 0], return_grad=True), energy.mode(params)
    for x, c in zip((*leaves(kind, params), samples, weights), copies):
        np.testing.assert_array_equal(x, c)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input(kind):
    rng = np.random.default_rng(4)
    energy = ENERGIES[kind](3)
    params = random_params(kind, rng, 2, 3)
    samples, _ = energy.space.sample(rng, 2, 2)
    name = {"unary": "u", "pairwise": "u", "permutahedron": "theta", "birkhoff": "Theta"}[kind]
    with pytest.raises(ValueError, match="samples must have a non-empty shape"):
        energy.value(params, samples[:, :, :2])
    with pytest.raises(ValueError, match="samples must have n = 2 rows"):
        energy.value(params, samples[:1])
    with pytest.raises(TypeError, match="samples must be an integer array"):
        energy.value(params, samples.astype(float))
    with pytest.raises(ValueError, match="samples must hold"):
        energy.value(params, samples + 5)
    with pytest.raises(ValueError, match="weights must have shape"):
        energy.vjp(params, samples, np.ones((2, 3)))
    with pytest.raises(ValueError, match="weights must be finite"):
        energy.vjp(params, samples, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match=r"y must have shape \(n, k\)"):
        energy.nll(params, samples)
    with pytest.raises(ValueError, match="y: .*integer|y must hold"):
        energy.nll(params, samples[:, 0] + 7)
    bad = (np.full((2, 3), np.nan), params[1]) if kind == "pairwise" else np.full_like(params, np.nan)
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        energy.log_partition(bad)
    wrong_k = random_params(kind, rng, 2, 4)
    with pytest.raises(ValueError, match=f"{name} must have shape"):
        energy.value(wrong_k, samples)


def test_bad_pairwise_parameters_and_limits():
    energy = PairwiseSetEnergy(3)
    u = np.zeros((1, 3))
    with pytest.raises(TypeError, match=r"params must be the pair \(u, U\)"):
        energy.log_partition(u)
    with pytest.raises(ValueError, match="U must be symmetric"):
        energy.log_partition((u, np.triu(np.ones((1, 3, 3)), 1)))
    with pytest.raises(ValueError, match="U must have a zero diagonal"):
        energy.log_partition((u, np.ones((1, 3, 3))))
    with pytest.raises(ValueError, match="method must be"):
        energy.mode((u, np.zeros((1, 3, 3))), method="annealing")
    big = PairwiseSetEnergy(17)
    with pytest.raises(ValueError, match="k <= 16"):
        big.log_partition((np.zeros((1, 17)), np.zeros((1, 17, 17))))
    with pytest.raises(ValueError, match="k <= 16"):
        big.mode((np.zeros((1, 17)), np.zeros((1, 17, 17))), method="exact")
    with pytest.raises(ValueError, match="k <= 24"):
        BirkhoffEnergy(25).log_partition(np.zeros((1, 25, 25)))
    with pytest.raises(ValueError, match="theta has k = 17 items; .* k <= 16"):
        PermutahedronEnergy(17).marginals(np.zeros((1, 17)))
    with pytest.raises(TypeError, match="k must be a positive integer"):
        UnarySetEnergy(2.0)
