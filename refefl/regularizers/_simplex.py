r"""Regularizers on the probability simplex :math:`\Delta^k = \{y \in \mathbb{R}^k : y \ge 0, \sum_i y_i = 1\}`.

Shannon negentropy (ŷ = softmax), half squared norm (ŷ = sparsemax) and Tsallis α-negentropy (ŷ = α-entmax).
All three Jacobians share one form, :math:`\partial\hat y = \operatorname{diag}(s) - s s^\top / \sum_i s_i`, with
:math:`s = \hat y^{2-\alpha}` on the support of ŷ and 0 off it (α = 1: Shannon, α = 2: sparsemax). The support
is the exact zero pattern the solver wrote into ŷ: :math:`\hat y_i > 0` holds exactly where the solver's
threshold test :math:`(\alpha-1)(\theta_i - \max\theta) > \tau` passed (except where :math:`\hat y_i`
underflows to 0, within rounding of a kink); no tolerance re-detects it.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, xlogy

from refefl.projections._entmax import check_alpha, entmax
from refefl.projections._simplex import softmax, sparsemax
from refefl.regularizers._base import Regularizer


def _jvp_from_weights(s: np.ndarray, v: np.ndarray) -> np.ndarray:
    r""":math:`s \odot v - s\, (s^\top v) / \sum_i s_i` row-wise: the product with diag(s) − ssᵀ/Σs."""
    return s * v - s * ((s * v).sum(axis=-1, keepdims=True) / s.sum(axis=-1, keepdims=True))


def tangent_to_hyperplane(v: np.ndarray) -> np.ndarray:
    """v − mean(v)·1 row-wise: the component of v parallel to a hyperplane {Σ y = const}."""
    return v - v.mean(axis=-1, keepdims=True)


class _SimplexRegularizer(Regularizer):
    """Common domain of the simplex regularizers: the probability simplex, its projection (sparsemax) and its
    tangent space {Σ v = 0}."""

    def _in_domain(self, y: np.ndarray, tol: float) -> np.ndarray:
        """y ≥ −tol entrywise and |Σ y − 1| ≤ tol, per row."""
        return (y >= -tol).all(axis=-1) & (np.abs(y.sum(axis=-1) - 1) <= tol)

    def _project(self, z: np.ndarray) -> np.ndarray:
        return sparsemax(z)

    def _tangent(self, v: np.ndarray) -> np.ndarray:
        return tangent_to_hyperplane(v)


class Shannon(_SimplexRegularizer):
    r"""Shannon negentropy on the simplex; its prediction is softmax and its conjugate log-sum-exp.

    .. math::

        \Omega(y) = \sum_i y_i \log y_i \ (0 \log 0 = 0), \qquad
        \Omega^*(\theta) = \log \sum_i e^{\theta_i}, \qquad
        \hat y = \operatorname{softmax}(\theta), \qquad
        \partial \hat y = \operatorname{diag}(\hat y) - \hat y \hat y^\top.

    The FY loss is the cross-entropy (logistic) loss. Ω is 1-strongly convex w.r.t. the ℓ1 norm (Pinsker).
    Entries of y within the domain tolerance below 0 are treated as 0 by Ω.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21 (Shannon entropy, softmax
    and the logistic loss as a Fenchel-Young loss).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import Shannon
    >>> omega = Shannon()
    >>> theta = np.array([[1.0, 2.0, 3.0]])
    >>> print(np.round(omega.predict(theta), 4))
    [[0.09   0.2447 0.6652]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [3.4076]
    """

    name = "shannon"
    legendre = True
    strong_convexity = 1.0  # ∇²Ω = diag(1/y) ⪰ I on the simplex

    def conjugate(self, theta) -> np.ndarray:
        r"""Ω*(θ) = logsumexp(θ) per row, shifted by the row maximum (``-inf`` scores contribute 0)."""
        return logsumexp(self.check_theta(theta), axis=-1)

    def _value(self, y: np.ndarray) -> np.ndarray:
        y = np.maximum(y, 0)
        return xlogy(y, y).sum(axis=-1)

    def _predict(self, theta: np.ndarray) -> np.ndarray:
        return softmax(theta)

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        return _jvp_from_weights(softmax(theta), v)

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        # ∇Ω(y) = log y + 1; the constant is dropped (the simplex ignores shifts along 1)
        with np.errstate(divide="ignore"):
            return np.log(y)


class SquaredSimplex(_SimplexRegularizer):
    r"""Half squared Euclidean norm on the simplex; its prediction is sparsemax.

    .. math::

        \Omega(y) = \tfrac12 \|y\|_2^2, \qquad \hat y = \operatorname{sparsemax}(\theta) = [\theta - \tau]_+,
        \qquad (\partial \hat y\, v)_S = v_S - \tfrac{1}{|S|}\textstyle\sum_{j \in S} v_j,\
        (\partial \hat y\, v)_{\bar S} = 0,

    with S the support of ŷ. The FY loss is the sparsemax loss; Ω is 1-strongly convex.

    References
    ----------
    Martins, Astudillo (2016), "From Softmax to Sparsemax", ICML (the Jacobian of sparsemax and the sparsemax
    loss); Blondel, Martins, Niculae (2020), JMLR 21.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import SquaredSimplex
    >>> omega = SquaredSimplex()
    >>> theta = np.array([[1.0, 2.0, 3.0]])
    >>> print(np.round(omega.predict(theta), 4))
    [[0. 0. 1.]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [2.5]
    """

    name = "sparsemax"
    strong_convexity = 1.0

    def _value(self, y: np.ndarray) -> np.ndarray:
        return 0.5 * (y * y).sum(axis=-1)

    def _predict(self, theta: np.ndarray) -> np.ndarray:
        return sparsemax(theta)

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        return _jvp_from_weights((sparsemax(theta) > 0).astype(theta.dtype), v)

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        return y


class Tsallis(_SimplexRegularizer):
    r"""Tsallis α-negentropy on the simplex (α > 1); its prediction is α-entmax.

    .. math::

        \Omega_\alpha(y) = \frac{\sum_i y_i^\alpha - 1}{\alpha(\alpha - 1)}, \qquad
        \hat y = \alpha\text{-entmax}(\theta) = [(\alpha-1)\theta - \tau]_+^{1/(\alpha-1)}, \qquad
        \partial \hat y = \operatorname{diag}(s) - \frac{s s^\top}{\sum_i s_i},\ s_i = \hat y_i^{2-\alpha}
        \text{ on the support, } 0 \text{ off it}.

    α → 1 recovers the Shannon negentropy, α = 2 gives ½‖y‖² − ½ (sparsemax). Ω is evaluated as
    :math:`\sum_i y_i \operatorname{expm1}((\alpha-1)\log y_i)/(\alpha(\alpha-1))`, which equals the formula
    above on the simplex (where Σy = 1) and keeps its relative accuracy for α close to 1, where the textbook
    form would divide the rounding of Σy − 1 by α − 1. Entries of y within the domain tolerance below 0 count
    as 0. ŷ uses the exact sort-based algorithm for α ∈ {1.5, 2}, bisection otherwise (:func:`refefl.entmax`).

    Parameters
    ----------
    alpha : float, default 1.5
        A finite real number > 1.

    References
    ----------
    Tsallis (1988), "Possible generalization of Boltzmann-Gibbs statistics", J. Stat. Phys. 52; Peters,
    Niculae, Martins (2019), "Sparse Sequence-to-Sequence Models", ACL (α-entmax and its Jacobian
    diag(s) − ssᵀ/Σs); Blondel, Martins, Niculae (2020), JMLR 21.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import Tsallis
    >>> omega = Tsallis(alpha=1.5)
    >>> theta = np.array([[1.0, 2.0, 3.0]])
    >>> print(np.round(omega.predict(theta), 4))
    [[0.     0.1693 0.8307]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [3.0617]
    """

    name = "tsallis"

    def __init__(self, alpha: float = 1.5):
        self.alpha = check_alpha(alpha)

    def _value(self, y: np.ndarray) -> np.ndarray:
        a = self.alpha
        y = np.maximum(y, 0)
        with np.errstate(divide="ignore"):  # log 0 = -inf, discarded by the where
            powers_minus_y = np.where(y > 0, y * np.expm1((a - 1) * np.log(y)), 0)  # y^α − y
        return powers_minus_y.sum(axis=-1) / (a * (a - 1))

    def _predict(self, theta: np.ndarray) -> np.ndarray:
        return entmax(theta, self.alpha)

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        y_hat = entmax(theta, self.alpha)
        s = np.power(y_hat, 2 - self.alpha, out=np.zeros_like(y_hat), where=y_hat > 0)
        return _jvp_from_weights(s, v)

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        # ∇Ω_α(y) = (α y^{α−1} − 1)/(α(α−1)); the constant is dropped (the simplex ignores shifts along 1)
        return np.power(np.maximum(y, 0), self.alpha - 1) / (self.alpha - 1)

    @property
    def strong_convexity(self) -> float | None:
        """1 for α ≤ 2 (∇²Ω = diag(y^{α−2}) ⪰ I on the simplex); None for α > 2 (the curvature vanishes at 0)."""
        return 1.0 if self.alpha <= 2 else None
