"""Solvers hand back what they computed: ``FenchelYoungLoss.value_and_grad`` and
``GeneralizedFenchelYoungLoss.solve`` give exactly the arrays of the separate calls from one solve; the estimators'
training loop counts unconverged batches from the maximizer's report, warns once, and warm-starts from the loss's
own ŷ; inner calls validate nothing twice."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refefl
from refefl import energies, nn
from refefl.estimators import EnergyMultilabelClassifier
from refefl.estimators._energy_model import EnergyModel
from refefl.losses import GeneralizedFenchelYoungSolution
from refefl.maximizers._base import objective
from refefl.projections._root_finding import ConvergenceWarning
from refefl.regularizers import REGULARIZERS, regularizer

# every registered regularizer, with the parameters it needs
PARAMS = {"tsallis": {"alpha": 1.5}, "capped_squared": {"s": 2}, "capped_entropy": {"s": 2}}
NAMES = sorted(REGULARIZERS)


class Counting:
    """Wraps a bound method and counts its calls."""

    def __init__(self, method):
        self.method, self.calls = method, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.method(*args, **kwargs)


def count_calls(monkeypatch, obj, name: str) -> Counting:
    counter = Counting(getattr(obj, name))
    monkeypatch.setattr(obj, name, counter)
    return counter


@st.composite
def score_pairs(draw):
    """(θ, θ') of shape (n, k), n in [1, 3], k in [3, 6]; the target is ŷ(θ'), in the domain."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(3, 6)))
    floats = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
    return draw(hnp.arrays(np.float64, shape, elements=floats)), draw(hnp.arrays(np.float64, shape, elements=floats))


@pytest.mark.parametrize("name", NAMES)
@given(pair=score_pairs())
def test_fy_value_and_grad_is_value_and_grad_from_one_solve(name, pair):
    omega = regularizer(name, **PARAMS.get(name, {}))
    theta, theta_target = pair
    y = omega.predict(theta_target)
    loss = refefl.FenchelYoungLoss(omega)
    expected = loss.value(theta, y), loss.grad(theta, y)
    with pytest.MonkeyPatch.context() as patch:
        predict = count_calls(patch, omega, "_predict")
        value, grad = loss.value_and_grad(theta, y)
    assert predict.calls == 1
    assert np.array_equal(value, expected[0]) and np.array_equal(grad, expected[1])
    assert value.shape == theta.shape[:-1] and grad.shape == theta.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fy_value_and_grad_keeps_the_dtype_and_validates(dtype):
    loss = refefl.FenchelYoungLoss(regularizer("sparsemax"))
    theta = np.array([[0.3, -1.0, 2.0]], dtype=dtype)
    value, grad = loss.value_and_grad(theta, np.array([[0.0, 0.0, 1.0]], dtype=dtype))
    assert value.dtype == grad.dtype == dtype
    with pytest.raises(ValueError, match="y"):
        loss.value_and_grad(theta, np.ones((2, 3), dtype=dtype) / 3)


def _generalized_case(kind: str, rng):
    """(loss, params, y) with an iterative maximizer, n = 4 rows, k = 3 labels."""
    theta = rng.normal(size=(4, 3))
    omega = regularizer("binary_entropy")
    if kind == "quadratic":
        a = rng.normal(size=(3, 3))
        a = (a + a.T) / 2
        a = 0.9 * 2 * (a - np.diag(np.diag(a))) / np.abs(np.linalg.eigvalsh(a - np.diag(np.diag(a)))).max()
        energy, params = energies.Quadratic(), (theta, a)
    elif kind == "low_rank":
        energy, params = energies.LowRankConcave(), (theta, rng.normal(size=(3, 2)))
    else:
        energy = energies.InputConcaveEnergy(2, 3, hidden=(5, 4))
        params = (rng.normal(size=(4, 2)), energy.init(rng))
    y = (rng.random((4, 3)) < 0.5).astype(float)
    return refefl.GeneralizedFenchelYoungLoss(energy, omega), params, y


@pytest.mark.parametrize("kind", ["quadratic", "low_rank", "icnn"])
@given(seed=st.integers(0, 2**32 - 1))
def test_generalized_solve_is_value_grad_prediction_and_report(kind, seed):
    loss, params, y = _generalized_case(kind, np.random.default_rng(seed))
    with pytest.MonkeyPatch.context() as patch:
        solve = count_calls(patch, loss.maximizer, "_maximize")
        solution = loss.solve(params, y)
    assert solve.calls == 1 and isinstance(solution, GeneralizedFenchelYoungSolution)
    value, grad = loss.value_and_grad(params, y)
    assert np.array_equal(solution.value, value) and np.array_equal(solution.value, loss.value(params, y))
    for leaf, expected in zip(nn.tree_leaves(solution.grad), nn.tree_leaves(grad)):
        assert np.array_equal(leaf, expected)
    y_hat, info = loss.predict(params)
    target_wins = objective(loss.energy, loss.regularizer, params, y) >= info.objective  # the safeguard's rows
    assert np.array_equal(solution.y_hat, np.where(target_wins[:, None], y, y_hat))
    assert np.array_equal(solution.info.objective, info.objective) and solution.info.converged == info.converged


@pytest.mark.parametrize("kind", ["quadratic", "icnn"])
def test_one_validation_per_public_call(kind, monkeypatch):
    """The loss validates params once; the maximizer's loop and the gradient call only private methods."""
    loss, params, y = _generalized_case(kind, np.random.default_rng(0))
    checks = count_calls(monkeypatch, loss.energy, "_check_params")
    loss.solve(params, y, y0=loss.predict(params)[0])
    assert checks.calls == 2  # one for predict, one for solve


def test_input_concave_validation_still_rejects_bad_layouts():
    energy = energies.InputConcaveEnergy(2, 3, hidden=(5, 4))
    x, weights = np.zeros((1, 2)), energy.init(np.random.default_rng(0))
    bad = nn.tree_map(lambda w: w, weights)
    bad["layers"][1]["Wz"] = np.zeros((4, 5))
    with pytest.raises(ValueError, match="layout"):
        energy.check_params((x, bad))
    nan = nn.tree_map(lambda w: w, weights)
    nan["out"]["w"] = np.full(4, np.nan)
    with pytest.raises(ValueError, match="finite"):
        energy.check_params((x, nan))


@pytest.fixture(scope="module")
def multilabel_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 4))
    Y = (X @ rng.normal(size=(4, 3)) + rng.normal(size=(96, 3)) > 0).astype(float)
    return X, Y


@pytest.mark.parametrize("energy, max_iter", [("quadratic", 1), ("mlp", 2), ("quadratic", 200), ("unary", 1)])
def test_training_counts_unconverged_batches_from_the_report(energy, max_iter, multilabel_data, monkeypatch):
    """The history's "unconverged" is the number of training solves whose report says unconverged, epoch by
    epoch; fit warns once about them and lets no per-batch warning through."""
    X, Y = multilabel_data
    reports = []
    model_init = EnergyModel.__init__

    def init(model, *args, **kwargs):  # record the report of every inner solve of this fit
        model_init(model, *args, **kwargs)
        solve = model.loss.maximizer._maximize

        def recording(*solve_args):
            y_hat, info = solve(*solve_args)
            reports.append(info.converged)
            return y_hat, info

        monkeypatch.setattr(model.loss.maximizer, "_maximize", recording)

    monkeypatch.setattr(EnergyModel, "__init__", init)
    estimator = EnergyMultilabelClassifier(energy, "binary_entropy", max_iter=max_iter, max_epochs=3, batch_size=32,
                                           validation_fraction=0, energy_hidden=(4,), random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, Y)
    batches = 3  # 96 rows in batches of 32, no validation split: every solve is a training batch
    assert len(reports) == batches * len(estimator.history_)
    counts = [record["unconverged"] for record in estimator.history_]
    assert counts == [reports[i : i + batches].count(False) for i in range(0, len(reports), batches)]
    budget = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(budget) == (1 if sum(counts) else 0)
    assert all("minibatches" in str(w.message) for w in budget)
    if max_iter < 5 and energy != "unary":
        assert sum(counts) > 0  # the case does exercise the count


@pytest.mark.parametrize("energy", ["quadratic", "low_rank"])
def test_energy_model_hands_back_the_loss_own_prediction(energy, multilabel_data):
    """The warm start of the pairwise energies is the ŷ the loss solved for, not one rebuilt from a gradient."""
    X, Y = multilabel_data
    model = EnergyModel(4, 3, energy=energy, regularizer="binary_entropy", hidden=(), activation="relu", rank=2,
                        energy_hidden=(4,), max_iter=100, tol=1e-8)
    params = model.init(np.random.default_rng(1))
    _, _, y_hat, converged = model.value_and_grad(params, X, Y)
    theta, _ = model.net.forward(params["net"], X)
    solution = model.loss.solve(model.energy_params(params, theta), Y)
    assert converged and np.array_equal(y_hat, solution.y_hat)
