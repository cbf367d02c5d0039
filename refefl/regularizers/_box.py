r"""Regularizers on the box :math:`[0, 1]^k`: binary negentropy (ŷ = sigmoid) and half squared norm (ŷ = clip).

Both are separable, so Ω*, ŷ and the Jacobian act coordinate by coordinate, and so does the exact coordinate
update of :class:`~refefl.maximizers.CoordinateAscent`. The helpers :func:`binary_negentropy`, :func:`in_box`,
:func:`logit` and :func:`sigmoid_curvature` are shared with the capped-simplex regularizers.
"""
from __future__ import annotations

import numpy as np
from scipy import special
from scipy.special import expit, xlogy

from refefl.projections._root_finding import find_root_decreasing
from refefl.regularizers._base import Regularizer


def binary_negentropy(y: np.ndarray) -> np.ndarray:
    r"""Row-wise :math:`\sum_i y_i \log y_i + (1 - y_i)\log(1 - y_i)` with 0 log 0 = 0 (y clipped to [0, 1] first,
    so entries within the domain tolerance outside the box count as 0 or 1)."""
    y = np.clip(y, 0, 1)
    return (xlogy(y, y) + xlogy(1 - y, 1 - y)).sum(axis=-1)


def in_box(y: np.ndarray, tol: float) -> np.ndarray:
    """Per row: every entry lies in [−tol, 1 + tol]."""
    return ((y >= -tol) & (y <= 1 + tol)).all(axis=-1)


def logit(y: np.ndarray) -> np.ndarray:
    r""":math:`\log(y / (1 - y))`, the gradient of the binary negentropy: ∓inf at 0 and 1 (no warning)."""
    with np.errstate(divide="ignore"):
        return special.logit(y)


def sigmoid_curvature(u: np.ndarray) -> np.ndarray:
    r""":math:`\sigma'(u) = \sigma(u)\,\sigma(-u)`: accurate in both tails (σ(1 − σ) cancels), 0 at ±inf."""
    return expit(u) * expit(-u)


class BinaryEntropy(Regularizer):
    r"""Binary negentropy on the box :math:`[0,1]^k`; its prediction is the sigmoid, its conjugate Σ softplus.

    .. math::

        \Omega(y) = \sum_i y_i \log y_i + (1 - y_i)\log(1 - y_i), \qquad
        \Omega^*(\theta) = \sum_i \log(1 + e^{\theta_i}), \qquad
        \hat y = \sigma(\theta), \qquad \partial\hat y\, v = \sigma(\theta) \odot \sigma(-\theta) \odot v.

    The FY loss is the binary logistic (one-vs-all) loss, :math:`\sum_i \operatorname{softplus}(\theta_i) -
    \theta_i y_i` for y ∈ {0, 1}^k. Ω is 4-strongly convex (Ω'' = 1/(y(1−y)) ≥ 4). Sigmoid and softplus are
    evaluated stably (``scipy.special.expit``, ``numpy.logaddexp``): finite for |θ| up to 1e300, and a score of
    ``-inf`` gives ŷ_i = 0 and contributes 0 to Ω*.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, Table 1 and §4.4
    (one-vs-all losses on the unit cube).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import BinaryEntropy
    >>> omega = BinaryEntropy()
    >>> theta = np.array([[1.0, -2.0, 0.5]])
    >>> print(np.round(omega.predict(theta), 4))
    [[0.7311 0.1192 0.6225]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [2.4143]
    """

    name = "binary_entropy"
    legendre = True
    strong_convexity = 4.0

    def conjugate(self, theta) -> np.ndarray:
        r"""Ω*(θ) = Σ_i softplus(θ_i) = Σ_i log(1 + e^{θ_i}) per row."""
        return np.logaddexp(0, self.check_theta(theta)).sum(axis=-1)

    def _value(self, y: np.ndarray) -> np.ndarray:
        return binary_negentropy(y)

    def _in_domain(self, y: np.ndarray, tol: float) -> np.ndarray:
        return in_box(y, tol)

    def _predict(self, theta: np.ndarray) -> np.ndarray:
        return expit(theta)

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        return sigmoid_curvature(theta) * v

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        return logit(y)

    def _project(self, z: np.ndarray) -> np.ndarray:
        return np.clip(z, 0, 1)

    @staticmethod
    def _coordinate_update(field: np.ndarray, diag: np.ndarray) -> np.ndarray:
        r"""argmax over t ∈ [0, 1] of :math:`f t + \tfrac12 d t^2 - t\log t - (1-t)\log(1-t)`, for d < 4.

        With d = 0 it is σ(f). Otherwise, in the logit u = log(t/(1−t)), the optimality condition
        :math:`h(u) = f + d\,\sigma(u) - u = 0` has h decreasing (h' = dσ'(u) − 1 < 0 since σ' ≤ 1/4) and a root in
        :math:`[f + \min(d, 0), f + \max(d, 0)]`, found by safeguarded Newton.
        """
        if not diag.any():
            return expit(field)
        lo, hi = field + np.minimum(diag, 0), field + np.maximum(diag, 0)

        def h(u, rows):
            sig = expit(u)
            return field[rows] + diag[rows] * sig - u, diag[rows] * sig * expit(-u) - 1

        u, _ = find_root_decreasing(h, lo, hi)
        return expit(u)


class BoxSquared(Regularizer):
    r"""Half squared norm on the box :math:`[0,1]^k`; its prediction is clip(θ, 0, 1).

    .. math::

        \Omega(y) = \tfrac12\|y\|_2^2, \qquad \hat y = \operatorname{clip}(\theta, 0, 1), \qquad
        \partial\hat y\, v = \mathbb{1}[0 < \theta < 1] \odot v, \qquad
        \Omega^*(\theta) = \sum_i h(\theta_i),\quad
        h(t) = \begin{cases} 0 & t \le 0 \\ t^2/2 & 0 \le t \le 1 \\ t - \tfrac12 & t \ge 1 \end{cases}

    The Huber-like h is :math:`h(t) = c\,t - c^2/2` with c = clip(t, 0, 1), which is exactly the default
    conjugate :math:`\langle\theta,\hat y\rangle - \Omega(\hat y)` (summed over the support of ŷ, so ``-inf``
    scores contribute 0 and |θ| = 1e300 never squares θ). The FY loss is the sparse multilabel loss; Ω is
    1-strongly convex. The Jacobian at the kinks θ_i ∈ {0, 1} is taken as 0.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, Table 1 and §4.4
    (sparse one-vs-all losses on the unit cube).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import BoxSquared
    >>> omega = BoxSquared()
    >>> theta = np.array([[1.0, -2.0, 0.5]])
    >>> print(np.round(omega.predict(theta), 4))
    [[1.  0.  0.5]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [0.625]
    """

    name = "box_squared"
    strong_convexity = 1.0

    def _value(self, y: np.ndarray) -> np.ndarray:
        return 0.5 * (y * y).sum(axis=-1)

    def _in_domain(self, y: np.ndarray, tol: float) -> np.ndarray:
        return in_box(y, tol)

    def _predict(self, theta: np.ndarray) -> np.ndarray:
        return np.clip(theta, 0, 1)

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.where((theta > 0) & (theta < 1), v, 0).astype(theta.dtype, copy=False)

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        return y

    def _project(self, z: np.ndarray) -> np.ndarray:
        return np.clip(z, 0, 1)

    @staticmethod
    def _coordinate_update(field: np.ndarray, diag: np.ndarray) -> np.ndarray:
        r"""argmax over t ∈ [0, 1] of :math:`f t + \tfrac12 d t^2 - \tfrac12 t^2`, for d < 1: clip(f / (1 − d), 0, 1)."""
        return np.clip(field / (1 - diag), 0, 1)
