r"""Multilabel evaluation metrics on label matrices in {0, 1}^{n×k}.

Conventions: a sample (example-based F1) or a label (macro F1) with no true and no predicted positives is
predicted perfectly and scores 1 (scikit-learn's ``zero_division=1``); micro F1 with no positive at all, true or
predicted, is 1 as well. All four return floats in [0, 1].
"""
from __future__ import annotations

import numpy as np

from refefl._validation import as_float_array, check_same_shape


def check_label_matrix(Y, name: str) -> np.ndarray:
    """``Y`` as a 2-D float64 array of 0s and 1s (bools and integers accepted); ``ValueError`` otherwise.

    Examples
    --------
    >>> from refefl.estimators._metrics import check_label_matrix
    >>> check_label_matrix([[1, 0], [0, 1]], "Y")
    array([[1., 0.],
           [0., 1.]])
    """
    Y = as_float_array(Y, name, min_ndim=2)
    if Y.ndim != 2 or Y.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n_samples, n_labels) with n_samples >= 1, got {Y.shape}")
    if not np.isin(Y, (0.0, 1.0)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (a multilabel indicator matrix)")
    return Y.astype(np.float64, copy=False)


def _counts(Y_true, Y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entrywise true positives, false positives and false negatives, each of shape (n_samples, n_labels)."""
    Y_true = check_label_matrix(Y_true, "Y_true")
    Y_pred = check_label_matrix(Y_pred, "Y_pred")
    check_same_shape(Y_true, Y_pred, "Y_true", "Y_pred")
    return Y_true * Y_pred, (1 - Y_true) * Y_pred, Y_true * (1 - Y_pred)


def _f1(tp, fp, fn) -> np.ndarray:
    """2 tp / (2 tp + fp + fn), and 1 where the denominator is 0 (nothing to find, nothing predicted)."""
    tp, fp, fn = np.asarray(tp, float), np.asarray(fp, float), np.asarray(fn, float)
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 1.0)


def hamming_accuracy(Y_true, Y_pred) -> float:
    r"""One minus the Hamming loss: the fraction of label entries predicted correctly.

    .. math::

        \mathrm{acc}_H = \frac{1}{nk}\sum_{i=1}^n\sum_{j=1}^k 1[\hat y_{ij} = y_{ij}]

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels), entries in {0, 1}

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Schapire, Singer (2000), "BoosTexter: A Boosting-based System for Text Categorization", Machine Learning
    39, §2 (Hamming loss); Tsoumakas, Katakis, Vlahavas (2010), "Mining Multi-label Data", Data Mining and
    Knowledge Discovery Handbook, §4.1.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.estimators._metrics import hamming_accuracy
    >>> Y_true = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 1]])
    >>> Y_pred = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 1]])
    >>> print(round(hamming_accuracy(Y_true, Y_pred), 4))
    0.7778
    """
    tp, fp, fn = _counts(Y_true, Y_pred)
    return float(1 - (fp + fn).mean())


def example_f1(Y_true, Y_pred) -> float:
    r"""Example-based F1: the F1 score of each sample's predicted label set, averaged over samples.

    .. math::

        F_1^{\mathrm{ex}} = \frac1n \sum_{i=1}^n \frac{2\,|Y_i \cap \hat Y_i|}{|Y_i| + |\hat Y_i|}
        \qquad (\text{a term is } 1 \text{ when } Y_i = \hat Y_i = \emptyset)

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels), entries in {0, 1}

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Godbole, Sarawagi (2004), "Discriminative Methods for Multi-labeled Classification", PAKDD, §6;
    Tsoumakas, Katakis, Vlahavas (2010), "Mining Multi-label Data", §4.1 (example-based F1).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.estimators._metrics import example_f1
    >>> Y_true = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 1]])
    >>> Y_pred = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 1]])
    >>> print(round(example_f1(Y_true, Y_pred), 4))
    0.7778
    """
    tp, fp, fn = _counts(Y_true, Y_pred)
    return float(_f1(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)).mean())


def micro_f1(Y_true, Y_pred) -> float:
    r"""Micro-averaged F1: the F1 score of all label entries pooled.

    .. math::

        F_1^{\mu} = \frac{2\sum_{ij} t_{ij}\hat y_{ij}}{\sum_{ij} t_{ij} + \sum_{ij} \hat y_{ij}}
        \qquad (t = Y_{\mathrm{true}};\ 1 \text{ when there are no positives at all})

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels), entries in {0, 1}

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Yang (1999), "An Evaluation of Statistical Approaches to Text Categorization", Information Retrieval 1,
    §3.2 (micro- and macro-averaging); Tsoumakas, Katakis, Vlahavas (2010), "Mining Multi-label Data", §4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.estimators._metrics import micro_f1
    >>> Y_true = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 1]])
    >>> Y_pred = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 1]])
    >>> print(round(micro_f1(Y_true, Y_pred), 4))
    0.8333
    """
    tp, fp, fn = _counts(Y_true, Y_pred)
    return float(_f1(tp.sum(), fp.sum(), fn.sum()))


def macro_f1(Y_true, Y_pred) -> float:
    r"""Macro-averaged F1: the F1 score of each label (column), averaged over labels.

    .. math::

        F_1^{M} = \frac1k \sum_{j=1}^k \frac{2\,\mathrm{tp}_j}{2\,\mathrm{tp}_j + \mathrm{fp}_j + \mathrm{fn}_j}
        \qquad (\text{a term is } 1 \text{ when label } j \text{ is never true nor predicted})

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels), entries in {0, 1}

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Yang (1999), "An Evaluation of Statistical Approaches to Text Categorization", Information Retrieval 1,
    §3.2; Tsoumakas, Katakis, Vlahavas (2010), "Mining Multi-label Data", §4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.estimators._metrics import macro_f1
    >>> Y_true = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 1]])
    >>> Y_pred = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 1]])
    >>> print(round(macro_f1(Y_true, Y_pred), 4))
    0.8222
    """
    tp, fp, fn = _counts(Y_true, Y_pred)
    return float(_f1(tp.sum(axis=0), fp.sum(axis=0), fn.sum(axis=0)).mean())


#: the metrics the multilabel experiment reports, by name
METRICS = {
    "hamming_accuracy": hamming_accuracy,
    "example_f1": example_f1,
    "micro_f1": micro_f1,
    "macro_f1": macro_f1,
}
