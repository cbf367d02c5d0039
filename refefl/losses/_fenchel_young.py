"""The classic Fenchel-Young loss L_Ω(θ; y) = Ω*(θ) + Ω(y) − ⟨θ, y⟩ of a regularizer Ω."""
from __future__ import annotations

import numpy as np

from refefl._validation import check_same_shape
from refefl.regularizers._base import Regularizer, inner_on_support


class FenchelYoungLoss:
    r"""Fenchel-Young loss of a regularizer Ω, per row (last axis), batched over the leading axes.

    .. math::

        L_\Omega(\theta; y) = \Omega^*(\theta) + \Omega(y) - \langle \theta, y\rangle
        = \langle \theta, \hat y - y\rangle + \Omega(y) - \Omega(\hat y) \;\ge 0,
        \qquad \nabla_\theta L_\Omega(\theta; y) = \hat y_\Omega(\theta) - y.

    The value is computed in the second form (the inner product over the support of ŷ − y), which is exact
    at y = ŷ, and clipped at 0 (L ≥ 0 by the Fenchel-Young inequality; only rounding can make it negative).
    Edge cases: a score of ``-inf`` on a coordinate where y is 0 changes nothing; on a coordinate where y > 0 the
    loss is ``+inf`` (and the gradient there is ŷ_i − y_i = −y_i). Targets outside the domain of Ω raise
    ``ValueError`` (Ω(y) would be +inf).

    Parameters
    ----------
    regularizer : Regularizer
        Ω, e.g. ``refefl.regularizer("sparsemax")``.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, Def. 2 and Prop. 2.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl import FenchelYoungLoss, regularizer
    >>> loss = FenchelYoungLoss(regularizer("sparsemax"))
    >>> theta, y = np.array([[1.0, 0.5, -1.0]]), np.array([[0.0, 1.0, 0.0]])
    >>> value, grad = loss.value_and_grad(theta, y)
    >>> print(np.round(value, 4), grad)
    [0.5625] [[ 0.75 -0.75  0.  ]]
    >>> print(loss.value(theta, np.array([[0.75, 0.25, 0.0]])).round(12))
    [0.]
    """

    def __init__(self, regularizer: Regularizer):
        if not isinstance(regularizer, Regularizer):
            raise TypeError(f"regularizer must be a refefl Regularizer, got {type(regularizer).__name__}")
        self.regularizer = regularizer

    def _checked(self, theta, y) -> tuple[np.ndarray, np.ndarray]:
        omega = self.regularizer
        theta = omega.check_theta(theta)
        y = omega.check_target(y)
        check_same_shape(theta, y, "theta", "y")
        dtype = np.result_type(theta, y)
        return theta.astype(dtype, copy=False), y.astype(dtype, copy=False)

    def _value(self, theta: np.ndarray, y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
        """L_Ω(θ; y) in the second form, for validated inputs and ŷ = ŷ_Ω(θ)."""
        omega = self.regularizer
        loss = inner_on_support(theta, y_hat - y) + omega._value(y) - omega._value(y_hat)
        return np.maximum(loss, 0)

    def value(self, theta, y) -> np.ndarray:
        """Per-row losses L_Ω(θ; y), of shape ``theta.shape[:-1]``."""
        theta, y = self._checked(theta, y)
        return self._value(theta, y, self.regularizer._predict(theta))

    def grad(self, theta, y) -> np.ndarray:
        """∇_θ L_Ω(θ; y) = ŷ_Ω(θ) − y, of the shape of θ."""
        theta, y = self._checked(theta, y)
        return self.regularizer._predict(theta) - y

    def value_and_grad(self, theta, y) -> tuple[np.ndarray, np.ndarray]:
        r"""The loss and its gradient from one regularized prediction ŷ = ŷ_Ω(θ).

        .. math::

            L_\Omega(\theta; y) = \Omega^*(\theta) + \Omega(y) - \langle \theta, y\rangle, \qquad
            \nabla_\theta L_\Omega(\theta; y) = \hat y_\Omega(\theta) - y,

        the same arrays as ``(value(theta, y), grad(theta, y))``, with one solve instead of two.

        Parameters
        ----------
        theta : array_like of shape (..., k)
            Scores θ.
        y : array_like of shape (..., k)
            Targets in the domain of Ω.

        Returns
        -------
        value : ndarray of shape (...,)
            Per-row losses.
        grad : ndarray of shape (..., k)
            ŷ − y.

        References
        ----------
        Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, Def. 2 and Prop. 2.
        """
        theta, y = self._checked(theta, y)
        y_hat = self.regularizer._predict(theta)
        return self._value(theta, y, y_hat), y_hat - y

    def __repr__(self) -> str:
        return f"FenchelYoungLoss({self.regularizer!r})"
