r"""Label-ranking evaluation metrics on rank matrices: ``Y[i, j]`` the position of label j (smaller preferred).

Each row must hold k distinct values (a permutation, e.g. of 1..k: ties are impossible in this setting), so
both coefficients are the textbook ones without tie corrections. Both return the mean over rows, in [-1, 1].
"""
from __future__ import annotations

import numpy as np

from refefl._validation import as_float_array, check_finite, check_same_shape


def check_rank_matrix(Y, name: str) -> np.ndarray:
    """``Y`` as a 2-D float64 array of shape (n, k), n ≥ 1, k ≥ 2, each row of k distinct finite values.

    Examples
    --------
    >>> from refefl.estimators._ranking_metrics import check_rank_matrix
    >>> check_rank_matrix([[1, 2, 3]], "Y")
    array([[1., 2., 3.]])
    """
    Y = as_float_array(Y, name, min_ndim=2)
    if Y.ndim != 2 or Y.shape[0] == 0 or Y.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n_samples, n_labels) with n_samples >= 1 and n_labels >= 2, "
                         f"got {Y.shape}")
    check_finite(Y, name)
    tied = (np.diff(np.sort(Y, axis=1), axis=1) == 0).any(axis=1)
    if tied.any():
        raise ValueError(f"{name} must hold a ranking per row (k distinct positions); row {int(np.argmax(tied))} "
                         "has ties")
    return Y.astype(np.float64, copy=False)


def _checked_pair(Y_true, Y_pred) -> tuple[np.ndarray, np.ndarray]:
    Y_true, Y_pred = check_rank_matrix(Y_true, "Y_true"), check_rank_matrix(Y_pred, "Y_pred")
    check_same_shape(Y_true, Y_pred, "Y_true", "Y_pred")
    return Y_true, Y_pred


def kendall_tau(Y_true, Y_pred) -> float:
    r"""Kendall's τ between true and predicted rankings, averaged over instances.

    .. math::

        \tau = \frac1n \sum_{i=1}^n \frac{2}{k(k-1)} \sum_{a < b}
        \operatorname{sign}(y_{ia} - y_{ib})\, \operatorname{sign}(\hat y_{ia} - \hat y_{ib})

    (concordant minus discordant label pairs over all pairs; 1 for identical rankings, −1 for reversed ones).

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        Rank form, each row k distinct values (``ValueError`` for ties, NaN, k < 2 or different shapes).

    Returns
    -------
    float in [-1, 1]

    References
    ----------
    Kendall (1938), "A New Measure of Rank Correlation", Biometrika 30; Cheng, Hühn, Hüllermeier (2009),
    "Decision Tree and Instance-Based Learning for Label Ranking", ICML, §5 (the evaluation of label ranking).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.estimators._ranking_metrics import kendall_tau
    >>> Y_true = np.array([[1, 2, 3, 4], [1, 2, 3, 4]])
    >>> Y_pred = np.array([[1, 2, 3, 4], [2, 1, 3, 4]])
    >>> print(round(kendall_tau(Y_true, Y_pred), 4))
    0.8333
    """
    Y_true, Y_pred = _checked_pair(Y_true, Y_pred)
    k = Y_true.shape[1]
    pairs = np.sign(Y_true[:, :, None] - Y_true[:, None, :]) * np.sign(Y_pred[:, :, None] - Y_pred[:, None, :])
    return float((pairs.sum(axis=(1, 2)) / (k * (k - 1))).mean())


def spearman_rho(Y_true, Y_pred) -> float:
    r"""Spearman's ρ between true and predicted rankings, averaged over instances.

    .. math::

        \rho = \frac1n \sum_{i=1}^n 1 - \frac{6 \sum_j (r_{ij} - \hat r_{ij})^2}{k (k^2 - 1)},

    with :math:`r_i, \hat r_i` the positions 1..k of the labels in each row (the rows' values replaced by their
    order, so any distinct values are accepted).

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        As in :func:`kendall_tau`.

    Returns
    -------
    float in [-1, 1]

    References
    ----------
    Spearman (1904), "The Proof and Measurement of Association between Two Things", Am. J. Psychol. 15;
    Cheng, Hühn, Hüllermeier (2009), ICML, §5.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.estimators._ranking_metrics import spearman_rho
    >>> Y_true = np.array([[1, 2, 3, 4], [1, 2, 3, 4]])
    >>> Y_pred = np.array([[1, 2, 3, 4], [2, 1, 3, 4]])
    >>> print(round(spearman_rho(Y_true, Y_pred), 4))
    0.9
    """
    Y_true, Y_pred = _checked_pair(Y_true, Y_pred)
    k = Y_true.shape[1]
    positions = [np.argsort(np.argsort(Y, axis=1), axis=1) for Y in (Y_true, Y_pred)]
    squared = ((positions[0] - positions[1]).astype(np.float64) ** 2).sum(axis=1)
    return float((1 - 6 * squared / (k * (k * k - 1))).mean())
