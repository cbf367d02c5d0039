"""scikit-learn conformance of the estimators (scikit-learn is a test extra; refefl never imports it): its common
checks, the meta-estimators users put them in, cloning, and the errors its users expect."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.8")  # expected_failed_checks, xfail_strict, __sklearn_tags__

import scipy.sparse  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from refefl.datasets import make_synthetic_multilabel  # noqa: E402
from refefl.estimators import (  # noqa: E402
    BinaryRelevanceLogisticRegression,
    EnergyMultilabelClassifier,
    NotFittedError,
)
from refefl.estimators import clone as refefl_clone  # noqa: E402

# a few epochs: the checks test the API (shapes, errors, cloning, invariances), not accuracy, and there are ~40
# of them per estimator; small minibatches so that even the checks' 10-row data take several steps per epoch
FAST = {"max_epochs": 3, "batch_size": 16}
ESTIMATORS = [EnergyMultilabelClassifier(**FAST), EnergyMultilabelClassifier("quadratic", "box_squared", **FAST),
              BinaryRelevanceLogisticRegression(**FAST)]
# checks that do not apply (they would only skip): refefl computes with NumPy alone (no array API namespaces),
# and the estimators have no predict_proba (decision_function returns ŷ, not always a probability)
NOT_APPLICABLE = {"check_array_api_input", "check_classifiers_multilabel_output_format_predict_proba"}


def _check_name(param) -> str:
    check = (param.values if hasattr(param, "values") else param)[1]
    return getattr(check, "func", check).__name__


def _applicable_checks():
    with warnings.catch_warnings():
        # scikit-learn warns that the estimators do not inherit from its BaseEstimator: by design (refefl does
        # not import scikit-learn), they implement its protocol instead (get_params/set_params,
        # __sklearn_tags__, __sklearn_is_fitted__), which is what these checks verify
        warnings.filterwarnings("ignore", message="Estimator .* does not inherit from `sklearn.base.BaseEstimator`",
                                category=UserWarning)
        mark = parametrize_with_checks(
            ESTIMATORS, expected_failed_checks=lambda estimator: estimator._sklearn_expected_failed_checks,
            xfail_strict=True).mark
    params = [param for param in mark.args[1] if _check_name(param) not in NOT_APPLICABLE]
    return pytest.mark.parametrize(mark.args[0], params, ids=mark.kwargs["ids"])


@_applicable_checks()
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    return make_synthetic_multilabel(n_samples=120, n_features=5, n_labels=3, rng=np.random.default_rng(0))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_inside_pipeline_grid_search_and_cross_validation(estimator, data):
    X, Y = data.X_train, data.Y_train
    pipeline = make_pipeline(StandardScaler(), clone(estimator).set_params(random_state=0))
    fitted = pipeline.fit(X, Y)
    assert fitted.predict(data.X_test).shape == data.Y_test.shape
    assert 0 <= fitted.score(data.X_test, data.Y_test) <= 1

    name = type(estimator).__name__.lower()
    grid = GridSearchCV(pipeline, {f"{name}__learning_rate": [1e-3, 1e-2]}, cv=KFold(2)).fit(X, Y)
    assert grid.best_params_[f"{name}__learning_rate"] in (1e-3, 1e-2)
    assert grid.best_estimator_.predict(data.X_test).shape == data.Y_test.shape

    scores = cross_val_score(clone(estimator).set_params(random_state=0), X, Y, cv=KFold(3))
    direct = [clone(estimator).set_params(random_state=0).fit(X[train], Y[train]).score(X[test], Y[test])
              for train, test in KFold(3).split(X)]
    np.testing.assert_allclose(scores, direct)


@pytest.mark.parametrize("cls", [EnergyMultilabelClassifier, BinaryRelevanceLogisticRegression])
def test_sklearn_clone_keeps_parameters_unchanged(cls):
    """scikit-learn's clone checks that __init__ stores each parameter as given (same object)."""
    widths, generator = [8, 4], np.random.default_rng(0)
    params = {"random_state": generator, "max_epochs": 7}
    if cls is EnergyMultilabelClassifier:
        params["hidden_layer_sizes"] = widths
    copy = clone(cls(**params))
    assert copy.max_epochs == 7 and copy.random_state is not None
    if cls is EnergyMultilabelClassifier:
        assert copy.hidden_layer_sizes == widths


@pytest.mark.parametrize("method", ["predict", "decision_function", "score"])
@pytest.mark.parametrize("cls", [EnergyMultilabelClassifier, BinaryRelevanceLogisticRegression])
def test_unfitted_estimators_raise_not_fitted(cls, method, data):
    args = (data.X_test, data.Y_test) if method == "score" else (data.X_test,)
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(cls(), method)(*args)
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    assert not hasattr(cls(), "params_")


@pytest.mark.parametrize("make_bad, error, match", [
    (lambda X: X + 1j, ValueError, "Complex data not supported"),
    (lambda X: scipy.sparse.csr_matrix(X), ValueError, "sparse"),
    (lambda X: scipy.sparse.csr_array(X), ValueError, "sparse"),
    (lambda X: np.array([[{"a": 1}] * X.shape[1]] * len(X), dtype=object), TypeError, "X of dtype object"),
    (lambda X: X[:, 0], ValueError, "Reshape your data"),
    (lambda X: X[:, :0], ValueError, r"0 feature\(s\)"),
])
def test_bad_features_are_refused_by_name(make_bad, error, match, data):
    with pytest.raises(error, match=match):
        EnergyMultilabelClassifier(**FAST).fit(make_bad(data.X_train), data.Y_train)
    fitted = EnergyMultilabelClassifier(**FAST, random_state=0).fit(data.X_train, data.Y_train)
    with pytest.raises(error, match=match):
        fitted.predict(make_bad(data.X_test))


def test_numbers_of_dtype_object_are_read_as_numbers(data):
    as_objects = EnergyMultilabelClassifier(**FAST, random_state=0).fit(data.X_train.astype(object),
                                                                        data.Y_train.astype(object))
    reference = EnergyMultilabelClassifier(**FAST, random_state=0).fit(data.X_train, data.Y_train)
    np.testing.assert_array_equal(as_objects.decision_function(data.X_test.astype(object)),
                                  reference.decision_function(data.X_test))


@pytest.mark.parametrize("targets, kind", [
    (lambda Y: Y[:, 0], "binary of shape"),
    (lambda Y: Y @ np.arange(Y.shape[1]), "multiclass of shape"),
    (lambda Y: Y + 0.5, "continuous of shape"),
    (lambda Y: np.where(Y > 0, "yes", "no"), "non-numeric"),
    (lambda Y: None, "requires y to be passed"),
])
def test_targets_that_are_not_a_label_matrix_are_named(targets, kind, data):
    with pytest.raises(ValueError, match=kind):
        EnergyMultilabelClassifier(**FAST).fit(data.X_train, targets(data.Y_train))


def test_fitted_attributes_follow_the_convention(data):
    fitted = EnergyMultilabelClassifier(**FAST, random_state=0).fit(data.X_train, data.Y_train)
    np.testing.assert_array_equal(fitted.classes_, np.arange(data.Y_train.shape[1]))
    assert fitted.n_iter_ == len(fitted.history_) and 1 <= fitted.n_iter_ <= FAST["max_epochs"]
    assert fitted.__sklearn_tags__().target_tags.multi_output


@pytest.mark.parametrize("copy", [refefl_clone, clone], ids=["refefl.clone", "sklearn.clone"])
def test_clone_refuses_an_init_that_changes_its_parameters(copy):
    class Converting(EnergyMultilabelClassifier):
        def __init__(self, hidden_layer_sizes=(4,)):
            super().__init__(hidden_layer_sizes=list(hidden_layer_sizes))  # a new object, not the value given

    with pytest.raises(RuntimeError, match="hidden_layer_sizes"):
        copy(Converting((4,)))


def test_refefl_clone_copies_the_parameters(data):
    """The clone's generator is a copy: fitting the clone leaves the original's stream where it was."""
    original = EnergyMultilabelClassifier(**FAST, random_state=np.random.default_rng(5))
    state = original.random_state.bit_generator.state
    copy = refefl_clone(original)
    assert copy.random_state is not original.random_state
    copy.fit(data.X_train, data.Y_train)
    assert original.random_state.bit_generator.state == state
