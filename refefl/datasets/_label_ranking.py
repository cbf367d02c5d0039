r"""Label-ranking benchmarks (Cheng, Hühn, Hüllermeier 2009) and a synthetic Plackett-Luce stand-in.

Rankings are stored in *rank form*, as in the files: ``Y[i, j]`` is the position of label j for instance i,
1 the most preferred. The ordering form used by :class:`refefl.partition.Permutations` (the label at each
position, best first, 0-based) is ``np.argsort(Y, axis=1)``, and back: ``np.argsort(sigma, axis=1) + 1``.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from refefl._validation import check_positive_int
from refefl.datasets._locate import locate
from refefl.partition import plackett_luce_sample

#: the label-ranking data sets of Cheng, Hühn, Hüllermeier (2009), by name
LABEL_RANKING_DATASETS = (
    "authorship", "bodyfat", "calhousing", "cpu-small", "elevators", "fried", "glass", "housing", "iris",
    "pendigits", "segment", "stock", "vehicle", "vowel", "wine", "wisconsin",
)


@dataclass(frozen=True)
class RankingDataset:
    """Features ``X`` of shape (n, d) (float64) and rankings ``Y`` of shape (n, k) in rank form (int64, each row
    a permutation of 1..k, 1 = most preferred). No standard split: :meth:`folds` gives the usual k-fold one.

    ``source`` names the data without this machine's folders (``"label_ranking/iris.npz"``) or is
    ``"synthetic"``.

    Examples
    --------
    >>> from refefl.datasets import make_synthetic_label_ranking
    >>> data = make_synthetic_label_ranking(n_samples=20, n_features=3, n_labels=4)
    >>> print(data.name, data.X.shape, data.Y.shape)
    synthetic (20, 3) (20, 4)
    """

    name: str
    X: np.ndarray
    Y: np.ndarray
    source: str

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"

    def folds(self, n_folds: int = 10, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Seeded k-fold cross-validation: ``n_folds`` pairs (train indices, test indices), each instance in
        exactly one test fold, fold sizes differing by at most one."""
        n_folds = check_positive_int(n_folds, "n_folds")
        n = len(self.X)
        if not 2 <= n_folds <= n:
            raise ValueError(f"n_folds must be between 2 and the number of instances {n}, got {n_folds}")
        order = np.random.default_rng(seed).permutation(n)
        for test in np.array_split(order, n_folds):
            yield np.sort(np.setdiff1d(order, test)), np.sort(test)


def load_label_ranking(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    synthetic: bool = False,
) -> RankingDataset:
    """Load a label-ranking data set of Cheng, Hühn and Hüllermeier.

    Parameters
    ----------
    name : str
        One of :data:`LABEL_RANKING_DATASETS`.
    data_dir : path, optional
        The data root (holding ``label_ranking/<name>.npz``) or the ``label_ranking`` folder itself; default
        ``$REFEFL_DATA``.
    seed : int, default 0
        Seeds the synthetic stand-in.
    synthetic : bool, default False
        Return :func:`make_synthetic_label_ranking` data instead (``source == "synthetic"``); no file is read.

    Returns
    -------
    RankingDataset
        ``X`` float64 as in the source (already standardized there), ``Y`` int64 in rank form.

    Raises
    ------
    FileNotFoundError
        When the file is not under the configured folder, or no folder is configured (see
        :func:`refefl.datasets.locate`); the synthetic stand-in is never substituted silently.
    ValueError
        For an unknown name, or a file whose rows are not permutations of 1..k.

    References
    ----------
    Cheng, Hühn, Hüllermeier (2009), "Decision Tree and Instance-Based Learning for Label Ranking", ICML
    (the semi-synthetic data sets from UCI and Statlog).

    Examples
    --------
    >>> from refefl.datasets import load_label_ranking
    >>> data = load_label_ranking("iris", data_dir="/nonexistent", synthetic=True)
    >>> data.Y.ndim
    2
    """
    if name not in LABEL_RANKING_DATASETS:
        raise ValueError(f"unknown label-ranking data set {name!r}; expected one of {LABEL_RANKING_DATASETS}")
    if synthetic:
        return make_synthetic_label_ranking(rng=np.random.default_rng(seed), name=f"{name} (synthetic stand-in)")
    path = locate("label_ranking", f"{name}.npz", data_dir)
    with np.load(path) as archive:
        X, Y = archive["X"].astype(np.float64), archive["Y"].astype(np.int64)
    k = Y.shape[1]
    if not (np.sort(Y, axis=1) == np.arange(1, k + 1)).all():
        raise ValueError(f"{path.name}: every row of Y must be a permutation of 1..{k} (rank form)")
    return RankingDataset(name, X, Y, f"label_ranking/{name}.npz")


def make_synthetic_label_ranking(
    n_samples: int = 300,
    n_features: int = 8,
    n_labels: int = 5,
    *,
    rng: np.random.Generator | None = None,
    name: str = "synthetic",
) -> RankingDataset:
    r"""Rankings drawn from a Plackett-Luce teacher over linear scores of Gaussian features.

    .. math::

        s(x) = W^\top x, \qquad P(\sigma \mid x) = \prod_{r=1}^{k} \frac{e^{s_{\sigma_r}(x)}}
        {\sum_{t \ge r} e^{s_{\sigma_t}(x)}},

    with :math:`x \sim N(0, I_d)` and :math:`W_{ij} \sim N(0, 4/d)` (so the scores spread over a few units and
    the teacher is far from uniform yet not deterministic). Sampled exactly by the exponential race of
    :func:`refefl.partition.plackett_luce_sample`; returned in rank form.

    References
    ----------
    Plackett (1975), "The Analysis of Permutations", Applied Statistics 24(2); Cheng, Dembczyński,
    Hüllermeier (2010), "Label Ranking Methods based on the Plackett-Luce Model", ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.datasets import make_synthetic_label_ranking
    >>> data = make_synthetic_label_ranking(n_samples=20, n_features=3, n_labels=4, rng=np.random.default_rng(0))
    >>> print(np.sort(data.Y[0]))
    [1 2 3 4]
    """
    n_samples, n_features = check_positive_int(n_samples, "n_samples"), check_positive_int(n_features, "n_features")
    n_labels = check_positive_int(n_labels, "n_labels")
    if n_labels < 2:
        raise ValueError(f"n_labels must be at least 2 (a ranking of one label is trivial), got {n_labels}")
    rng = np.random.default_rng(0) if rng is None else rng
    X = rng.normal(size=(n_samples, n_features))
    W = rng.normal(scale=2.0 / np.sqrt(n_features), size=(n_features, n_labels))
    sigma, _ = plackett_luce_sample(X @ W, rng.standard_exponential((n_samples, 1, n_labels)))
    return RankingDataset(name, X, np.argsort(sigma[:, 0], axis=1).astype(np.int64) + 1, "synthetic")
