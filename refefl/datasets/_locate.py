"""Where a data file is looked for, and the record every loader returns.

A loader names its file by kind and name (``multilabel/yeast.npz``, ``label_ranking/iris.npz``). The data root
is the ``data_dir`` argument, else the ``REFEFL_DATA`` environment variable; nothing else is searched. An
explicit folder may be the data root or the kind's own folder (``<root>/multilabel``). A file that is not there
raises ``FileNotFoundError`` naming every path tried and where the files come from; synthetic stand-ins are
never substituted here (each loader offers them only when asked).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: the environment variable naming the data root
DATA_ENV = "REFEFL_DATA"
#: where each kind of data comes from (named in the error when a file is missing)
ORIGINS = {
    "multilabel": "the Mulan multilabel benchmarks (https://mulan.sourceforge.net/datasets-mlc.html), "
                  "converted to .npz with arrays X_train, Y_train, X_test, Y_test (or X, Y)",
    "label_ranking": "the label-ranking benchmarks of Cheng, Huehn and Huellermeier (ICML 2009), as .npz with "
                     "arrays X (features) and Y (rank form, 1 = most preferred)",
}


@dataclass(frozen=True)
class Dataset:
    """A train/test split: features ``X_*`` of shape (n, d) (float64), targets ``Y_*`` of shape (n, k).

    ``source`` names the data without this machine's folders: the file relative to the data root
    (``"multilabel/yeast.npz"``), or ``"synthetic"`` for a generated stand-in.

    Examples
    --------
    >>> from refefl.datasets import make_synthetic_multilabel
    >>> data = make_synthetic_multilabel(n_samples=50, n_features=4, n_labels=3)
    >>> print(data.name, data.X_train.shape[1], data.Y_train.shape[1])
    synthetic 4 3
    """

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    source: str

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The configured data root: ``data_dir`` if given, else ``$REFEFL_DATA``, else None (nothing configured).

    The folder is returned as named, whether or not it exists (:func:`locate` reports a missing file).

    Examples
    --------
    >>> from refefl.datasets import find_data_dir
    >>> find_data_dir("/srv/refefl-data").name
    'refefl-data'
    """
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_ENV) or None
    return None if chosen is None else Path(chosen)


def locate(kind: str, filename: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The path of ``<root>/<kind>/<filename>`` (or ``<root>/<filename>`` when the root is the kind's folder).

    Raises
    ------
    FileNotFoundError
        When no root is configured, or when neither path is a file; the message names the paths tried, the
        ways to point at the data and where the files come from.

    Examples
    --------
    >>> from refefl.datasets import locate
    >>> locate("multilabel", "yeast.npz", "/nonexistent")
    Traceback (most recent call last):
        ...
    FileNotFoundError: yeast.npz not found: looked for ...
    """
    root = find_data_dir(data_dir)
    origin = ORIGINS.get(kind, f"the {kind} benchmarks")
    how = (f"pass data_dir (the data root, holding {kind}/{filename}, or the {kind} folder itself) or set "
           f"{DATA_ENV}; the files are {origin}")
    if root is None:
        raise FileNotFoundError(f"{kind}/{filename}: no data folder configured; {how}")
    tried = [root / kind / filename, root / filename]
    for path in tried:
        if path.is_file():
            return path
    looked = " or ".join(str(path) for path in tried)
    raise FileNotFoundError(f"{filename} not found: looked for {looked}; {how}")


def split_indices(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random train/test split of ``range(n)``."""
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return np.sort(order[n_test:]), np.sort(order[:n_test])
