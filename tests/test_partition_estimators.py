"""Partition networks and their estimators: gradients through both networks, each objective descends, min-min
with many samples reaches exact MLE and τ(x) the exact log-partition, scikit-learn conventions, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refefl.datasets import make_synthetic_label_ranking, make_synthetic_multilabel
from refefl.estimators import NotFittedError, PartitionLabelRanker, PartitionMultilabelClassifier, clone
from refefl.nn import tree_leaves, tree_map
from refefl.partition import PartitionNetworks

SET_ENERGIES = ["unary", "pairwise"]
RANKING_ENERGIES = ["permutahedron", "birkhoff"]
OBJECTIVES = ["min_min_kl", "min_min_tsallis", "min_min_sparsemax", "log_mean_exp", "exact_nll", "tau_regression"]
seeds = st.integers(0, 2**32 - 1)


def _problem(energy, seed, n=6, d=3, k=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if energy in SET_ENERGIES:
        return X, (rng.random((n, k)) < 0.5).astype(np.int8)
    return X, np.argsort(rng.random((n, k)), axis=1)


def _objective(net, name, params, X, Y, seed=7):
    rng = np.random.default_rng(seed)  # the same samples at every evaluation
    if name.startswith("min_min"):
        divergence = name.removeprefix("min_min_")
        return net.min_min(params, X, Y, rng=rng, n_samples=3, divergence=divergence,
                           alpha=1.5 if divergence == "tsallis" else None)
    if name == "log_mean_exp":
        return net.log_mean_exp(params, X, Y, rng=rng, n_samples=3)
    if name == "exact_nll":
        return net.exact_nll(params, X, Y)
    return net.log_partition_regression(params, X)


def _random_params(net, seed):
    """Parameters away from the zero output layers of init (so every path carries gradient)."""
    rng = np.random.default_rng(seed)
    return tree_map(lambda a: rng.normal(scale=0.7, size=np.shape(a)), net.init(rng))


@pytest.mark.parametrize("energy", SET_ENERGIES + RANKING_ENERGIES)
@pytest.mark.parametrize("objective", OBJECTIVES)
@settings(max_examples=10)  # each example runs 3 objective evaluations through both networks
@given(seeds)
def test_gradients_match_finite_differences(energy, objective, seed):
    net = PartitionNetworks(3, 4, energy, hidden=(5,), tau_hidden=(4,), activation="tanh")
    params, (X, Y) = _random_params(net, seed), _problem(energy, seed)
    _, grads = _objective(net, objective, params, X, Y)
    direction = tree_map(lambda a: np.random.default_rng(seed + 1).normal(size=np.shape(a)), params)
    if objective == "tau_regression":  # W is held fixed: only V moves
        direction = {key: value if key == "tau" else tree_map(np.zeros_like, value) for key, value in direction.items()}
    h = 1e-6
    plus = _objective(net, objective, tree_map(lambda p, v: p + h * v, params, direction), X, Y)[0]
    minus = _objective(net, objective, tree_map(lambda p, v: p - h * v, params, direction), X, Y)[0]
    analytic = sum(float(np.sum(g * v)) for g, v in zip(tree_leaves(grads), tree_leaves(direction)))
    np.testing.assert_allclose(analytic, (plus - minus) / (2 * h), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("energy", SET_ENERGIES + RANKING_ENERGIES)
@settings(max_examples=10)
@given(seeds)
def test_exact_step_with_tau_is_the_nll_and_the_tau_regression_in_one_pass(energy, seed):
    # fit_tau=True: W's gradient of the NLL, V's gradient of ½(τ − log Z)² with log Z = NLL + g(y) (same oracle call)
    net = PartitionNetworks(3, 4, energy, hidden=(5,), tau_hidden=(4,), activation="tanh")
    params, (X, Y) = _random_params(net, seed), _problem(energy, seed)
    loss, grads = net.exact_nll(params, X, Y, fit_tau=True)
    nll, nll_grads = net.exact_nll(params, X, Y)
    _, tau_grads = net.log_partition_regression(params, X)
    assert loss == nll
    for got, want in zip(tree_leaves(grads["energy"]), tree_leaves(nll_grads["energy"])):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(tree_leaves(grads["tau"]), tree_leaves(tau_grads["tau"])):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert list(grads) == list(params)


@pytest.mark.parametrize("energy", SET_ENERGIES + RANKING_ENERGIES)
def test_gradients_keep_the_parameter_structure(energy):
    net = PartitionNetworks(3, 4, energy)
    params = net.init(np.random.default_rng(0))
    X, Y = _problem(energy, 0)
    for name in OBJECTIVES:
        grads = _objective(net, name, params, X, Y)[1]
        assert list(grads) == list(params)
        for g, p in zip(tree_leaves(grads), tree_leaves(params)):
            assert g.shape == p.shape


def test_init_starts_at_the_base_measure():
    """Zero output layers: g = 0 for every output, and τ = 0 is its exact log-partition."""
    net = PartitionNetworks(3, 4, "birkhoff", hidden=(8,))
    params = net.init(np.random.default_rng(0))
    X = np.random.default_rng(1).normal(size=(5, 3))
    theta, _ = net.energy_params(params, X)
    np.testing.assert_array_equal(theta, 0)
    np.testing.assert_array_equal(net.log_partition_estimate(params, X)[0], 0)
    np.testing.assert_allclose(net.energy.log_partition(theta), 0, atol=1e-12)


# -- training ------------------------------------------------------------------------------------------------
def _nll(model, X, Y):
    """Exact mean NLL of a fitted estimator's energy on (X, Y) (its oracle)."""
    Z = (X - model.mean_) / model.scale_
    return float(model._net.energy.nll(model._net.energy_params(model.params_, Z)[0], model._check_y(Y)).mean())


@pytest.fixture(scope="module")
def tiny_sets():
    return make_synthetic_multilabel(600, 5, 4, rng=np.random.default_rng(0))


def test_min_min_with_many_samples_reaches_exact_mle(tiny_sets):
    """k = 4 (16 states): with m = 1000 samples per example the min-min model's exact NLL is within 1e-3 nats of
    exact MLE's on the same data, budget and seed, and τ(x) is within 0.1 nats of the exact log-partition on
    unseen x (median)."""
    d = tiny_sets
    options = dict(random_state=0, max_epochs=100, validation_fraction=0.0, tau_hidden_layer_sizes=(16,),
                   weight_decay=0.0)
    exact = PartitionMultilabelClassifier("unary", objective="exact_mle", **options).fit(d.X_train, d.Y_train)
    joint = PartitionMultilabelClassifier("unary", n_samples=1000, **options).fit(d.X_train, d.Y_train)
    assert abs(_nll(joint, d.X_train, d.Y_train) - _nll(exact, d.X_train, d.Y_train)) < 1e-3
    gap = np.abs(joint.predict_log_partition(d.X_test) - joint.exact_log_partition(d.X_test))
    assert np.median(gap) < 0.1


@pytest.mark.parametrize("objective, divergence", [("min_min", "kl"), ("min_min", "sparsemax"),
                                                   ("min_min", "tsallis"), ("exact_mle", "kl"),
                                                   ("log_mean_exp", "kl")])
@pytest.mark.parametrize("energy", SET_ENERGIES)
def test_each_objective_trains_a_multilabel_model(tiny_sets, energy, objective, divergence):
    """Every objective lowers its training loss and beats the empty prediction's example-F1 on unseen data."""
    d = tiny_sets
    model = PartitionMultilabelClassifier(energy, objective=objective, divergence=divergence,
                                          alpha=1.5 if divergence == "tsallis" else None, n_samples=20,
                                          random_state=0, max_epochs=30).fit(d.X_train, d.Y_train)
    losses = [record["train_loss"] for record in model.history_]
    assert losses[-1] < losses[0]
    assert model.score(d.X_test, d.Y_test) > PartitionMultilabelClassifier._metric(
        None, d.Y_test.astype(np.int8), np.zeros_like(d.Y_test, dtype=np.int8)) + 0.2


@pytest.mark.parametrize("objective", ["min_min", "exact_mle"])
@pytest.mark.parametrize("energy", RANKING_ENERGIES)
def test_each_objective_trains_a_label_ranker(energy, objective):
    data = make_synthetic_label_ranking(400, 6, 4, rng=np.random.default_rng(0))
    model = PartitionLabelRanker(energy, objective=objective, n_samples=20, random_state=0,
                                 max_epochs=30).fit(data.X[:300], data.Y[:300])
    losses = [record["train_loss"] for record in model.history_]
    assert losses[-1] < losses[0]
    assert model.score(data.X[300:], data.Y[300:]) > 0.3  # chance is 0


# -- scikit-learn conventions ----------------------------------------------------------------------------------
def test_fit_predict_shapes_and_determinism(tiny_sets):
    d = tiny_sets
    model = PartitionMultilabelClassifier("pairwise", n_samples=10, max_epochs=3, random_state=4)
    predicted = model.fit(d.X_train, d.Y_train).predict(d.X_test)
    assert predicted.shape == d.Y_test.shape and predicted.dtype == np.int64
    assert set(np.unique(predicted)) <= {0, 1}
    assert model.predict_log_partition(d.X_test).shape == (len(d.X_test),)
    again = clone(model).fit(d.X_train, d.Y_train)
    np.testing.assert_array_equal(again.predict(d.X_test), predicted)
    for a, b in zip(tree_leaves(again.params_), tree_leaves(model.params_)):
        np.testing.assert_array_equal(a, b)
    assert [set(record) for record in model.history_][0] >= {"epoch", "train_loss", "val_example_f1", "seconds"}


def test_ranker_returns_rank_form():
    data = make_synthetic_label_ranking(100, 3, 5)
    model = PartitionLabelRanker("birkhoff", n_samples=5, max_epochs=2, random_state=0).fit(data.X, data.Y)
    ranks = model.predict(data.X)
    assert ranks.dtype == np.int64 and (np.sort(ranks, axis=1) == np.arange(1, 6)).all()
    assert -1 <= model.score(data.X, data.Y) <= 1


def test_params_protocol():
    model = PartitionLabelRanker("birkhoff", n_samples=7)
    assert model.get_params()["n_samples"] == 7 and model.get_params()["energy"] == "birkhoff"
    assert model.set_params(divergence="sparsemax").divergence == "sparsemax"
    with pytest.raises(ValueError, match="invalid parameter"):
        model.set_params(temperature=1.0)
    with pytest.raises(NotFittedError):
        model.predict(np.zeros((2, 3)))


@pytest.mark.parametrize("options, message", [
    (dict(energy="birkhoff"), "energy must be one of"),
    (dict(objective="contrastive_divergence"), "objective must be one of"),
    (dict(divergence="hellinger"), "divergence must be one of"),
    (dict(divergence="tsallis"), "alpha"),
    (dict(n_samples=0), "n_samples"),
    (dict(validation_fraction=1.0), "validation_fraction"),
])
def test_bad_settings_are_refused(tiny_sets, options, message):
    with pytest.raises(ValueError, match=message):
        PartitionMultilabelClassifier(**options, max_epochs=1).fit(tiny_sets.X_train, tiny_sets.Y_train)


def test_bad_targets_are_refused():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="permutation of 1..3"):
        PartitionLabelRanker(max_epochs=1).fit(X, [[1, 2, 3], [1, 2, 4], [3, 2, 1]])
    with pytest.raises(ValueError, match="ties"):
        PartitionLabelRanker(max_epochs=1).fit(X, [[1, 2, 3], [1, 1, 3], [3, 2, 1]])
    with pytest.raises(ValueError, match="same number of rows"):
        PartitionMultilabelClassifier(max_epochs=1).fit(X, np.zeros((2, 3)))


def test_log_mean_exp_has_no_partition_network(tiny_sets):
    d = tiny_sets
    model = PartitionMultilabelClassifier(objective="log_mean_exp", n_samples=5, max_epochs=1).fit(d.X_train,
                                                                                                   d.Y_train)
    with pytest.raises(ValueError, match="trains no partition network"):
        model.predict_log_partition(d.X_test)


def test_a_diverging_training_says_so():
    """Adam steps of 10 blow the Birkhoff energy up past e^709 at a sample: a clear FloatingPointError, not a
    NaN model or an error about the inner vjp's weights."""
    data = make_synthetic_label_ranking(200, 4, 5)
    model = PartitionLabelRanker("birkhoff", learning_rate=10.0, hidden_layer_sizes=(32,), max_epochs=50,
                                 n_samples=5, random_state=0)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError, match="diverged"):
        model.fit(data.X, data.Y)


def test_a_diverging_baseline_says_so():
    """min-max's importance-weighted τ gradient overflows at Adam steps of 10: a FloatingPointError naming the
    objective, raised before a NaN reaches the parameters (it was a ValueError about τ at the next step)."""
    data = make_synthetic_label_ranking(200, 4, 5)
    model = PartitionLabelRanker("birkhoff", objective="min_max", learning_rate=10.0, hidden_layer_sizes=(32,),
                                 max_epochs=50, n_samples=5, random_state=0)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError,
                                                                     match="objective='min_max'.*diverged"):
        model.fit(data.X, data.Y)
