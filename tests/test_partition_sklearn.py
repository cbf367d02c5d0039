"""scikit-learn conformance of the partition estimators (PartitionMultilabelClassifier, PartitionLabelRanker): its
common checks with the failures each estimator declares (and why), the invariances scikit-learn cannot check on
rankings run on rankings here, and the meta-estimators users put them in."""
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.8")  # expected_failed_checks, xfail_strict, __sklearn_tags__

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from refefl.datasets import make_synthetic_label_ranking, make_synthetic_multilabel  # noqa: E402
from refefl.estimators import PartitionLabelRanker, PartitionMultilabelClassifier  # noqa: E402
from test_sklearn_conformance import NOT_APPLICABLE, _check_name  # noqa: E402  (tests/ is on sys.path)

# a few epochs and samples: the checks test the API, not accuracy
FAST = {"max_epochs": 3, "batch_size": 16, "n_samples": 10}
ESTIMATORS = [PartitionMultilabelClassifier(**FAST), PartitionMultilabelClassifier("pairwise", **FAST),
              PartitionMultilabelClassifier(objective="exact_mle", **FAST), PartitionLabelRanker(**FAST),
              PartitionLabelRanker("birkhoff", divergence="sparsemax", **FAST)]


def _common_checks():
    """scikit-learn's checks of ESTIMATORS as the other estimators' conformance test builds them (the warning
    about BaseEstimator filtered, the not-applicable checks dropped, declared failures strict)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimator .* does not inherit", category=UserWarning)
        mark = parametrize_with_checks(ESTIMATORS, xfail_strict=True,
                                       expected_failed_checks=lambda e: e._sklearn_expected_failed_checks).mark
    keep = [param for param in mark.args[1] if _check_name(param) not in NOT_APPLICABLE]
    return pytest.mark.parametrize(mark.args[0], keep, ids=mark.kwargs["ids"])


@_common_checks()
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_every_declared_failure_names_a_reason():
    for estimator in ESTIMATORS:
        reasons = estimator._sklearn_expected_failed_checks
        assert reasons and all(name.startswith("check_") and len(reason) > 40 for name, reason in reasons.items())


@pytest.fixture(scope="module")
def rankings():
    data = make_synthetic_label_ranking(n_samples=90, n_features=4, n_labels=4, rng=np.random.default_rng(0))
    return data.X, data.Y


@pytest.fixture(scope="module")
def label_sets():
    data = make_synthetic_multilabel(n_samples=120, n_features=5, n_labels=3, rng=np.random.default_rng(0))
    return data.X_train, data.Y_train


@pytest.fixture(scope="module")
def fitted_ranker(rankings):
    X, Y = rankings
    return PartitionLabelRanker(**FAST, random_state=0).fit(X, Y)


# -- what check_estimators_pickle, check_fit_idempotent, check_methods_*_invariance, check_dict_unchanged,
#    check_dont_overwrite_parameters, check_readonly_memmap_input and check_f_contiguous_array_estimator test,
#    on rankings (scikit-learn's checks pass one column of class labels, which is no ranking) ------------------
def test_ranker_survives_pickling(fitted_ranker, rankings):
    X, _ = rankings
    copy = pickle.loads(pickle.dumps(fitted_ranker))
    np.testing.assert_array_equal(copy.predict(X), fitted_ranker.predict(X))
    np.testing.assert_array_equal(copy.predict_log_partition(X), fitted_ranker.predict_log_partition(X))


def test_ranker_fit_is_idempotent_and_returns_self(rankings):
    X, Y = rankings
    estimator = PartitionLabelRanker(**FAST, random_state=3)
    assert estimator.fit(X, Y) is estimator
    first = estimator.predict_log_partition(X)
    np.testing.assert_array_equal(estimator.fit(X, Y).predict_log_partition(X), first)


@pytest.mark.parametrize("method", ["predict", "predict_log_partition", "exact_log_partition"])
def test_ranker_methods_are_row_wise(fitted_ranker, rankings, method):
    """Each row's output depends on that row alone: subsets and permuted rows give the same rows."""
    X, _ = rankings
    full = getattr(fitted_ranker, method)(X)
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(getattr(fitted_ranker, method)(X[order]), full[order], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(getattr(fitted_ranker, method)(X[:7]), full[:7], rtol=1e-12, atol=1e-12)


def test_ranker_leaves_inputs_and_parameters_unchanged(rankings):
    """Read-only, Fortran-ordered inputs are accepted (a write would raise); fit stores the parameters as given,
    and predicting changes no fitted attribute."""
    X, Y = rankings
    X_ro, Y_ro = np.asfortranarray(X), Y.copy()
    X_ro.flags.writeable, Y_ro.flags.writeable = False, False
    estimator = PartitionLabelRanker(**FAST, random_state=0)
    params = estimator.get_params()
    fitted = estimator.fit(X_ro, Y_ro)
    assert estimator.get_params() == params
    arrays = {key: value.copy() for key, value in vars(fitted).items() if isinstance(value, np.ndarray)}
    assert {"mean_", "scale_"} <= set(arrays)
    fitted.predict(X_ro), fitted.predict_log_partition(X_ro), fitted.score(X_ro, Y_ro)
    for key, value in arrays.items():
        np.testing.assert_array_equal(getattr(fitted, key), value)
    assert fitted.n_features_in_ == X.shape[1] and fitted.n_outputs_ == Y.shape[1]
    with pytest.raises(ValueError, match="expecting 4 features"):
        fitted.predict(X[:, :3])


def test_ranker_refuses_one_label_none_and_nan_and_takes_one_feature(rankings):
    X, Y = rankings
    with pytest.raises(ValueError, match="n_labels >= 2"):
        PartitionLabelRanker(**FAST).fit(X, np.ones((len(X), 1)))
    with pytest.raises(ValueError, match="requires y to be passed"):
        PartitionLabelRanker(**FAST).fit(X, None)
    with pytest.raises(ValueError, match="X must be finite|NaN"):
        PartitionLabelRanker(**FAST).fit(np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), Y)
    one_feature = PartitionLabelRanker(**FAST, random_state=0).fit(X[:, :1], Y)
    assert one_feature.predict(X[:5, :1]).shape == (5, Y.shape[1])


# -- meta-estimators -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["multilabel", "ranking"])
def test_inside_pipeline_grid_search_and_cross_validation(task, rankings, label_sets):
    X, Y = rankings if task == "ranking" else label_sets
    estimator = (PartitionLabelRanker if task == "ranking" else PartitionMultilabelClassifier)(**FAST)
    pipeline = make_pipeline(StandardScaler(), clone(estimator).set_params(random_state=0))
    fitted = pipeline.fit(X, Y)
    assert fitted.predict(X[:9]).shape == (9, Y.shape[1])
    assert -1 <= fitted.score(X, Y) <= 1
    if task == "ranking":
        np.testing.assert_array_equal(np.sort(fitted.predict(X), axis=1),
                                      np.tile(np.arange(1, Y.shape[1] + 1), (len(X), 1)))

    name = type(estimator).__name__.lower()
    search = GridSearchCV(pipeline, {f"{name}__learning_rate": [1e-3, 1e-2]}, cv=KFold(2)).fit(X, Y)
    assert search.best_params_[f"{name}__learning_rate"] in (1e-3, 1e-2)
    assert search.best_estimator_.predict(X[:9]).shape == (9, Y.shape[1])

    scores = cross_val_score(clone(estimator).set_params(random_state=0), X, Y, cv=KFold(3))
    direct = [clone(estimator).set_params(random_state=0).fit(X[train], Y[train]).score(X[test], Y[test])
              for train, test in KFold(3).split(X)]
    np.testing.assert_allclose(scores, direct)
