"""Baselines of the partition networks: NCE's gradient by finite differences, the MCMC chains' stationary law and
the REINFORCE min-max gradient in expectation against exact enumeration (k = 3), and every baseline trains."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import chisquare

from refefl.datasets import make_synthetic_label_ranking, make_synthetic_multilabel
from refefl.estimators import PartitionLabelRanker, PartitionMultilabelClassifier
from refefl.nn import tree_leaves, tree_map
from refefl.partition import PartitionNetworks
from refefl.partition._baselines import (PersistentChains, gibbs_sweeps, log_prob_gradient, mcmc_objective,
                                         min_max_objective, nce_objective, swap_metropolis)

ENERGIES = ["unary", "pairwise", "permutahedron", "birkhoff"]


def _problem(energy, seed, n=4, d=2, k=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if energy in ("unary", "pairwise"):
        return X, (rng.random((n, k)) < 0.5).astype(np.int8)
    return X, np.argsort(rng.random((n, k)), axis=1)


def _random_params(net, seed, scale=0.7):
    rng = np.random.default_rng(seed)
    return tree_map(lambda a: rng.normal(scale=scale, size=np.shape(a)), net.init(rng))


def _directional(grads, direction):
    return sum(float(np.sum(g * v)) for g, v in zip(tree_leaves(grads), tree_leaves(direction)))


@pytest.mark.parametrize("energy", ENERGIES)
@settings(max_examples=10)  # three objective evaluations through the networks per example
@given(st.integers(0, 2**32 - 1))
def test_nce_gradient_matches_finite_differences(energy, seed):
    net = PartitionNetworks(2, 3, energy, hidden=(4,), tau_hidden=(3,), activation="tanh")
    params, (X, Y) = _random_params(net, seed), _problem(energy, seed)
    objective = lambda p: nce_objective(net, p, X, Y, rng=np.random.default_rng(7), n_samples=4)  # noqa: E731
    loss, grads = objective(params)
    direction = tree_map(lambda a: np.random.default_rng(seed + 1).normal(size=np.shape(a)), params)
    h = 1e-6
    plus = objective(tree_map(lambda p, v: p + h * v, params, direction))[0]
    minus = objective(tree_map(lambda p, v: p - h * v, params, direction))[0]
    np.testing.assert_allclose(_directional(grads, direction), (plus - minus) / (2 * h), rtol=1e-5, atol=1e-7)
    assert loss >= 0
    assert all(np.all(g == 0) for g in tree_leaves(grads["tau"]))


def test_nce_at_zero_energy_is_log_m_plus_one():
    net = PartitionNetworks(2, 3, "unary")
    X, Y = _problem("unary", 0)
    loss, _ = nce_objective(net, net.init(np.random.default_rng(0)), X, Y, rng=np.random.default_rng(1), n_samples=9)
    assert loss == pytest.approx(np.log(10.0))


def _exact_law(energy, theta):
    """p(y) ∝ e^{g(y)} over the enumerated states, (n, N)."""
    states = energy.space.enumerate()
    n = len(theta[0]) if isinstance(theta, tuple) else len(theta)
    g = energy.value(theta, np.broadcast_to(states, (n, *states.shape)))
    return states, np.exp(g - logsumexp(g, axis=1, keepdims=True))


def _state_counts(states, samples):
    index = {tuple(s): i for i, s in enumerate(states)}
    return np.bincount([index[tuple(s)] for s in samples], minlength=len(states))


@pytest.mark.parametrize("energy", ENERGIES)
def test_chains_reach_the_model_distribution(energy):
    """k = 3, 20000 chains started at one state, 20 sweeps: the chains' states follow p ∝ e^g (seeded chi-square,
    p-value > 1e-3; every expected count > 5), and the same test rejects the uniform law (its power here)."""
    net = PartitionNetworks(2, 3, energy)
    rng = np.random.default_rng(3)
    theta, _ = net.energy_params(_random_params(net, 5, scale=0.6), rng.normal(size=(1, 2)))
    states, p = _exact_law(net.energy, theta)
    sweep = swap_metropolis if energy in ("permutahedron", "birkhoff") else gibbs_sweeps
    start = np.broadcast_to(states[0], (1, 20000, 3))
    final = sweep(net.energy, theta, start, rng, 20)[0]
    counts = _state_counts(states, final)
    assert p.min() * len(final) > 5  # every expected count large enough for the chi-square approximation
    assert chisquare(counts, p[0] * len(final)).pvalue > 1e-3
    assert chisquare(counts, np.full(len(states), len(final) / len(states))).pvalue < 1e-6


@pytest.mark.parametrize("energy", ["permutahedron", "birkhoff"])
@settings(max_examples=20)
@given(st.integers(0, 2**32 - 1), st.integers(2, 7))
def test_swap_gain_is_the_energy_difference_of_the_swapped_ranking(energy, seed, k):
    """swap-Metropolis accepts on the closed-form gain of a transposition: it equals g(σ') − g(σ) evaluated in
    full, a = b included (gain 0)."""
    net = PartitionNetworks(2, k, energy)
    rng = np.random.default_rng(seed)
    theta, _ = net.energy_params(_random_params(net, seed, scale=3.0), rng.normal(size=(3, 2)))
    sigma = np.argsort(rng.random((3, 5, k)), axis=-1)
    a, b = rng.integers(0, k, size=(2, 3, 5))
    swapped = sigma.copy()
    rows = np.arange(3)[:, None], np.arange(5)[None, :]
    swapped[rows + (a,)], swapped[rows + (b,)] = sigma[rows + (b,)], sigma[rows + (a,)]
    expected = net.energy.value(theta, swapped) - net.energy.value(theta, sigma)
    gain = net.energy._swap_gain(theta, sigma[rows + (a,)], sigma[rows + (b,)], a, b)
    np.testing.assert_allclose(gain, expected, rtol=1e-12, atol=1e-12 * np.abs(theta).max() * k)
    assert np.all(gain[a == b] == 0)


def test_swap_metropolis_leaves_its_input_states_alone():
    energy, theta = PartitionNetworks(2, 4, "permutahedron").energy, np.array([[3.0, -1.0, 0.5, 2.0]])
    start = np.tile(np.arange(4), (1, 50, 1))
    before = start.copy()
    out = swap_metropolis(energy, theta, start, np.random.default_rng(0), n_sweeps=5)
    np.testing.assert_array_equal(start, before)
    assert not np.array_equal(out, start)
    np.testing.assert_array_equal(np.sort(out, axis=-1), np.broadcast_to(np.arange(4), out.shape))


def test_nce_loss_is_exact_at_extreme_energies():
    """|g| ~ 1e300: with one noise sample the loss is softplus(g(y') − g(y)) (finite; no overflow to inf − inf)."""
    net = PartitionNetworks(1, 3, "unary")
    X, Y = np.zeros((2, 1)), np.array([[1, 1, 1], [0, 0, 0]])
    params = net.init(np.random.default_rng(0))
    params["energy"][-1]["b"] = np.array([1e300, 1e300, 1e300]) / 3
    loss, grads = nce_objective(net, params, X, Y, rng=np.random.default_rng(1), n_samples=1)
    samples, _ = net.space.sample(np.random.default_rng(1), 2, 1)  # the noise the objective drew
    u = params["energy"][-1]["b"]
    g_target, g_noise = Y @ u, samples[:, 0] @ u
    assert loss == pytest.approx(np.mean(np.logaddexp(0.0, g_noise - g_target)), rel=1e-15)
    assert all(np.isfinite(g).all() for g in tree_leaves(grads))


def test_mcmc_objective_advances_the_chains_of_its_rows_only():
    net = PartitionNetworks(2, 3, "pairwise")
    params = _random_params(net, 1, scale=2.0)
    X, Y = _problem("pairwise", 2, n=6)
    chains = PersistentChains(Y[:, None, :])
    before = chains.states.copy()
    rows = np.array([1, 4])
    loss, grads = mcmc_objective(net, params, X[rows], Y[rows], rows, rng=np.random.default_rng(0), chains=chains,
                                 n_mcmc_steps=3)
    untouched = np.setdiff1d(np.arange(6), rows)
    np.testing.assert_array_equal(chains.states[untouched], before[untouched])
    theta, _ = net.energy_params(params, X[rows])
    gap = net.energy.value(theta, chains.states[rows]).mean(axis=1) - net.energy.value(theta, Y[rows][:, None])[:, 0]
    assert loss == pytest.approx(gap.mean())
    assert list(grads) == list(params)
    with pytest.raises(ValueError, match="n_mcmc_steps"):
        mcmc_objective(net, params, X, Y, np.arange(6), rng=np.random.default_rng(0), chains=chains, n_mcmc_steps=0)
    with pytest.raises(ValueError, match="rows"):
        mcmc_objective(net, params, X, Y, rows, rng=np.random.default_rng(0), chains=chains, n_mcmc_steps=1)


@pytest.mark.parametrize("energy", ENERGIES)
def test_mcmc_gradient_is_that_of_the_energy_gap_at_the_new_states(energy):
    """The MCMC gradient is the exact gradient of the reported proxy mean g(chain) − g(y) with the chains' new
    states held fixed (finite differences)."""
    net = PartitionNetworks(2, 3, energy, hidden=(4,), activation="tanh")
    params, (X, Y) = _random_params(net, 3), _problem(energy, 4)
    chains = PersistentChains(Y[:, None, :])
    rows = np.arange(len(X))
    _, grads = mcmc_objective(net, params, X, Y, rows, rng=np.random.default_rng(0), chains=chains, n_mcmc_steps=2)

    def gap(p):
        theta, _ = net.energy_params(p, X)
        return float(np.mean(net.energy.value(theta, chains.states).mean(axis=1)
                             - net.energy.value(theta, Y[:, None])[:, 0]))

    direction = tree_map(lambda a: np.random.default_rng(5).normal(size=np.shape(a)), params)
    h = 1e-6
    fd = (gap(tree_map(lambda p, v: p + h * v, params, direction))
          - gap(tree_map(lambda p, v: p - h * v, params, direction))) / (2 * h)
    np.testing.assert_allclose(_directional(grads, direction), fd, rtol=1e-5, atol=1e-8)


def test_chains_refuse_bad_states():
    net = PartitionNetworks(2, 3, "unary")
    u = np.zeros((1, 3))
    with pytest.raises(ValueError, match="states"):
        gibbs_sweeps(net.energy, u, np.full((1, 2, 3), 2), np.random.default_rng(0), 1)
    ranker = PartitionNetworks(2, 3, "permutahedron")
    with pytest.raises(ValueError, match="states"):
        swap_metropolis(ranker.energy, u, np.zeros((1, 2, 3), dtype=int), np.random.default_rng(0), 1)
    with pytest.raises(ValueError, match="n_sweeps"):
        gibbs_sweeps(net.energy, u, np.zeros((1, 2, 3), dtype=int), np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="initial_states"):
        PersistentChains(np.zeros((2, 3)))
    states = np.zeros((1, 2, 3), dtype=np.int8)
    gibbs_sweeps(net.energy, u, states, np.random.default_rng(0), 2)
    assert not states.any()  # inputs are not modified


@pytest.mark.parametrize("energy", ["unary", "permutahedron"])
def test_log_prob_gradient_matches_finite_differences(energy):
    net = PartitionNetworks(2, 4, energy)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4)) * 2
    samples, _ = net.space.sample(rng, 3, 5, logits)
    grad = log_prob_gradient(net.space, logits, samples)
    h = 1e-6
    for i in range(4):
        step = np.zeros_like(logits)
        step[:, i] = h
        fd = (net.space.log_prob(samples, logits + step) - net.space.log_prob(samples, logits - step)) / (2 * h)
        np.testing.assert_allclose(grad[..., i], fd, rtol=1e-6, atol=1e-8)


def _exact_min_max(net, params, X, Y):
    """J = mean_i Σ_y r(y|x_i) (g + log q − log r) − g(y_i), by enumeration."""
    logits, _ = net.sampler_net.forward(params["sampler"], X)
    states = net.space.enumerate()
    every = np.broadcast_to(states, (len(X), *states.shape))
    theta, _ = net.energy_params(params, X)
    log_r = net.space.log_prob(every, logits)
    h = net.energy.value(theta, every) + net.space.log_uniform - log_r
    return float(np.mean(np.sum(np.exp(log_r) * h, axis=1) - net.energy.value(theta, Y[:, None])[:, 0]))


@pytest.mark.parametrize("energy", ["unary", "permutahedron"])
def test_min_max_gradient_is_unbiased(energy):
    """k = 3: the mean over 3000 seeds of the sampled gradients (energy and sampler, along a random direction)
    equals the exact gradient of the enumerated objective J (finite differences) within 4 standard errors; the
    sampler's gradient is that of -J (it ascends)."""
    net = PartitionNetworks(2, 3, energy, hidden=(3,), sampler_hidden=(3,), activation="tanh")
    params, (X, Y) = _random_params(net, 11), _problem(energy, 12, n=3)
    rng = np.random.default_rng(0)
    for part, sign in (("energy", 1.0), ("sampler", -1.0)):
        direction = {key: tree_map(lambda a: rng.normal(size=np.shape(a)) if key == part else np.zeros_like(a), value)
                     for key, value in params.items()}
        h = 1e-6
        exact = (_exact_min_max(net, tree_map(lambda p, v: p + h * v, params, direction), X, Y)
                 - _exact_min_max(net, tree_map(lambda p, v: p - h * v, params, direction), X, Y)) / (2 * h)
        estimates = np.array([_directional(min_max_objective(net, params, X, Y, rng=np.random.default_rng(s),
                                                             n_samples=3)[1], direction) for s in range(3000)])
        error = estimates.std(ddof=1) / np.sqrt(len(estimates))
        assert abs(estimates.mean() - sign * exact) < 4 * error, (part, estimates.mean(), sign * exact, error)
        assert abs(exact) > 4 * error  # the test has power: a zero gradient would fail it


def test_min_max_needs_a_sampler_and_two_samples():
    X, Y = _problem("unary", 0)
    plain = PartitionNetworks(2, 3, "unary")
    with pytest.raises(ValueError, match="sampler network"):
        min_max_objective(plain, plain.init(np.random.default_rng(0)), X, Y, rng=np.random.default_rng(0),
                          n_samples=4)
    net = PartitionNetworks(2, 3, "unary", sampler_hidden=())
    with pytest.raises(ValueError, match="at least 2"):
        min_max_objective(net, net.init(np.random.default_rng(0)), X, Y, rng=np.random.default_rng(0), n_samples=1)


# -- training ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_sets():
    return make_synthetic_multilabel(600, 5, 4, rng=np.random.default_rng(0))


@pytest.mark.parametrize("objective", ["mcmc", "min_max", "nce"])
@pytest.mark.parametrize("energy", ["unary", "pairwise"])
def test_each_baseline_trains_a_multilabel_model(tiny_sets, energy, objective):
    """Beats the empty prediction's example-F1 on unseen data by 0.2; NCE's and min-max's losses go down."""
    d = tiny_sets
    model = PartitionMultilabelClassifier(energy, objective=objective, n_samples=20, random_state=0,
                                          max_epochs=30).fit(d.X_train, d.Y_train)
    losses = [record["train_loss"] for record in model.history_]
    if objective != "mcmc":  # the chains start at the targets: the MCMC proxy starts at 0 and is not descended
        assert losses[-1] < losses[0]
    empty = PartitionMultilabelClassifier._metric(None, d.Y_test.astype(np.int8), np.zeros_like(d.Y_test, np.int8))
    assert model.score(d.X_test, d.Y_test) > empty + 0.2


@pytest.mark.parametrize("objective", ["mcmc", "min_max", "nce"])
@pytest.mark.parametrize("energy", ["permutahedron", "birkhoff"])
def test_each_baseline_trains_a_label_ranker(energy, objective):
    data = make_synthetic_label_ranking(400, 6, 4, rng=np.random.default_rng(0))
    model = PartitionLabelRanker(energy, objective=objective, n_samples=20, random_state=0,
                                 max_epochs=30).fit(data.X[:300], data.Y[:300])
    assert model.score(data.X[300:], data.Y[300:]) > 0.3  # chance is 0


def test_baselines_without_tau_refuse_predict_log_partition(tiny_sets):
    d = tiny_sets
    for objective in ("mcmc", "nce"):
        model = PartitionMultilabelClassifier(objective=objective, n_samples=5, max_epochs=1).fit(d.X_train,
                                                                                                  d.Y_train)
        with pytest.raises(ValueError, match="trains no partition network"):
            model.predict_log_partition(d.X_test)
    with pytest.raises(ValueError, match="n_mcmc_steps"):
        PartitionMultilabelClassifier(objective="mcmc", n_mcmc_steps=0, max_epochs=1).fit(d.X_train, d.Y_train)
    with pytest.raises(ValueError, match="at least 2"):
        PartitionMultilabelClassifier(objective="min_max", n_samples=1, max_epochs=1).fit(d.X_train, d.Y_train)
