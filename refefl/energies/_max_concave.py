r"""The (soft) upper envelope of concave quadratics: a multimodal energy whose pieces are strongly concave after
subtracting a strongly convex regularizer (docs/fenchel_young.md §2.10)."""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax

from refefl._validation import as_float_array, check_finite, check_positive, check_positive_int
from refefl.energies._base import Energy
from refefl.energies._quadratic import LowRankConcave


class MaxConcaveEnergy(Energy):
    r"""The (soft) upper envelope of K concave quadratics: a multimodal energy whose pieces are strongly concave.

    .. math::

        \Phi(y, (\theta, V, b)) = \tau \log\sum_{k} e^{\Phi_k(y)/\tau}
        \;\xrightarrow[\tau \to 0]{}\; \max_k \Phi_k(y), \qquad
        \Phi_k(y) = \langle y, \theta_k\rangle - \tfrac12\|V_k^\top y\|^2 + b_k,

        \nabla_y\Phi = \sum_k w_k\,(\theta_k - V_kV_k^\top y), \quad \nabla_{\theta_k}\Phi = w_k\, y, \quad
        \nabla_{V_k}\Phi = -w_k\, y (V_k^\top y)^\top, \quad \nabla_{b_k}\Phi = w_k,

    with :math:`w = \operatorname{softmax}(\Phi_\cdot(y)/\tau)`; at τ = 0, Φ is the maximum and w the indicator
    of the top piece (Danskin; exact wherever it is unique). Each :math:`\Phi_k` is a
    :class:`~refefl.energies.LowRankConcave` energy plus an offset, so :math:`\Phi_k - \Omega` is μ-strongly
    concave (μ = 4 for the binary negentropy) and, at τ = 0, the regularized maximizer is the best of K unique,
    exactly computable piece maximizers (:class:`~refefl.maximizers.ComponentwiseMaximizer`); for τ > 0,
    :math:`\max_k \Phi_k \le \Phi \le \max_k \Phi_k + \tau\log K`. Unlike an unconstrained network energy, Φ
    cannot cancel Ω (that would make F = Φ − Ω flat and every target a maximizer: zero loss everywhere); unlike a
    concave energy, it can put maxima on two modes of the expert. A positive temperature spreads the gradient
    over the pieces (annealing it to 0 avoids the winner-take-all trap of one piece covering two modes).

    ``params`` is the tuple ``(theta, V, b)``: theta of shape (n_samples, K, n_labels), V of shape
    (n_samples, K, n_labels, rank), b of shape (n_samples, K), one set per row (e.g. predicted from the state by a
    network); their gradients are per row.

    Parameters
    ----------
    n_components, n_labels, rank : int
        K, d and r.
    temperature : float, default 0.0
        τ ≥ 0 (an attribute: a training schedule may change it).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (linear-concave energies, here one per piece) and Prop. 2 (Danskin's
    gradient); Rose (1998), "Deterministic annealing for clustering, compression, classification, regression,
    and related optimization problems", Proc. IEEE 86(11) (annealing a soft assignment).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import MaxConcaveEnergy
    >>> energy = MaxConcaveEnergy(2, 1, rank=1)  # K = 2 pieces on d = 1: 2y − y²/2 and −2y − y²/2 + 1
    >>> theta, v, b = np.array([[[2.0], [-2.0]]] * 2), np.ones((2, 2, 1, 1)), np.array([[0.0, 1.0]] * 2)
    >>> y = np.array([[0.0], [1.0]])
    >>> energy.value((theta, v, b), y)  # max(0, 1) at y = 0, max(1.5, -1.5) at y = 1
    array([1. , 1.5])
    """

    def __init__(self, n_components: int, n_labels: int, rank: int, *, temperature: float = 0.0):
        self.n_components = check_positive_int(n_components, "n_components")
        self.n_labels = check_positive_int(n_labels, "n_labels")
        self.rank = check_positive_int(rank, "rank")
        self.temperature = check_positive(temperature, "temperature", strict=False)
        self._piece = LowRankConcave()

    def output_shape(self, params) -> tuple[int, int]:
        return params[0].shape[0], self.n_labels

    def _check_params(self, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(params, (tuple, list)) or len(params) != 3:
            raise TypeError(f"params must be a tuple (theta, V, b), got {type(params).__name__}")
        names = ("theta", "V", "b")
        theta, v, b = (as_float_array(p, name) for p, name in zip(params, names))
        n, k, d, r = len(theta), self.n_components, self.n_labels, self.rank
        for arr, name, shape in zip((theta, v, b), names, ((n, k, d), (n, k, d, r), (n, k))):
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
            check_finite(arr, name)
        dtype = np.result_type(theta, v, b)
        return theta.astype(dtype, copy=False), v.astype(dtype, copy=False), b.astype(dtype, copy=False)

    def pieces(self, params) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """The K pieces of validated params as one :class:`~refefl.energies.LowRankConcave` batch of n K rows
        (row i K + k is piece k of row i), and the offsets b of shape (n, K)."""
        theta, v, b = params
        return (theta.reshape(-1, self.n_labels), v.reshape(-1, self.n_labels, self.rank)), b

    def piece_values(self, params, y: np.ndarray) -> np.ndarray:
        r""":math:`\Phi_k(y_i)` for validated params, ndarray of shape (n_samples, K)."""
        piece, b = self.pieces(params)
        return self._piece._value(piece, np.repeat(y, self.n_components, axis=0)).reshape(b.shape) + b

    def _weights(self, values: np.ndarray) -> np.ndarray:
        if self.temperature > 0:
            return softmax(values / self.temperature, axis=1)
        return (np.arange(self.n_components) == values.argmax(axis=1)[:, None]).astype(values.dtype)

    def _value(self, params, y: np.ndarray) -> np.ndarray:
        values = self.piece_values(params, y)
        return self.temperature * logsumexp(values / self.temperature, axis=1) if self.temperature > 0 \
            else values.max(axis=1)

    def _grad_y(self, params, y: np.ndarray) -> np.ndarray:
        piece, b = self.pieces(params)
        grads = self._piece._grad_y(piece, np.repeat(y, self.n_components, axis=0)).reshape(b.shape + (-1,))
        return np.einsum("nk,nkd->nd", self._weights(self.piece_values(params, y)), grads)

    def _grad_params(self, params, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        theta, v, _ = params
        w = self._weights(self.piece_values(params, y))
        grad_theta, grad_v = self._piece._grad_params(self.pieces(params)[0], np.repeat(y, self.n_components, axis=0))
        return grad_theta.reshape(theta.shape) * w[:, :, None], grad_v.reshape(v.shape) * w[:, :, None, None], w
