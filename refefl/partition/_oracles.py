r"""Exact log-partitions and marginals of the partition-network energies under the uniform base measure q.

Every oracle returns :math:`\log Z = \log \mathbb E_{y \sim q}\, e^{g(y)}` (the expectation, not the sum: with q
uniform over N states this is :math:`\operatorname{logsumexp}_y g(y) - \log N`), the quantity the minimizing τ of
:func:`refefl.partition.min_min_loss` (KL) equals. Closed forms and their derivations: ``docs/partition.md`` §4.

- sets, unary :math:`g = \langle u, y\rangle`: :math:`\log Z = \sum_i \log\frac{1 + e^{u_i}}{2}` (closed form);
- sets, pairwise :math:`g = \langle u, y\rangle + \frac12 \langle y, U y\rangle`: enumeration of the 2^k states
  (k ≤ 16);
- permutations, Birkhoff :math:`g = \langle \Theta, P_\sigma\rangle`: :math:`\log\operatorname{per}(e^\Theta)
  - \log k!` (k ≤ 24), marginals :math:`\mathbb E_p P_\sigma` (the permanents of the minors, from the subset
  sums of :func:`permanent_marginals`; k ≤ 16);
- permutations, permutahedron :math:`g = \langle\theta, \rho_\sigma\rangle`: the Birkhoff case with the rank-one
  :math:`\Theta_{ir} = \theta_i (k - r)`, since :math:`\langle\theta, \rho_\sigma\rangle = \sum_r \theta_{\sigma_r}
  (k - r)`.
"""
from __future__ import annotations

import math

import numpy as np

from refefl._validation import as_float_array, check_finite, check_scores, common_float_dtype
from refefl.partition._permanent import MAX_MARGINAL_ORDER, MAX_ORDER, log_permanent, permanent_marginals
from refefl.partition._spaces import MAX_SET_STATES, BinaryVectors

#: Largest k for the pairwise enumeration (2^k states, :meth:`BinaryVectors.enumerate`'s limit).
MAX_PAIRWISE_LABELS = int(math.log2(MAX_SET_STATES))
#: Elements of the (chunk, 2^k, k) array the pairwise enumeration forms at a time.
_BLOCK_ELEMENTS = 1 << 22


def unary_log_partition(u) -> np.ndarray:
    r"""Log-partition of the unary energy over :math:`\{0, 1\}^k` with the uniform base measure.

    .. math::

        \log \mathbb E_{y \sim \mathrm{uniform}\{0,1\}^k}\, e^{\langle u, y\rangle}
        = \sum_{i=1}^k \log \frac{1 + e^{u_i}}{2} = \sum_i \operatorname{softplus}(u_i) - k \log 2,

    each term written :math:`\max(u_i, 0) + \operatorname{log1p}(\operatorname{expm1}(-|u_i|) / 2)`: accurate
    relative to :math:`|u_i|/2` near 0 and finite for any finite :math:`|u_i|` (1e300 included). Its gradient
    is :math:`\operatorname{sigmoid}(u)`, the marginals :math:`\mathbb E_p[y]`.

    Parameters
    ----------
    u : array_like of shape (..., k)
        Unary scores, finite. Leading axes are a batch; float32 is kept.

    Returns
    -------
    ndarray of shape (...)

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the model :math:`p = q\, e^{g - \log Z}`) and §5 (the output spaces and energies).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import unary_log_partition
    >>> u = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    >>> np.round(unary_log_partition(u), 6)
    array([0.      , 0.693147])
    """
    u = _check_finite_array(u, "u")
    terms = np.log1p(np.expm1(-np.abs(u)) / 2)
    terms += np.maximum(u, 0)
    return terms.sum(axis=-1)


def enumeration_log_partition(g_states) -> np.ndarray:
    r"""Log-partition from the energies of every state of a space with the uniform base measure.

    .. math::

        \log \mathbb E_{y \sim \mathrm{uniform}(\mathcal Y)}\, e^{g(y)}
        = \operatorname{logsumexp}_{y \in \mathcal Y} g(y) - \log |\mathcal Y|.

    Parameters
    ----------
    g_states : array_like of shape (..., N)
        Energies of all N states (e.g. an energy's ``value`` on ``space.enumerate()``), finite or ``-inf`` (an
        impossible state), at least one finite per row. Leading axes are a batch; float32 is kept.

    Returns
    -------
    ndarray of shape (...)

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the model :math:`p = q\, e^{g - \log Z}`) and §5 (the output spaces and energies).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import enumeration_log_partition
    >>> np.round(enumeration_log_partition([[0.0, 0.0, 0.0], [np.log(3.0), 0.0, -np.inf]]), 6)
    array([0.      , 0.287682])
    """
    g = as_float_array(g_states, "g_states")
    check_scores(g, "g_states")
    top = g.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):
        total = np.exp(g - top).sum(axis=-1)
    return top[..., 0] + np.log(total) - np.log(g.shape[-1]).astype(g.dtype)


def pairwise_log_partition(u, U) -> np.ndarray:
    r"""Log-partition of the pairwise energy over :math:`\{0, 1\}^k` by enumeration of its 2^k states (k ≤ 16).

    .. math::

        \log \mathbb E_{y \sim \mathrm{uniform}\{0,1\}^k} \exp\Big(\langle u, y\rangle
        + \tfrac12 \langle y, U y\rangle\Big).

    Parameters
    ----------
    u : array_like of shape (..., k)
        Unary scores, finite.
    U : array_like of shape (..., k, k)
        Pairwise scores, finite, symmetric with a zero diagonal (``docs/partition.md`` §4 says why).

    Returns
    -------
    ndarray of shape (...)

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the model :math:`p = q\, e^{g - \log Z}`) and §5 (the output spaces and energies).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import pairwise_log_partition, unary_log_partition
    >>> u = np.array([[0.5, -1.0, 2.0]])
    >>> U = np.array([[[0.0, 1.0, 0.0], [1.0, 0.0, -2.0], [0.0, -2.0, 0.0]]])
    >>> print(np.round(pairwise_log_partition(u, U), 4))
    [1.1884]
    >>> print(bool(np.isclose(pairwise_log_partition(u, np.zeros_like(U))[0], unary_log_partition(u)[0])))
    True
    """
    u, U = check_pairwise(u, U)
    return enumeration_log_partition(pairwise_state_energies(u, U))


def permutahedron_log_partition(theta) -> np.ndarray:
    r"""Log-partition of the permutahedron energy over the k! rankings with the uniform base measure (k ≤ 24).

    .. math::

        \log \frac1{k!} \sum_\sigma e^{\langle \theta, \rho_\sigma\rangle}
        = \log \operatorname{per}\big(e^{\Theta}\big) - \log k!, \qquad \Theta_{ir} = \theta_i\,(k - r),

    with :math:`(\rho_\sigma)_{\sigma_r} = k - r` (``sigma[r]`` the item at rank r), computed by
    :func:`log_permanent`.

    Parameters
    ----------
    theta : array_like of shape (..., k)
        Item scores, finite; 1 ≤ k ≤ 24.

    Returns
    -------
    ndarray of shape (...)

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the model :math:`p = q\, e^{g - \log Z}`) and §5 (the output spaces and energies).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import Permutations, PermutahedronEnergy, enumeration_log_partition
    >>> from refefl.partition import permutahedron_log_partition
    >>> theta = np.array([[1.0, -0.5, 2.0]])
    >>> g = PermutahedronEnergy(3).value(theta, Permutations(3).enumerate()[None])
    >>> print(np.round(permutahedron_log_partition(theta), 6), np.round(enumeration_log_partition(g), 6))
    [6.206747] [6.206747]
    """
    theta = _check_finite_array(theta, "theta")
    check_order(theta.shape[-1], MAX_ORDER, "theta")
    return birkhoff_log_partition(permutahedron_as_birkhoff(theta))


def birkhoff_log_partition(Theta) -> np.ndarray:
    r"""Log-partition of the Birkhoff energy over the k! rankings with the uniform base measure (k ≤ 24).

    .. math::

        \log \frac1{k!} \sum_\sigma e^{\langle \Theta, P_\sigma\rangle}
        = \log \operatorname{per}\big(e^{\Theta}\big) - \log k!, \qquad
        \langle \Theta, P_\sigma\rangle = \sum_r \Theta_{\sigma_r, r}.

    Parameters
    ----------
    Theta : array_like of shape (..., k, k)
        Scores of item i (row) at rank r (column), finite; 1 ≤ k ≤ 24.

    Returns
    -------
    ndarray of shape (...)

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the model :math:`p = q\, e^{g - \log Z}`) and §5 (the output spaces and energies).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import birkhoff_log_partition, log_permanent
    >>> Theta = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> print(np.round(birkhoff_log_partition(Theta), 6), np.round(np.log((np.e ** 2 + 1) / 2), 6))
    [1.433781] 1.433781
    >>> print(bool(np.isclose(birkhoff_log_partition(Theta)[0], log_permanent(Theta[0]) - np.log(2))))
    True
    """
    Theta = _check_square(Theta, "Theta", MAX_ORDER)
    k = Theta.shape[-1]
    return np.asarray(log_permanent(Theta) - math.lgamma(k + 1), dtype=Theta.dtype)


def birkhoff_marginals(Theta) -> np.ndarray:
    r"""Marginals :math:`\mathbb E_p[P_\sigma]` of the Birkhoff model :math:`p(\sigma) \propto e^{\langle\Theta,
    P_\sigma\rangle}`: the gradient of its log-partition, a doubly stochastic matrix (k ≤ 16).

    .. math::

        \mathbb E_p[P_\sigma]_{ir} = p(\sigma_r = i)
        = \frac{\partial \log \operatorname{per}(e^\Theta)}{\partial \Theta_{ir}}
        = \exp\Big(\Theta_{ir} + \log\operatorname{per}\big(e^{\Theta_{-i,-r}}\big)
        - \log\operatorname{per}\big(e^{\Theta}\big)\Big),

    where :math:`\Theta_{-i,-r}` deletes row i and column r (Laplace expansion of the permanent along row i). All
    k² of them come from one pass of forward and backward sums over the column subsets (:func:`permanent_marginals`,
    O(k 2^k), nonnegative terms), after Θ is shifted by the dual potentials of its maximum-weight assignment (row
    and column shifts leave p unchanged): accurate for :math:`|\Theta|` up to 1e300.

    Parameters
    ----------
    Theta : array_like of shape (..., k, k)
        Finite scores; 1 ≤ k ≤ 16.

    Returns
    -------
    ndarray of shape (..., k, k)
        Rows and columns sum to 1 up to rounding (not renormalized).

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the model :math:`p = q\, e^{g - \log Z}`) and §5 (the output spaces and energies).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import birkhoff_marginals
    >>> M = birkhoff_marginals(np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> print(np.round(M, 4), np.round(M.sum(axis=0), 12), np.round(M.sum(axis=1), 12))
    [[0.8808 0.1192]
     [0.1192 0.8808]] [1. 1.] [1. 1.]
    >>> np.round(birkhoff_marginals(np.zeros((3, 3))), 6)
    array([[0.333333, 0.333333, 0.333333],
           [0.333333, 0.333333, 0.333333],
           [0.333333, 0.333333, 0.333333]])
    """
    Theta = _check_square(Theta, "Theta", MAX_MARGINAL_ORDER)
    return permanent_marginals(Theta)[2]


# -- shared pieces ----------------------------------------------------------------------------------------------
def permutahedron_as_birkhoff(theta: np.ndarray) -> np.ndarray:
    r"""The rank-one Birkhoff scores :math:`\Theta_{ir} = \theta_i (k - r)` with
    :math:`\langle\Theta, P_\sigma\rangle = \langle\theta, \rho_\sigma\rangle`, shape (..., k, k)."""
    k = theta.shape[-1]
    return theta[..., :, None] * np.arange(k, 0, -1, dtype=theta.dtype)


def pairwise_state_energies(u: np.ndarray, U: np.ndarray) -> np.ndarray:
    r""":math:`\langle u, y\rangle + \frac12\langle y, Uy\rangle` for every state y of ``BinaryVectors(k)
    .enumerate()``, shape (..., 2^k), for validated u (..., k), U (..., k, k); examples in blocks."""
    k = u.shape[-1]
    if k > MAX_PAIRWISE_LABELS:
        raise ValueError(f"u: the pairwise enumeration lists 2^k states and needs k <= {MAX_PAIRWISE_LABELS}, "
                         f"got k = {k}")
    states = BinaryVectors(k).enumerate().astype(u.dtype)
    flat_u, flat_U = u.reshape(-1, k), U.reshape(-1, k, k)
    out = np.empty((flat_u.shape[0], states.shape[0]), dtype=u.dtype)
    chunk = max(1, _BLOCK_ELEMENTS // (states.size))
    for start in range(0, flat_u.shape[0], chunk):
        block = slice(start, start + chunk)
        quadratic = np.einsum("sk,nsk->ns", states, states @ flat_U[block])  # (chunk, 2^k)
        out[block] = flat_u[block] @ states.T + quadratic / 2
    return out.reshape(*u.shape[:-1], states.shape[0])


def check_pairwise(u, U) -> tuple[np.ndarray, np.ndarray]:
    """(u (..., k), U (..., k, k)) finite, one dtype, U symmetric with a zero diagonal (exactly)."""
    u = _check_finite_array(u, "u")
    U = _check_finite_array(U, "U", min_ndim=2)
    k = u.shape[-1]
    if U.shape != (*u.shape, k):
        raise ValueError(f"U must have shape {(*u.shape, k)} to match u of shape {u.shape}, got {U.shape}")
    if not np.array_equal(U, np.swapaxes(U, -1, -2)):
        raise ValueError("U must be symmetric (U == U^T exactly; symmetrize with (A + A^T) / 2)")
    if np.any(np.diagonal(U, axis1=-2, axis2=-1) != 0):
        raise ValueError("U must have a zero diagonal (y_i^2 = y_i: a diagonal term belongs in u)")
    dtype = common_float_dtype(u, U)
    return u.astype(dtype, copy=False), U.astype(dtype, copy=False)


def _check_finite_array(x, name: str, *, min_ndim: int = 1) -> np.ndarray:
    x = as_float_array(x, name, min_ndim=min_ndim)
    check_finite(x, name)
    return x


def _check_square(x, name: str, max_order: int) -> np.ndarray:
    x = _check_finite_array(x, name, min_ndim=2)
    if x.shape[-2] != x.shape[-1]:
        raise ValueError(f"{name} must be square over its last two axes (k, k), got shape {x.shape}")
    check_order(x.shape[-1], max_order, name)
    return x


def check_order(k: int, max_order: int, name: str) -> None:
    if k > max_order:
        raise ValueError(f"{name} has k = {k} items; this exact oracle handles k <= {max_order}")
