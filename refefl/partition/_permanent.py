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
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from refefl import _backend
from refefl._validation import as_float_array

#: Largest order k accepted: the walk has 2^(k-1) steps of O(k) (about a second at k = 24).
MAX_ORDER = 24

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
        The compiled kernel or its NumPy twin (:func:`refefl._backend.select`).

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
    assignment, feasible = max_weight_assignments(weights)
    u, v = assignment_potentials(weights, assignment)
    scaled = np.exp(np.minimum(weights - u[:, :, None] - v[:, None, :], 0.0))  # ≤ 0 up to rounding
    # exactly 0 on σ*: at |L| ~ 1e100 the rounding of u + v is far above 1 and would zero these entries
    np.put_along_axis(scaled, assignment[:, :, None], 1.0, axis=2)
    total = np.take_along_axis(weights, assignment[:, :, None], axis=2).sum(axis=(1, 2))
    with np.errstate(invalid="ignore"):  # infeasible matrices have -inf weight and NaN in `scaled`: masked below
        out[...] = np.where(feasible, total + np.log(glynn_sums(scaled)) - (weights.shape[1] - 1) * np.log(2.0),
                            -np.inf)


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
