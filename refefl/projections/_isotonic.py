"""Isotonic regression by the pool-adjacent-violators algorithm (PAV), Euclidean and KL versions.

The two NumPy kernels below are the readable references of ``refefl_ext.isotonic_l2`` and
``refefl_ext.isotonic_kl`` (same names, same signatures). They work row by row on C-contiguous 2-D arrays and
write into preallocated outputs; :func:`isotonic_regression` and :func:`isotonic_regression_kl` validate the
input and call one of them through the backend switch.
"""
from __future__ import annotations

import math

import numpy as np

from refefl import _backend
from refefl._validation import (
    as_float_array,
    as_rows,
    check_finite,
    check_same_shape,
    common_float_dtype,
    from_rows,
)


def _pav_row(stats_a, stats_b, pool, block_value, increasing, out, starts) -> int:
    """Generic PAV on one row; returns the number of blocks and fills ``out`` and ``starts`` (with sentinel n).

    Each element i carries statistics (a_i, b_i); a block's statistics are ``pool``-ed and its fitted value is
    ``block_value(a_B, b_B)``. Adjacent blocks are pooled while their values are not strictly in order, so equal
    neighbours share a block (the convention of ``scipy.optimize.isotonic_regression``).
    """
    block_a, block_b, block_start, block_val = [], [], [], []
    for i, (a, b) in enumerate(zip(stats_a, stats_b)):
        block_a.append(a)
        block_b.append(b)
        block_start.append(i)
        block_val.append(block_value(a, b))
        while len(block_val) > 1 and not (
            block_val[-2] < block_val[-1] if increasing else block_val[-2] > block_val[-1]
        ):
            a2, b2 = block_a.pop(), block_b.pop()
            block_start.pop()
            block_val.pop()
            block_a[-1], block_b[-1] = pool(block_a[-1], block_b[-1], a2, b2)
            block_val[-1] = block_value(block_a[-1], block_b[-1])
    n_blocks = len(block_val)
    starts[:n_blocks] = block_start
    starts[n_blocks] = len(out)
    for k in range(n_blocks):
        out[starts[k] : starts[k + 1]] = block_val[k]
    return n_blocks


def _pool_l2(mean_a, weight_a, mean_b, weight_b):
    """Pool two blocks (mean, total weight): the weighted mean, written to stay finite near 1e300."""
    weight = weight_a + weight_b
    return mean_a + (mean_b - mean_a) * (weight_b / weight), weight


def _pool_kl(lse_s_a, lse_w_a, lse_s_b, lse_w_b):
    """Pool two blocks of the KL problem: log-sum-exp of both statistics."""
    return _logaddexp(lse_s_a, lse_s_b), _logaddexp(lse_w_a, lse_w_b)


def _logaddexp(a: float, b: float) -> float:
    """log(e^a + e^b) computed as max + log1p(exp(-|a - b|)) (the same formula as the compiled kernel)."""
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


@_backend.numpy_twin
def isotonic_l2(y, weights, out, starts, n_blocks, increasing) -> None:
    r"""PAV for :math:`\min_v \sum_i w_i (v_i - y_i)^2` s.t. v monotone, row by row (NumPy reference kernel).

    Parameters
    ----------
    y : ndarray of shape (n_rows, n), float32 or float64, C-contiguous
    weights : ndarray of shape (n_rows, n) (positive) or (n_rows, 0) for unit weights
    out : ndarray of shape (n_rows, n), dtype of ``y``; receives the fit
    starts : ndarray of shape (n_rows, n + 1), intp; receives block starts then the sentinel n
    n_blocks : ndarray of shape (n_rows,), intp; receives the number of blocks of each row
    increasing : bool
        Fit :math:`v_1 \le \dots \le v_n` if True, :math:`v_1 \ge \dots \ge v_n` otherwise.

    Block means are accumulated in float64 whatever the dtype of ``y``.
    """
    weighted = weights.shape[1] > 0
    for r in range(y.shape[0]):
        w = weights[r].tolist() if weighted else [1.0] * y.shape[1]
        n_blocks[r] = _pav_row(
            y[r].tolist(), w, _pool_l2, lambda mean, weight: mean, increasing, out[r], starts[r]
        )


@_backend.numpy_twin
def isotonic_kl(s, log_w, out, starts, n_blocks, increasing) -> None:
    r"""PAV for :math:`\min_v \sum_i e^{s_i - v_i} + e^{\ell_i} v_i` s.t. v monotone (NumPy reference kernel).

    A block B takes the value :math:`v_B = \log\sum_{i\in B} e^{s_i} - \log\sum_{i\in B} e^{\ell_i}`, where
    :math:`\ell` = ``log_w``. This is the entropic isotonic problem of Blondel et al. (2020), eq. (8)/Prop. 3,
    behind the KL soft sort and rank. Arguments as in :func:`isotonic_l2` with ``log_w`` of shape (n_rows, n).
    """
    for r in range(s.shape[0]):
        n_blocks[r] = _pav_row(
            s[r].tolist(), log_w[r].tolist(), _pool_kl, lambda a, b: a - b, increasing, out[r], starts[r]
        )


def _check_weights(weights, y: np.ndarray, name: str = "weights") -> np.ndarray:
    weights = as_float_array(weights, name)
    check_same_shape(weights, y, name, "y")
    if not (np.isfinite(weights).all() and (weights > 0).all()):
        raise ValueError(f"{name} must be finite and strictly positive (a zero weight leaves the fit undefined)")
    return weights


def _split_blocks(starts: np.ndarray, n_blocks: np.ndarray, moved_shape):
    """Block starts (with sentinel) as one array for 1-D input, else a list of arrays in row order."""
    blocks = [starts[r, : n_blocks[r] + 1].copy() for r in range(starts.shape[0])]
    return blocks[0] if len(moved_shape) == 1 else blocks


def isotonic_regression(
    y,
    *,
    weights=None,
    increasing: bool = True,
    return_blocks: bool = False,
    axis: int = -1,
    backend: str = "auto",
):
    r"""Isotonic regression by pool-adjacent-violators, batched over every axis but ``axis``.

    .. math::

        \hat v = \operatorname*{argmin}_{v_1 \le v_2 \le \dots \le v_n} \sum_i w_i (v_i - y_i)^2

    (or :math:`v_1 \ge \dots \ge v_n` with ``increasing=False``). Adjacent equal values share one block, as in
    ``scipy.optimize.isotonic_regression``. Accumulates in float64 for float32 data; O(n) per row.

    Parameters
    ----------
    y : array_like of shape (..., n)
        Finite data (float32 kept, integers become float64).
    weights : array_like of shape (..., n), optional
        Finite, strictly positive case weights (default: all ones).
    increasing : bool, default True
    return_blocks : bool, default False
        Also return the block boundaries: the start index of each block followed by ``n`` (like scipy's
        ``blocks``). For 1-D input one int array; otherwise a list with one array per row, rows in C order.
    axis : int, default -1
    backend : {"auto", "numpy", "ext"}

    Returns
    -------
    v : ndarray of the shape and dtype of ``y``
    blocks : ndarray or list of ndarray, only if ``return_blocks``

    References
    ----------
    Barlow, Bartholomew, Bremner, Brunk (1972), *Statistical Inference under Order Restrictions*; Best & Chakravarti
    (1990), "Active set algorithms for isotonic regression", Math. Programming 47.
    """
    y = as_float_array(y, "y")
    check_finite(y, "y")
    kernel = _backend.select(isotonic_l2, backend)
    rows, moved_shape = as_rows(y, axis)
    if weights is None:
        w_rows = np.empty((rows.shape[0], 0), dtype=rows.dtype)
    else:
        weights = _check_weights(weights, y)
        w_rows, _ = as_rows(weights, axis, dtype=rows.dtype)
    out = np.empty_like(rows)
    starts = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.intp)
    n_blocks = np.empty(rows.shape[0], dtype=np.intp)
    kernel(rows, w_rows, out, starts, n_blocks, bool(increasing))
    v = from_rows(out, moved_shape, axis)
    return (v, _split_blocks(starts, n_blocks, moved_shape)) if return_blocks else v


def isotonic_regression_kl(
    s,
    log_w,
    *,
    increasing: bool = False,
    return_blocks: bool = False,
    axis: int = -1,
    backend: str = "auto",
):
    r"""Entropic (KL) isotonic regression by PAV, batched over every axis but ``axis``.

    .. math::

        \hat v = \operatorname*{argmin}_{v_1 \ge \dots \ge v_n} \sum_i e^{s_i - v_i} + \sum_i e^{\ell_i} v_i,
        \qquad \hat v_B = \log \sum_{i \in B} e^{s_i} - \log \sum_{i \in B} e^{\ell_i} \text{ on each block } B,

    with :math:`\ell` = ``log_w`` (decreasing by default, the form used by the entropic permutahedron projection;
    ``increasing=True`` flips the constraint).

    Parameters
    ----------
    s, log_w : array_like of shape (..., n)
        Finite numbers (float32 kept when both are float32).
    increasing, return_blocks, axis, backend
        As in :func:`isotonic_regression`.

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, Prop. 3 (entropic
    case) and §5.
    """
    s = as_float_array(s, "s")
    log_w = as_float_array(log_w, "log_w")
    check_same_shape(s, log_w, "s", "log_w")
    check_finite(s, "s")
    check_finite(log_w, "log_w")
    kernel = _backend.select(isotonic_kl, backend)
    dtype = common_float_dtype(s, log_w)
    rows, moved_shape = as_rows(s, axis, dtype=dtype)
    lw_rows, _ = as_rows(log_w, axis, dtype=dtype)
    out = np.empty_like(rows)
    starts = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.intp)
    n_blocks = np.empty(rows.shape[0], dtype=np.intp)
    kernel(rows, lw_rows, out, starts, n_blocks, bool(increasing))
    v = from_rows(out, moved_shape, axis)
    return (v, _split_blocks(starts, n_blocks, moved_shape)) if return_blocks else v
