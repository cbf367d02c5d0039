r"""Maps onto the capped simplex :math:`C_s = \{y \in [0, 1]^k : \sum_i y_i = s\}`: the Euclidean projection
and the entropic (binary-entropy) map.

Both have the form :math:`\hat y = g(x - \tau)` with a scalar threshold τ chosen so that :math:`\sum_i \hat y_i = s`:
g = clip(·, 0, 1) for the projection (τ by an exact breakpoint search, :func:`projection_capped_simplex_rows`)
and g = sigmoid for the entropic map (τ by :func:`~refefl.projections._root_finding.find_root_decreasing`,
:func:`capped_entropic_rows`). Both row kernels have compiled twins in :mod:`refefl_ext` (sort-free: a Newton
search over the breakpoints, and Newton on the entropic equation with one exponential per score), picked by the
``backend`` argument of the public functions (the NumPy projection kernel runs the same Newton search).

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

from refefl import _backend
from refefl._validation import check_bool, check_max_iter, check_positive, from_rows, raise_for_status
from refefl.projections._capped_breakpoints import newton_breakpoints, sorted_breakpoints
from refefl.projections._root_finding import RootInfo, find_root_decreasing, warn_if_unconverged
from refefl.projections._simplex import bad_rows, score_rows


@_backend.numpy_twin
def projection_capped_simplex_rows(x: np.ndarray, s: float, out: np.ndarray, free: np.ndarray,
                                   status: np.ndarray) -> None:
    r"""Euclidean projection of each row of ``x`` onto :math:`C_s` (row kernel: checks x itself, writes in place).

    .. math::

        \hat y = \operatorname{clip}(x - \tau, 0, 1), \qquad
        g(\tau) = \textstyle\sum_i \operatorname{clip}(x_i - \tau, 0, 1) = s.

    g is continuous, non-increasing and piecewise linear with breakpoints :math:`x_i - 1` and :math:`x_i`. A
    Newton search over the breakpoints without sorting, as in the compiled twin
    (:func:`refefl.projections._capped_breakpoints.newton_breakpoints`), finds adjacent breakpoints
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
        Any values (checked here: finite or ``-inf``, each row with m ≥ s finite entries); 0 < s ≤ k.
    s : float
    out : ndarray of shape (n_rows, k), dtype of ``x``; receives ŷ.
    free : ndarray of shape (n_rows, k), uint8; receives 1 on F, where ŷ moves with x (the Jacobian is the
        centring operator on F, 0 elsewhere); empty when m = s (the set is then a point).
    status : ndarray of shape (n_rows,), int8; receives each row's status (see
        :func:`refefl.projections._simplex.bad_rows`, with fewer than s finite scores counted as too few); when
        a row is invalid, the other outputs are unspecified.

    Breakpoints and sums are computed in float64 whatever the dtype of ``x``; expected O(k) per row.
    :func:`projection_capped_simplex_rows_by_sort` is the textbook sort-based search, kept for the tests.

    References
    ----------
    Cominetti, Mascarenhas, Silva (2014), "A Newton's method for the continuous quadratic knapsack problem",
    Math. Prog. Comp. 6.
    """
    _project_rows(x, s, out, free, status, newton_breakpoints)


def projection_capped_simplex_rows_by_sort(x: np.ndarray, s: float, out: np.ndarray, free: np.ndarray,
                                           status: np.ndarray) -> None:
    """:func:`projection_capped_simplex_rows` (same arguments) with b_- < b_+ found by a binary search over the
    sorted breakpoints (:func:`refefl.projections._capped_breakpoints.sorted_breakpoints`, O(k log k) per row):
    the textbook algorithm, kept for the tests.

    References
    ----------
    Wang, Lu (2015), "Projection onto the capped simplex", arXiv:1503.01002.
    """
    _project_rows(x, s, out, free, status, sorted_breakpoints)


def _project_rows(x, s, out, free, status, search) -> None:
    """The row kernel around a breakpoint search ``search(z, s) -> (b_-, b_+, g(b_-))``."""
    if bad_rows(x, status, s):  # _capped_simplex.pyx: scan_scores
        return
    z = x.astype(np.float64)
    with np.errstate(over="ignore"):  # x_i - b beyond the float range: ±inf, which clip maps to 0 or 1
        # _capped_simplex.pyx: bracket_root and settle (search), then free_set (_classify and the sums below)
        saturated, is_free = _classify(z, s, *search(z, s))
        anchor = np.where(is_free, z, np.inf).min(axis=1, keepdims=True)
        centred = np.where(is_free, z - anchor, 0.0)
    n_free = np.maximum(is_free.sum(axis=1), 1)
    offset = (s - saturated.sum(axis=1)) / n_free - centred.sum(axis=1) / n_free
    # _capped_simplex.pyx: write_block
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


@_backend.numpy_twin
def capped_entropic_rows(x: np.ndarray, s: float, out: np.ndarray, margins: np.ndarray, max_iter: int,
                         status: np.ndarray) -> tuple:
    r"""Entropic map :math:`\hat y = \sigma(x - \tau)`, :math:`\sum_i \hat y_i = s`, of each row (row kernel).

    With S(τ) = Σ_i σ(x_i − τ) and its complement C(τ) = Σ_i σ(τ − x_i) = m − S(τ) (m finite scores), τ solves

    .. math::

        F(\tau) = \log\frac{S(\tau)}{s} - \log\frac{C(\tau)}{m - s} = 0, \qquad
        F'(\tau) = -\sum_i \sigma(u_i)\sigma(-u_i)\Bigl(\frac1S + \frac1C\Bigr), \quad u = x - \tau,

    (F decreases, vanishes exactly where S = s, and is nearly linear in both tails, where σ is nearly
    exponential: Newton then needs few steps; near the root, S − s and (m − s) − C both come from the smaller
    sum, see :func:`_excesses`) by :func:`~refefl.projections._root_finding.find_root_decreasing`
    inside a bracket that needs no order statistic, from σ(u) ≤ min(e^u, σ(x_max − τ)) and its mirror image:

    .. math::

        \max\bigl(x_{\min} - \operatorname{logit}\tfrac sm,\ \log(m - s) - \operatorname{LSE}(-x)\bigr)
        \;\le\; \tau \;\le\;
        \min\bigl(x_{\max} - \operatorname{logit}\tfrac sm,\ \operatorname{LSE}(x) - \log s\bigr),

    the left end also ≥ x_max − logit(s) when s < 1 and ≥ LSE(x) − log s + log(1 − s e^{x_max − LSE(x)}) (from
    σ(u) ≥ e^u/(1 + e^{u_max}); for s ≪ m this end nearly meets the right one), the right end correspondingly;
    widened by 2^-20 of its width and 2^-40 of its magnitude so that rounding in the LSEs cannot exclude the root. Scores are centred on
    their mid-range first, so that no difference of two scores overflows. The search variable is t = τ/2 ± 1,
    the sign that of the root (from the bracket, or from F(0) when the bracket holds 0): halving keeps every
    bracket width finite (|x| up to the float64 limit is fine), and |t| ≥ 1 lets the bracket close at the
    spacing of the floats near max(|τ|, 2), which a rounded sum can resolve, rather than at the denormal spacing
    near 0. A bracket spanning more than a factor 2^10 is first narrowed on the exponent of τ (:func:`_narrow`).

    Parameters
    ----------
    x : ndarray of shape (n_rows, k), float32 or float64, C-contiguous
        Any values (checked here: finite or ``-inf``, each row with m ≥ s finite entries); 0 < s ≤ k.
    s : float
    out : ndarray of shape (n_rows, k), dtype of ``x``; receives ŷ = σ(u).
    margins : ndarray of shape (n_rows, k), float64; receives u = x − τ: ``-inf`` on ``-inf`` scores and
        ``+inf`` on the finite scores of rows with m = s (ŷ is then their indicator).
    max_iter : int
        Budget of the root finding.
    status : ndarray of shape (n_rows,), int8; receives each row's status (see
        :func:`refefl.projections._simplex.bad_rows`, with fewer than s finite scores counted as too few); when
        a row is invalid, the other outputs are unspecified.

    Returns
    -------
    tuple
        The fields of :class:`~refefl.projections._root_finding.RootInfo`: iterations, the largest final |F|,
        the widest final bracket on τ, and whether every row converged.
    """
    if bad_rows(x, status, s):
        return 0, 0.0, 0.0, True
    z = x.astype(np.float64)
    if s <= TINY_S:
        _tiny_s_rows(z, s, out, margins)
        return 0, 0.0, 0.0, True
    finite = np.isfinite(z)
    n_finite = finite.sum(axis=1)
    margins[...] = np.where(finite, np.inf, -np.inf)
    solve = n_finite > s
    info = (0, 0.0, 0.0, True)
    if solve.any():
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # saturated σ: exact 0, 1 and ±inf
            z, tau, info = _recentred_threshold(z[solve], finite[solve], n_finite[solve], s, max_iter)
            margins[solve] = z - tau[:, None]
    out[...] = expit(margins)
    return info


#: Below this s, ŷ = s·softmax(x) to rounding: Σ σ(u_i) = s makes every e^{u_i} ≤ s/(1 − s), and σ(u) = e^u (1 + O(e^u)).
TINY_S = 2.0**-60
#: A threshold found farther than this from the scores' anchor is searched again from an anchor at it.
RECENTRE_ABOVE = 1024.0
_MAX_RECENTRES = 40
_CLIP = 2.0**1000  # a margin beyond ±2^1000 saturates σ exactly, like the true, larger one
_FLOAT_MAX = float(np.finfo(np.float64).max)


def _tiny_s_rows(z: np.ndarray, s: float, out: np.ndarray, margins: np.ndarray) -> None:
    """ŷ = s·softmax(z) and u = log s + z − LSE(z) (s ≤ :data:`TINY_S`, even subnormal: the root finding on F
    would work with sums of subnormal numbers, which carry few bits)."""
    with np.errstate(over="ignore", divide="ignore"):  # -inf scores: exactly 0, u = -inf
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        out[...] = s * (e / total)
        margins[...] = (shifted - np.log(total)) + math.log(s)


def _recentred_threshold(x: np.ndarray, finite: np.ndarray, m: np.ndarray, s: float, max_iter: int) -> tuple:
    """Scores z = x − a about an anchor a of each row, and τ of :func:`_entropic_threshold` for them (u = z − τ):
    a is the mid-range, then a + τ while |τ| > :data:`RECENTRE_ABOVE`; and the fields of the RootInfo.

    The search resolves τ to the spacing of the floats near |τ|, and z itself is rounded to that of |z|: with
    a spread ≥ 1e12 ([1e16, 0, 1]) about its mid-range, both are ≥ 1e-4 and lose the scores that are not
    saturated (the row summed to 1.388 instead of s = 1.5). Anchoring at a + τ, among those scores, makes
    x − a exact to rounding there (clipped at ±2^1000 elsewhere); the next search finds a |τ| about 2^-52 times
    smaller, resolved to the floats near it. Info: iterations summed; residual and bracket width the largest
    of the passes after the first (and of the first if some row never moved).
    """
    anchor = _finite_extreme(x, finite, np.max) / 2 + _finite_extreme(x, finite, np.min) / 2
    z = x - anchor[:, None]  # no overflow: |z| ≤ half the spread
    tau, (iterations, first_residual, first_width, converged) = _entropic_threshold(z, finite, m, s, max_iter)
    moved = np.zeros(tau.shape, dtype=bool)
    residual = width = 0.0
    for _ in range(_MAX_RECENTRES):
        far = np.abs(tau) > RECENTRE_ABOVE
        if not far.any():
            break
        moved |= far
        anchor[far] = np.clip(anchor[far] + tau[far], -_FLOAT_MAX, _FLOAT_MAX)
        z[far] = np.where(finite[far], np.clip(x[far] - anchor[far, None], -_CLIP, _CLIP), -np.inf)
        tau[far], (it, res, wid, conv) = _entropic_threshold(z[far], finite[far], m[far], s, max_iter)
        iterations, residual, width, converged = iterations + it, max(residual, res), max(width, wid), converged and conv
    if not moved.all():
        residual, width = max(residual, first_residual), max(width, first_width)
    return z, tau, (iterations, residual, width, converged)


def _entropic_threshold(z: np.ndarray, finite: np.ndarray, m: np.ndarray, s: float, max_iter: int) -> tuple:
    """τ of each row of centred scores (see :func:`capped_entropic_rows`), and the fields of its RootInfo."""

    def residual(half_tau, rows):  # F and dF/d(τ/2) at τ = 2·half_tau
        u = z[rows] - 2.0 * half_tau[:, None]
        p, q = expit(u), np.where(finite[rows], expit(-u), 0.0)
        total, rest, m_rows = p.sum(axis=1), q.sum(axis=1), m[rows]
        excess, deficit = _excesses(total - s, (m_rows - s) - rest, s, m_rows)
        f = np.log1p(excess / s) - np.log1p(-deficit / (m_rows - s))
        return f, -2.0 * (p * q).sum(axis=1) * (1.0 / total + 1.0 / rest)

    half_lo, half_hi = _entropic_bracket(z, finite, m, s)
    side = np.where(half_lo > 0, 1.0, np.where(half_hi < 0, -1.0, 0.0))
    straddle = side == 0
    if straddle.any():  # which side of 0 the root is on (F(0) = 0: τ = 0, an empty bracket)
        side[straddle] = np.sign(residual(np.zeros(np.count_nonzero(straddle)), straddle)[0])
    half_lo = np.where(side > 0, np.maximum(half_lo, 0.0), np.where(side < 0, half_lo, 0.0))
    half_hi = np.where(side < 0, np.minimum(half_hi, 0.0), np.where(side > 0, half_hi, 0.0))
    near, far, narrowing = _narrow(residual, side, half_lo, half_hi)
    half_lo, half_hi = np.where(side > 0, near, -far) + side, np.where(side > 0, far, -near) + side
    t, root = find_root_decreasing(lambda t, rows: residual(t - side[rows], rows), half_lo, half_hi,
                                   max_iter=max_iter, warn=False)
    info = (root.iterations + int(straddle.any()) + narrowing, root.max_abs_residual,
            2.0 * root.max_bracket_width, root.converged)
    return 2.0 * (t - side), info


def _narrow(residual, side: np.ndarray, half_lo: np.ndarray, half_hi: np.ndarray) -> tuple:
    """Bracket of |τ/2| as (near, far), narrowed to a factor 2**10 by bisecting its binary exponent, and the
    evaluations this took: where the scores span up to 1e308, F is flat over most of the bracket, and
    the root finder's midpoints would take a step for each of its up to 2000 halvings."""
    near = np.where(side > 0, half_lo, -half_hi)
    far = np.where(side > 0, half_hi, -half_lo)
    evaluations = 0
    while (wide := far > 1024.0 * np.maximum(near, 1.0)).any():
        mid = np.sqrt(np.maximum(near[wide], 1.0)) * np.sqrt(far[wide])  # overflow-free geometric mean
        beyond = (residual(side[wide] * mid, wide)[0] > 0) == (side[wide] > 0)
        near[wide], far[wide] = np.where(beyond, mid, near[wide]), np.where(beyond, far[wide], mid)
        evaluations += 1
    return near, far, evaluations


def _excesses(excess: np.ndarray, deficit: np.ndarray, s: float, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S − s and (m − s) − C, equal in exact arithmetic. Near the root both become the one computed from the
    smaller sum (S if s ≤ m − s), whose rounding is finer: F is then a monotone function of one rounded number,
    0 or at least its resolution, and two independent roundings cannot leave it a tiny residue of one sign over a
    run of floats (Newton would stall there and the bracket would close one float at a time)."""
    finer = np.where(s <= m - s, excess, deficit)
    near = np.abs(finer) <= 0.5 * np.minimum(s, m - s)
    return np.where(near, finer, excess), np.where(near, finer, deficit)


def _finite_extreme(z: np.ndarray, finite: np.ndarray, reduce) -> np.ndarray:
    """``reduce`` (np.max or np.min) of the finite entries of each row."""
    return reduce(np.where(finite, z, -np.inf if reduce is np.max else np.inf), axis=1)


def _entropic_bracket(z: np.ndarray, finite: np.ndarray, m: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Halves lo/2 ≤ hi/2 of the bracket of each row, F(lo) ≥ 0 ≥ F(hi) (see :func:`capped_entropic_rows`), widened."""
    z_max, z_min = _finite_extreme(z, finite, np.max), _finite_extreme(z, finite, np.min)
    total = np.where(finite, np.exp(z - z_max[:, None]), 0.0).sum(axis=1)
    total_neg = np.where(finite, np.exp(z_min[:, None] - z), 0.0).sum(axis=1)
    lse, lse_neg = z_max + np.log(total), -z_min + np.log(total_neg)
    hi = np.minimum(z_max - logit(s / m), lse - math.log(s))
    lo = np.maximum(z_min - logit(s / m), np.log(m - s) - lse_neg)
    if s < 1:
        lo = np.maximum(lo, z_max - logit(s))
    # the two LSE ends, tightened: σ(u) ≥ e^u / (1 + e^{u_max}), and its mirror image
    # s e^{z_max − LSE} from the sum itself: LSE is rounded to the floats near it, up to 1 at |z| ~ 1e16
    top, bottom = s / total, (m - s) / total_neg
    lo = np.maximum(lo, np.where(top < 1, lse - math.log(s) + np.log1p(-top), -np.inf))
    hi = np.minimum(hi, np.where(bottom < 1, np.log(m - s) - lse_neg - np.log1p(-bottom), np.inf))
    half_lo, half_hi = lo / 2, np.maximum(hi, lo) / 2  # halves: the width itself may overflow
    # the width's share covers the rounding of the LSE sums, the magnitude's that of the LSEs and ends themselves
    pad = 2.0**-20 * (1.0 + (half_hi - half_lo)) + 2.0**-40 * np.maximum(np.abs(half_lo), np.abs(half_hi))
    return half_lo - pad, half_hi + pad


def _validated(x, s, axis: int) -> tuple[np.ndarray, tuple[int, ...], int, float]:
    """Rows of x (values checked by the kernels), their moved shape, the axis, and s checked against 0 < s ≤ k."""
    rows, moved_shape, axis = score_rows(x, "x", axis)
    s = check_positive(s, "s")
    k = rows.shape[1]
    if s > k:
        raise ValueError(f"s must satisfy 0 < s <= k = {k} (the length of x along axis {axis}), got s = {s}")
    return rows, moved_shape, axis, s


def _raise_for_status(status: np.ndarray, s: float) -> None:
    raise_for_status(status, "x", infeasible=(
        f"x has a slice with fewer than s = {s} finite scores: no y in [0, 1]^k with sum s is 0 on every -inf "
        "score (infeasible)") if s > 1 else None)


def solve_capped_simplex(x, s, *, axis: int = -1, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Validated :func:`projection_capped_simplex` that also returns the free set (bool, shape of x)."""
    kernel = _backend.select(projection_capped_simplex_rows, backend)
    rows, moved_shape, axis, s = _validated(x, s, axis)
    out, status = np.empty_like(rows), np.empty(rows.shape[0], dtype=np.int8)
    free = np.empty(rows.shape, dtype=np.uint8)
    kernel(rows, s, out, free, status)
    _raise_for_status(status, s)
    return from_rows(out, moved_shape, axis), from_rows(free.view(bool), moved_shape, axis)


def solve_capped_simplex_entropic(
    x, s, *, axis: int = -1, max_iter: int = 200, backend: str = "auto"
) -> tuple[np.ndarray, np.ndarray, RootInfo]:
    """Validated :func:`capped_simplex_entropic`: ``(y, u, info)``, y of x's dtype, margins u float64, both of
    the shape of x; a ``ConvergenceWarning`` if the root finding ran out of budget."""
    kernel = _backend.select(capped_entropic_rows, backend)
    max_iter = check_max_iter(max_iter)
    rows, moved_shape, axis, s = _validated(x, s, axis)
    out, status = np.empty_like(rows), np.empty(rows.shape[0], dtype=np.int8)
    margins = np.empty(rows.shape, dtype=np.float64)
    info = RootInfo(*kernel(rows, s, out, margins, max_iter, status))
    _raise_for_status(status, s)
    warn_if_unconverged(info, "capped simplex threshold search", stacklevel=4)
    return from_rows(out, moved_shape, axis), from_rows(margins, moved_shape, axis), info


def projection_capped_simplex(x, s: float, *, axis: int = -1, backend: str = "auto") -> np.ndarray:
    r"""Euclidean projection onto the capped simplex :math:`C_s = \{y \in [0,1]^k : \sum_i y_i = s\}`.

    .. math::

        \Pi_{C_s}(x) = \operatorname*{argmin}_{0 \le y \le 1,\ \sum_i y_i = s} \|y - x\|_2^2
        = \operatorname{clip}(x - \tau, 0, 1), \qquad \tau \text{ such that }
        \textstyle\sum_i \operatorname{clip}(x_i - \tau, 0, 1) = s,

    with τ found exactly among the 2k breakpoints :math:`x_i - 1, x_i`, in float64, by a Newton search over
    them without sorting (expected O(k) per slice, see :func:`projection_capped_simplex_rows`), in NumPy
    (``backend="numpy"``) or compiled (``backend="ext"``), the same algorithm.
    For s = 1 it is sparsemax; it is the regularized prediction of :math:`\tfrac12\|y\|^2` on :math:`C_s`
    (a "soft top-s").

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
    backend : {"auto", "numpy", "ext"}, default "auto"
        "numpy" runs the NumPy twin, "ext" the compiled one (``refefl_ext``), "auto" (the default) the backend of
        :func:`refefl.config_context` (the compiled twin when built, unless ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    ndarray of the shape and dtype of ``x``
        In [0, 1], summing to s along ``axis``. Invariant to adding a constant to x; equivariant to permutations;
        for s < k, ``1 - projection_capped_simplex(-x, k - s)`` gives the same result.

    References
    ----------
    Wang, Lu (2015), "Projection onto the capped simplex", arXiv:1503.01002; Blondel, Martins, Niculae (2020),
    "Learning with Fenchel-Young Losses", JMLR 21 (regularized predictions over polytopes); Cominetti,
    Mascarenhas, Silva (2014), "A Newton's method for the continuous quadratic knapsack problem", Math. Prog.
    Comp. 6 (the Newton search of the compiled twin).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import projection_capped_simplex
    >>> projection_capped_simplex([2.0, 0.8, 0.1, -1.0], 2.0)
    array([1.  , 0.85, 0.15, 0.  ])
    """
    return solve_capped_simplex(x, s, axis=axis, backend=backend)[0]


def capped_simplex_entropic(
    x, s: float, *, axis: int = -1, max_iter: int = 200, return_info: bool = False, backend: str = "auto"
):
    r"""Entropic map onto the capped simplex: the regularized prediction of the binary negentropy on :math:`C_s`.

    .. math::

        \hat y = \operatorname*{argmax}_{0 \le y \le 1,\ \sum_i y_i = s}
        \langle y, x\rangle - \sum_i \bigl[y_i \log y_i + (1 - y_i)\log(1 - y_i)\bigr]
        = \sigma(x - \tau), \qquad \tau \text{ such that } \textstyle\sum_i \sigma(x_i - \tau) = s,

    with σ the logistic sigmoid and τ found to machine precision by safeguarded Newton/bisection (see
    :func:`capped_entropic_rows`; the compiled twin runs the same search with one exponential per score in
    all). For s = 1 this is *not* softmax: the binary negentropy restricted to the
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
        Budget of the root finding (a positive integer); a ``ConvergenceWarning`` is raised if it runs out.
    return_info : bool, default False
        Also return the :class:`~refefl.projections._root_finding.RootInfo` of the root finding.
    backend : {"auto", "numpy", "ext"}, default "auto"
        "numpy" runs the NumPy reference, "ext" the compiled twin (``refefl_ext``), "auto" (the default) the backend
        of :func:`refefl.config_context` (the compiled twin when built, unless ``REFEFL_PURE_NUMPY=1``); they agree to
        rounding.

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

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import capped_simplex_entropic
    >>> y, info = capped_simplex_entropic([2.0, 0.8, 0.1, -1.0], 2.0, return_info=True)
    >>> print(np.round(y, 4), round(float(y.sum()), 10), info.converged)
    [0.8221 0.582  0.4088 0.1871] 2.0 True
    """
    return_info = check_bool(return_info, "return_info")
    y, _, info = solve_capped_simplex_entropic(x, s, axis=axis, max_iter=max_iter, backend=backend)
    return (y, info) if return_info else y
