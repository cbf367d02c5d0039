r"""Regularizers on the permutahedron :math:`P(w) = \operatorname{conv}\{w_\pi\}`: half squared norm and entropy.

Their predictions are the regularized projections :math:`P_Q(\theta, w)` and :math:`P_E(\theta, w)` of
:func:`refefl.projection_permutahedron` (one sort + PAV), and their JVPs use that solver's own PAV blocks.

The generating vector w. ``w=None`` (the default) means ρ = (k, k − 1, …, 1) for whatever row length k the
input has, so one object serves every k (the soft-rank polytope). A fixed w is a 1-D array of length k shared by
every row; its order does not matter (P(w) only depends on its sorted values), and inputs whose last axis is not
of length k raise ``ValueError``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from refefl._validation import as_float_array, check_finite
from refefl.projections._permutahedron import projection_permutahedron, projection_permutahedron_jvp
from refefl.regularizers._base import Regularizer
from refefl.regularizers._simplex import tangent_to_hyperplane


def majorized(y: np.ndarray, w: np.ndarray, tol: float) -> np.ndarray:
    r"""Per row: y ∈ P(w) up to ``tol``, by majorization (Rado's theorem).

    .. math::

        \sum_{i \le j} y_{[i]} \le \sum_{i \le j} w_{[i]} \;\; (j < k), \qquad \sum_i y_i = \sum_i w_i,

    with :math:`x_{[i]}` the i-th largest entry; each partial sum may be off by ``tol`` times (1 + the partial
    sum of |w| sorted like w). ``w`` has shape (k,), ``y`` shape (..., k).
    """
    partial_y = np.cumsum(-np.sort(-y, axis=-1), axis=-1, dtype=np.float64)
    sorted_w = -np.sort(-w)
    partial_w = np.cumsum(sorted_w, dtype=np.float64)
    slack = tol * (1 + np.cumsum(np.abs(sorted_w), dtype=np.float64))
    below = (partial_y <= partial_w + slack).all(axis=-1)
    return below & (np.abs(partial_y[..., -1] - partial_w[-1]) <= slack[-1])


class _PermutahedronRegularizer(Regularizer):
    """Common parameter w, domain, prediction, JVP, Euclidean projection and tangent space {Σ v = 0} of the
    permutahedron regularizers."""

    #: "l2" or "kl", the Ψ of :func:`refefl.projection_permutahedron`
    regularization: str = ""
    # a score of -inf has no meaning on P(w) (every point has all entries ≥ min w)
    allow_neg_inf = False

    def __init__(self, w=None):
        if w is not None:
            w = as_float_array(w, "w")
            check_finite(w, "w")
            if w.ndim != 1:
                raise ValueError(f"w must be a 1-D array, got shape {w.shape}")
        self.w = w

    def _weights(self, k: int) -> np.ndarray:
        """The generating vector for rows of length k: ρ when ``w`` is None, else ``w`` (checked against k)."""
        if self.w is None:
            return np.arange(k, 0, -1, dtype=np.float64)
        if self.w.size != k:
            raise ValueError(f"w has length {self.w.size} but the last axis has length {k}")
        return self.w

    def _in_domain(self, y: np.ndarray, tol: float) -> np.ndarray:
        return majorized(y, self._weights(y.shape[-1]), tol)

    def _predict(self, theta: np.ndarray) -> np.ndarray:
        return self._solve(theta, self.regularization)

    def _project(self, z: np.ndarray) -> np.ndarray:
        return self._solve(z, "l2")

    def _tangent(self, v: np.ndarray) -> np.ndarray:
        return tangent_to_hyperplane(v)

    def _solve(self, theta: np.ndarray, regularization: str) -> np.ndarray:
        """The regularized projection of :func:`refefl.projection_permutahedron`, in the dtype of θ."""
        w = self._weights(theta.shape[-1])
        y_hat = projection_permutahedron(theta, w, regularization=regularization)
        return y_hat.astype(theta.dtype, copy=False)

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        w = self._weights(theta.shape[-1])
        tangent = projection_permutahedron_jvp(theta, w, v, regularization=self.regularization)
        return tangent.astype(theta.dtype, copy=False)


class PermSquared(_PermutahedronRegularizer):
    r"""Half squared norm on the permutahedron P(w); its prediction is the Euclidean projection onto P(w).

    .. math::

        \Omega(y) = \tfrac12\|y\|^2 + \iota_{P(w)}(y), \qquad
        \hat y = P_Q(\theta, w) = \operatorname*{argmin}_{\mu \in P(w)} \tfrac12\|\mu - \theta\|^2, \qquad
        \partial\hat y\, v = v - \Pi^\top B \Pi v,

    with Π sorting θ decreasingly and B averaging over each PAV block. With w = ρ, ŷ(θ/ε) is the soft rank
    :func:`refefl.soft_rank` (ascending); the FY loss is a ranking loss. Ω is 1-strongly convex.

    Parameters
    ----------
    w : array_like of shape (k,), optional
        Finite generating vector; None (default) means ρ = (k, …, 1) for each input's row length k.

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, eq. (5) and
    Prop. 3; Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import PermSquared
    >>> omega = PermSquared()
    >>> theta = np.array([[1.0, 3.0, 2.0]])
    >>> print(np.round(omega.predict(theta), 4))
    [[1. 3. 2.]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [7.]
    """

    name = "perm_squared"
    regularization = "l2"
    strong_convexity = 1.0

    def _value(self, y: np.ndarray) -> np.ndarray:
        return 0.5 * (y * y).sum(axis=-1)

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        return y


class PermEntropy(_PermutahedronRegularizer):
    r"""Negative entropy :math:`\langle y, \log y - 1\rangle` on the permutahedron P(w), w > 0.

    .. math::

        \Omega(y) = \sum_i y_i \log y_i - y_i + \iota_{P(w)}(y), \qquad
        \hat y = P_E(\theta, w), \quad \hat y_i = \frac{e^{\theta_i}}{\sum_{j \in B} e^{\theta_j}} \sum_{j\in B} w_j
        \ (i \in B), \qquad \partial\hat y\, v = \hat y \odot (v - \Pi^\top S \Pi v),

    with B the PAV block of i and S the within-block mean weighted by softmax(θ_B). Every point of P(w) has
    entries ≥ min w > 0, so the domain test also asks y ≥ 0.

    Parameters
    ----------
    w : array_like of shape (k,), optional
        Finite, strictly positive generating vector; None (default) means ρ = (k, …, 1).

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, eq. (5) and
    Prop. 3 (entropic case).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import PermEntropy
    >>> omega = PermEntropy()
    >>> theta = np.array([[1.0, 3.0, 2.0]])
    >>> print(np.round(omega.predict(theta), 4))
    [[1. 3. 2.]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [15.3179]
    """

    name = "perm_entropy"
    regularization = "kl"
    legendre = True

    def __init__(self, w=None):
        super().__init__(w)
        if self.w is not None and not (self.w > 0).all():
            raise ValueError("w must be strictly positive for the entropic permutahedron")

    def _value(self, y: np.ndarray) -> np.ndarray:
        y = np.maximum(y, 0)  # entries within the domain tolerance below 0 count as 0
        return (xlogy(y, y) - y).sum(axis=-1)

    def _in_domain(self, y: np.ndarray, tol: float) -> np.ndarray:
        return super()._in_domain(y, tol) & (y >= 0).all(axis=-1)

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        # ∇Ω(y) = log y; −inf where an entry is 0 (outside P(w), reached only by rounding)
        with np.errstate(divide="ignore"):
            return np.log(y)

    @property
    def strong_convexity(self) -> float | None:
        """1 / max w (∇²Ω = diag(1/y) and y ≤ max w on P(w)); None for ``w=None``, where it depends on k."""
        return None if self.w is None else 1.0 / float(self.w.max())
