"""Label-ranking data (the files the user names, the Plackett-Luce stand-in when asked) and ranking metrics."""
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from refefl.datasets import DATA_ENV, LABEL_RANKING_DATASETS, load_label_ranking, make_synthetic_label_ranking
from refefl.estimators import kendall_tau, spearman_rho

#: (n, d, k) of the data sets of the label-ranking experiments (Cheng, Hühn, Hüllermeier 2009, Table 1)
SHAPES = {"authorship": (841, 70, 4), "glass": (214, 9, 6), "iris": (150, 4, 3), "vehicle": (846, 18, 4),
          "vowel": (528, 10, 11), "wine": (178, 13, 3)}
DATA_ROOT = os.environ.get(DATA_ENV)
needs_data = pytest.mark.skipif(
    not DATA_ROOT or not (Path(DATA_ROOT) / "label_ranking").is_dir(),
    reason=f"the label-ranking files are not here: set {DATA_ENV} to the data root (holding label_ranking/*.npz)")
seeds = st.integers(0, 2**32 - 1)


def _is_rank_form(Y):
    return Y.dtype == np.int64 and (np.sort(Y, axis=1) == np.arange(1, Y.shape[1] + 1)).all()


# -- the files -----------------------------------------------------------------------------------------------
@needs_data
@pytest.mark.parametrize("name", LABEL_RANKING_DATASETS)
def test_every_file_loads_as_rankings(name):
    data = load_label_ranking(name)
    assert data.X.dtype == np.float64 and np.isfinite(data.X).all()
    assert len(data.X) == len(data.Y) and _is_rank_form(data.Y)
    assert not data.is_synthetic and data.source == f"label_ranking/{name}.npz"


@needs_data
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_paper_data_sets_have_their_published_shapes(name):
    data = load_label_ranking(name)
    n, d, k = SHAPES[name]
    assert data.X.shape == (n, d) and data.Y.shape == (n, k)


@needs_data
def test_iris_row_51_follows_the_documented_convention():
    """The files' README: iris row 51 is L2 > L3 > L1, stored as ranks [3, 1, 2]; its ordering is [1, 2, 0]."""
    Y = load_label_ranking("iris").Y
    np.testing.assert_array_equal(Y[50], [3, 1, 2])
    np.testing.assert_array_equal(np.argsort(Y[50]), [1, 2, 0])


@needs_data
def test_data_dir_is_the_root_or_the_kind_folder(monkeypatch):
    monkeypatch.setenv(DATA_ENV, "/nonexistent")
    root = load_label_ranking("wine", DATA_ROOT)
    kind = load_label_ranking("wine", Path(DATA_ROOT) / "label_ranking")
    np.testing.assert_array_equal(root.Y, kind.Y)


def test_a_missing_file_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="no data folder configured"):
        load_label_ranking("iris")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "label_ranking" / "iris.npz")):
        load_label_ranking("iris", tmp_path)


def test_a_file_with_ties_is_refused(tmp_path):
    np.savez(tmp_path / "iris.npz", X=np.zeros((2, 3)), Y=np.array([[1, 2, 3], [1, 1, 3]]))
    with pytest.raises(ValueError, match="permutation of 1..3"):
        load_label_ranking("iris", tmp_path)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown label-ranking data set 'irises'"):
        load_label_ranking("irises")


# -- the stand-in --------------------------------------------------------------------------------------------
def test_synthetic_stand_in_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "missing"))
    data = load_label_ranking("glass", synthetic=True, seed=3)
    assert data.is_synthetic and "synthetic" in data.name and _is_rank_form(data.Y)
    np.testing.assert_array_equal(data.Y, load_label_ranking("glass", synthetic=True, seed=3).Y)
    assert not np.array_equal(data.Y, load_label_ranking("glass", synthetic=True, seed=4).Y)


def test_stand_in_follows_its_plackett_luce_teacher():
    """The teacher's scores rank the labels better than chance and worse than perfectly (the draws are noisy)."""
    data = make_synthetic_label_ranking(2000, 6, 4, rng=np.random.default_rng(0))
    W = np.random.default_rng(12345).normal(scale=2.0 / np.sqrt(6), size=(6, 4))  # not the teacher: an unrelated linear scorer
    teacher_tau = kendall_tau(data.Y, np.argsort(np.argsort(-_teacher_scores(data, seed=0), axis=1), axis=1) + 1)
    assert 0.3 < teacher_tau < 0.95
    assert abs(kendall_tau(data.Y, np.argsort(np.argsort(-(data.X @ W), axis=1), axis=1) + 1)) < teacher_tau


def _teacher_scores(data, seed):
    """The stand-in's scores X W, W redrawn from the generator in the order the stand-in draws it."""
    rng = np.random.default_rng(seed)
    n, d = data.X.shape
    X = rng.normal(size=(n, d))
    np.testing.assert_array_equal(X, data.X)
    return X @ rng.normal(scale=2.0 / np.sqrt(d), size=(d, data.Y.shape[1]))


@pytest.mark.parametrize("bad, error", [(dict(n_labels=1), ValueError), (dict(n_samples=0), ValueError),
                                        (dict(n_features=2.5), TypeError)])
def test_stand_in_refuses_bad_sizes(bad, error):
    with pytest.raises(error):
        make_synthetic_label_ranking(**bad)


# -- folds ---------------------------------------------------------------------------------------------------
@given(st.integers(2, 40), st.integers(2, 12), seeds)
def test_folds_partition_the_instances(n, n_folds, seed):
    data = make_synthetic_label_ranking(max(n, n_folds), 3, 3)
    n = len(data.X)
    folds = list(data.folds(n_folds, seed))
    assert len(folds) == n_folds
    tests = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(n))
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == n
    assert all((a[1] == b[1]).all() for a, b in zip(folds, data.folds(n_folds, seed)))


def test_folds_refuse_bad_counts():
    data = make_synthetic_label_ranking(5, 2, 3)
    for bad, error in [(1, ValueError), (6, ValueError), (2.0, TypeError)]:
        with pytest.raises(error, match="n_folds"):
            next(data.folds(bad))


# -- metrics -------------------------------------------------------------------------------------------------
def _random_rankings(seed, n, k):
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((n, k)), axis=1) + 1, np.argsort(rng.random((n, k)), axis=1) + 1


@given(seeds, st.integers(1, 5), st.integers(2, 9))
def test_metrics_equal_scipy_row_by_row(seed, n, k):
    Y, Z = _random_rankings(seed, n, k)
    tau = np.mean([scipy.stats.kendalltau(y, z).statistic for y, z in zip(Y, Z)])
    rho = np.mean([scipy.stats.spearmanr(y, z).statistic for y, z in zip(Y, Z)])
    np.testing.assert_allclose(kendall_tau(Y, Z), tau, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(spearman_rho(Y, Z), rho, rtol=1e-12, atol=1e-14)


@given(seeds, st.integers(2, 9))
def test_metrics_extremes_and_offsets(seed, k):
    Y, Z = _random_rankings(seed, 3, k)
    for metric in (kendall_tau, spearman_rho):
        assert metric(Y, Y) == 1.0
        assert metric(Y, k + 1 - Y) == -1.0  # the reversed rankings
        assert metric(Y, Z) == metric(Y - 1, 10.0 * Z)  # only the order of the positions matters
        assert metric(Y, Z) == metric(Z, Y)


@pytest.mark.parametrize("metric", [kendall_tau, spearman_rho])
def test_metrics_refuse_bad_rankings(metric):
    Y = np.array([[1, 2, 3], [3, 2, 1]])
    with pytest.raises(ValueError, match="row 1 has ties"):
        metric(Y, np.array([[1, 2, 3], [1, 1, 2]]))
    with pytest.raises(ValueError, match="same shape"):
        metric(Y, Y[:1])
    with pytest.raises(ValueError, match="n_labels >= 2"):
        metric(Y[:, :1], Y[:, :1])
    with pytest.raises(ValueError, match="finite"):
        metric(Y, np.array([[1, 2, np.nan], [3, 2, 1]]))
    with pytest.raises(ValueError, match="n_samples >= 1"):
        metric(np.zeros((0, 3)), np.zeros((0, 3)))
