r"""Regularizers on the capped simplex :math:`C_s = \{y \in [0,1]^k : \sum_i y_i = s\}` (k-subsets, "top-s").

Half squared norm (ŷ = Euclidean projection onto :math:`C_s`) and binary negentropy (ŷ = σ(θ − τ)). Both
Jacobians come from the solver's own structure: the free set of the breakpoint search, and the margins θ − τ of
the root finding; nothing is re-detected with a tolerance. The set, s and the ``-inf`` semantics are those of
:mod:`refefl.projections._capped_simplex` (0 < s ≤ k; at least ⌈s⌉ finite scores per row).
"""
from __future__ import annotations

import numpy as np

from refefl._validation import check_positive
from refefl.projections._capped_simplex import solve_capped_simplex, solve_capped_simplex_entropic
from refefl.regularizers._base import Regularizer
from refefl.regularizers._box import binary_negentropy, in_box, logit, sigmoid_curvature
from refefl.regularizers._simplex import _jvp_from_weights, tangent_to_hyperplane


def _jvp_weighted(weights: np.ndarray, v: np.ndarray) -> np.ndarray:
    r""":math:`w \odot v - w (w^\top v)/\sum_i w_i` row-wise, and 0 on rows where w = 0 (a locally constant map)."""
    out = np.zeros(np.broadcast_shapes(weights.shape, v.shape), dtype=v.dtype)
    live = weights.sum(axis=-1) > 0
    out[live] = _jvp_from_weights(weights[live], v[live])
    return out


class _CappedSimplexRegularizer(Regularizer):
    """Common parameter s, domain, Euclidean projection and tangent space {Σ v = 0} of the capped-simplex
    regularizers."""

    def __init__(self, s: float = 1.0):
        self.s = check_positive(s, "s")

    def _in_domain(self, y: np.ndarray, tol: float) -> np.ndarray:
        """y ∈ [−tol, 1 + tol]^k and |Σ y − s| ≤ tol·max(1, s), per row (the sum taken in float64)."""
        total = y.sum(axis=-1, dtype=np.float64)
        return in_box(y, tol) & (np.abs(total - self.s) <= tol * max(1.0, self.s))

    def _project(self, z: np.ndarray) -> np.ndarray:
        return solve_capped_simplex(z, self.s)[0]

    def _tangent(self, v: np.ndarray) -> np.ndarray:
        return tangent_to_hyperplane(v)


class CappedSquared(_CappedSimplexRegularizer):
    r"""Half squared norm on the capped simplex; its prediction is the Euclidean projection onto :math:`C_s`.

    .. math::

        \Omega(y) = \tfrac12\|y\|_2^2 \text{ on } C_s, \qquad
        \hat y = \operatorname{clip}(\theta - \tau, 0, 1) = \Pi_{C_s}(\theta), \qquad
        (\partial\hat y\, v)_F = v_F - \operatorname{mean}(v_F),\ (\partial\hat y\, v)_{\bar F} = 0,

    with F the free set (0 < ŷ_i < 1 off kinks) returned by the exact breakpoint search of
    :func:`refefl.projection_capped_simplex`. s = 1 gives the sparsemax regularizer. Ω is 1-strongly convex; the
    conjugate is :math:`\langle\theta,\hat y\rangle - \Omega(\hat y) = s\tau + \sum_i h(\theta_i - \tau)` with h the
    Huber-like conjugate of :class:`~refefl.regularizers._box.BoxSquared`.

    Parameters
    ----------
    s : float, default 1.0
        Size of the subsets, 0 < s ≤ k (checked against k when θ arrives).

    References
    ----------
    Wang, Lu (2015), "Projection onto the capped simplex", arXiv:1503.01002; Blondel, Martins, Niculae (2020),
    "Learning with Fenchel-Young Losses", JMLR 21.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import CappedSquared
    >>> omega = CappedSquared(s=2.0)
    >>> theta = np.array([[1.0, 2.0, 3.0]])
    >>> print(np.round(omega.predict(theta), 4))
    [[0. 1. 1.]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [4.]
    """

    name = "capped_squared"
    strong_convexity = 1.0

    def _value(self, y: np.ndarray) -> np.ndarray:
        return 0.5 * (y * y).sum(axis=-1)

    def _predict(self, theta: np.ndarray) -> np.ndarray:
        return self._project(theta)

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        return y

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        free = solve_capped_simplex(theta, self.s)[1]
        return _jvp_weighted(free.astype(v.dtype), v)


class CappedEntropy(_CappedSimplexRegularizer):
    r"""Binary negentropy on the capped simplex; its prediction is σ(θ − τ) with Σ ŷ = s (the LML layer).

    .. math::

        \Omega(y) = \sum_i y_i \log y_i + (1 - y_i)\log(1 - y_i) \text{ on } C_s, \qquad
        \hat y = \sigma(\theta - \tau), \qquad
        \partial\hat y\, v = d \odot v - d\,\frac{d^\top v}{\sum_i d_i},\quad
        d = \sigma(u)\,\sigma(-u),\ u = \theta - \tau,

    τ from :func:`refefl.capped_simplex_entropic` (machine precision, ``ConvergenceWarning`` if unconverged); the
    Jacobian is the implicit derivative of :math:`\sum_i \sigma(\theta_i - \tau) = s`, computed from the
    solver's margins u (so the tails of d keep their relative accuracy). Ω is 4-strongly convex; the conjugate
    is :math:`s\tau + \sum_i \operatorname{softplus}(\theta_i - \tau)`, evaluated as
    :math:`\langle\theta,\hat y\rangle - \Omega(\hat y)`. For s = 1 the prediction is not softmax (see
    :func:`refefl.capped_simplex_entropic`).

    Parameters
    ----------
    s : float, default 1.0
        0 < s ≤ k.

    References
    ----------
    Amos, Koltun, Kolter (2019), "The Limited Multi-Label Projection Layer", arXiv:1906.08707 (forward
    pass and implicit backward pass); Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import CappedEntropy
    >>> omega = CappedEntropy(s=2.0)
    >>> theta = np.array([[1.0, 2.0, 3.0]])
    >>> print(np.round(omega.predict(theta), 4))
    [[0.4509 0.6906 0.8585]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [6.1222]
    """

    name = "capped_entropy"
    legendre = True
    strong_convexity = 4.0

    def _value(self, y: np.ndarray) -> np.ndarray:
        return binary_negentropy(y)

    def _predict(self, theta: np.ndarray) -> np.ndarray:
        return solve_capped_simplex_entropic(theta, self.s)[0]

    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        margins = solve_capped_simplex_entropic(theta, self.s)[1]
        return _jvp_weighted(sigmoid_curvature(margins), v.astype(np.float64)).astype(theta.dtype, copy=False)

    def _gradient(self, y: np.ndarray) -> np.ndarray:
        return logit(y)
