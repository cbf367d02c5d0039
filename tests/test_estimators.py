"""refefl.estimators: the multilabel metrics against hand-computed values (and scikit-learn when installed); the
scikit-learn estimator protocol (params, clone, fit returns self, shapes, seeded reproducibility, validation);
Danskin's gradient through the network against central differences for every energy × regularizer; the
projection of the pairwise matrix; exact decoding; the pairwise model beating the unary one on data with planted
label interactions; binary relevance reaching scikit-learn's logistic-regression objective."""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from refefl import nn
from refefl.datasets import make_synthetic_multilabel
from refefl.estimators import (BinaryRelevanceLogisticRegression, EnergyMultilabelClassifier, clone, example_f1,
                               hamming_accuracy, macro_f1, micro_f1)
from refefl.estimators._energy_model import REGULARIZERS, EnergyModel
from refefl.projections._root_finding import ConvergenceWarning
from refefl.testing import assert_close, directional_derivative

SEEDS = st.integers(0, 2**32 - 1)
FD_SCALE = 1e4  # central differences agree with exact derivatives to ~1e-8 relative (refefl.testing)
CASES = [(energy, omega) for energy in ("unary", "quadratic", "low_rank", "mlp")
         for omega in ("binary_entropy", "box_squared")]
# each example runs iterative inner solvers to 1e-13 a dozen times: 50 examples keep a case under a second (ci)
SOLVER_HEAVY = settings(max_examples=50)
FAST = {"max_epochs": 3, "batch_size": 32, "learning_rate": 1e-2}

# hand-computed: rows (TP, FP, FN) = (1, 0, 1), (0, 1, 0), (0, 0, 0); columns (1, 0, 0), (0, 0, 1), (0, 1, 0)
Y_TRUE = np.array([[1, 1, 0], [0, 0, 0], [0, 0, 0]])
Y_PRED = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]])


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_multilabel(n_samples=240, n_features=5, n_labels=4, rng=np.random.default_rng(3))


# -- metrics -------------------------------------------------------------------------------------------------------
def test_metrics_hand_computed():
    assert hamming_accuracy(Y_TRUE, Y_PRED) == pytest.approx(7 / 9)
    assert example_f1(Y_TRUE, Y_PRED) == pytest.approx((2 / 3 + 0 + 1) / 3)  # the empty/empty row scores 1
    assert micro_f1(Y_TRUE, Y_PRED) == pytest.approx(2 / (2 + 1 + 1))
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx((1 + 0 + 1) / 3)  # label 3: never true, never predicted
    for metric in (hamming_accuracy, example_f1, micro_f1, macro_f1):
        assert metric(Y_TRUE, Y_TRUE) == 1.0
        assert metric(Y_TRUE, 1 - Y_TRUE) == 0.0


@given(seed=SEEDS)
def test_metrics_match_scikit_learn(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    y_true, y_pred = (rng.random((2, 7, 4)) < rng.uniform(0.05, 0.6)).astype(int)
    assert hamming_accuracy(y_true, y_pred) == pytest.approx(1 - metrics.hamming_loss(y_true, y_pred))
    for ours, average in ((example_f1, "samples"), (micro_f1, "micro"), (macro_f1, "macro")):
        expected = metrics.f1_score(y_true, y_pred, average=average, zero_division=1.0)
        assert ours(y_true, y_pred) == pytest.approx(expected)


@pytest.mark.parametrize("bad", [np.array([[0, 2]]), np.array([0, 1]), np.zeros((0, 2)), np.array([[0.5, 1]])])
def test_metrics_reject_non_indicator_input(bad):
    with pytest.raises(ValueError, match="Y_true"):
        hamming_accuracy(bad, bad)


# -- the estimator protocol ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [EnergyMultilabelClassifier, BinaryRelevanceLogisticRegression])
def test_params_round_trip_and_clone(cls):
    estimator = cls(random_state=3, max_epochs=7)
    params = estimator.get_params()
    assert params["random_state"] == 3 and params["max_epochs"] == 7
    copy = clone(estimator)
    assert copy is not estimator and copy.get_params() == params
    assert estimator.set_params(max_epochs=9) is estimator and estimator.max_epochs == 9
    with pytest.raises(ValueError, match="invalid parameter"):
        estimator.set_params(not_a_parameter=1)
    base = pytest.importorskip("sklearn.base")
    assert base.clone(estimator).get_params() == estimator.get_params()


@pytest.mark.parametrize("energy, omega", CASES)
def test_fit_predict_shapes_and_reproducibility(energy, omega, synthetic):
    X, Y = synthetic.X_train, synthetic.Y_train
    make = lambda seed: EnergyMultilabelClassifier(energy, omega, random_state=seed, max_iter=200, **FAST)  # noqa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = make(0)
        assert first.fit(X, Y) is first
        again, other = make(0).fit(X, Y), make(1).fit(X, Y)
        scores, labels = first.decision_function(synthetic.X_test), first.predict(synthetic.X_test)
        assert np.array_equal(labels, again.predict(synthetic.X_test))
        assert not np.array_equal(scores, other.decision_function(synthetic.X_test))
    assert scores.shape == labels.shape == synthetic.Y_test.shape
    assert labels.dtype == np.int64 and set(np.unique(labels)) <= {0, 1}
    assert ((scores >= 0) & (scores <= 1)).all()
    assert np.array_equal(labels, (scores > 0.5).astype(int))
    assert first.score(synthetic.X_test, synthetic.Y_test) == hamming_accuracy(synthetic.Y_test, labels)
    assert len(first.history_) <= FAST["max_epochs"] and 0 <= first.best_epoch_ <= len(first.history_)


def test_inputs_are_not_modified_and_any_layout_works(synthetic):
    X = np.asfortranarray(synthetic.X_train)
    Y = synthetic.Y_train.astype(bool)
    X.flags.writeable = False
    before = X.copy()
    estimator = EnergyMultilabelClassifier(random_state=0, **FAST).fit(X, Y)
    assert np.array_equal(X, before)
    reference = EnergyMultilabelClassifier(random_state=0, **FAST).fit(synthetic.X_train, synthetic.Y_train)
    assert_close(estimator.decision_function(X), reference.decision_function(synthetic.X_train))


@pytest.mark.parametrize("params, match", [
    ({"energy": "cubic"}, "energy"), ({"regularizer": "shannon"}, "regularizer"), ({"validation_fraction": 1.0},
     "validation_fraction"), ({"threshold": 1.5}, "threshold"), ({"decode": "greedy"}, "decode"),
    ({"monitor": "f1"}, "monitor"), ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": 256}, "hidden_layer_sizes"), ({"energy_hidden": None}, "energy_hidden"),
    ({"learning_rate": -1.0}, "learning_rate"), ({"weight_decay": np.nan}, "weight_decay"),
])
def test_bad_hyperparameters_raise_at_fit(params, match, synthetic):
    estimator = EnergyMultilabelClassifier(**params)  # scikit-learn convention: __init__ stores, fit validates
    with pytest.raises(ValueError, match=match):
        estimator.fit(synthetic.X_train, synthetic.Y_train)


def test_a_diverging_training_says_so():
    """Adam steps of 1e300 make the network's scores overflow: a FloatingPointError that says the training
    diverged, not an error about an input the user never passed."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 3)), (rng.random((40, 4)) < 0.5).astype(int)
    estimator = EnergyMultilabelClassifier(learning_rate=1e300, hidden_layer_sizes=(8,), max_epochs=5,
                                           random_state=0)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError, match="diverged"):
        estimator.fit(X, Y)


def test_bad_data_raise(synthetic):
    X, Y = synthetic.X_train, synthetic.Y_train
    estimator = EnergyMultilabelClassifier(**FAST)
    with pytest.raises(ValueError, match="not fitted"):
        estimator.predict(X)
    with pytest.raises(ValueError, match="same number of rows"):
        estimator.fit(X, Y[:-1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        estimator.fit(X, 2 * Y)
    with pytest.raises(ValueError, match="finite"):
        estimator.fit(np.where(X > 2, np.nan, X), Y)
    with pytest.raises(TypeError, match="random_state"):
        EnergyMultilabelClassifier(random_state="seed", **FAST).fit(X, Y)
    estimator.fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        estimator.predict(X[:, :-1])
    with pytest.raises(ValueError, match="exact"):
        EnergyMultilabelClassifier(decode="exact", **FAST).fit(np.ones((20, 2)), np.ones((20, 17)))


# -- the model: gradients, projection, decoding -------------------------------------------------------------------
def _tiny_model(energy, omega, rng):
    """A 2-3-3 network feeding ``energy``, with exact inner solves and non-trivial energy parameters."""
    model = EnergyModel(2, 3, energy=energy, regularizer=omega, hidden=(3,), activation="tanh", rank=2,
                        energy_hidden=(4,), max_iter=20000, tol=1e-13)
    params = model.init(rng)
    params["net"] = nn.tree_map(lambda w: w + 0.3 * rng.normal(size=w.shape), params["net"])
    if energy == "quadratic":
        a = rng.normal(size=(3, 3))
        params["energy"] = model.project({"energy": a + a.T})["energy"]
    elif energy == "mlp":  # small weights: Φ − Ω stays concave, so the maximizer is unique and Danskin applies
        params["energy"] = nn.tree_map(lambda w: 0.3 * w, params["energy"])
    return model, params


@pytest.mark.parametrize("energy, omega", CASES)
@SOLVER_HEAVY
@given(seed=SEEDS)
def test_gradient_through_the_network_matches_finite_differences(energy, omega, seed):
    rng = np.random.default_rng(seed)
    model, params = _tiny_model(energy, omega, rng)
    X, Y = rng.normal(size=(4, 2)), (rng.random((4, 3)) < 0.5).astype(float)
    _, grads, y_hat, converged = model.value_and_grad(params, X, Y)
    assert converged
    if omega == "box_squared":  # the loss has a kink where a coordinate of ŷ reaches a face of [0, 1]^k: the
        # central difference (step 1e-5) is only valid when every free coordinate is clear of the faces
        p = model.predict_proba(params, X)
        assume(np.all((p == 0) | (p == 1) | ((p > 1e-3) & (p < 1 - 1e-3))))
    if energy in ("quadratic", "low_rank"):  # the loss's own ŷ, and a warm start from it changes nothing
        assert_close(y_hat, model.predict_proba(params, X), scale=1e3)
        assert_close(model.value_and_grad(params, X, Y, y_hat)[1]["energy"], grads["energy"], scale=1e3)
    direction = nn.tree_map(lambda w: rng.normal(size=np.shape(w)), params)
    if energy == "quadratic":  # tangent to the constraint set's affine part: symmetric, zero diagonal
        d = direction["energy"]
        direction["energy"] = (d + d.T) / 2 - np.diag(np.diag(d))
    along = lambda t: model.value_and_grad(nn.tree_map(lambda w, v: w + t * v, params, direction), X, Y)[0]  # noqa
    fd = directional_derivative(lambda t: along(float(t)), np.array(0.0), np.array(1.0), eps=1e-5)
    assert_close(nn.tree_vdot(grads, direction), fd, scale=FD_SCALE * (1 + abs(fd)))


def test_pairwise_gradient_is_danskins_formula():
    rng = np.random.default_rng(0)
    model, params = _tiny_model("quadratic", "binary_entropy", rng)
    X, Y = rng.normal(size=(5, 2)), (rng.random((5, 3)) < 0.5).astype(float)
    y_hat = model.predict_proba(params, X)
    expected = (y_hat.T @ y_hat - Y.T @ Y) / (2 * len(X))
    assert_close(model.value_and_grad(params, X, Y)[1]["energy"], expected - np.diag(np.diag(expected)), scale=1e3)


@pytest.mark.parametrize("omega", REGULARIZERS)
@given(seed=SEEDS, scale=st.sampled_from([0.1, 3.0, 30.0]))
def test_projection_is_feasible_and_optimal(omega, seed, scale):
    """P(A) is symmetric, zero on the diagonal, λ_max ≤ μ/2, and ⟨A − P(A), B − P(A)⟩ ≤ 0 for feasible B."""
    rng = np.random.default_rng(seed)
    model = EnergyModel(1, 4, energy="quadratic", regularizer=omega, hidden=(), activation="relu", rank=1,
                        energy_hidden=(1,), max_iter=1, tol=1.0)
    a = scale * rng.normal(size=(4, 4))
    a = a + a.T
    p = model.project({"energy": a})["energy"]
    bound = model.omega.strong_convexity / 2  # λ_max(A) ≤ μ/2, μ the strong convexity of Ω on the box
    assert np.array_equal(p, p.T) and not np.diag(p).any()
    assert np.linalg.eigvalsh(p)[-1] <= bound * (1 + 1e-8)
    for _ in range(3):
        b = scale * rng.normal(size=(4, 4))
        b = model.project({"energy": b + b.T})["energy"]  # a feasible point
        assert np.vdot(a - p, b - p) <= 1e-6 * scale**2 * (1 + np.abs(a).max())


@pytest.mark.parametrize("omega", REGULARIZERS)
def test_exact_decoding_equals_thresholding_for_unary_energies(omega):
    rng = np.random.default_rng(1)
    model, params = _tiny_model("unary", omega, rng)
    params["net"] = nn.tree_map(lambda w: 3 * w, params["net"])
    X = rng.normal(size=(50, 2))
    assert np.array_equal(model.exact_decode(params, X), (model.predict_proba(params, X) > 0.5).astype(float))


def test_exact_decoding_is_the_best_label_set():
    rng = np.random.default_rng(2)
    model, params = _tiny_model("quadratic", "box_squared", rng)
    X = rng.normal(size=(6, 2))
    decoded = model.exact_decode(params, X)
    theta, _ = model.net.forward(params["net"], X)
    energy = model.energy.value((theta, params["energy"]), decoded) - model.omega.value(decoded)
    for y in np.array(np.meshgrid(*[[0.0, 1.0]] * 3)).reshape(3, -1).T:
        tiled = np.tile(y, (6, 1))
        assert (energy >= model.energy.value((theta, params["energy"]), tiled) - model.omega.value(tiled) - 1e-12).all()


# -- learning ------------------------------------------------------------------------------------------------------
def test_pairwise_model_beats_unary_on_planted_interactions():
    """Exact-match accuracy (the whole label set right), where label interactions matter, over three data sets."""
    gains = []
    for seed in range(3):
        data = make_synthetic_multilabel(n_samples=1200, rng=np.random.default_rng(seed))
        common = dict(learning_rate=3e-2, weight_decay=1e-3, max_epochs=30, patience=30, batch_size=128,
                      random_state=0)
        exact = []
        for energy, decode in (("unary", "threshold"), ("quadratic", "exact")):
            model = EnergyMultilabelClassifier(energy, decode=decode, **common).fit(data.X_train, data.Y_train)
            exact.append(np.mean((model.predict(data.X_test) == data.Y_test).all(axis=1)))
        gains.append(exact[1] - exact[0])
    assert min(gains) > 0 and np.mean(gains) > 0.02


def test_binary_relevance_reaches_the_logistic_regression_optimum():
    """Full-batch training with C = 1 gets within 1e-3 of scikit-learn's objective on each label."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    Y = (X @ rng.normal(size=(4, 3)) + rng.normal(size=(150, 3)) > 0).astype(float)
    ours = BinaryRelevanceLogisticRegression(C=1.0, validation_fraction=0.0, batch_size=150, max_epochs=1500,
                                             learning_rate=3e-2, random_state=0).fit(X, Y)
    Z = (X - ours.mean_) / ours.scale_

    def objective(w, b, y):  # scikit-learn's: C Σ log-loss + ½‖w‖²
        margin = (2 * y - 1) * (Z @ w + b)
        return np.logaddexp(0, -margin).sum() + 0.5 * w @ w

    layer = ours.params_["net"][0]
    for j in range(3):
        reference = linear_model.LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(Z, Y[:, j])
        best = objective(reference.coef_[0], reference.intercept_[0], Y[:, j])
        assert objective(layer["W"][:, j], layer["b"][j], Y[:, j]) <= best * (1 + 1e-3)
