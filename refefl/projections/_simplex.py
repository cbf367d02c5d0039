r"""Maps onto the probability simplex: softmax, the Euclidean projection (sparsemax), and their shared plumbing.

:func:`projection_simplex_rows` is a NumPy *row kernel* (C-contiguous 2-D input, preallocated outputs), so
that a compiled twin can replace it one for one; :func:`projection_simplex` and :func:`sparsemax` check the
argument types and shapes, call it, and raise on the row status it reports (NaN, +inf, all ``-inf``): the compiled
twin finds that status in the pass it makes anyway for the row maximum, so that checking the values costs no pass
of its own. Every map here works on the shifted scores
:math:`z = \theta - \max_j \theta_j`, which leaves it unchanged but keeps |θ| up to 1e300 (float64) or 1e8
(float32) finite and exact, and accepts ``-inf`` scores (impossible coordinates, mapped to exactly 0).
"""
from __future__ import annotations

import numpy as np

from refefl import _backend
from refefl._validation import as_float_array, as_rows, check_axis, check_positive, check_scores, from_rows
from refefl._validation import raise_for_status, score_status


def score_rows(theta, name: str, axis: int) -> tuple[np.ndarray, tuple[int, ...], int]:
    """Scores (float32 or float64) as C rows along ``axis``, values not yet checked: the row kernels report each
    row's status (NaN, +inf, too few finite scores) in their first pass, and the caller raises on it
    (:func:`refefl._validation.raise_for_status`).

    Returns ``(rows, moved_shape, axis)`` as :func:`refefl._validation.as_rows` does, ``axis`` normalized.
    """
    theta = as_float_array(theta, name)
    axis = check_axis(theta, axis, name)
    rows, moved_shape = as_rows(theta, axis)
    return rows, moved_shape, axis


def bad_rows(x: np.ndarray, status: np.ndarray, min_finite: float = 1.0) -> bool:
    """Write the status of each row of scores x (:func:`refefl._validation.score_status`) into ``status``;
    True if a row is invalid. The row kernels start with it and stop there if so (their caller raises)."""
    status[...] = score_status(x, min_finite)
    return bool(status.any())


def shifted_rows(x: np.ndarray, scale: float, floor: float) -> np.ndarray:
    r"""Return :math:`\max(s\,(x - \max_j x_j), f)` row-wise in float64 (s = ``scale``, f = ``floor``).

    The maximum of each row maps to 0. Clipping at ``floor`` turns ``-inf`` (and scores too low to matter)
    into a finite value, so the kernels never form ``inf - inf``; callers choose ``floor`` strictly below the
    lowest value their threshold can take, which makes the clipped coordinates exactly 0 in the output.
    """
    z = x.astype(np.float64)
    with np.errstate(over="ignore"):  # a gap beyond 1.8e308 overflows to -inf, then is clipped
        z -= z.max(axis=1, keepdims=True)
        z *= scale
    return np.maximum(z, floor, out=z)


def compact_rows(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The entries of each row of ``values`` where ``keep``, in their order, padded with ``-inf`` to the longest
    row's count: shape (n_rows, max(1, largest count)), float64. The kernels compact their candidate buffers in
    place this way (``collect_above`` in ``refefl_ext/_rows.pxd``, the loops that drop entries from S)."""
    counts = np.count_nonzero(keep, axis=1)
    compacted = np.full((values.shape[0], max(1, counts.max(initial=0))), -np.inf)
    rows, columns = np.nonzero(keep)
    # position of each kept entry among its row's kept entries
    compacted[rows, np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)] = values[rows, columns]
    return compacted


def candidate_rows(z: np.ndarray, low: float) -> np.ndarray:
    """The candidates z > ``low`` of each row (:func:`compact_rows`): a threshold search then runs on these few
    entries instead of the whole row (``collect_above`` in ``refefl_ext/_rows.pxd``)."""
    return compact_rows(z, z > low)


def ordered_sum(a: np.ndarray) -> np.ndarray:
    """Row sums of ``a`` added left to right, as the kernels' loops do (NumPy's pairwise sum groups differently):
    zeros standing for dropped entries then leave the sums bit for bit unchanged."""
    return np.cumsum(a, axis=1)[:, -1]


@_backend.numpy_twin
def projection_simplex_rows(x: np.ndarray, radius: float, out: np.ndarray, status: np.ndarray) -> None:
    r"""Euclidean projection of each row of ``x`` onto :math:`\{y \ge 0, \sum_i y_i = r\}` (row kernel).

    :math:`y = [z - \tau]_+` with z = x − max(x) and τ found without sorting, as the compiled twin does
    (``refefl_ext/_simplex.pyx``): τ lies in [−r, 0) (the largest entry alone gets at most r), so only the
    candidates :math:`z_i > -r` can be in the support; on them, Michelot's fixed point

    .. math::

        \tau \leftarrow \frac{\sum_{i \in S} z_i - r}{|S|}, \qquad S \leftarrow \{i \in S : z_i > \tau\},

    started from every candidate, increases τ to the exact threshold and stops when S no longer changes (every
    row of the batch iterates until its own S is stable). Tied scores enter or leave S together.

    Parameters
    ----------
    x : ndarray of shape (n_rows, n), float32 or float64, C-contiguous
        Any values: checked here (finite or ``-inf``, no row all ``-inf``).
    radius : float
        r > 0.
    out : ndarray of shape (n_rows, n), dtype of ``x``; receives y.
    status : ndarray of shape (n_rows,), int8; receives each row's status (:func:`bad_rows`): x is checked here,
        not before; when a row is invalid, ``out`` is unspecified.

    Candidates, sums and τ are computed in float64 whatever the dtype of ``x`` (the shift is then exact for
    float32 scores), the sums left to right (:func:`ordered_sum`) as in the compiled loop, and y is rounded once
    to the dtype of ``out``. Expected O(n) per row. :func:`projection_simplex_rows_by_sort` is the textbook
    algorithm, kept for the tests.

    References
    ----------
    Michelot (1986), "A finite algorithm for finding the projection of a point onto the canonical simplex of
    R^n", J. Optim. Theory Appl. 50; Condat (2016), "Fast projection onto the simplex and the l1 ball", Math.
    Programming 158 (the candidate filter).
    """
    if bad_rows(x, status):  # _simplex.pyx: scan_scores
        return
    z = shifted_rows(x, 1.0, -2.0 * radius)
    # _simplex.pyx: simplex_threshold. Its cut, in the row's dtype, lies a hair below −r: the extra candidates
    # (z ≤ −r ≤ τ) leave S in the first steps, and any superset of the support reaches the same stable S
    tau = _michelot_threshold(candidate_rows(z, -radius), radius)
    out[...] = np.maximum(z - tau[:, None], 0.0)  # the output pass: y = [(x − max x) − τ]₊


def _michelot_threshold(candidates: np.ndarray, radius: float) -> np.ndarray:
    """τ of each row by Michelot's fixed point on its candidates (``-inf`` padding is never in S): the loop of
    ``michelot_threshold`` in ``refefl_ext/_simplex.pyx``, the rows whose S changed iterating again on S alone."""
    tau = np.empty(candidates.shape[0])
    active, z = np.arange(candidates.shape[0]), candidates
    while active.size:
        in_s = z > -np.inf
        # τ = (Σ_S z − r)/|S|; S ← {z ∈ S : z > τ}, until S is stable
        tau[active] = (ordered_sum(np.where(in_s, z, 0.0)) - radius) / np.count_nonzero(in_s, axis=1)
        still = in_s & (z > tau[active, None])
        changed = (still != in_s).any(axis=1)
        active, z = active[changed], compact_rows(z[changed], still[changed])
    return tau


def projection_simplex_rows_by_sort(x: np.ndarray, radius: float, out: np.ndarray, status: np.ndarray) -> None:
    r"""The textbook sort-based algorithm for :func:`projection_simplex_rows` (same arguments), kept for the tests.

    With z = x − max(x) sorted decreasingly, :math:`z_{(1)} \ge \dots \ge z_{(n)}`, the support size is
    :math:`k^* = |\{k : k z_{(k)} > \sum_{j \le k} z_{(j)} - r\}|`, the threshold is
    :math:`\tau = (\sum_{j \le k^*} z_{(j)} - r) / k^*` (the partial sum *at* :math:`k^*`) and
    :math:`y = [z - \tau]_+`. Scores below max(x) − 2r are clipped there first: τ ≥ −r, so they get 0 either way.
    O(n log n) per row, float64 throughout.

    References
    ----------
    Held, Wolfe, Crowder (1974), "Validation of subgradient optimization", Math. Programming 6; Duchi,
    Shalev-Shwartz, Singer, Chandra (2008), "Efficient projections onto the l1-ball for learning in high
    dimensions", ICML, §3.
    """
    if bad_rows(x, status):
        return
    z = shifted_rows(x, 1.0, -2.0 * radius)
    z_sorted = np.sort(z, axis=1)[:, ::-1]
    partial = np.cumsum(z_sorted, axis=1)
    ranks = np.arange(1, z.shape[1] + 1)
    support_size = np.count_nonzero(ranks * z_sorted > partial - radius, axis=1)
    tau = (partial[np.arange(z.shape[0]), support_size - 1] - radius) / support_size
    out[...] = np.maximum(z - tau[:, None], 0.0)


def softmax(theta, *, axis: int = -1) -> np.ndarray:
    r"""Softmax along ``axis``: the regularized prediction of the Shannon negentropy.

    .. math::

        \operatorname{softmax}(\theta)_i = \frac{e^{\theta_i}}{\sum_j e^{\theta_j}}
        = \operatorname*{argmax}_{y \in \Delta^n} \langle y, \theta\rangle - \sum_j y_j \log y_j
        = \nabla \operatorname{logsumexp}(\theta).

    Computed as :math:`e^{z}/\sum_j e^{z_j}` with :math:`z = \theta - \max_j \theta_j`.

    Parameters
    ----------
    theta : array_like of shape (..., n, ...)
        Scores, finite or ``-inf`` (then the output is exactly 0 there and the other entries equal the softmax of
        the finite ones, up to the rounding of the normalizing sum). NaN, +inf or a slice of only ``-inf`` along
        ``axis`` raise ``ValueError``. float32 is kept, integers become float64.
    axis : int, default -1

    Returns
    -------
    ndarray of the shape and dtype of ``theta``
        Non-negative, summing to 1 along ``axis``.

    References
    ----------
    Bridle (1990), "Probabilistic interpretation of feedforward classification network outputs"; Blondel, Martins,
    Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21 (softmax as the regularized prediction of the
    Shannon negentropy).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import softmax
    >>> softmax(np.log([1.0, 3.0]))
    array([0.25, 0.75])
    >>> softmax([[0.0, 0.0, 0.0], [1000.0, 0.0, -np.inf]])
    array([[0.33333333, 0.33333333, 0.33333333],
           [1.        , 0.        , 0.        ]])
    """
    rows, moved_shape, axis = score_rows(theta, "theta", axis)
    check_scores(rows, "theta")
    with np.errstate(over="ignore"):  # a gap beyond the float range is -inf, whose exponential is exactly 0
        exp = np.exp(rows - rows.max(axis=1, keepdims=True))
    exp /= exp.sum(axis=1, keepdims=True)
    return from_rows(exp, moved_shape, axis)


def projection_simplex(x, radius: float = 1.0, *, axis: int = -1, backend: str = "auto") -> np.ndarray:
    r"""Euclidean projection onto the simplex of radius r, along ``axis``.

    .. math::

        \Pi(x) = \operatorname*{argmin}_{y \ge 0,\ \sum_i y_i = r} \|y - x\|_2^2 = [x - \tau]_+,
        \qquad \tau \text{ such that } \textstyle\sum_i [x_i - \tau]_+ = r.

    τ is found exactly without sorting, in expected O(n) per slice: candidates above max − r, then Michelot's
    fixed point (see :func:`projection_simplex_rows`), in NumPy (``backend="numpy"``) or by the compiled twin
    (``backend="ext"``, the default when built), which runs the same algorithm.

    Parameters
    ----------
    x : array_like of shape (..., n, ...)
        Finite or ``-inf`` (then the output is exactly 0 there and the other entries equal the projection of the
        finite ones). NaN, +inf or a slice of only ``-inf`` raise ``ValueError``. float32 is kept (computed in
        float64, rounded once), integers become float64.
    radius : float, default 1.0
        r, a finite positive number (``ValueError`` otherwise, ``TypeError`` if not a real number).
    axis : int, default -1
    backend : {"auto", "numpy", "ext"}, default "auto"
        "numpy" runs the NumPy twin, "ext" the compiled one (``refefl_ext``), "auto" (the default) the backend of
        :func:`refefl.config_context` (the compiled twin when built, unless ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    ndarray of the shape and dtype of ``x``
        Non-negative, summing to r along ``axis``. Invariant to adding a constant to x; equals
        r · projection_simplex(x / r).

    References
    ----------
    Held, Wolfe, Crowder (1974), "Validation of subgradient optimization", Math. Programming 6; Duchi,
    Shalev-Shwartz, Singer, Chandra (2008), "Efficient projections onto the l1-ball for learning in high
    dimensions", ICML, §3 (the sort-based algorithm); Condat (2016), "Fast projection onto the simplex and the
    l1 ball", Math. Programming 158 (a survey of the algorithms).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import projection_simplex
    >>> projection_simplex([0.5, 0.5, 1.0], radius=2.0)
    array([0.5, 0.5, 1. ])
    >>> projection_simplex([[0.2, 0.3], [4.0, -1.0]], axis=0)
    array([[0., 1.],
           [1., 0.]])
    """
    return _projection(x, check_positive(radius, "radius"), "x", axis, backend)


def sparsemax(theta, *, axis: int = -1, backend: str = "auto") -> np.ndarray:
    r"""Sparsemax along ``axis``: the Euclidean projection of the scores onto the probability simplex.

    .. math::

        \operatorname{sparsemax}(\theta) = \operatorname*{argmin}_{y \in \Delta^n} \|y - \theta\|_2^2
        = \operatorname*{argmax}_{y \in \Delta^n} \langle y, \theta\rangle - \tfrac12\|y\|_2^2
        = [\theta - \tau]_+,

    with :math:`\tau = (\sum_{j \le k^*} \theta_{(j)} - 1)/k^*` and :math:`k^*` the support size
    (:func:`projection_simplex` with r = 1). Same edge-case semantics: ``-inf`` scores give exactly 0 and leave
    the rest equal to the sparsemax of the finite scores; shift-invariant, so |θ| up to 1e300 (float64) and 1e8
    (float32) is fine, e.g. float32 ``[1.36762051e8, 1.59594639e8]`` maps to ``[0, 1]``.

    Parameters
    ----------
    theta : array_like of shape (..., n, ...)
    axis : int, default -1
    backend : {"auto", "numpy", "ext"}
        As in :func:`projection_simplex`.

    Returns
    -------
    ndarray of the shape and dtype of ``theta``

    References
    ----------
    Martins, Astudillo (2016), "From Softmax to Sparsemax: A Sparse Model of Attention and Multi-Label
    Classification", ICML, §2 (definition, closed form of τ, sort-based evaluation; equation numbers not
    checked here).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import sparsemax
    >>> sparsemax([1.0, 0.5, -1.0])
    array([0.75, 0.25, 0.  ])
    >>> sparsemax([[2.0, 0.0], [0.2, 0.0]])
    array([[1. , 0. ],
           [0.6, 0.4]])
    """
    return _projection(theta, 1.0, "theta", axis, backend)


def _projection(x, radius: float, name: str, axis: int, backend: str) -> np.ndarray:
    kernel = _backend.select(projection_simplex_rows, backend)
    rows, moved_shape, axis = score_rows(x, name, axis)
    out, status = np.empty_like(rows), np.empty(rows.shape[0], dtype=np.int8)
    kernel(rows, radius, out, status)
    raise_for_status(status, name)
    return from_rows(out, moved_shape, axis)
