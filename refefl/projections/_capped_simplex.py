r"""Maps onto the capped simplex :math:`C_s = \{y \in [0, 1]^k : \sum_i y_i = s\}`: the Euclidean projection
and the entropic (binary-entropy) map.

Both have the form :math:`\hat y = g(x - \tau)` with a scalar threshold τ chosen so that :math:`\sum_i \hat y_i = s`:
g = clip(·, 0, 1) for the projection (τ by an exact breakpoint search, :func:`projection_capped_simplex_rows`)
and g = sigmoid for the entropic map (τ by :func:`~refefl.projections._root_finding.find_root_decreasing`).

Edge cases, the same for both maps: s must satisfy 0 < s ≤ k (s = 0 would make :math:`C_s = \{0\}`, a constant
map, and is rejected). A score of ``-inf`` means "impossible": that coordinate is exactly 0 and the others are
mapped as if it were absent, which needs at least ⌈s⌉ finite scores per slice (``ValueError`` otherwise: the set
is then empty). When the number of finite scores equals s (s an integer, e.g. s = k) the set is a single point and
the answer is the indicator of the finite scores, whose derivative is 0.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, logit

from refefl._validation import check_positive, from_rows
from refefl.projections._root_finding import RootInfo, find_root_decreasing
from refefl.projections._simplex import validated_rows


def projection_capped_simplex_rows(x: np.ndarray, s: float, out: np.ndarray, free: np.ndarray) -> None:
    r"""Euclidean projection of each row of ``x`` onto :math:`C_s` (row kernel: no validation, writes in place).

    .. math::

        \hat y = \operatorname{clip}(x - \tau, 0, 1), \qquad
        g(\tau) = \textstyle\sum_i \operatorname{clip}(x_i - \tau, 0, 1) = s.

    g is continuous, non-increasing and piecewise linear with breakpoints :math:`x_i - 1` and :math:`x_i`. A
    binary search over the sorted breakpoints, evaluating g exactly at each probe, finds adjacent breakpoints
    :math:`b_- < b_+` with :math:`g(b_-) \ge s > g(b_+)`. On :math:`[b_-, b_+]` the sets are fixed: saturated
    :math:`S = \{x_i - 1 \ge b_+\}`, free :math:`F = \{x_i - 1 \le b_-,\ x_i \ge b_+\}`, the rest is 0, and
    :math:`g(\tau) = s` is linear. If :math:`g(b_-) = s`, then τ = b_- and the coordinates with
    :math:`x_i - 1 = b_-` move from F to S (ŷ_i = 1), so that F is exactly :math:`\{0 < \hat y_i < 1\}` and a flat
    stretch of g (ŷ locally constant) gets an empty F. On F

    .. math::

        \hat y_F = (x_F - a) - \operatorname{mean}(x_F - a) + \frac{s - |S|}{|F|}, \qquad a = \min x_F

    (this centred form never forms τ = mean(x_F) − (s − |S|)/|F| itself, so |x| up to 1e300 loses nothing).

    Parameters
    ----------
    x : ndarray of shape (n_rows, k), float32 or float64, C-contiguous
        Finite or ``-inf``; each row has m ≥ s finite entries, and 0 < s ≤ k.
    s : float
    out : ndarray of shape (n_rows, k), dtype of ``x``; receives ŷ.
    free : ndarray of shape (n_rows, k), uint8; receives 1 on F, where ŷ moves with x (the Jacobian is the
        centring operator on F, 0 elsewhere); empty when m = s (the set is then a point).

    Breakpoints and sums are computed in float64 whatever the dtype of ``x``; O(k log k) per row.
    """
    z = x.astype(np.float64)
    with np.errstate(over="ignore"):  # x_i - b beyond the float range: ±inf, which clip maps to 0 or 1
        saturated, is_free = _classify(z, s, *_bracketing_breakpoints(z, s))
        anchor = np.where(is_free, z, np.inf).min(axis=1, keepdims=True)
        centred = np.where(is_free, z - anchor, 0.0)
    n_free = np.maximum(is_free.sum(axis=1), 1)
    offset = (s - saturated.sum(axis=1)) / n_free - centred.sum(axis=1) / n_free
    out[...] = np.where(is_free, np.clip(centred + offset[:, None], 0.0, 1.0), saturated)
    free[...] = is_free


def _classify(z, s, b_lo, b_hi, g_lo) -> tuple[np.ndarray, np.ndarray]:
    """Saturated (ŷ = 1) and free (0 < ŷ < 1) masks of each row from its bracketing breakpoints b_- < b_+."""
    b_lo, b_hi = b_lo[:, None], b_hi[:, None]
    saturated = z - 1.0 >= b_hi
    is_free = (z - 1.0 <= b_lo) & (z >= b_hi)
    # g(b_-) = s: τ = b_-, and x_i - 1 = b_- sits at ŷ_i = 1 (on a flat stretch of g ŷ is locally constant and F
    # must be empty; at a kink this picks one one-sided Jacobian)
    at_one = is_free & (g_lo == s)[:, None] & (z - 1.0 == b_lo)
    # beyond 2**53, fl(x_i - 1) = x_i: such a coordinate jumps from 1 to 0 at b_+, and a group of ties there shares
    # the remainder s - |S| (the only way F can be empty with |S| != s)
    jumping = saturated & (z == b_hi) & (~is_free.any(axis=1) & (saturated.sum(axis=1) != s))[:, None]
    saturated = (saturated | at_one) & ~jumping
    is_free = (is_free & ~at_one) | jumping
    point = np.isfinite(z).sum(axis=1) == s  # the set is one point: ŷ is constant
    saturated[point], is_free[point] = np.isfinite(z[point]), False
    return saturated, is_free


def _bracketing_breakpoints(z: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjacent sorted breakpoints b_- < b_+ of each row with g(b_-) ≥ s > g(b_+), and g(b_-).

    b_- = -inf (g = m) when no finite breakpoint has g ≥ s, which only rounding at |x| ≳ 2**53 can cause.
    """
    n_rows, k = z.shape
    rows = np.arange(n_rows)
    breakpoints = np.sort(np.concatenate([z - 1.0, z], axis=1), axis=1)
    # invariant: g(b[lo]) >= s (index 2·#(-inf) - 1 stands for -inf) and g(b[hi]) < s (b[2k - 1] = max z, g = 0)
    lo = 2 * np.count_nonzero(np.isneginf(z), axis=1) - 1
    hi = np.full(n_rows, 2 * k - 1)
    g_lo = np.isfinite(z).sum(axis=1).astype(np.float64)
    active = hi - lo > 1
    while active.any():
        mid = (lo[active] + hi[active]) // 2
        g = np.clip(z[active] - breakpoints[rows[active], mid][:, None], 0.0, 1.0).sum(axis=1)
        above = g >= s
        lo[active] = np.where(above, mid, lo[active])
        g_lo[active] = np.where(above, g, g_lo[active])
        hi[active] = np.where(above, hi[active], mid)
        active = hi - lo > 1
    b_lo = np.where(lo >= 0, breakpoints[rows, np.maximum(lo, 0)], -np.inf)
    return b_lo, breakpoints[rows, hi], g_lo


def capped_entropic_margins(x: np.ndarray, s: float, *, max_iter: int = 200) -> tuple[np.ndarray, RootInfo]:
    r"""Margins :math:`u = x - \tau` of the entropic map on rows, with :math:`\sum_i \sigma(u_i) = s` (no validation).

    The threshold solves the decreasing equation :math:`f(\tau) = \sum_i \sigma(x_i - \tau) - s = 0`,
    :math:`f'(\tau) = -\sum_i \sigma(u_i)\sigma(-u_i)`, by safeguarded Newton inside the bracket (order statistics
    :math:`x_{(1)} \ge x_{(2)} \ge \dots`, r = ⌈s⌉, c = ⌊s⌋ + 1, m finite scores)

    .. math::

        x_{(c)} - \operatorname{logit}\tfrac{s}{c} \;\le\; \tau \;\le\;
        x_{(r)} - \operatorname{logit}\tfrac{s - r + 1}{m - r + 1},

    the left end from :math:`\sum_i \sigma \ge c\,\sigma(x_{(c)} - \tau)`, the right one from
    :math:`\sum_i \sigma \le (r - 1) + (m - r + 1)\,\sigma(x_{(r)} - \tau)`. Scores are shifted by :math:`x_{(r)}`
    first, which puts τ near 0 where floats are densest.

    Parameters
    ----------
    x : ndarray of shape (n_rows, k), float32 or float64
        Finite or ``-inf``, each row with m ≥ s finite entries, 0 < s ≤ k.
    s : float
    max_iter : int, default 200

    Returns
    -------
    u : ndarray of shape (n_rows, k), float64
        Shifted margins (defined up to the per-row shift, which ŷ = σ(u) does not see); ``-inf`` on ``-inf``
        scores, ``+inf`` on the finite scores of rows with m = s (ŷ is then the indicator).
    info : RootInfo
        Iterations, largest final |f|, bracket width and convergence of the root finding.
    """
    z = x.astype(np.float64)
    n_finite = np.isfinite(z).sum(axis=1)
    u = np.where(np.isfinite(z), np.inf, -np.inf)
    solve = n_finite > s
    if not solve.any():
        return u, RootInfo(0, 0.0, 0.0, True)
    z, m = z[solve], n_finite[solve]
    r, c = math.ceil(s), math.floor(s) + 1
    order = -np.partition(-z, sorted({r - 1, c - 1}), axis=1)
    # gaps beyond the float range (|x| near 1.8e308) overflow to ±inf, which σ maps to exactly 0 or 1
    with np.errstate(over="ignore"):
        z -= order[:, r - 1 : r]
        # a -inf left end (x_(r) - x_(c) > 1.8e308) moves in to a finite point where f is still exactly 0
        lo = np.maximum(order[:, c - 1] - order[:, r - 1] - logit(s / c), -np.finfo(np.float64).max / 4)
        hi = np.maximum(-logit((s - (r - 1)) / (m - (r - 1))), lo)  # s - (r - 1) is exact; max: ends never cross

        def residual(tau, rows):
            margins = z[rows] - tau[:, None]
            p = expit(margins)
            return p.sum(axis=1) - s, -(p * expit(-margins)).sum(axis=1)

        tau, info = find_root_decreasing(residual, lo, hi, max_iter=max_iter)
        u[solve] = z - tau[:, None]
    return u, info


def _validated(x, s, axis: int) -> tuple[np.ndarray, tuple[int, ...], int, float]:
    """Rows of x (validated scores), their moved shape, the axis, and s checked against 0 < s ≤ m ≤ k."""
    rows, moved_shape, axis = validated_rows(x, "x", axis)
    s = check_positive(s, "s")
    k = rows.shape[1]
    if s > k:
        raise ValueError(f"s must satisfy 0 < s <= k = {k} (the length of x along axis {axis}), got s = {s}")
    n_finite = np.isfinite(rows).sum(axis=1)
    if (n_finite < s).any():
        raise ValueError(
            f"x has a slice with only {n_finite.min()} finite scores, fewer than s = {s}: no y in [0, 1]^k with "
            "sum s is 0 on every -inf score (infeasible)"
        )
    return rows, moved_shape, axis, s


def solve_capped_simplex(x, s, *, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Validated :func:`projection_capped_simplex` that also returns the free set (bool, shape of x)."""
    rows, moved_shape, axis, s = _validated(x, s, axis)
    out = np.empty_like(rows)
    free = np.empty(rows.shape, dtype=np.uint8)
    projection_capped_simplex_rows(rows, s, out, free)
    return from_rows(out, moved_shape, axis), from_rows(free.astype(bool), moved_shape, axis)


def solve_capped_simplex_entropic(x, s, *, axis: int = -1, max_iter: int = 200):
    """Validated :func:`capped_entropic_margins`: ``(u, info, dtype)``, u float64 of the shape of x, x's dtype."""
    rows, moved_shape, axis, s = _validated(x, s, axis)
    u, info = capped_entropic_margins(rows, s, max_iter=max_iter)
    return from_rows(u, moved_shape, axis), info, rows.dtype


def projection_capped_simplex(x, s: float, *, axis: int = -1) -> np.ndarray:
    r"""Euclidean projection onto the capped simplex :math:`C_s = \{y \in [0,1]^k : \sum_i y_i = s\}`.

    .. math::

        \Pi_{C_s}(x) = \operatorname*{argmin}_{0 \le y \le 1,\ \sum_i y_i = s} \|y - x\|_2^2
        = \operatorname{clip}(x - \tau, 0, 1), \qquad \tau \text{ such that }
        \textstyle\sum_i \operatorname{clip}(x_i - \tau, 0, 1) = s,

    with τ found exactly by a search over the 2k breakpoints :math:`x_i - 1, x_i` (see
    :func:`projection_capped_simplex_rows`), O(k log k) per slice, in float64. For s = 1 it is sparsemax; it is
    the regularized prediction of :math:`\tfrac12\|y\|^2` on :math:`C_s` (a "soft top-s").

    Parameters
    ----------
    x : array_like of shape (..., k, ...)
        Scores, finite or ``-inf`` (then exactly 0 there, the rest as if those coordinates were absent). NaN,
        +inf, or fewer than ⌈s⌉ finite scores in a slice raise ``ValueError``. float32 is kept (computed in
        float64 and rounded once), integers become float64.
    s : float
        0 < s ≤ k (``ValueError`` otherwise, ``TypeError`` if not a real number). With exactly s finite scores
        the result is their indicator.
    axis : int, default -1

    Returns
    -------
    ndarray of the shape and dtype of ``x``
        In [0, 1], summing to s along ``axis``. Invariant to adding a constant to x; equivariant to permutations;
        for s < k, ``1 - projection_capped_simplex(-x, k - s)`` gives the same result.

    References
    ----------
    Wang, Lu (2015), "Projection onto the capped simplex", arXiv:1503.01002; Blondel, Martins, Niculae (2020),
    "Learning with Fenchel-Young Losses", JMLR 21 (regularized predictions over polytopes).
    """
    return solve_capped_simplex(x, s, axis=axis)[0]


def capped_simplex_entropic(x, s: float, *, axis: int = -1, max_iter: int = 200, return_info: bool = False):
    r"""Entropic map onto the capped simplex: the regularized prediction of the binary negentropy on :math:`C_s`.

    .. math::

        \hat y = \operatorname*{argmax}_{0 \le y \le 1,\ \sum_i y_i = s}
        \langle y, x\rangle - \sum_i \bigl[y_i \log y_i + (1 - y_i)\log(1 - y_i)\bigr]
        = \sigma(x - \tau), \qquad \tau \text{ such that } \textstyle\sum_i \sigma(x_i - \tau) = s,

    with σ the logistic sigmoid and τ found to machine precision by safeguarded Newton/bisection (see
    :func:`capped_entropic_margins`). For s = 1 this is *not* softmax: the binary negentropy restricted to the
    simplex is the Shannon negentropy plus :math:`\sum_i (1 - y_i)\log(1 - y_i)`; with k = 2,
    :math:`\hat y_1 = \sigma((x_1 - x_2)/2)`.

    Parameters
    ----------
    x : array_like of shape (..., k, ...)
        Scores, finite or ``-inf``; same edge cases and dtype rules as :func:`projection_capped_simplex`.
    s : float
        0 < s ≤ k.
    axis : int, default -1
    max_iter : int, default 200
        Budget of the root finding; a ``ConvergenceWarning`` is raised if it runs out.
    return_info : bool, default False
        Also return the :class:`~refefl.projections._root_finding.RootInfo` of the root finding.

    Returns
    -------
    y : ndarray of the shape and dtype of ``x``
        In [0, 1] (in (0, 1) on finite scores unless rounding saturates), summing to s along ``axis``.
    info : RootInfo, only if ``return_info``

    References
    ----------
    Amos, Koltun, Kolter (2019), "The Limited Multi-Label Projection Layer", arXiv:1906.08707 (the LML layer,
    :math:`\sigma(x + \nu)` with :math:`\sum \sigma = k`); Blondel, Martins, Niculae (2020), "Learning with
    Fenchel-Young Losses", JMLR 21.
    """
    u, info, dtype = solve_capped_simplex_entropic(x, s, axis=axis, max_iter=max_iter)
    y = expit(u).astype(dtype, copy=False)
    return (y, info) if return_info else y
