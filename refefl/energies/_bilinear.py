"""The bilinear energy Φ(y, θ) = ⟨y, θ⟩, with which the generalized FY loss is the classic one."""
from __future__ import annotations

import numpy as np

from refefl.energies._base import Energy, check_matrix


class Bilinear(Energy):
    r"""Bilinear energy :math:`\Phi(y, \theta) = \langle y, \theta\rangle`, per row.

    .. math::

        \nabla_y \Phi = \theta, \qquad \nabla_\theta \Phi = y.

    ``params`` is θ, an ndarray of shape (n_samples, n_labels). With this energy the generalized FY loss is the
    classic FY loss :math:`L_\Omega(\theta; y)` and the maximizer is the regularized prediction
    :math:`\hat y_\Omega(\theta)` (docs/fenchel_young.md §2.8).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §3 (Φ(y, θ) = ⟨y, θ⟩ recovers Fenchel-Young losses).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Bilinear
    >>> theta, y = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])
    >>> print(np.round(Bilinear().value(theta, y), 4))
    [1.5]
    >>> print(np.round(Bilinear().grad_y(theta, y), 4))
    [[ 1.  -2.   0.5]]
    """

    affine_in_params = True
    concave_in_y = True

    def output_shape(self, params: np.ndarray) -> tuple[int, int]:
        return params.shape

    def _check_params(self, params) -> np.ndarray:
        return check_matrix(params, "theta", "(n_samples, n_labels)")

    def _value(self, params: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", y, params)

    def _grad_y(self, params: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.array(params, dtype=np.result_type(params, y))

    def _grad_params(self, params: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.array(y, dtype=np.result_type(params, y))
