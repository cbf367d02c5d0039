"""Multilabel benchmarks (Mulan: yeast, scene, emotions, birds, CAL500) and a synthetic stand-in."""
from __future__ import annotations

import itertools
import os

import numpy as np

from refefl.datasets._locate import Dataset, locate, split_indices

MULTILABEL_DATASETS = ("yeast", "scene", "emotions", "birds", "cal500")


def _one_hot_birds_location(X: np.ndarray) -> np.ndarray:
    """birds' last column is a categorical recording-site code: replace it by its one-hot encoding."""
    codes = X[:, -1]
    sites = np.unique(codes)
    return np.hstack([X[:, :-1], (codes[:, None] == sites[None, :]).astype(np.float64)])


def load_multilabel(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    synthetic: bool = False,
) -> Dataset:
    """Load a Mulan multilabel data set with its standard train/test split.

    Parameters
    ----------
    name : {"yeast", "scene", "emotions", "birds", "cal500"}
    data_dir : path, optional
        The data root (holding ``multilabel/<name>.npz``) or the ``multilabel`` folder itself; default
        ``$REFEFL_DATA``.
    seed : int, default 0
        Seeds the split of CAL500 (which has no standard split: 1/3 of the songs go to the test set) and the
        synthetic stand-in.
    synthetic : bool, default False
        Return :func:`make_synthetic_multilabel` data instead (``source == "synthetic"``); no file is read.

    Returns
    -------
    Dataset
        ``X_*`` float64 (birds' categorical site code one-hot encoded), ``Y_*`` float64 in {0, 1};
        ``source`` is ``"multilabel/<name>.npz"``.

    Raises
    ------
    FileNotFoundError
        When the file is not under the configured folder, or no folder is configured (see
        :func:`refefl.datasets.locate`); the synthetic stand-in is never substituted silently.

    Examples
    --------
    >>> from refefl.datasets import load_multilabel
    >>> data = load_multilabel("yeast", data_dir="/nonexistent", synthetic=True)
    >>> data.Y_train.ndim
    2
    """
    if name not in MULTILABEL_DATASETS:
        raise ValueError(f"unknown multilabel data set {name!r}; expected one of {MULTILABEL_DATASETS}")
    if synthetic:
        return make_synthetic_multilabel(rng=np.random.default_rng(seed), name=f"{name} (synthetic stand-in)")
    path = locate("multilabel", f"{name}.npz", data_dir)
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    if "X" in arrays:  # CAL500: no standard split
        train, test = split_indices(len(arrays["X"]), 1 / 3, np.random.default_rng(seed))
        arrays = {"X_train": arrays["X"][train], "Y_train": arrays["Y"][train],
                  "X_test": arrays["X"][test], "Y_test": arrays["Y"][test]}
    X_train, X_test = arrays["X_train"].astype(np.float64), arrays["X_test"].astype(np.float64)
    if name == "birds":
        both = _one_hot_birds_location(np.vstack([X_train, X_test]))
        X_train, X_test = both[: len(X_train)], both[len(X_train):]
    return Dataset(name, X_train, arrays["Y_train"].astype(np.float64), X_test,
                   arrays["Y_test"].astype(np.float64), f"multilabel/{name}.npz")


def make_synthetic_multilabel(
    n_samples: int = 900,
    n_features: int = 20,
    n_labels: int = 6,
    *,
    rng: np.random.Generator | None = None,
    name: str = "synthetic",
) -> Dataset:
    r"""Multilabel data with planted pairwise label interactions, sampled exactly by enumeration.

    .. math::

        p(y \mid x) \propto \exp\big(\langle W x + b, y\rangle + \tfrac12 \langle y, A y\rangle\big),
        \qquad y \in \{0, 1\}^k,

    with Gaussian features x, a random W, and a symmetric zero-diagonal A holding a few strong positive
    (co-occurring) and negative (exclusive) label pairs, so that a pairwise energy beats unary models. Exact
    sampling enumerates the 2^k label sets (k ≤ 12). One third of the samples form the test split.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.datasets import make_synthetic_multilabel
    >>> data = make_synthetic_multilabel(n_samples=50, n_features=4, n_labels=3, rng=np.random.default_rng(0))
    >>> print(data.X_train.shape[1], data.Y_train.shape[1], set(np.unique(data.Y_train)) <= {0, 1})
    4 3 True
    """
    if not 1 <= n_labels <= 12:
        raise ValueError(f"n_labels must be between 1 and 12 (exact enumeration), got {n_labels}")
    rng = np.random.default_rng(0) if rng is None else rng
    X = rng.normal(size=(n_samples, n_features))
    W = rng.normal(scale=1.5 / np.sqrt(n_features), size=(n_features, n_labels))
    A = np.zeros((n_labels, n_labels))
    pairs = list(itertools.combinations(range(n_labels), 2))
    for index, pair in enumerate(rng.permutation(len(pairs))[:n_labels]):
        i, j = pairs[pair]
        A[i, j] = A[j, i] = 3.0 if index % 2 == 0 else -3.0
    states = np.array(list(itertools.product([0.0, 1.0], repeat=n_labels)))  # (2^k, k)
    pairwise = 0.5 * np.einsum("si,ij,sj->s", states, A, states)
    logits = (X @ W - 1.0) @ states.T + pairwise  # (n, 2^k)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    draws = (rng.random(n_samples)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    Y = states[np.minimum(draws, len(states) - 1)]
    train, test = split_indices(n_samples, 1 / 3, rng)
    return Dataset(name, X[train], Y[train], X[test], Y[test], "synthetic")
