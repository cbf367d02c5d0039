r"""Energies g(x, y) of the partition networks on samples of the output spaces, with their exact oracles.

Each energy is linear in its parameters, :math:`g(y) = \langle \mathrm{params}, \phi(y)\rangle` with a sufficient
statistic φ, so that

- ``value(params, samples)``: :math:`g(x_i, y_{ij})` of shape (n, m) for samples (n, m, k), to feed
  :func:`refefl.partition.min_min_loss` (``g_samples`` (n, m); the targets as samples (n, 1, k));
- ``vjp(params, samples, weights)``: :math:`\nabla_{\mathrm{params}} \sum_{ij} w_{ij}\, g(x_i, y_{ij})
  = \big(\sum_j w_{ij}\, \phi(y_{ij})\big)_i`, of the structure of ``params`` (what a training loop needs with
  the weights ``d_samples`` of ``min_min_loss``);
- ``log_partition(params)`` and ``marginals(params)``: :math:`\log Z = \log \mathbb E_q e^{g}` and
  :math:`\mathbb E_p[\phi] = \nabla \log Z` under the model :math:`p = q\, e^{g - \log Z}`, exactly;
- ``nll(params, y)``: :math:`\log Z - g(y)`, with gradient :math:`\mathbb E_p[\phi] - \phi(y)`;
- ``mode(params)``: :math:`\operatorname{argmax}_y g(y)`.

Parameters have one slice per example: shape (n, k) or (n, k, k) (a pair of both for the pairwise energy). The
spaces' conventions (rankings best first) are those of :mod:`refefl.partition._spaces`; derivations:
``docs/partition.md``.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
from scipy.special import softmax

from refefl._validation import as_float_array, check_finite, check_positive_int
from refefl.partition import _oracles
from refefl.partition._permanent import assignment_scaling, max_weight_assignments, permanent_marginals
from refefl.partition._spaces import BinaryVectors, Permutations, _are_rankings, _check_states, _sigmoid


class _LinearEnergy:
    """Shared validation and the exact NLL of an energy linear in its parameters; subclasses supply the maths."""

    space: BinaryVectors | Permutations

    def __init__(self, k: int):
        self.k = check_positive_int(k, "k")

    # -- public API ---------------------------------------------------------------------------------------------
    def value(self, params: Any, samples) -> np.ndarray:
        """Energies :math:`g(x_i, y_{ij})` of samples (n, m, k): ndarray of shape (n, m), the params' dtype."""
        params = self._check_params(params)
        return self._value(params, self._check_samples(samples, self._n(params)))

    def vjp(self, params: Any, samples, weights) -> Any:
        r""":math:`\nabla_{\mathrm{params}} \sum_{ij} w_{ij}\, g(x_i, y_{ij})` for samples (n, m, k) and weights
        (n, m), finite; of the structure of ``params``."""
        params = self._check_params(params)
        samples = self._check_samples(samples, self._n(params))
        weights = as_float_array(weights, "weights")
        if weights.shape != samples.shape[:2]:
            raise ValueError(f"weights must have shape {samples.shape[:2]} (one per sample), got {weights.shape}")
        check_finite(weights, "weights")
        return self._vjp(params, samples, weights.astype(self._dtype(params), copy=False))

    def log_partition(self, params: Any) -> np.ndarray:
        r""":math:`\log \mathbb E_{y \sim q}\, e^{g(x_i, y)}` (q uniform), exactly: ndarray of shape (n,)."""
        return self._log_partition(self._check_params(params))

    def marginals(self, params: Any) -> Any:
        r""":math:`\mathbb E_{y \sim p_i}[\phi(y)] = \nabla_{\mathrm{params}} \log Z`, of the structure of
        ``params``."""
        return self._marginals(self._check_params(params))

    def nll(self, params: Any, y, *, return_grad: bool = False):
        r"""Exact negative log-likelihood relative to the base measure, and its gradient.

        .. math::

            \mathrm{NLL}_i = \log \mathbb E_{y' \sim q}\, e^{g(x_i, y')} - g(x_i, y_i)
            = -\log p_i(y_i) + \log q(y_i) \;\ge\; \log q(y_i) = -\log|\mathcal Y|,
            \qquad \nabla = \mathbb E_{p_i}[\phi] - \phi(y_i),

        the value :math:`\min_\tau` of the expected KL min-min loss (``docs/partition.md`` §1, §5).

        Parameters
        ----------
        params
            As in the class docstring.
        y : array_like of shape (n, k)
            One observed state per example.
        return_grad : bool, default False

        Returns
        -------
        nll : ndarray of shape (n,)
        grad
            Only with ``return_grad=True``: of the structure of ``params``.

        References
        ----------
        Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
        ICML, §3 (the exact MLE that the min-min objective recovers).
        """
        params = self._check_params(params)
        n = self._n(params)
        if np.ndim(y) != 2 or np.shape(y) != (n, self.k):
            raise ValueError(f"y must have shape (n, k) = ({n}, {self.k}) to match params, got {np.shape(y)}")
        targets = self._check_samples(np.asarray(y)[:, None, :], n, name="y")
        return self._nll(params, targets, return_grad)

    def _nll(self, params, targets, return_grad):
        """log Z - g(y) and E_p φ - φ(y) for validated targets (n, 1, k)."""
        loss = self._log_partition(params) - self._value(params, targets)[:, 0]
        if not return_grad:
            return loss
        ones = np.ones(targets.shape[:2], dtype=self._dtype(params))
        return loss, _subtract(self._marginals(params), self._vjp(params, targets, ones))

    # -- validation ---------------------------------------------------------------------------------------------
    def _check_samples(self, samples, n, *, name="samples"):
        """Integer states (n, m, k) of the space; errors name ``name`` (the observed ``y`` or the samples)."""
        try:
            states = _check_states(samples, self.k)
        except (TypeError, ValueError) as err:
            raise type(err)(str(err) if name == "samples" else f"{name}: {err}") from None
        if states.shape[0] != n:
            raise ValueError(f"{name} must have n = {n} rows to match params, got shape {states.shape}")
        self._check_membership(states, name)
        return states

    @staticmethod
    def _dtype(params):
        return (params[0] if isinstance(params, tuple) else params).dtype

    @staticmethod
    def _n(params):
        return (params[0] if isinstance(params, tuple) else params).shape[0]


class _SetEnergy(_LinearEnergy):
    def __init__(self, k: int):
        super().__init__(k)
        self.space = BinaryVectors(self.k)

    @staticmethod
    def _check_membership(states, name):
        if np.any((states != 0) & (states != 1)):
            raise ValueError(f"{name} must hold states of {{0, 1}}^k: every entry 0 or 1")


class _PermutationEnergy(_LinearEnergy):
    def __init__(self, k: int):
        super().__init__(k)
        self.space = Permutations(self.k)

    def _check_membership(self, states, name):
        if not _are_rankings(states, self.k):
            raise ValueError(f"{name} must hold rankings: every row a permutation of 0..{self.k - 1}")

    def _swap_gain(self, params, item_a, item_b, a, b):
        """g(σ') − g(σ) for σ' the ranking σ with its items ``item_a`` at position ``a`` and ``item_b`` at ``b``
        swapped, all of shape (n, c): (n, c), from the entries of the validated parameters those items touch."""
        raise NotImplementedError

    def mode(self, params) -> np.ndarray:
        """The best ranking per example, best item first: intp of shape (n, k)."""
        return self._mode(self._check_params(params))


class UnarySetEnergy(_SetEnergy):
    r"""Unary energy on :math:`\{0, 1\}^k`: :math:`g(x, y) = \langle u(x), y\rangle`, parameters u of shape (n, k).

    .. math::

        \log Z = \sum_i \log\frac{1 + e^{u_i}}{2}, \qquad \mathbb E_p[y] = \operatorname{sigmoid}(u), \qquad
        \operatorname{argmax}_y g = [u > 0]\ (\text{ties } u_i = 0 \text{ give } 0),

    and the NLL is the binary logistic loss minus :math:`k \log 2`, with gradient :math:`\operatorname{sigmoid}(u)
    - y`, both computed label by label from :math:`s = u (1 - 2y)` (:math:`\log\frac{1 + e^{s}}{2}` and
    :math:`(1 - 2y) \operatorname{sigmoid}(s)`): exact for any finite u. φ(y) = y.

    Parameters
    ----------
    k : int
        Number of labels.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §5 (multilabel classification, unary energy).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import UnarySetEnergy
    >>> energy, u = UnarySetEnergy(3), np.array([[1.0, -2.0, 0.5]])
    >>> energy.value(u, np.array([[[1, 0, 1], [0, 0, 0]]]))
    array([[1.5, 0. ]])
    >>> print(np.round(energy.log_partition(u), 4), np.round(energy.marginals(u), 4))
    [0.3348] [[0.7311 0.1192 0.6225]]
    >>> energy.mode(u)
    array([[1, 0, 1]], dtype=int8)
    >>> loss, grad = energy.nll(u, np.array([[1, 0, 1]]), return_grad=True)
    >>> print(np.round(loss, 4), np.round(grad, 4))
    [-1.1652] [[-0.2689  0.1192 -0.3775]]
    """

    def _check_params(self, params):
        return _check_scores(params, "u", self.k)

    def _value(self, u, y):
        return np.einsum("nk,nmk->nm", u, y.astype(u.dtype))

    def _vjp(self, u, y, weights):
        return np.einsum("nm,nmk->nk", weights, y.astype(u.dtype))

    def _log_partition(self, u):
        return _oracles.unary_log_partition(u)

    def _marginals(self, u):
        return _sigmoid(u)

    def _nll(self, u, targets, return_grad):
        # log((1 + e^u)/2) - u y = log((1 + e^s)/2) with s = u (1 - 2y), and sigmoid(u) - y = (1 - 2y) sigmoid(s):
        # no cancellation between log Z and <u, y> (at u = 1e300 their difference is -log 2, not 0)
        sign = 1 - 2 * targets[:, 0].astype(u.dtype)
        flipped = sign * u
        loss = _oracles.unary_log_partition(flipped)
        return (loss, sign * _sigmoid(flipped)) if return_grad else loss

    def mode(self, u) -> np.ndarray:
        """:math:`[u > 0]` per example: int8 of shape (n, k)."""
        return self.space.mode(self._check_params(u))


class ModeInfo(NamedTuple):
    """How :meth:`PairwiseSetEnergy.mode` found its states: ``exact`` (enumeration) or single-flip coordinate ascent,
    with its sweeps per example and whether each example reached a state no single flip improves.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PairwiseSetEnergy
    >>> u, U = np.array([[1.0, 1.0]]), np.array([[[0.0, -3.0], [-3.0, 0.0]]])
    >>> states, info = PairwiseSetEnergy(2).mode((u, U), method="icm", return_info=True)
    >>> print(states, info.exact, info.n_sweeps, info.converged)
    [[0 1]] False [2] [ True]
    """

    exact: bool
    n_sweeps: np.ndarray
    converged: np.ndarray


class PairwiseSetEnergy(_SetEnergy):
    r"""Pairwise energy on :math:`\{0, 1\}^k`: :math:`g(x, y) = \langle u, y\rangle + \frac12\langle y, U y\rangle`.

    Parameters are the pair ``(u, U)``: u of shape (n, k), U of shape (n, k, k), **symmetric with a zero
    diagonal** (checked exactly: since :math:`y_i^2 = y_i` a diagonal entry is a unary score, so the zero diagonal
    makes the parameters identifiable), hence :math:`g = \sum_i u_i y_i + \sum_{i<j} U_{ij} y_i y_j`. Gradients
    in U are taken within the symmetric zero-diagonal matrices (Frobenius inner product): the statistic is
    :math:`\phi(y) = (y, \frac12 (y y^\top - \operatorname{diag} y))`, so that a gradient step keeps U admissible.

    Exact oracles enumerate the 2^k states (k ≤ 16). :meth:`mode` is exact by enumeration up to k = 16 (the first
    maximizer in ``space.enumerate()`` order) and otherwise approximate: the rounded unary solution
    :math:`[u > 0]` improved by single-label flips (iterated conditional modes) until no flip increases g
    (``docs/partition.md`` §4 and §6).

    Parameters
    ----------
    k : int
        Number of labels.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §5 (multilabel classification, pairwise energy); Besag (1986), "On the statistical analysis of dirty
    pictures", J. R. Stat. Soc. B 48(3) (iterated conditional modes).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PairwiseSetEnergy
    >>> energy = PairwiseSetEnergy(3)
    >>> u = np.array([[1.0, 1.0, -0.5]])
    >>> U = np.array([[[0.0, -3.0, 0.0], [-3.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    >>> energy.value((u, U), np.array([[[1, 1, 0], [1, 0, 0]]]))
    array([[-1.,  1.]])
    >>> energy.mode((u, U))
    array([[0, 1, 1]], dtype=int8)
    >>> mu, pair = energy.marginals((u, U))
    >>> print(np.round(mu, 4), np.round(pair[0, 0, 1], 4))
    [[0.3775 0.5778 0.519 ]] 0.0344
    >>> print(bool(np.allclose(pair, pair.transpose(0, 2, 1))), bool((np.diagonal(pair, 0, 1, 2) == 0).all()))
    True True
    """

    def _check_params(self, params):
        if not isinstance(params, (tuple, list)) or len(params) != 2:
            raise TypeError("params must be the pair (u, U) of shapes (n, k) and (n, k, k)")
        u, U = _oracles.check_pairwise(*params)
        if u.ndim != 2 or u.shape[1] != self.k:
            raise ValueError(f"u must have shape (n, k) with k = {self.k}, got {u.shape}")
        return u, U

    def _value(self, params, y):
        u, U = params
        y = y.astype(u.dtype)
        return np.einsum("nk,nmk->nm", u, y) + np.einsum("nmk,nkl,nml->nm", y, U, y) / 2

    def _vjp(self, params, y, weights):
        u = params[0]
        y = y.astype(u.dtype)
        weighted = weights[:, :, None] * y
        return weighted.sum(axis=1), _off_diagonal(np.einsum("nmk,nml->nkl", weighted, y) / 2)

    def _log_partition(self, params):
        return _oracles.enumeration_log_partition(_oracles.pairwise_state_energies(*params))

    def _marginals(self, params):
        p = softmax(_oracles.pairwise_state_energies(*params), axis=1)  # p(y) for every state, (n, 2^k)
        states = self.space.enumerate().astype(p.dtype)
        return p @ states, _off_diagonal(np.einsum("ns,sk,sl->nkl", p, states, states) / 2)

    def mode(self, params, *, method: str = "auto", max_iter: int = 100, return_info: bool = False):
        r"""A maximizer of g per example: int8 of shape (n, k) (and a :class:`ModeInfo` with ``return_info``).

        Parameters
        ----------
        params : pair (u, U)
        method : {"auto", "exact", "icm"}, default "auto"
            ``"exact"`` enumerates the 2^k states (k ≤ 16); ``"icm"`` starts from :math:`[u > 0]` and sweeps the
            labels, flipping label i whenever :math:`(1 - 2y_i)(u_i + (Uy)_i) > 0` (g strictly increases, so it
            stops at a single-flip local maximum: approximate); ``"auto"`` is exact for k ≤ 16, else ICM.
        max_iter : int, default 100
            Sweeps of ICM; a ``RuntimeWarning`` says when some example flipped a label in the last one (it is then
            not known to be a local maximum: ``ModeInfo.converged`` is False).
        return_info : bool, default False
        """
        u, U = self._check_params(params)
        if method not in ("auto", "exact", "icm"):
            raise ValueError(f"method must be 'auto', 'exact' or 'icm', got {method!r}")
        max_iter = check_positive_int(max_iter, "max_iter")
        n = u.shape[0]
        if method == "exact" or (method == "auto" and self.k <= _oracles.MAX_PAIRWISE_LABELS):
            g = _oracles.pairwise_state_energies(u, U)  # raises for k > 16
            y = self.space.enumerate()[np.argmax(g, axis=1)]
            info = ModeInfo(True, np.zeros(n, dtype=np.intp), np.ones(n, dtype=bool))
        else:
            y, info = _icm(u, U, max_iter)
        return (y, info) if return_info else y


class PermutahedronEnergy(_PermutationEnergy):
    r"""Permutahedron energy on rankings: :math:`g(x, \sigma) = \langle \theta(x), \rho_\sigma\rangle` with
    :math:`(\rho_\sigma)_{\sigma_r} = k - r`; parameters θ of shape (n, k).

    .. math::

        \log Z = \log\operatorname{per}\big(e^{\theta (k - r)^\top}\big) - \log k!, \qquad
        \mathbb E_p[\rho_\sigma]_i = \sum_r (k - r)\, p(\sigma_r = i), \qquad
        \operatorname{argmax}_\sigma g = \operatorname{argsort}(-\theta),

    exact for k ≤ 24 (log Z) and k ≤ 16 (marginals, through :func:`birkhoff_marginals` of the rank-one scores);
    the mode breaks ties by item index. φ(σ) = ρ_σ. Derivation: ``docs/partition.md`` §4.

    Parameters
    ----------
    k : int
        Number of items.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §5 (label ranking, permutahedron energy).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PermutahedronEnergy
    >>> energy, theta = PermutahedronEnergy(3), np.array([[1.0, -0.5, 2.0]])
    >>> energy.value(theta, np.array([[[2, 0, 1], [1, 0, 2]]]))
    array([[7.5, 2.5]])
    >>> energy.mode(theta)
    array([[2, 0, 1]])
    >>> ranks = energy.marginals(theta)
    >>> print(np.round(ranks, 4), round(float(ranks.sum()), 10))
    [[2.0951 1.1843 2.7205]] 6.0
    """

    def _check_params(self, params):
        return _check_scores(params, "theta", self.k)

    def _value(self, theta, sigma):
        gathered = theta[np.arange(len(theta))[:, None, None], sigma]  # θ_i[σ_ij r] of shape (n, m, k)
        return gathered @ np.arange(self.k, 0, -1, dtype=theta.dtype)

    def _swap_gain(self, theta, item_a, item_b, a, b):
        # θ[item_a] moves from weight k − a to k − b and θ[item_b] the other way
        rows = np.arange(len(theta))[:, None]
        return (theta[rows, item_b] - theta[rows, item_a]) * (b - a).astype(theta.dtype)

    def _vjp(self, theta, sigma, weights):
        return np.einsum("nm,nmk->nk", weights, _ranks(sigma).astype(theta.dtype))

    def _log_partition(self, theta):
        return _oracles.permutahedron_log_partition(theta)

    def _marginals(self, theta):
        _oracles.check_order(self.k, _oracles.MAX_MARGINAL_ORDER, "theta")
        marginals = _oracles.birkhoff_marginals(_oracles.permutahedron_as_birkhoff(theta))
        return marginals @ np.arange(self.k, 0, -1, dtype=theta.dtype)

    def _nll(self, theta, targets, return_grad):
        loss, marginals = _birkhoff_nll(_oracles.permutahedron_as_birkhoff(theta), targets, return_grad, "theta")
        if not return_grad:
            return loss
        return loss, marginals @ np.arange(self.k, 0, -1, dtype=theta.dtype) - _ranks(targets[:, 0]).astype(theta.dtype)

    def _mode(self, theta):
        return self.space.mode(theta)


class BirkhoffEnergy(_PermutationEnergy):
    r"""Birkhoff energy on rankings: :math:`g(x, \sigma) = \langle \Theta(x), P_\sigma\rangle = \sum_r
    \Theta_{\sigma_r, r}` (row i an item, column r a rank); parameters Θ of shape (n, k, k).

    .. math::

        \log Z = \log\operatorname{per}(e^\Theta) - \log k!, \qquad \mathbb E_p[P_\sigma]_{ir} = p(\sigma_r = i),
        \qquad \operatorname{argmax}_\sigma g = \text{a maximum-weight assignment of } \Theta,

    exact for k ≤ 24 (log Z) and k ≤ 16 (marginals, :func:`birkhoff_marginals`). The mode is
    ``scipy.optimize.linear_sum_assignment`` (Hungarian algorithm); among tied assignments it returns one of them.
    φ(σ) = P_σ. Derivation of the marginals: ``docs/partition.md`` §4.

    Parameters
    ----------
    k : int
        Number of items.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §5 (label ranking, Birkhoff energy); Kuhn (1955), "The Hungarian method for the assignment problem",
    Naval Research Logistics Quarterly 2.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import BirkhoffEnergy
    >>> energy = BirkhoffEnergy(2)
    >>> Theta = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> energy.value(Theta, np.array([[[0, 1], [1, 0]]]))
    array([[2., 0.]])
    >>> energy.mode(Theta)
    array([[0, 1]])
    >>> print(np.round(energy.log_partition(Theta), 6), np.round(energy.marginals(Theta), 4))
    [1.433781] [[[0.8808 0.1192]
      [0.1192 0.8808]]]
    """

    def _check_params(self, params):
        Theta = as_float_array(params, "Theta")
        if Theta.ndim != 3 or Theta.shape[1:] != (self.k, self.k):
            raise ValueError(f"Theta must have shape (n, k, k) with k = {self.k}, got {Theta.shape}")
        check_finite(Theta, "Theta")
        return Theta

    def _value(self, Theta, sigma):
        return _assignment_values(Theta, sigma)

    def _swap_gain(self, Theta, item_a, item_b, a, b):
        # Θ[item_a, a] + Θ[item_b, b] is replaced by Θ[item_b, a] + Θ[item_a, b]
        rows = np.arange(len(Theta))[:, None]
        return (Theta[rows, item_b, a] + Theta[rows, item_a, b]) - (Theta[rows, item_a, a] + Theta[rows, item_b, b])

    def _vjp(self, Theta, sigma, weights):
        n, m, k = sigma.shape
        flat = (np.arange(n)[:, None, None] * k + sigma) * k + np.arange(k)  # index of (example, σ_r, r)
        sums = np.bincount(flat.ravel(), weights=np.repeat(weights.ravel(), k), minlength=n * k * k)
        return sums.reshape(n, k, k).astype(Theta.dtype, copy=False)

    def _log_partition(self, Theta):
        return _oracles.birkhoff_log_partition(Theta)

    def _marginals(self, Theta):
        return _oracles.birkhoff_marginals(Theta)

    def _nll(self, Theta, targets, return_grad):
        loss, marginals = _birkhoff_nll(Theta, targets, return_grad, "Theta")
        if not return_grad:
            return loss
        return loss, marginals - self._vjp(Theta, targets, np.ones((Theta.shape[0], 1), Theta.dtype))

    def _mode(self, Theta):
        assignment, _ = max_weight_assignments(Theta.astype(np.float64))  # assignment[i] = rank of item i
        return np.argsort(assignment, axis=1)


# -- helpers ----------------------------------------------------------------------------------------------------
def _icm(u, U, max_iter):
    """Single-flip coordinate ascent from [u > 0], every example at once; (states int8 (n, k), ModeInfo)."""
    n, k = u.shape
    y = (u > 0).astype(u.dtype)
    field = u + np.einsum("nkl,nl->nk", U, y)  # u_i + (Uy)_i: the gain of setting y_i = 1 (U_ii = 0)
    n_sweeps = np.zeros(n, dtype=np.intp)
    active = np.ones(n, dtype=bool)
    for _ in range(max_iter):
        flipped = np.zeros(n, dtype=bool)
        for i in range(k):
            flip = active & ((1 - 2 * y[:, i]) * field[:, i] > 0)
            if flip.any():
                step = np.where(flip, 1 - 2 * y[:, i], 0)
                y[:, i] += step
                field += step[:, None] * U[:, :, i]
                flipped |= flip
        n_sweeps += active
        active &= flipped
        if not active.any():
            break
    if active.any():
        warnings.warn(f"PairwiseSetEnergy.mode: coordinate ascent flipped labels in its last sweep (max_iter = "
                      f"{max_iter}) on {int(active.sum())} example(s): not checked to be a single-flip local "
                      "maximum", RuntimeWarning, stacklevel=3)
    return y.astype(np.int8), ModeInfo(False, n_sweeps, ~active)


def _assignment_values(Theta, sigma):
    """Σ_r Θ[σ_r, r] for scores (n, k, k) and rankings (n, m, k): (n, m)."""
    n, m, k = sigma.shape
    return Theta[np.arange(n)[:, None, None], sigma, np.arange(k)].sum(axis=-1)


def _birkhoff_nll(Theta, targets, return_grad, name):
    r"""(:math:`\log Z - \langle\Theta, P_y\rangle`, the marginals or None) of scores Θ (n, k, k) and targets
    (n, 1, k). The NLL is computed on the assignment-scaled S (same model, same NLL): S is exactly 0 on the best
    assignment, so the NLL of a near-mode y keeps its digits when :math:`|\Theta|` is huge (log Z and g(y) of Θ
    itself would cancel). With the gradient, S, log Z and the marginals come from one :func:`permanent_marginals`
    pass (k ≤ 16); without it, log Z from :func:`log_permanent` of S (k ≤ 24)."""
    k = Theta.shape[-1]
    if return_grad:
        _oracles.check_order(k, _oracles.MAX_MARGINAL_ORDER, name)
        scaled, log_per, marginals = permanent_marginals(Theta)
        log_z = log_per - math.lgamma(k + 1)
    else:
        scaled = assignment_scaling(Theta.reshape(-1, k, k).astype(np.float64))[0]
        log_z, marginals = _oracles.birkhoff_log_partition(scaled), None
    loss = log_z - _assignment_values(scaled, targets)[:, 0]
    return loss.astype(Theta.dtype, copy=False), marginals


def _ranks(sigma):
    r""":math:`\rho_\sigma`: item i gets k - (its rank), from rankings (..., k)."""
    k = sigma.shape[-1]
    return k - np.argsort(sigma, axis=-1)


def _off_diagonal(a):
    """Zero the diagonals of the (..., k, k) array ``a`` (a fresh result), in place."""
    idx = np.arange(a.shape[-1])
    a[..., idx, idx] = 0
    return a


def _subtract(a, b):
    """a - b for arrays or tuples of arrays (the pairwise parameters)."""
    if isinstance(a, tuple):
        return tuple(x - y for x, y in zip(a, b))
    return a - b


def _check_scores(params, name, k):
    x = as_float_array(params, name)
    if x.ndim != 2 or x.shape[1] != k:
        raise ValueError(f"{name} must have shape (n, k) with k = {k}, got {x.shape}")
    check_finite(x, name)
    return x
