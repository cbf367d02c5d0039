"""Pairwise (quadratic) energies Φ(y, (θ, A)) = ⟨y, θ⟩ + ½⟨y, A y⟩: their common type :class:`PairwiseEnergy`,
the general :class:`Quadratic` and the concave low-rank case A = −VVᵀ."""
from __future__ import annotations

from abc import abstractmethod

import numpy as np

from refefl._validation import as_float_array, check_finite, feasibility_tol
from refefl.energies._base import Energy, check_matrix


def _unpack_pair(params, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(params, (tuple, list)) or len(params) != 2:
        raise TypeError(f"params must be a tuple ({names[0]}, {names[1]}), got {type(params).__name__}")
    theta = check_matrix(params[0], names[0], "(n_samples, n_labels)")
    other = as_float_array(params[1], names[1])
    check_finite(other, names[1])
    dtype = np.result_type(theta, other)
    return theta.astype(dtype, copy=False), other.astype(dtype, copy=False)


def _check_shared_or_per_row(mat: np.ndarray, name: str, n: int, k: int, last: int | None) -> None:
    """``mat`` must be (k, last) shared or (n, k, last) per row (``last=None``: square, last = k)."""
    last = k if last is None else last
    if mat.shape not in ((k, last), (n, k, last)):
        raise ValueError(
            f"{name} must have shape ({k}, {last}) (shared) or ({n}, {k}, {last}) (per row), got {mat.shape}"
        )


def times_rows(mat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise :math:`M y_i` for M shared (k, m) or per row (n, k, m), with ``y`` of shape (n, m)."""
    if mat.ndim == 2:
        return y @ mat.T
    return np.einsum("nij,nj->ni", mat, y)


def outer_rows(a: np.ndarray, b: np.ndarray, shared: bool) -> np.ndarray:
    r""":math:`a_i b_i^\top` per row (n, k, m), or summed over the rows (k, m) when ``shared``."""
    return a.T @ b if shared else a[:, :, None] * b[:, None, :]


class PairwiseEnergy(Energy):
    r"""An energy of the form :math:`\Phi(y, \mathrm{params}) = \langle y, \theta\rangle + \tfrac12\langle y, A y\rangle`,
    however its parameters are laid out: :meth:`pairwise` gives (θ, A).

    This is the type :class:`~refefl.maximizers.CoordinateAscent` and
    :func:`~refefl.maximizers.default_maximizer` look for: each coordinate of y sees the field
    :math:`\theta_j + \sum_{i \ne j} A_{ji} y_i`, so the coordinate problems have closed forms.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (quadratic energies and coordinate ascent).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Quadratic
    >>> theta, y = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])
    >>> A = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    >>> print(np.round(Quadratic().value((theta, A), y), 4))
    [3.5]
    >>> print(np.round(Quadratic().grad_y((theta, A), y), 4))
    [[ 3.  -1.   2.5]]
    """

    @abstractmethod
    def pairwise(self, params) -> tuple[np.ndarray, np.ndarray]:
        """``(theta, A)`` of validated params: theta of shape (n, k), A symmetric of shape (k, k) or (n, k, k)."""


class Quadratic(PairwiseEnergy):
    r"""Pairwise energy :math:`\Phi(y, (\theta, A)) = \langle y, \theta\rangle + \tfrac12 \langle y, A y\rangle`.

    .. math::

        \nabla_y \Phi = \theta + A y, \qquad \nabla_\theta \Phi = y, \qquad \nabla_A \Phi = \tfrac12 y y^\top.

    ``params`` is the tuple ``(theta, A)``: theta of shape (n_samples, n_labels), A symmetric of shape
    (n_labels, n_labels), shared by every row, or (n_samples, n_labels, n_labels), one per row.

    Convention for ∇_A: A is treated as a symmetric matrix and its gradient is taken with respect to the Frobenius
    inner product on symmetric matrices, so ∇_AΦ = ½yyᵀ is symmetric and :math:`\langle \nabla_A\Phi, D\rangle_F`
    is the directional derivative along any symmetric D. This is also the entrywise gradient of
    :math:`\tfrac12\sum_{ij} A_{ij} y_i y_j` and what a parametrization A = (B + Bᵀ)/2 passes to B by the chain rule.
    Shared A: the gradient is :math:`\tfrac12\sum_i y_i y_i^\top` (sum over rows, see :class:`Energy`).
    A must be symmetric up to sqrt(eps) relative to its largest entry (``ValueError`` otherwise); its symmetric
    part is used. Φ is affine in (θ, A); it is concave in y iff A ⪯ 0.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (quadratic energies) and §6 (multilabel classification).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Quadratic
    >>> theta, y = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])
    >>> A = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    >>> print(np.round(Quadratic().value((theta, A), y), 4))
    [3.5]
    >>> print(np.round(Quadratic().grad_y((theta, A), y), 4))
    [[ 3.  -1.   2.5]]
    """

    affine_in_params = True

    def output_shape(self, params) -> tuple[int, int]:
        return params[0].shape

    def _check_params(self, params) -> tuple[np.ndarray, np.ndarray]:
        theta, a = _unpack_pair(params, ("theta", "A"))
        _check_shared_or_per_row(a, "A", *theta.shape, None)
        asym = np.abs(a - a.swapaxes(-1, -2)).max()
        if asym > feasibility_tol(a.dtype) * max(1.0, float(np.abs(a).max())):
            raise ValueError(f"A must be symmetric, but |A - Aᵀ| reaches {asym:.3g}")
        return theta, (a + a.swapaxes(-1, -2)) / 2

    def pairwise(self, params) -> tuple[np.ndarray, np.ndarray]:
        """``(theta, A)`` of validated params (the form coordinate ascent uses)."""
        return params

    def _value(self, params, y: np.ndarray) -> np.ndarray:
        theta, a = params
        return np.einsum("ij,ij->i", y, theta + times_rows(a, y) / 2)

    def _grad_y(self, params, y: np.ndarray) -> np.ndarray:
        theta, a = params
        return theta + times_rows(a, y)

    def _grad_params(self, params, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta, a = params
        dtype = np.result_type(theta, y)
        return np.array(y, dtype=dtype), (outer_rows(y, y, a.ndim == 2) / 2).astype(dtype, copy=False)


class LowRankConcave(PairwiseEnergy):
    r"""Concave pairwise energy :math:`\Phi(y, (\theta, V)) = \langle y, \theta\rangle - \tfrac12\|V^\top y\|^2`,
    i.e. :class:`Quadratic` with :math:`A = -VV^\top \preceq 0`.

    .. math::

        \nabla_y \Phi = \theta - V V^\top y, \qquad \nabla_\theta\Phi = y, \qquad
        \nabla_V \Phi = -y\, (V^\top y)^\top.

    ``params`` is the tuple ``(theta, V)``: theta of shape (n_samples, n_labels), V of shape (n_labels, rank)
    shared by every row (its gradient sums over rows) or (n_samples, n_labels, rank) per row. Φ is concave in y for
    every V, so the inner maximization has a unique solution for a strictly convex Ω.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (low-rank concave quadratic energies, "linear-concave" class).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import LowRankConcave
    >>> theta, y = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])
    >>> V = np.array([[1.0], [0.0], [1.0]])
    >>> print(np.round(LowRankConcave().value((theta, V), y), 4))
    [-0.5]
    """

    concave_in_y = True

    def output_shape(self, params) -> tuple[int, int]:
        return params[0].shape

    def _check_params(self, params) -> tuple[np.ndarray, np.ndarray]:
        theta, v = _unpack_pair(params, ("theta", "V"))
        if v.ndim not in (2, 3):
            raise ValueError(f"V must have shape ({theta.shape[1]}, rank) or {theta.shape + ('rank',)}, got {v.shape}")
        _check_shared_or_per_row(v, "V", *theta.shape, v.shape[-1])
        return theta, v

    def pairwise(self, params) -> tuple[np.ndarray, np.ndarray]:
        """``(theta, A)`` with A = −VVᵀ, of shape (k, k) or (n, k, k)."""
        theta, v = params
        return theta, -(v @ v.swapaxes(-1, -2))

    def _projected(self, v: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Vᵀy_i per row, of shape (n, rank)."""
        return y @ v if v.ndim == 2 else np.einsum("nkr,nk->nr", v, y)

    def _value(self, params, y: np.ndarray) -> np.ndarray:
        theta, v = params
        proj = self._projected(v, y)
        return np.einsum("ij,ij->i", y, theta) - np.einsum("ij,ij->i", proj, proj) / 2

    def _grad_y(self, params, y: np.ndarray) -> np.ndarray:
        theta, v = params
        return theta - times_rows(v, self._projected(v, y))

    def _grad_params(self, params, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta, v = params
        dtype = np.result_type(theta, y)
        return np.array(y, dtype=dtype), (-outer_rows(y, self._projected(v, y), v.ndim == 2)).astype(dtype, copy=False)
