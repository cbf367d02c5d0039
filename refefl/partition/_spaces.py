r"""Combinatorial output spaces: binary vectors {0,1}^k and permutations of k items.

Each space has a uniform base measure q, a sampler ``sample(rng, n, m, proposal=None)`` returning samples of shape
(n, m, k) and their log-probabilities under the proposal (q itself when ``proposal`` is None), ``log_prob`` of
given states (e.g. the observed outputs, as shape (n, 1, k)), ``enumerate()`` for small spaces and
``mode(scores)`` for linear scores. A proposal is an array of logits of shape (n, k), one row per example:
independent Bernoulli logits for sets, Plackett-Luce scores for permutations. Importance weights for
:func:`refefl.partition.min_min_loss` are ``space.log_uniform - log_proposal_prob``.

Permutation convention: a ranking σ lists the items best first, ``sigma[r]`` is the item at rank r (r = 0 top).
Its permutahedron vertex is :math:`\rho_\sigma` with :math:`(\rho_\sigma)_{\sigma_r} = k - r` and its permutation
matrix :math:`P_\sigma` has :math:`(P_\sigma)_{\sigma_r, r} = 1` (rows items, columns ranks).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from refefl import _backend
from refefl._validation import as_float_array, check_finite, check_positive_int
from refefl.partition._plackett_luce import plackett_luce_log_prob, plackett_luce_sample

#: Largest number of states ``enumerate()`` lists.
MAX_SET_STATES = 65536
MAX_PERMUTATION_ITEMS = 9


class BinaryVectors:
    r"""The set :math:`\{0, 1\}^k` with the uniform base measure :math:`q(y) = 2^{-k}`.

    Proposal: Bernoulli logits a of shape (n, k), :math:`r(y) = \prod_i \sigma(a_i)^{y_i} (1 - \sigma(a_i))^{1-y_i}`,
    so :math:`\log r(y) = \langle a, y\rangle - \sum_i \log(1 + e^{a_i})`.

    Parameters
    ----------
    k : int
        Number of labels.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §5 (multilabel classification over {0,1}^k with a uniform prior).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import BinaryVectors
    >>> space = BinaryVectors(3)
    >>> space.enumerate()[:3]
    array([[0, 0, 0],
           [0, 0, 1],
           [0, 1, 0]], dtype=int8)
    >>> samples, log_r = space.sample(np.random.default_rng(0), n=2, m=4, proposal=np.zeros((2, 3)))
    >>> print(samples.shape, samples.dtype, np.round(log_r, 4))
    (2, 4, 3) int8 [[-2.0794 -2.0794 -2.0794 -2.0794]
     [-2.0794 -2.0794 -2.0794 -2.0794]]
    >>> space.mode(np.array([[0.5, -1.0, 2.0]]))
    array([[1, 0, 1]], dtype=int8)
    """

    def __init__(self, k: int):
        self.k = check_positive_int(k, "k")

    @property
    def size(self) -> int:
        """Number of states, 2^k."""
        return 2 ** self.k

    @property
    def log_uniform(self) -> float:
        """log q(y) = -k log 2."""
        return -self.k * math.log(2.0)

    def sample(self, rng: np.random.Generator, n: int, m: int, proposal=None) -> tuple[np.ndarray, np.ndarray]:
        """Samples of shape (n, m, k), int8 in {0, 1}, and their log-probabilities (n, m) under the proposal."""
        n, m, logits = _check_sample_args(rng, n, m, proposal, self.k)
        if logits is None:
            return rng.integers(0, 2, size=(n, m, self.k), dtype=np.int8), np.full((n, m), self.log_uniform)
        y = (rng.random((n, m, self.k)) < _sigmoid(logits)[:, None, :]).astype(np.int8)
        return y, _bernoulli_log_prob(logits, y)

    def log_prob(self, samples, proposal=None) -> np.ndarray:
        r"""Log-probabilities of given states under the proposal (under q when ``proposal`` is None).

        .. math::

            \log r_a(y) = \langle a, y\rangle - \sum_i \log(1 + e^{a_i}), \qquad \log q(y) = -k \log 2.

        Parameters
        ----------
        samples : array_like of shape (n, m, k)
            States in {0, 1} (integers or booleans).
        proposal : array_like of shape (n, k), optional
            Bernoulli logits a, finite.

        Returns
        -------
        ndarray of shape (n, m)
            float32 for float32 logits, else float64; what :meth:`sample` returns for these states.

        References
        ----------
        Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
        ICML, §5.
        """
        y = _check_states(samples, self.k)
        if np.any((y != 0) & (y != 1)):
            raise ValueError("samples must hold states of {0, 1}^k: every entry 0 or 1")
        logits = _check_proposal(proposal, y.shape[0], self.k)
        if logits is None:
            return np.full(y.shape[:2], self.log_uniform)
        return _bernoulli_log_prob(logits, y)

    def enumerate(self) -> np.ndarray:
        """All 2^k states, int8 of shape (2^k, k); row s holds the bits of s (most significant first)."""
        if self.size > MAX_SET_STATES:
            raise ValueError(f"enumerate() lists at most {MAX_SET_STATES} states (k <= 16), got k = {self.k}")
        bits = np.arange(self.size)[:, None] >> np.arange(self.k - 1, -1, -1)
        return (bits & 1).astype(np.int8)

    def mode(self, scores) -> np.ndarray:
        r""":math:`\operatorname{argmax}_y \langle u, y\rangle = [u > 0]` per row: int8 of the shape of ``scores``."""
        scores = _check_scores(scores, self.k)
        return (scores > 0).astype(np.int8)


class Permutations:
    r"""Rankings of k items with the uniform base measure :math:`q(\sigma) = 1/k!`.

    Proposal: Plackett-Luce scores s of shape (n, k),
    :math:`r(\sigma) = \prod_r e^{s_{\sigma_r}} / \sum_{t \ge r} e^{s_{\sigma_t}}`, sampled by an exponential race
    (Gumbel-argsort) with its exact log-probability (:func:`plackett_luce_sample`). Samples are rankings σ
    (``sigma[r]`` = the item at rank r, best first), of dtype intp.

    Parameters
    ----------
    k : int
        Number of items.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §5 (label ranking); Plackett (1975), "The Analysis of Permutations", Applied Statistics 24(2).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import Permutations
    >>> space = Permutations(3)
    >>> space.enumerate()
    array([[0, 1, 2],
           [0, 2, 1],
           [1, 0, 2],
           [1, 2, 0],
           [2, 0, 1],
           [2, 1, 0]])
    >>> scores = np.array([[2.0, 0.0, 1.0]])
    >>> sigma, log_r = space.sample(np.random.default_rng(0), n=1, m=2, proposal=scores)
    >>> print(sigma.shape, bool(np.allclose(log_r, space.log_prob(sigma, scores))))
    (1, 2, 3) True
    >>> space.mode(scores)
    array([[0, 2, 1]])
    """

    def __init__(self, k: int):
        self.k = check_positive_int(k, "k")

    @property
    def size(self) -> int:
        """Number of states, k!."""
        return math.factorial(self.k)

    @property
    def log_uniform(self) -> float:
        """log q(σ) = -log k!."""
        return -math.lgamma(self.k + 1)

    def sample(self, rng: np.random.Generator, n: int, m: int, proposal=None, *,
               backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """Rankings of shape (n, m, k) and their log-probabilities (n, m) under the proposal.

        ``backend`` picks :func:`plackett_luce_sample` or its compiled twin ("auto": the backend of
        :func:`refefl.config_context`); both return the same rankings from the same ``rng``.
        """
        n, m, logits = _check_sample_args(rng, n, m, proposal, self.k)
        sampler = _backend.select(plackett_luce_sample, backend)
        if logits is None:
            return np.argsort(rng.random((n, m, self.k)), axis=-1), np.full((n, m), self.log_uniform)
        sigma, log_prob = sampler(np.ascontiguousarray(logits, dtype=np.float64),
                                  rng.standard_exponential((n, m, self.k)))
        return sigma, log_prob.astype(logits.dtype, copy=False)

    def log_prob(self, samples, proposal=None) -> np.ndarray:
        r"""Log-probabilities of given rankings under the Plackett-Luce proposal (under q when it is None).

        .. math::

            \log r_s(\sigma) = \sum_{r=0}^{k-1} \Big(s_{\sigma_r} - \log \sum_{t \ge r} e^{s_{\sigma_t}}\Big),
            \qquad \log q(\sigma) = -\log k!,

        summed term by term (each term ≤ 0, each tail relative to its maximum): exact to rounding whatever the
        range of the scores.

        Parameters
        ----------
        samples : array_like of shape (n, m, k)
            Rankings (integers; each row a permutation of 0..k-1, best first).
        proposal : array_like of shape (n, k), optional
            Plackett-Luce scores s, finite.

        Returns
        -------
        ndarray of shape (n, m)
            float32 for float32 scores, else float64; what :meth:`sample` returns for these rankings.

        References
        ----------
        Plackett (1975), "The Analysis of Permutations", Applied Statistics 24(2), eq. (1).
        """
        sigma = _check_states(samples, self.k)
        if not _are_rankings(sigma, self.k):
            raise ValueError(f"samples must be rankings: every row a permutation of 0..{self.k - 1}")
        logits = _check_proposal(proposal, sigma.shape[0], self.k)
        if logits is None:
            return np.full(sigma.shape[:2], self.log_uniform)
        log_prob = plackett_luce_log_prob(logits.astype(np.float64, copy=False), sigma.astype(np.intp, copy=False))
        return log_prob.astype(logits.dtype, copy=False)

    def enumerate(self) -> np.ndarray:
        """All k! rankings in lexicographic order, intp of shape (k!, k)."""
        if self.k > MAX_PERMUTATION_ITEMS:
            raise ValueError(f"enumerate() lists permutations of at most {MAX_PERMUTATION_ITEMS} items "
                             f"(9! = 362880 states), got k = {self.k}")
        return np.array(list(itertools.permutations(range(self.k))), dtype=np.intp).reshape(-1, self.k)

    def mode(self, scores) -> np.ndarray:
        r""":math:`\operatorname{argmax}_\sigma \langle \theta, \rho_\sigma\rangle`: the items by decreasing score
        (ties by index), intp of the shape of ``scores``."""
        scores = _check_scores(scores, self.k)
        return np.argsort(-scores, axis=-1, kind="stable")


def _bernoulli_log_prob(logits, y):
    """Σ_i (a_i y_i - log(1 + e^{a_i})) for logits (n, k) and states y (n, m, k): (n, m), the logits' dtype.

    Summed term by term: each term is ≤ 0, so nothing cancels (⟨a, y⟩ - Σ_i log(1 + e^{a_i}) loses the small
    terms beside a logit of 1e17).
    """
    terms = y * logits[:, None, :]
    terms -= np.logaddexp(0.0, logits)[:, None, :]
    return terms.sum(axis=-1)


def _sigmoid(x):
    """1 / (1 + e^-x) without overflow warnings."""
    return np.exp(-np.logaddexp(0.0, -x))


def _check_scores(scores, k):
    scores = as_float_array(scores, "scores")
    if scores.shape[-1] != k:
        raise ValueError(f"scores must have a last axis of length k = {k}, got shape {scores.shape}")
    check_finite(scores, "scores")
    return scores


def _check_sample_args(rng, n, m, proposal, k):
    """Validated (n, m, proposal logits (n, k) or None)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n, m = check_positive_int(n, "n"), check_positive_int(m, "m (samples per example)")
    return n, m, _check_proposal(proposal, n, k)


def _check_proposal(proposal, n, k):
    """The proposal as finite logits of shape (n, k), or None."""
    if proposal is None:
        return None
    logits = as_float_array(proposal, "proposal")
    if logits.shape != (n, k):
        raise ValueError(f"proposal must be logits of shape (n, k) = ({n}, {k}), got {logits.shape}")
    check_finite(logits, "proposal")
    return logits


def _are_rankings(states, k) -> bool:
    """Whether every row of the integer array ``states`` (..., k) is a permutation of 0..k-1."""
    return bool((np.sort(states, axis=-1) == np.arange(k)).all())


def _check_states(samples, k):
    """``samples`` as an integer array of shape (n, m, k) (booleans become int8)."""
    states = np.asarray(samples)
    if states.dtype == bool:
        states = states.astype(np.int8)
    if states.dtype.kind not in "iu":
        raise TypeError(f"samples must be an integer array of states, got dtype {states.dtype}")
    if states.ndim != 3 or states.shape[-1] != k or 0 in states.shape:
        raise ValueError(f"samples must have a non-empty shape (n, m, k) with k = {k}, got {states.shape}")
    return states
