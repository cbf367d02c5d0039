r"""The log-permanent :math:`\log \operatorname{per}(e^{L})`, the log-partition of the Birkhoff energy.

For :math:`A = e^{L}` (entrywise, :math:`L_{ij} = -\infty` meaning :math:`a_{ij} = 0`), the permanent
:math:`\operatorname{per}(A) = \sum_\sigma \prod_i a_{i\sigma(i)}` is computed in two exact steps
(derivation: ``docs/permanent.md``):

1. **Scaling by the assignment duals.** With σ* a maximum-weight assignment of L and potentials u, v such that
   :math:`u_i + v_j \ge L_{ij}` with equality on σ*, :math:`\log\operatorname{per}(e^L) = \sum_i L_{i\sigma^*(i)}
   + \log\operatorname{per}(e^{S})`, :math:`S_{ij} = L_{ij} - u_i - v_j \le 0`. The scaled matrix has entries in
   [0, 1] and a permutation of ones, so :math:`1 \le \operatorname{per}(e^S) \le k!`: nothing overflows or
   underflows whatever the range of L (±700 and beyond), and the sum below is well conditioned. No assignment of
   finite weight (e.g. a row or column of only ``-inf``) means a zero permanent: ``-inf``.
2. **Ryser's formula with the Nijenhuis-Wilf centring** (equivalently Glynn's formula): with signs
   :math:`\delta \in \{\pm 1\}^k`, :math:`\delta_k = 1`,
   :math:`\operatorname{per}(A) = 2^{1-k} \sum_\delta \big(\prod_j \delta_j\big) \prod_i \sum_j \delta_j a_{ij}`:
   :math:`2^{k-1}` terms of O(k) each when walked in Gray-code order (one sign flips per step).

:func:`log_permanent_batch` is the NumPy reference of the compiled kernel ``refefl_ext.log_permanent_batch``
(which walks the signs in Gray-code order); :func:`log_permanent` validates and picks the backend.

The gradient :math:`\partial \log\operatorname{per}(e^L) / \partial L_{ij}` (the Birkhoff marginals) comes from
:func:`permanent_marginals` (twin pair :func:`permanent_marginals_batch`): after the same scaling, sums over the
subsets of columns, forward and backward, give the permanent and all k² derivatives in O(k 2^k) operations, every
term nonnegative (``docs/permanent.md`` §3).
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.optimize import linear_sum_assignment

from refefl import _backend
from refefl._validation import as_float_array, check_finite

#: Largest order k accepted: the walk has 2^(k-1) steps of O(k) (about a second at k = 24).
MAX_ORDER = 24

#: Largest order k for :func:`permanent_marginals`: the subset sums hold 2^k values per matrix.
MAX_MARGINAL_ORDER = 16

#: Elements of the (batch, k, block) array of row sums that the NumPy twin forms at a time.
_BLOCK_ELEMENTS = 1 << 21


def log_permanent(log_a, *, backend: str = "auto") -> np.ndarray:
    r"""Logarithm of the permanent of :math:`e^{L}` over the last two axes.

    .. math::

        \log \operatorname{per}\big(e^{L}\big) = \log \sum_{\sigma \in S_k} \exp \sum_{i=1}^k L_{i\sigma(i)},

    computed exactly (up to rounding) by Ryser's formula in Gray-code order after scaling ``L`` by its
    maximum-weight assignment's dual potentials (see the module docstring and ``docs/permanent.md``). With
    :math:`L = \Theta`, :math:`\log\operatorname{per}(e^\Theta) - \log k!` is the log-partition
    :math:`\log \mathbb{E}_{\sigma \sim \mathrm{uniform}}\, e^{\langle \Theta, P_\sigma \rangle}` of the Birkhoff
    energy.

    Parameters
    ----------
    log_a : array_like of shape (..., k, k)
        Log-entries L, finite or ``-inf`` (a zero entry of :math:`e^L`); 1 ≤ k ≤ 24. Leading axes are a batch.
        float32 is kept, integers become float64.
    backend : {"auto", "numpy", "ext"}, default "auto"
        The compiled kernel ("ext") or its NumPy twin ("numpy"); "auto" (the default) the backend of
        :func:`refefl.config_context` (the compiled kernel when built, unless ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    ndarray of shape (...) and the dtype of ``log_a``
        ``-inf`` where the permanent is 0 (no permutation avoids the ``-inf`` entries); a NumPy scalar for a
        single matrix.

    Raises
    ------
    ValueError
        If the last two axes are not square, k > 24, the batch is empty, or ``log_a`` holds NaN or +inf.

    References
    ----------
    Ryser (1963), *Combinatorial Mathematics*, Carus Monographs 14, ch. 2, Thm 4.1 (the inclusion-exclusion formula);
    Nijenhuis, Wilf (1978), *Combinatorial Algorithms*, 2nd ed., ch. 23 (its centred, half-length Gray-code form);
    Glynn (2010), "The permanent of a square matrix", European J. Combin. 31(7), eq. (1.2).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import log_permanent
    >>> print(round(float(log_permanent(np.log([[1.0, 2.0], [3.0, 4.0]]))), 6), round(float(np.log(10.0)), 6))
    2.302585 2.302585
    >>> np.round(log_permanent(np.zeros((2, 3, 3))), 6)
    array([1.791759, 1.791759])
    """
    arr = as_float_array(log_a, "log_a", min_ndim=2)
    k = arr.shape[-1]
    if arr.shape[-2] != k:
        raise ValueError(f"log_a must be square over its last two axes, got shape {arr.shape}")
    if k > MAX_ORDER:
        raise ValueError(f"log_a must be at most {MAX_ORDER}x{MAX_ORDER} (2^(k-1) terms), got k = {k}")
    if arr.size == 0:
        raise ValueError(f"log_a must hold at least one matrix, got shape {arr.shape}")
    top = np.max(arr)  # NaN propagates into the maximum
    if np.isnan(top):
        raise ValueError("log_a contains NaN")
    if np.isposinf(top):
        raise ValueError("log_a contains +inf; log-entries must be finite or -inf")
    batch = np.ascontiguousarray(arr.reshape(-1, k, k))
    out = np.empty(batch.shape[0], dtype=arr.dtype)
    _backend.select(log_permanent_batch, backend)(batch, out)
    return out.reshape(arr.shape[:-2])[()]


@_backend.numpy_twin
def log_permanent_batch(log_a: np.ndarray, out: np.ndarray) -> None:
    r"""Write :math:`\log\operatorname{per}(e^{L_b})` of each matrix :math:`L_b` of ``log_a`` into ``out[b]``.

    Parameters
    ----------
    log_a : ndarray of shape (n, k, k), float32 or float64, C-contiguous
        Finite or ``-inf`` (trusted: :func:`log_permanent` validates).
    out : ndarray of shape (n,), dtype of ``log_a``

    Computed in float64 whatever the dtype: the assignment weight plus the log-permanent of the scaled matrix
    (module docstring), ``-inf`` when no assignment has finite weight.
    """
    weights = log_a.astype(np.float64)
    log_scaled, assignment, feasible = assignment_scaling(weights)
    total = np.take_along_axis(weights, assignment[:, :, None], axis=2).sum(axis=(1, 2))
    with np.errstate(invalid="ignore"):  # infeasible matrices have -inf weight and NaN in `scaled`: masked below
        out[...] = np.where(feasible, total + np.log(glynn_sums(np.exp(log_scaled)))
                            - (weights.shape[1] - 1) * np.log(2.0), -np.inf)


def permanent_marginals(log_a, *, backend: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The gradient of :math:`\log \operatorname{per}(e^{L})` over the last two axes, with the scaled matrix and
    its log-permanent.

    .. math::

        M_{ij} = \frac{\partial \log\operatorname{per}(e^L)}{\partial L_{ij}}
        = \frac{e^{L_{ij}} \operatorname{per}\big(e^{L_{-i,-j}}\big)}{\operatorname{per}(e^L)}
        = \frac{1}{\operatorname{per}(A)} \sum_{T \subseteq [k] \setminus \{j\},\ |T| = i - 1}
          F(T)\, a_{ij}\, B(T \cup \{j\}),

    with :math:`A = e^S`, :math:`S = L - u 1^\top - 1 v^\top \le 0` the matrix scaled by the dual potentials of
    a maximum-weight assignment σ* (exactly 0 on σ*; the same M), :math:`F(T)` the sum over the assignments of
    rows :math:`1..|T|` to the columns T and :math:`B(T)` that of rows :math:`|T|+1..k` to the other columns:
    :math:`F(T) = \sum_{j \in T} F(T \setminus j)\, a_{|T| j}`, :math:`B(T) = \sum_{j \notin T} a_{|T|+1, j}
    B(T \cup j)`, :math:`\operatorname{per}(A) = F([k]) = B(\varnothing)`. O(k 2^k) operations in all, every
    term nonnegative: the marginals are accurate to a few ulps relative to themselves (``docs/permanent.md`` §3).
    M is the Birkhoff model's matrix of marginals :math:`p(\sigma_j = i)` (rows and columns sum to 1).

    Parameters
    ----------
    log_a : array_like of shape (..., k, k)
        Finite log-entries L; 1 ≤ k ≤ 16. Leading axes are a batch; float32 is kept, integers become float64.
    backend : {"auto", "numpy", "ext"}, default "auto"
        The compiled kernel ("ext") or its NumPy twin ("numpy"); "auto" (the default) the backend of
        :func:`refefl.config_context` (the compiled kernel when built, unless ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    scaled : ndarray of shape (..., k, k)
        S (≤ 0, zero on σ*); :math:`\langle S, P\rangle = \langle L, P\rangle - \sum_i L_{i\sigma^*(i)}` for
        every permutation matrix P, whichever optimal potentials were used.
    log_per_scaled : ndarray of shape (...)
        :math:`\log\operatorname{per}(e^S) = \log\operatorname{per}(e^L) - \sum_i L_{i\sigma^*(i)}`, in
        [0, log k!].
    marginals : ndarray of shape (..., k, k)
        M, in [0, 1] (not renormalized).

    Raises
    ------
    ValueError
        If the last two axes are not square, k > 16, the batch is empty, or ``log_a`` is not finite.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §5 (the Birkhoff energy, whose log-partition gradient M is); Ryser (1963), *Combinatorial Mathematics*,
    ch. 2 (the Laplace expansion :math:`\operatorname{per}(A) = \sum_j a_{ij} \operatorname{per}(A_{-i,-j})`).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition._permanent import permanent_marginals
    >>> L = np.log([[1.0, 2.0], [3.0, 4.0]])  # per = 1·4 + 2·3 = 10: σ = identity has weight 4, the swap 6
    >>> scaled, log_per, marginals = permanent_marginals(L)
    >>> print(np.round(marginals, 3))
    [[0.4 0.6]
     [0.6 0.4]]
    >>> print(round(float(log_per), 6), round(float(np.log(10 / 6)), 6))  # log per(e^L) − the best weight log 6
    0.510826 0.510826
    """
    arr = as_float_array(log_a, "log_a", min_ndim=2)
    k = arr.shape[-1]
    if arr.shape[-2] != k:
        raise ValueError(f"log_a must be square over its last two axes, got shape {arr.shape}")
    if k > MAX_MARGINAL_ORDER:
        raise ValueError(f"log_a must be at most {MAX_MARGINAL_ORDER}x{MAX_MARGINAL_ORDER} for the marginals "
                         f"(2^k subset sums), got k = {k}")
    if arr.size == 0:
        raise ValueError(f"log_a must hold at least one matrix, got shape {arr.shape}")
    check_finite(arr, "log_a")
    batch = np.ascontiguousarray(arr.reshape(-1, k, k))
    scaled, marginals = np.empty_like(batch), np.empty_like(batch)
    log_per = np.empty(batch.shape[0], dtype=arr.dtype)
    _backend.select(permanent_marginals_batch, backend)(batch, scaled, log_per, marginals)
    return scaled.reshape(arr.shape), log_per.reshape(arr.shape[:-2])[()], marginals.reshape(arr.shape)


@_backend.numpy_twin
def permanent_marginals_batch(log_a: np.ndarray, scaled: np.ndarray, log_per: np.ndarray,
                              marginals: np.ndarray) -> None:
    r"""Write, for each matrix :math:`L_b` of ``log_a``, the scaled :math:`S_b` into ``scaled[b]``,
    :math:`\log\operatorname{per}(e^{S_b})` into ``log_per[b]`` and :math:`\partial\log\operatorname{per}
    (e^{L_b})/\partial L_b` into ``marginals[b]`` (:func:`permanent_marginals`).

    Parameters
    ----------
    log_a : ndarray of shape (n, k, k), float32 or float64, C-contiguous
        Finite (trusted: :func:`permanent_marginals` validates), k ≤ 16.
    scaled, marginals : ndarray of shape (n, k, k), dtype of ``log_a``
    log_per : ndarray of shape (n,), dtype of ``log_a``

    Computed in float64 whatever the dtype; the subset sums of a block of matrices at a time, one popcount layer of
    subsets per NumPy operation.
    """
    n, k, _ = log_a.shape
    chunk = max(1, _BLOCK_ELEMENTS // (k << k))
    for start in range(0, n, chunk):
        block = slice(start, start + chunk)
        log_scaled, _, _ = assignment_scaling(log_a[block].astype(np.float64))
        per, grad = subset_sums(np.exp(log_scaled))
        scaled[block], log_per[block], marginals[block] = log_scaled, np.log(per), grad / per[:, None, None]


def assignment_scaling(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r""":math:`S = W - u 1^\top - 1 v^\top` (≤ 0, exactly 0 on σ*) of each (k, k) matrix of ``weights`` (n, k, k),
    σ* (n, k) and its feasibility (:func:`max_weight_assignments`, :func:`assignment_potentials`); NaN in S for
    an infeasible matrix."""
    assignment, feasible = max_weight_assignments(weights)
    u, v = assignment_potentials(weights, assignment)
    with np.errstate(invalid="ignore"):  # infeasible matrices (-inf - -inf): discarded by the caller
        log_scaled = np.minimum(weights - u[:, :, None] - v[:, None, :], 0.0)  # ≤ 0 up to rounding
    # exactly 0 on σ*: at |L| ~ 1e100 the rounding of u + v is far above 1 and would zero these entries
    np.put_along_axis(log_scaled, assignment[:, :, None], 0.0, axis=2)
    return log_scaled, assignment, feasible


def max_weight_assignments(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-weight assignment σ of each (k, k) matrix, as an (n, k) array of columns, and whether one of finite
    weight exists (``scipy.optimize.linear_sum_assignment``; an infeasible matrix gets the identity)."""
    n, k, _ = weights.shape
    assignment = np.tile(np.arange(k), (n, 1))
    feasible = np.ones(n, dtype=bool)
    for b in range(n):
        try:
            assignment[b] = linear_sum_assignment(weights[b], maximize=True)[1]
        except ValueError:  # "cost matrix is infeasible": every permutation meets a -inf entry
            feasible[b] = False
    return assignment, feasible


def assignment_potentials(weights: np.ndarray, assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Dual potentials (u, v), each (n, k), with :math:`u_i + v_j \ge W_{ij}` and equality on the optimal σ.

    With :math:`v_{\sigma(i)} = W_{i\sigma(i)} - u_i`, feasibility reads
    :math:`u_i \ge u_{i'} + W_{i\sigma(i')} - W_{i'\sigma(i')}`: u is the longest-path potential of that graph
    (no positive cycle, as σ is optimal), found by k rounds of max-plus relaxation from u = 0.
    """
    n, k, _ = weights.shape
    diagonal = np.take_along_axis(weights, assignment[:, :, None], axis=2)[:, :, 0]  # W[i', σ(i')]
    u = np.zeros((n, k))
    with np.errstate(invalid="ignore"):  # infeasible matrices (-inf - -inf): discarded by the caller
        # gain[b, i', i] = W[i, σ(i')] − W[i', σ(i')]
        gain = np.take_along_axis(weights, assignment[:, None, :], axis=2).transpose(0, 2, 1) - diagonal[:, :, None]
        for _ in range(k):
            u = np.maximum(u, np.max(u[:, :, None] + gain, axis=1))
    v = np.empty_like(u)
    np.put_along_axis(v, assignment, diagonal - u, axis=1)
    return u, v


def glynn_sums(a: np.ndarray) -> np.ndarray:
    r""":math:`\sum_\delta (\prod_j \delta_j) \prod_i \sum_j \delta_j a_{ij}` over :math:`\delta \in \{\pm1\}^k`,
    :math:`\delta_k = 1`, for each (k, k) matrix of ``a`` (n, k, k): :math:`2^{k-1}` times the permanent.

    The signs of the first ``low`` columns are enumerated at once (a matrix product gives every row sum of a block);
    the others are looped over, one block per pattern of the remaining signs.
    """
    n, k, _ = a.shape
    low = int(np.clip(np.floor(np.log2(_BLOCK_ELEMENTS / (n * k))), 0, k - 1))
    low_signs = 1.0 - 2.0 * ((np.arange(2**low)[:, None] >> np.arange(low)) & 1)  # (2^low, low)
    low_parity = np.prod(low_signs, axis=1)
    total = np.zeros(n)
    for pattern in range(2 ** (k - 1 - low)):
        high_signs = np.append(1.0 - 2.0 * ((pattern >> np.arange(k - 1 - low)) & 1), 1.0)  # (k − low,)
        row_sums = a[:, :, :low] @ low_signs.T + (a[:, :, low:] @ high_signs)[:, :, None]  # (n, k, 2^low)
        total += np.prod(row_sums, axis=1) @ (low_parity * np.prod(high_signs))
    return total


def subset_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""per(A) (n,) and :math:`\operatorname{per}(A) \, \partial \log \operatorname{per}(A) / \partial \log a_{ij}
    = a_{ij} \operatorname{per}(A_{-i,-j})` (n, k, k) of each matrix of ``a`` (n, k, k), nonnegative entries.

    F (forward, :math:`F(\varnothing) = 1`) and B (backward, :math:`B([k]) = 1`) are indexed by the bit mask of T;
    layer r holds the masks of popcount r. Layer r of F needs layer r − 1 (row r − 1 joins, 0-based); layer r of B
    needs layer r + 1 (row r joins), and its terms, weighted by F, are row r of the result.
    """
    n, k, _ = a.shape
    bits = 1 << np.arange(k)
    full = (1 << k) - 1
    forward, backward = np.zeros((n, full + 1)), np.zeros((n, full + 1))
    forward[:, 0] = backward[:, full] = 1.0
    layers = _popcount_layers(k)
    for r in range(1, k + 1):
        masks = layers[r]
        member = (masks[:, None] & bits) != 0  # (C, k): j ∈ T
        forward[:, masks] = np.sum(forward[:, masks[:, None] ^ bits] * member * a[:, r - 1, None, :], axis=2)
    grad = np.empty_like(a)
    for r in range(k - 1, -1, -1):
        masks = layers[r]
        terms = a[:, r, None, :] * backward[:, masks[:, None] | bits] * ((masks[:, None] & bits) == 0)  # j ∉ T
        backward[:, masks] = np.sum(terms, axis=2)
        grad[:, r, :] = np.einsum("nc,ncj->nj", forward[:, masks], terms)
    return forward[:, full], grad


@functools.lru_cache(maxsize=None)
def _popcount_layers(k: int) -> tuple[np.ndarray, ...]:
    """The bit masks of {0, .., 2^k − 1} grouped by popcount r = 0..k, each increasing."""
    masks = np.arange(1 << k)
    counts = sum((masks >> j) & 1 for j in range(k))
    return tuple(masks[counts == r] for r in range(k + 1))
