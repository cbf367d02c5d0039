"""Data loaders: the shared Mulan files when present, the synthetic stand-in otherwise."""
import numpy as np
import pytest

from refefl.datasets import MULTILABEL_DATASETS, find_data_dir, load_multilabel, make_synthetic_multilabel

SHAPES = {"yeast": (1500, 917, 103, 14), "scene": (1211, 1196, 294, 6), "emotions": (391, 202, 72, 6)}


@pytest.mark.parametrize("name", MULTILABEL_DATASETS)
def test_loader_returns_a_consistent_split(name):
    data = load_multilabel(name)
    assert data.X_train.shape[1] == data.X_test.shape[1]
    assert data.Y_train.shape[1] == data.Y_test.shape[1]
    assert len(data.X_train) == len(data.Y_train) and len(data.X_test) == len(data.Y_test)
    assert set(np.unique(data.Y_train)) <= {0.0, 1.0}
    assert np.isfinite(data.X_train).all()


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_real_files_have_the_mulan_shapes(name):
    if find_data_dir() is None:
        pytest.skip("shared data not available here; the synthetic fallback is tested separately")
    data = load_multilabel(name)
    assert not data.is_synthetic
    n_train, n_test, d, k = SHAPES[name]
    assert data.X_train.shape == (n_train, d) and data.X_test.shape == (n_test, d)
    assert data.Y_train.shape == (n_train, k)


def test_fallback_when_absent(tmp_path, monkeypatch):
    monkeypatch.delenv("REFEFL_DATA", raising=False)
    data = load_multilabel("yeast", tmp_path)
    assert data.is_synthetic and "synthetic" in data.name
    with pytest.raises(FileNotFoundError):
        load_multilabel("yeast", tmp_path, synthetic_fallback=False)


def test_synthetic_labels_interact():
    """The planted pairwise terms show up as label correlations beyond what features explain."""
    data = make_synthetic_multilabel(n_samples=3000, rng=np.random.default_rng(1))
    corr = np.corrcoef(data.Y_train.T)
    off_diagonal = np.abs(corr[~np.eye(len(corr), dtype=bool)])
    assert off_diagonal.max() > 0.2
    assert 0.05 < data.Y_train.mean() < 0.95


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown"):
        load_multilabel("mnist")
