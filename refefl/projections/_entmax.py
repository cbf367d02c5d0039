r"""α-entmax, the regularized prediction of the Tsallis α-negentropy, for any α > 1.

Two NumPy row kernels (C-contiguous 2-D input, preallocated outputs, each row's status reported as in
:mod:`refefl.projections._simplex`): :func:`entmax15_rows`, exact and sort-free for α = 1.5, and
:func:`entmax_bisect_rows`, a threshold search for any α with
:func:`refefl.projections._root_finding.find_root_decreasing`. α = 2 is sparsemax
(:func:`refefl.projections._simplex.projection_simplex_rows`). All work in float64 on the shifted, scaled
scores :math:`z = (\alpha - 1)(\theta - \max_j \theta_j)`, in which the threshold lies in [−1, 0): the bracket
keeps its width whatever the magnitude of θ.
"""
from __future__ import annotations

import numbers

import numpy as np

from refefl import _backend
from refefl._validation import check_bool, check_max_iter, from_rows, raise_for_status
from refefl.projections._root_finding import RootInfo, find_root_decreasing, warn_if_unconverged
from refefl.projections._simplex import bad_rows, compact_rows, ordered_sum, projection_simplex_rows
from refefl.projections._simplex import score_rows, shifted_rows

METHODS = ("auto", "sort", "bisect")
EXACT_ALPHAS = (1.5, 2.0)
# In the variable z, tau >= -1 (the largest output (-tau)^(1/(alpha-1)) is at most 1): anything clipped at -2
# is outside the support.
_FLOOR = -2.0


def check_alpha(alpha) -> float:
    """Return ``alpha`` as a float after checking it is a finite real number > 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number, got {type(alpha).__name__}")
    alpha = float(alpha)
    if not (np.isfinite(alpha) and alpha > 1):
        raise ValueError(f"alpha must be a finite number > 1 (alpha -> 1 is softmax), got {alpha}")
    return alpha


@_backend.numpy_twin
def entmax15_rows(x: np.ndarray, out: np.ndarray, status: np.ndarray) -> None:
    r"""1.5-entmax of each row of ``x``, exact and sort-free, as the compiled twin computes it (row kernel).

    With :math:`z = (x - \max x)/2`, :math:`y = [z - \tau]_+^2` where :math:`f(\tau) = \sum_i [z_i - \tau]_+^2 = 1`;
    τ ∈ [−1, 0) (the largest entry alone gives y ≤ 1), so only the candidates :math:`z_i > -1` matter. On them,
    from τ = −1, Newton steps :math:`\tau \leftarrow \tau + (f(\tau) - 1)/(2\sum_S (z - \tau))` on the convex,
    decreasing f increase τ towards the root without passing it, and each drops the candidates
    :math:`z_i \le \tau` from S. After each drop, the root of the quadratic of the current S,

    .. math::

        \tau_S = m_S - \sqrt{1/|S| - v_S}

    (:math:`m_S`, :math:`v_S` the mean and two-pass variance of z on S), is the exact threshold as soon as every
    z in S lies above it (or f(τ) ≤ 1 already); every row of the batch iterates until its own test holds.

    Parameters
    ----------
    x : ndarray of shape (n_rows, n), float32 or float64, C-contiguous
        Any values: checked here (finite or ``-inf``, no row all ``-inf``).
    out : ndarray of shape (n_rows, n), dtype of ``x``; receives y.
    status : ndarray of shape (n_rows,), int8; receives each row's status (see
        :func:`refefl.projections._simplex.bad_rows`); when a row is invalid, ``out`` is unspecified.

    Float64 throughout, sums left to right as in the compiled loops
    (:func:`refefl.projections._simplex.ordered_sum`); expected O(n) per row. :func:`entmax15_rows_by_sort` is
    the textbook sort-based algorithm, kept for the tests.

    References
    ----------
    Peters, Niculae, Martins (2019), "Sparse Sequence-to-Sequence Models", ACL (the sort-based algorithm, which
    gives the same τ).
    """
    if bad_rows(x, status):  # _entmax.pyx: scan_scores
        return
    z = shifted_rows(x, 0.5, _FLOOR)
    # the first step's S ← {z > −1} is _entmax.pyx's collect_above, whose cut a hair below −1 lets in extra
    # candidates z ≤ −1 ≤ τ that its first keep_above drops
    tau = _entmax15_newton_threshold(z)
    out[...] = np.square(np.maximum(z - tau[:, None], 0.0))  # the output pass: y = [(x − max x)/2 − τ]₊²


def _entmax15_newton_threshold(z: np.ndarray) -> np.ndarray:
    """τ with Σ_S [z − τ]₊² = 1 for each row of scores (``-inf`` is never in S), max 0: the loop of
    ``entmax15_threshold`` in ``refefl_ext/_entmax.pyx``, the rows not yet done taking another Newton step."""
    n_rows = z.shape[0]
    tau, root = np.full(n_rows, -1.0), np.empty(n_rows)
    active = np.arange(n_rows)
    while active.size:
        t = tau[active, None]
        z = compact_rows(z, z > t)  # keep_above: S ← {z ∈ S : z > τ}
        in_s = z > -np.inf
        k = np.count_nonzero(in_s, axis=1)
        mean = ordered_sum(np.where(in_s, z, 0.0)) / k
        variance = ordered_sum(np.where(in_s, np.square(z - mean[:, None]), 0.0)) / k
        f = ordered_sum(np.where(in_s, np.square(z - t), 0.0))
        slope = ordered_sum(np.where(in_s, z - t, 0.0))
        root[active] = mean - np.sqrt(np.maximum(1.0 / k - variance, 0.0))
        done = np.all(~in_s | (z > root[active, None]), axis=1) | (f <= 1.0)
        tau[active] += np.where(done, 0.0, (f - 1.0) / (2.0 * slope))  # Newton step from below
        active, z = active[~done], z[~done]
    return root


def entmax15_rows_by_sort(x: np.ndarray, out: np.ndarray, status: np.ndarray) -> None:
    r"""The textbook sort-based algorithm for :func:`entmax15_rows` (same arguments), kept for the tests.

    With :math:`z = (x - \max x)/2` sorted decreasingly and, for each k, the mean :math:`m_k` and variance
    :math:`v_k` of :math:`z_{(1)}, \dots, z_{(k)}`, the candidate thresholds
    :math:`\tau_k = m_k - \sqrt{1/k - v_k}` solve :math:`\sum_{j \le k} (z_{(j)} - \tau)^2 = 1`; the support
    size is :math:`k^* = |\{k : z_{(k)} > \tau_k\}|` and :math:`y = [z - \tau_{k^*}]_+^2`. The support is found
    from running sums; :math:`\tau_{k^*}` is then recomputed from the support alone with a two-pass variance, so
    its error does not grow with the cancellation in :math:`1/k - v_k`. Float64 throughout, O(n log n) per row.

    References
    ----------
    Peters, Niculae, Martins (2019), "Sparse Sequence-to-Sequence Models", ACL.
    """
    if bad_rows(x, status):
        return
    z = shifted_rows(x, 0.5, _FLOOR)
    z_sorted = np.sort(z, axis=1)[:, ::-1]
    ranks = np.arange(1, z.shape[1] + 1)
    mean = np.cumsum(z_sorted, axis=1) / ranks
    mean_sq = np.cumsum(z_sorted * z_sorted, axis=1) / ranks
    tau_k = mean - np.sqrt(np.maximum(1.0 / ranks - (mean_sq - mean * mean), 0.0))
    support_size = np.count_nonzero(z_sorted > tau_k, axis=1)
    tau = _entmax15_threshold(z_sorted, support_size)
    out[...] = np.square(np.maximum(z - tau[:, None], 0.0))


def _entmax15_threshold(z_sorted: np.ndarray, support_size: np.ndarray) -> np.ndarray:
    """τ = m − sqrt(1/k − v) from the k = ``support_size`` largest values, mean and variance in two passes."""
    in_support = np.arange(z_sorted.shape[1]) < support_size[:, None]
    mean = np.where(in_support, z_sorted, 0.0).sum(axis=1) / support_size
    centered = np.where(in_support, z_sorted - mean[:, None], 0.0)
    variance = (centered * centered).sum(axis=1) / support_size
    return mean - np.sqrt(np.maximum(1.0 / support_size - variance, 0.0))


@_backend.numpy_twin
def entmax_bisect_rows(x: np.ndarray, alpha: float, out: np.ndarray, max_iter: int, status: np.ndarray) -> tuple:
    r"""α-entmax of each row of ``x`` by a safeguarded Newton/bisection search of the threshold (row kernel).

    Solves :math:`f(\tau) = \sum_i [z_i - \tau]_+^{1/(\alpha-1)} - 1 = 0` (decreasing in τ) with
    :math:`z = (\alpha - 1)(x - \max x)` on the bracket :math:`[-1, -n_f^{1-\alpha}]` (:math:`n_f`: number of
    finite scores; f ≥ 0 at the left end since :math:`z_{\max} = 0`, f ≤ 0 at the right end since every
    :math:`z_i \le 0`), to machine precision; then :math:`y = [z - \tau]_+^{1/(\alpha-1)}`, divided by its sum.
    The division removes the mass error that the one-ulp resolution of τ leaves when α > 2, where
    :math:`u^{1/(\alpha-1)}` has unbounded slope as the gap u → 0 (e.g. 2e-10 for α = 3 and a gap of 2.5e-13);
    otherwise it changes y by a few ulps.

    Parameters
    ----------
    x : ndarray of shape (n_rows, n), float32 or float64, C-contiguous
        Any values: checked here (finite or ``-inf``, no row all ``-inf``).
    alpha : float
        α > 1.
    out : ndarray of shape (n_rows, n), dtype of ``x``; receives y.
    max_iter : int
        Iteration budget of the root finder (a ``ConvergenceWarning`` is raised if it runs out).
    status : ndarray of shape (n_rows,), int8; receives each row's status (see
        :func:`refefl.projections._simplex.bad_rows`); when a row is invalid, ``out`` is unspecified.

    Returns
    -------
    tuple
        The fields of :class:`~refefl.projections._root_finding.RootInfo`: iterations, the largest final |f|
        (mass error before the division), the widest final bracket, and whether all rows converged.
    """
    if bad_rows(x, status):
        return 0, 0.0, 0.0, True
    z = shifted_rows(x, alpha - 1.0, _FLOOR)
    power = 1.0 / (alpha - 1.0)
    lo = np.full(z.shape[0], -1.0)
    n_finite = np.count_nonzero(np.isfinite(x), axis=1).astype(np.float64)
    hi = -(n_finite ** (1.0 - alpha))

    def mass_excess(tau, rows):
        gap = np.maximum(z[rows] - tau[:, None], 0.0)
        y = gap**power
        with np.errstate(over="ignore"):  # gap^(power - 1) on the support: +inf for a subnormal gap when α > 2
            slope = np.divide(y, gap, out=np.zeros_like(gap), where=gap > 0).sum(axis=1)
        return y.sum(axis=1) - 1.0, -power * slope

    lo, hi, narrowing = _narrow_exponent(mass_excess, lo, hi)
    tau, info = find_root_decreasing(mass_excess, lo, hi, max_iter=max_iter, warn=False)
    y = np.maximum(z - tau[:, None], 0.0) ** power
    out[...] = y / y.sum(axis=1, keepdims=True)
    return info._replace(iterations=info.iterations + narrowing)


_SMALLEST_SUBNORMAL = float(np.nextafter(0.0, 1.0))


def _narrow_exponent(mass_excess, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Bracket [lo, hi] ⊂ [−1, 0] of τ, where it spans more than a factor 2**10 in |τ|, narrowed to a factor 2 by
    bisecting the binary exponent of |τ|; and the evaluations this took.

    For large α the right end −n^{1−α} underflows and the root can lie far below the normal floats (α = 1e6
    with two tied maxima: |τ| = 2^{−1e6}, which is 0): halving [−1, 0] would take over a thousand steps to get
    there, and the exponent's bisection takes about ten. The result is exact either way, y being the
    normalized [z − τ]₊^{1/(α−1)} with τ within a float of 0.
    """
    near, far = -hi, -lo  # |τ| lies in [near, far]
    evaluations, wide_rows = 0, far > 1024.0 * np.maximum(near, _SMALLEST_SUBNORMAL)
    while (wide := wide_rows & (far > 2.0 * np.maximum(near, _SMALLEST_SUBNORMAL))).any():
        mid = np.sqrt(np.maximum(near[wide], _SMALLEST_SUBNORMAL)) * np.sqrt(far[wide])
        above = mass_excess(-mid, wide)[0] > 0  # f(−mid) > 0: the root is above −mid, |τ| < mid
        far[wide], near[wide] = np.where(above, mid, far[wide]), np.where(above, near[wide], mid)
        evaluations += 1
    return -far, -near, evaluations


def entmax(
    theta,
    alpha: float = 1.5,
    *,
    axis: int = -1,
    method: str = "auto",
    max_iter: int = 200,
    return_info: bool = False,
    backend: str = "auto",
):
    r"""α-entmax along ``axis``: the regularized prediction of the Tsallis α-negentropy, α > 1.

    .. math::

        \alpha\text{-entmax}(\theta) = \operatorname*{argmax}_{y \in \Delta^n} \langle y, \theta\rangle
        - \frac{\sum_j y_j^\alpha - 1}{\alpha(\alpha - 1)}
        = \big[(\alpha - 1)\theta - \tau\big]_+^{1/(\alpha - 1)},
        \quad \tau \text{ such that the output sums to 1}.

    α = 2 is sparsemax, α → 1 tends to softmax; for every α > 1 the output can have exact zeros.

    Parameters
    ----------
    theta : array_like of shape (..., n, ...)
        Scores, finite or ``-inf`` (then the output is exactly 0 there and the rest equals the entmax of the
        finite scores: bit for bit with the sort method, to rounding with bisection). NaN, +inf or a slice of only ``-inf`` along ``axis`` raise ``ValueError``. float32 is
        kept (computed in float64, rounded once); integers become float64. Shift-invariant: |θ| up to 1e300
        (float64) or 1e8 (float32) is fine.
    alpha : float, default 1.5
        A finite real number > 1 (``ValueError`` otherwise).
    axis : int, default -1
    method : {"auto", "sort", "bisect"}, default "auto"
        "sort": the exact threshold, only for α ∈ {1.5, 2}, found without sorting in expected O(n) per slice (the
        name recalls the textbook sort-based algorithm, which gives the same τ); "bisect": threshold search, any α;
        "auto": "sort" when α ∈ {1.5, 2}, else "bisect".
    max_iter : int, default 200
        Budget of the threshold search (a ``ConvergenceWarning`` is raised when it runs out; it converges to
        machine precision in far fewer iterations).
    return_info : bool, default False
        Also return the search report: a :class:`~refefl.projections._root_finding.RootInfo` for "bisect"
        (iterations, largest final mass error |Σy − 1| before the final normalization, widest final bracket on
        τ, converged), ``None`` for the exact "sort" method.
    backend : {"auto", "numpy", "ext"}, default "auto"
        "numpy" runs the NumPy twins, "ext" the compiled ones (``refefl_ext``), the same algorithms, which agree to
        rounding; "auto" (the default) the backend of :func:`refefl.config_context` (the compiled twins when built,
        unless ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    y : ndarray of the shape and dtype of ``theta``
    info : RootInfo or None, only if ``return_info``

    References
    ----------
    Peters, Niculae, Martins (2019), "Sparse Sequence-to-Sequence Models", ACL: the definition of α-entmax, its
    threshold form, the exact sort-based 1.5-entmax and the bisection algorithm (their equation and algorithm
    numbers were not checked here); Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses",
    JMLR 21, Tsallis entropies and their regularized predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import entmax
    >>> y = entmax([1.0, 0.5, -1.0])
    >>> print(np.round(y, 4), round(float(y.sum()), 12))
    [0.674 0.326 0.   ] 1.0
    >>> y, info = entmax([1.0, 0.5, -1.0], alpha=1.25, method="bisect", return_info=True)
    >>> print(np.round(y, 4), info.converged)
    [0.6315 0.3451 0.0235] True
    >>> entmax([1.0, 0.5, -1.0], alpha=2.0)
    array([0.75, 0.25, 0.  ])
    """
    alpha = check_alpha(alpha)
    method = _resolve_method(method, alpha)
    max_iter = check_max_iter(max_iter)
    return_info = check_bool(return_info, "return_info")
    rows, moved_shape, axis = score_rows(theta, "theta", axis)
    out, status = np.empty_like(rows), np.empty(rows.shape[0], dtype=np.int8)
    info = None
    if method == "bisect":
        info = RootInfo(*_backend.select(entmax_bisect_rows, backend)(rows, alpha, out, max_iter, status))
    elif alpha == 2.0:
        _backend.select(projection_simplex_rows, backend)(rows, 1.0, out, status)
    else:
        _backend.select(entmax15_rows, backend)(rows, out, status)
    raise_for_status(status, "theta")
    if info is not None:
        warn_if_unconverged(info, "entmax threshold search")
    y = from_rows(out, moved_shape, axis)
    return (y, info) if return_info else y


def _resolve_method(method: str, alpha: float) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "sort" and alpha not in EXACT_ALPHAS:
        raise ValueError(f"method='sort' is exact only for alpha in {EXACT_ALPHAS}, got alpha={alpha}")
    if method == "auto":
        return "sort" if alpha in EXACT_ALPHAS else "bisect"
    return method
