"""Isotonic regression by the pool-adjacent-violators algorithm (PAV), Euclidean and KL versions.

The two NumPy kernels below are the readable references of ``refefl_ext.isotonic_l2`` and
``refefl_ext.isotonic_kl`` (same names, same signatures). They work row by row on C-contiguous 2-D arrays and
write into preallocated outputs; :func:`isotonic_regression` and :func:`isotonic_regression_kl` validate the
input and call one of them through the backend switch.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from refefl import _backend
from refefl._validation import (
    as_float_array,
    as_rows,
    check_axis,
    check_bool,
    check_finite,
    check_same_shape,
    common_float_dtype,
    finite_range,
    from_rows,
)


def _in_order(prev: float, cur: float, increasing: bool) -> bool:
    """Adjacent blocks stay apart only when strictly ordered; equal values pool (scipy's convention)."""
    return prev < cur if increasing else prev > cur


def _sum_before(sum_wy: float, sum_w: float, cur: float, increasing: bool) -> bool:
    """``_in_order(sum_wy / sum_w, cur)`` without the division (sum_w > 0), as the compiled kernel does."""
    return sum_wy < cur * sum_w if increasing else sum_wy > cur * sum_w


def _sum_after(prev: float, sum_wy: float, sum_w: float, increasing: bool) -> bool:
    """``_in_order(prev, sum_wy / sum_w)`` without the division."""
    return prev * sum_w < sum_wy if increasing else prev * sum_w > sum_wy


def _pav_l2_row(y, w, increasing, mean, weight, starts) -> int:
    """Weighted Euclidean PAV on one row; fills the block stacks and ``starts``; returns the number of blocks.

    Each pass opens a block at i, absorbs the following points while they are out of order with the block's
    mean (running sums Σwy, Σw), then pools it backwards with earlier blocks while those are out of order.
    """
    n, top, i = len(y), -1, 0
    while i < n:
        start, sum_wy, sum_w, k = i, w[i] * y[i], w[i], i + 1
        while k < n and not _sum_before(sum_wy, sum_w, y[k], increasing):
            sum_wy, sum_w, k = sum_wy + w[k] * y[k], sum_w + w[k], k + 1
        while top >= 0 and not _sum_after(mean[top], sum_wy, sum_w, increasing):
            sum_wy, sum_w, start, top = sum_wy + weight[top] * mean[top], sum_w + weight[top], starts[top], top - 1
        top += 1
        mean[top], weight[top], starts[top] = sum_wy / sum_w, sum_w, start
        i = k
    starts[top + 1] = n
    return top + 1


def _expand_blocks(mean, starts, n_blocks, out) -> None:
    """out[starts[b]:starts[b+1]] = mean[b], last block first (so that ``mean`` may live inside ``out``)."""
    for b in range(n_blocks - 1, -1, -1):
        out[starts[b] : starts[b + 1]] = mean[b]


def _logaddexp(a: float, b: float) -> float:
    """log(e^a + e^b) computed as max + log1p(exp(-|a - b|)) (the same formula as the compiled kernel)."""
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _pav_kl_row(s, log_w, increasing, value, starts) -> int:
    """Entropic PAV on one row: a block's statistics are logsumexp(s_B) and logsumexp(log_w_B)."""
    lse_s, lse_w, top = [0.0] * len(s), [0.0] * len(s), -1
    for i in range(len(s)):
        top += 1
        starts[top], lse_s[top], lse_w[top] = i, s[i], log_w[i]
        value[top] = s[i] - log_w[i]
        while top > 0 and not _in_order(value[top - 1], value[top], increasing):
            lse_s[top - 1] = _logaddexp(lse_s[top - 1], lse_s[top])
            lse_w[top - 1] = _logaddexp(lse_w[top - 1], lse_w[top])
            value[top - 1] = lse_s[top - 1] - lse_w[top - 1]
            top -= 1
    starts[top + 1] = len(s)
    return top + 1


@_backend.numpy_twin
def isotonic_l2(y, weights, out, starts, n_blocks, increasing) -> None:
    r"""PAV for :math:`\min_v \sum_i w_i (v_i - y_i)^2` s.t. v monotone, row by row (NumPy reference kernel).

    Parameters
    ----------
    y : ndarray of shape (n_rows, n), float32 or float64, C-contiguous
        Data; the caller guarantees that n·max|y| does not overflow (block sums are formed).
    weights : ndarray of shape (n_rows, n) (positive) or (n_rows, 0) for unit weights
    out : ndarray of shape (n_rows, n), dtype of ``y``; receives the fit
    starts : ndarray of shape (n_rows, n + 1), intp; receives block starts then the sentinel n
    n_blocks : ndarray of shape (n_rows,), intp; receives the number of blocks of each row
    increasing : bool
        Fit :math:`v_1 \le \dots \le v_n` if True, :math:`v_1 \ge \dots \ge v_n` otherwise.

    Block sums are accumulated in float64 whatever the dtype of ``y``.
    """
    n = y.shape[1]
    for r in range(y.shape[0]):
        w = weights[r].tolist() if weights.shape[1] else [1.0] * n
        mean, weight = [0.0] * n, [0.0] * n
        n_blocks[r] = _pav_l2_row(y[r].tolist(), w, increasing, mean, weight, starts[r])
        _expand_blocks(mean, starts[r], n_blocks[r], out[r])


@_backend.numpy_twin
def isotonic_kl(s, log_w, out, starts, n_blocks, increasing) -> None:
    r"""PAV for :math:`\min_v \sum_i e^{s_i - v_i} + e^{\ell_i} v_i` s.t. v monotone (NumPy reference kernel).

    A block B takes the value :math:`v_B = \log\sum_{i\in B} e^{s_i} - \log\sum_{i\in B} e^{\ell_i}`, where
    :math:`\ell` = ``log_w``. This is the entropic isotonic problem of Blondel et al. (2020), eq. (8)/Prop. 3,
    behind the KL soft sort and rank. Arguments as in :func:`isotonic_l2` with ``log_w`` of shape (n_rows, n).
    """
    for r in range(s.shape[0]):
        value = [0.0] * s.shape[1]
        n_blocks[r] = _pav_kl_row(s[r].tolist(), log_w[r].tolist(), increasing, value, starts[r])
        _expand_blocks(value, starts[r], n_blocks[r], out[r])


def _normalized_weights(weights, y: np.ndarray) -> np.ndarray:
    """Validated weights times the power of two that puts their maximum in [1/2, 1).

    The fit depends only on the ratios of the weights, and an exact rescaling keeps those: weights of any scale
    (down to 5e-324) give the fit of unit-scale ones, whose products with y neither underflow nor overflow.
    """
    weights = as_float_array(weights, "weights")
    check_same_shape(weights, y, "weights", "y")
    if weights.size == 0:
        return weights
    low, high = finite_range(weights, "weights")
    if low <= 0:
        raise ValueError("weights must be strictly positive (a zero weight leaves the fit undefined)")
    weights = np.ldexp(weights, -math.frexp(high)[1])
    if not weights.min() > 0:
        raise ValueError("weights span more than the float64 range: the ratio of the largest to the smallest "
                         f"must stay below 2**1074, got {high:.3g} / {low:.3g}")
    return weights


def _sum_exponent(magnitude: float, n: int, limit: int = 1000) -> int:
    """The exponent e ≤ 0 of the exact rescaling 2^e that keeps n·magnitude·2^e ≤ 2^limit (block sums finite).

    From the binary exponent of ``magnitude`` (no product that could overflow is formed).
    """
    return min(0, limit - math.frexp(magnitude)[1] - (n - 1).bit_length()) if magnitude > 0 else 0


class IsotonicResult(NamedTuple):
    """An isotonic fit with its blocks: what :func:`isotonic_regression` and :func:`isotonic_regression_kl`
    return with ``return_blocks=True``, whatever the shape of the input and the backend.

    A block is a maximal run of entries sharing one fitted value. With ``batch`` the shape of the input without
    ``axis`` (``()`` for 1-D input) and n the length along ``axis``:

    Attributes
    ----------
    fit : ndarray of the shape and dtype of the input
        The isotonic fit v.
    starts : ndarray of shape batch + (n + 1,), intp
        For each row, the start index of each of its blocks, then n, then n again up to length n + 1; so
        ``np.diff(starts, axis=-1)`` holds the block lengths, followed by zeros.
    n_blocks : ndarray of shape batch, intp
        The number of blocks of each row.

    Examples
    --------
    >>> from refefl.projections import isotonic_regression
    >>> result = isotonic_regression([[8, 4, 8, 2], [1, 2, 4, 0]], return_blocks=True)
    >>> result.fit
    array([[5.5, 5.5, 5.5, 5.5],
           [1. , 2. , 2. , 2. ]])
    >>> result.starts
    array([[0, 4, 4, 4, 4],
           [0, 1, 4, 4, 4]])
    >>> result.n_blocks
    array([1, 2])
    >>> result.blocks(1)
    array([0, 1, 4])
    """

    fit: np.ndarray
    starts: np.ndarray
    n_blocks: np.ndarray

    def blocks(self, *index: int) -> np.ndarray:
        """The block starts of the row at ``index`` (none for 1-D input) followed by n: scipy's ``blocks``."""
        return self.starts[index][: int(self.n_blocks[index]) + 1]


def _result(v: np.ndarray, starts: np.ndarray, n_blocks: np.ndarray, moved_shape) -> IsotonicResult:
    """The result of the kernel's rows: starts padded with n past each row's blocks, batch shape restored."""
    n = starts.shape[1] - 1
    starts[np.arange(n + 1) > n_blocks[:, None]] = n
    batch = tuple(moved_shape[:-1])
    return IsotonicResult(v, starts.reshape(batch + (n + 1,)), n_blocks.reshape(batch))


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
    ``scipy.optimize.isotonic_regression`` (block sums are formed, so a run of equal values can, through
    rounding, split into blocks with equal fitted values). Accumulates in float64 for float32 data; O(n) per row.
    Data up to the float64 limit are handled by an exact power-of-two rescaling that keeps block sums finite.

    Parameters
    ----------
    y : array_like of shape (..., n)
        Finite data (float32 kept, integers become float64).
    weights : array_like of shape (..., n), optional
        Finite, strictly positive case weights (default: all ones).
    increasing : bool, default True
    return_blocks : bool, default False
        Return an :class:`IsotonicResult`: the fit with the blocks of each row (their starts followed by ``n``,
        as scipy's ``blocks``), one type for every input shape and backend.
    axis : int, default -1
    backend : {"auto", "numpy", "ext"}, default "auto"
        "numpy" runs the NumPy twin, "ext" the compiled one (``refefl_ext``), "auto" (the default) the backend of
        :func:`refefl.config_context` (the compiled twin when built, unless ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    v : ndarray of the shape and dtype of ``y``
        Without ``return_blocks``.
    result : IsotonicResult
        With ``return_blocks=True``: ``fit`` (v), ``starts`` and ``n_blocks``.

    References
    ----------
    Barlow, Bartholomew, Bremner, Brunk (1972), *Statistical Inference under Order Restrictions*; Best & Chakravarti
    (1990), "Active set algorithms for isotonic regression", Math. Programming 47.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import isotonic_regression
    >>> isotonic_regression([3.0, 1.0, 2.0, 5.0])
    array([2., 2., 2., 5.])
    >>> isotonic_regression([3.0, 1.0, 2.0, 5.0], increasing=False)
    array([3.        , 2.66666667, 2.66666667, 2.66666667])
    >>> isotonic_regression([[1.0, 0.0], [0.0, 1.0]], weights=[[3.0, 1.0], [1.0, 1.0]])
    array([[0.75, 0.75],
           [0.  , 1.  ]])
    >>> result = isotonic_regression([8, 4, 8, 2, 2, 0, 8], return_blocks=True)
    >>> result.fit, result.blocks()
    (array([4., 4., 4., 4., 4., 4., 8.]), array([0, 6, 7]))
    """
    y = as_float_array(y, "y")
    axis = check_axis(y, axis, "y")
    increasing, return_blocks = check_bool(increasing, "increasing"), check_bool(return_blocks, "return_blocks")
    low, high = finite_range(y, "y") if y.size else (0.0, 0.0)
    kernel = _backend.select(isotonic_l2, backend)
    rows, moved_shape = as_rows(y, axis)
    n = rows.shape[1]
    if weights is None:
        w_rows = np.empty((rows.shape[0], 0), dtype=rows.dtype)
    else:  # weights at most 1 from here on
        w_rows, _ = as_rows(_normalized_weights(weights, y), axis, dtype=rows.dtype)
    # block sums Σ w·y must stay finite (|y| up to 1.7e308): rescale by an exact power of two if needed
    y_exponent = _sum_exponent(max(abs(low), abs(high)), n)
    if y_exponent:
        rows = np.ldexp(rows, y_exponent)
    out = np.empty_like(rows)
    starts = np.empty((rows.shape[0], n + 1), dtype=np.intp)
    n_blocks = np.empty(rows.shape[0], dtype=np.intp)
    kernel(rows, w_rows, out, starts, n_blocks, increasing)
    if y_exponent:
        out = np.ldexp(out, -y_exponent).astype(rows.dtype, copy=False)
    v = from_rows(out, moved_shape, axis)
    return _result(v, starts, n_blocks, moved_shape) if return_blocks else v


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

    Returns
    -------
    v : ndarray of the shape of ``s``
        Without ``return_blocks``.
    result : IsotonicResult
        With ``return_blocks=True``: ``fit`` (v), ``starts`` and ``n_blocks``.

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, Prop. 3 (entropic
    case) and §5.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import isotonic_regression_kl
    >>> v = isotonic_regression_kl([1.0, 3.0, 0.0], np.log([3.0, 2.0, 1.0]))
    >>> print(np.round(v, 4), bool(np.all(np.diff(v) <= 0)))
    [1.5175 1.5175 0.    ] True
    """
    s = as_float_array(s, "s")
    log_w = as_float_array(log_w, "log_w")
    check_same_shape(s, log_w, "s", "log_w")
    axis = check_axis(s, axis, "s")
    increasing, return_blocks = check_bool(increasing, "increasing"), check_bool(return_blocks, "return_blocks")
    check_finite(s, "s")
    check_finite(log_w, "log_w")
    kernel = _backend.select(isotonic_kl, backend)
    dtype = common_float_dtype(s, log_w)
    rows, moved_shape = as_rows(s, axis, dtype=dtype)
    lw_rows, _ = as_rows(log_w, axis, dtype=dtype)
    out = np.empty_like(rows)
    starts = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.intp)
    n_blocks = np.empty(rows.shape[0], dtype=np.intp)
    kernel(rows, lw_rows, out, starts, n_blocks, increasing)
    v = from_rows(out, moved_shape, axis)
    return _result(v, starts, n_blocks, moved_shape) if return_blocks else v
