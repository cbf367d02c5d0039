"""What the estimators accept: features X of shape (n_samples, n_features) and targets Y, a 0/1 label matrix of
shape (n_samples, n_labels), with the errors scikit-learn's users expect for anything else (sparse and complex
input refused by name, object arrays of numbers read as numbers, the kind of a wrong target named)."""
from __future__ import annotations

import numpy as np
import scipy.sparse

from refefl._validation import as_float_array, check_finite
from refefl.estimators._metrics import check_label_matrix


def _dense_real(A, name: str) -> np.ndarray:
    """``A`` as an ndarray of real numbers, with scikit-learn's errors for the inputs its users pass: sparse
    matrices and complex values are refused (``ValueError`` naming the input), object arrays of numbers are
    read as numbers (``TypeError`` for other objects)."""
    if scipy.sparse.issparse(A):
        raise ValueError(f"{name} is a sparse {type(A).__name__}: sparse input is not supported; pass a dense array "
                         f"({name}.toarray())")
    A = np.asarray(A)
    if A.dtype.kind == "c":
        raise ValueError(f"{name}: Complex data not supported (got dtype {A.dtype}); pass real numbers")
    if A.dtype == object:
        try:
            A = A.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} of dtype object must hold numbers: {error}") from None
    return A


def _target_kind(Y: np.ndarray) -> str:
    """What a target that is not a 0/1 label matrix looks like, in scikit-learn's words ("continuous", ...)."""
    shape = f"of shape {Y.shape}"
    if Y.dtype.kind not in "biuf":
        return f"non-numeric (dtype {Y.dtype}) {shape}"
    if not np.all(np.isfinite(Y)) or np.any(Y != np.round(Y)):
        return f"continuous {shape}"
    return f"{'binary' if len(np.unique(Y)) <= 2 else 'multiclass'} {shape}"


def check_targets(Y) -> np.ndarray:
    """``Y`` as a float64 0/1 label matrix of shape (n_samples, n_labels); ``ValueError`` naming what it is
    otherwise (1-D class labels, strings and continuous targets included)."""
    if Y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None "
                         "(Y: a 0/1 label matrix of shape (n_samples, n_labels))")
    Y = _dense_real(Y, "Y")
    try:
        return check_label_matrix(Y, "Y")
    except (TypeError, ValueError) as error:
        raise ValueError(f"{error}; Unknown label type: {_target_kind(Y)} (a multilabel indicator matrix "
                         "is expected)") from None


def check_features(X, n_features: int | None = None, owner: str = "the estimator") -> np.ndarray:
    """``X`` as a finite float64 array of shape (n_samples, n_features), n_samples ≥ 1 (``n_features`` of them
    when given: the number ``owner`` was fitted with); ``ValueError``/``TypeError`` naming the problem."""
    X = _dense_real(X, "X")
    if X.ndim == 1:
        raise ValueError(f"X must have shape (n_samples, n_features), got a 1-D array of shape {X.shape}: Reshape "
                         "your data either using X.reshape(-1, 1) if it has a single feature or X.reshape(1, -1) if "
                         "it is a single sample")
    if X.ndim == 2 and X.shape[1] == 0:
        raise ValueError(f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    X = as_float_array(X, "X", min_ndim=2)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n_samples, n_features) with n_samples >= 1, got {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but {owner} is expecting {n_features} features as input")
    check_finite(X, "X")
    return X.astype(np.float64, copy=False)


def standardization(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training mean and scale of each feature, (X - mean) / scale standardizing it; a constant feature gets
    scale 1 (it is centred only)."""
    std = X.std(axis=0)
    return X.mean(axis=0), np.where(std > 0, std, 1.0)
