"""Data loaders: the Mulan files from the folder the user names (or ``REFEFL_DATA``), the stand-in when asked."""
import os
from pathlib import Path

import numpy as np
import pytest

from refefl.datasets import (
    DATA_ENV,
    MULTILABEL_DATASETS,
    find_data_dir,
    load_multilabel,
    make_synthetic_multilabel,
)

SHAPES = {"yeast": (1500, 917, 103, 14), "scene": (1211, 1196, 294, 6), "emotions": (391, 202, 72, 6)}
DATA_ROOT = os.environ.get(DATA_ENV)
needs_data = pytest.mark.skipif(
    not DATA_ROOT or not (Path(DATA_ROOT) / "multilabel").is_dir(),
    reason=f"the Mulan files are not here: set {DATA_ENV} to the data root (holding multilabel/*.npz)")


def _check_split(data):
    assert data.X_train.shape[1] == data.X_test.shape[1]
    assert data.Y_train.shape[1] == data.Y_test.shape[1]
    assert len(data.X_train) == len(data.Y_train) and len(data.X_test) == len(data.Y_test)
    assert set(np.unique(data.Y_train)) <= {0.0, 1.0}
    assert np.isfinite(data.X_train).all()


@needs_data
@pytest.mark.parametrize("name", MULTILABEL_DATASETS)
def test_loader_returns_a_consistent_split(name):
    data = load_multilabel(name)
    _check_split(data)
    assert not data.is_synthetic and data.source == f"multilabel/{name}.npz"


@pytest.mark.parametrize("name", MULTILABEL_DATASETS)
def test_synthetic_stand_in_only_when_asked(name, tmp_path, monkeypatch):
    """``synthetic=True`` returns the stand-in without reading any file (not even a configured folder)."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "missing"))
    data = load_multilabel(name, synthetic=True)
    _check_split(data)
    assert data.is_synthetic and "synthetic" in data.name


@needs_data
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_real_files_have_the_mulan_shapes(name):
    data = load_multilabel(name)
    n_train, n_test, d, k = SHAPES[name]
    assert data.X_train.shape == (n_train, d) and data.X_test.shape == (n_test, d)
    assert data.Y_train.shape == (n_train, k)


@needs_data
def test_data_dir_is_the_root_or_the_kind_folder(monkeypatch):
    """The root and its ``multilabel`` folder name the same file; the explicit argument beats the variable."""
    monkeypatch.setenv(DATA_ENV, "/nonexistent")
    from_root = load_multilabel("emotions", DATA_ROOT)
    from_folder = load_multilabel("emotions", Path(DATA_ROOT) / "multilabel")
    assert from_root.source == from_folder.source == "multilabel/emotions.npz"
    np.testing.assert_array_equal(from_root.X_train, from_folder.X_train)


@pytest.mark.parametrize("where", ["missing", "empty", "kind folder without the file"])
def test_an_explicit_folder_without_the_file_raises(where, tmp_path, monkeypatch):
    """Never the stand-in in place of what was named: the error names the file and where to get it."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    folder = {"missing": tmp_path / "nonexistent", "empty": tmp_path,
              "kind folder without the file": tmp_path / "multilabel"}[where]
    if where != "missing":
        folder.mkdir(exist_ok=True)
        (folder / "scene.npz").write_bytes(b"")  # another data set's file is not yeast's
    with pytest.raises(FileNotFoundError, match="yeast.npz") as error:
        load_multilabel("yeast", folder)
    message = str(error.value)
    assert str(folder / "multilabel" / "yeast.npz") in message and "REFEFL_DATA" in message
    assert "mulan" in message.lower()


def test_the_environment_variable_is_honoured_like_the_argument(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "multilabel" / "birds.npz")):
        load_multilabel("birds")


def test_nothing_configured_raises_and_nothing_beside_the_checkout_is_searched(monkeypatch, tmp_path):
    """Without ``data_dir`` and ``REFEFL_DATA`` there is no data root, wherever the process runs."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    (tmp_path / "shared" / "data" / "multilabel").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "shared")  # a "../shared/data" beside the working folder exists
    assert find_data_dir() is None
    with pytest.raises(FileNotFoundError, match="no data folder configured"):
        load_multilabel("yeast")


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
