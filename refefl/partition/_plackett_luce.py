r"""Plackett-Luce sampling by an exponential race, with the exact log-probability of each sampled ranking.

With scores s and independent :math:`E_i \sim \mathrm{Exp}(1)`, the arrival times :math:`E_i e^{-s_i}` sorted in
increasing order give a ranking σ distributed as Plackett-Luce (equivalently: sort :math:`s_i + G_i` with Gumbel
:math:`G_i = -\log E_i` in decreasing order), and

.. math::

    \log P(\sigma) = \sum_{r=0}^{k-1} s_{\sigma_r} - \log \sum_{t \ge r} e^{s_{\sigma_t}}
    = \sum_i s_i - \sum_{r=0}^{k-1} \log \sum_{t \ge r} e^{s_{\sigma_t}}.

:func:`plackett_luce_sample` is the hot spot of a min-min step over permutations: the random numbers are drawn by
the caller, so that its compiled twin ``refefl_ext.plackett_luce_sample`` (same signature) reproduces it
exactly; :meth:`refefl.partition.Permutations.sample` picks the backend. Derivation:
``docs/partition.md``.
"""
from __future__ import annotations

import numpy as np

from refefl import _backend

#: Below this bound on k (range(s) + log k) the product of the k tail sums neither under- nor overflows.
_PRODUCT_SAFE = 600.0


@_backend.numpy_twin
def plackett_luce_sample(logits: np.ndarray, exponentials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Rankings σ from Plackett-Luce scores and Exp(1) noise, with their log-probabilities.

    Parameters
    ----------
    logits : ndarray of shape (n, k), float64, finite
        Plackett-Luce scores s (trusted: validated by the caller).
    exponentials : ndarray of shape (n, m, k), float64
        Independent Exp(1) draws.

    Returns
    -------
    sigma : ndarray of shape (n, m, k), intp
        ``sigma[i, j, r]`` is the item ranked r-th (r = 0 first) in sample j of example i.
    log_prob : ndarray of shape (n, m)
        :math:`\log P_s(\sigma)` exactly as in the module docstring.

    References
    ----------
    Luce (1959), "Individual Choice Behavior"; Plackett (1975), "The Analysis of Permutations", Applied
    Statistics 24(2); the exponential-race (Gumbel-max) construction: Yellott (1977), J. Math. Psych. 15.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import plackett_luce_sample
    >>> logits = np.array([[3.0, 0.0, 1.0]])
    >>> exponentials = np.random.default_rng(0).exponential(size=(1, 1000, 3))
    >>> sigma, log_prob = plackett_luce_sample(logits, exponentials)
    >>> print(sigma.shape, np.round(np.mean(sigma[0, :, 0] == 0), 1))
    (1, 1000, 3) 0.8
    >>> first = sigma[0, 0]
    >>> expected = sum(logits[0, first[r]] - np.log(np.exp(logits[0, first[r:]]).sum()) for r in range(3))
    >>> print(bool(np.isclose(log_prob[0, 0], expected)))
    True
    """
    n, k = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    if k * (float(np.ptp(shifted)) + np.log(k)) < _PRODUCT_SAFE:
        weights = np.exp(shifted)
        sigma = np.argsort(exponentials * (1.0 / weights)[:, None, :], axis=-1)  # arrival times, earliest first
        log_tails = np.log(_tail_sum_product(np.take(weights.ravel(), sigma + (k * np.arange(n))[:, None, None])))
        return sigma, shifted.sum(axis=1)[:, None] - log_tails
    # a wide range of scores: log arrival times and tail log-sums, never exponentiating the small scores
    sigma = np.argsort(np.log(exponentials) - shifted[:, None, :], axis=-1)
    return sigma, plackett_luce_log_prob(shifted, sigma)


def plackett_luce_log_prob(logits: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    r"""Log-probabilities of rankings under Plackett-Luce scores, term by term, each tail relative to its maximum.

    .. math::

        \log P_s(\sigma) = \sum_{r=0}^{k-1} \Big(s_{\sigma_r} - M_r - \log \sum_{t \ge r} e^{s_{\sigma_t} - M_r}\Big),
        \qquad M_r = \max_{t \ge r} s_{\sigma_t},

    swept from the last rank up with the running maximum and the running sum :math:`S_r \in [1, k]` (rescaled when
    the maximum grows). Only differences of scores are exponentiated and each term is ≤ 0, so the result is exact
    to rounding at any range of the scores: :math:`\sum_i s_i - \sum_r \log(\dots)` is rounding noise at
    :math:`|s| \sim 10^{300}`, and a tail log-sum :math:`\operatorname{logaddexp}(s, s) = s + \log 2` rounds to s.

    Parameters
    ----------
    logits : ndarray of shape (n, k), float64, finite
        Plackett-Luce scores s (trusted: validated by the caller).
    sigma : ndarray of shape (n, m, k), intp
        Rankings, best first (trusted).

    Returns
    -------
    ndarray of shape (n, m)

    References
    ----------
    Plackett (1975), "The Analysis of Permutations", Applied Statistics 24(2), eq. (1).
    """
    n, k = logits.shape
    ordered = np.take(logits.ravel(), sigma + (k * np.arange(n))[:, None, None])
    top = ordered[..., -1].copy()  # M_r
    total = np.ones_like(top)  # S_r = Σ_{t≥r} e^{s_σt − M_r}
    log_prob = np.zeros_like(top)  # the last term is (s − s) − log 1
    for r in range(k - 2, -1, -1):
        score = ordered[..., r]
        new_top = np.maximum(top, score)
        total = total * np.exp(top - new_top) + np.exp(score - new_top)
        top = new_top
        log_prob += (score - top) - np.log(total)
    return log_prob


def _tail_sum_product(ordered: np.ndarray) -> np.ndarray:
    """Π_r Σ_{t >= r} ordered[..., t] over the last axis, by one backward sweep over its k columns.

    The tail sums lie in [e^-range, k] for weights shifted to a maximum of 1, so their product is safe in the
    range the caller checks. Column sweeps over the short axis are faster than ``cumsum`` + ``prod`` along it.
    """
    tail = ordered[..., -1].copy()
    product = tail.copy()
    for r in range(ordered.shape[-1] - 2, -1, -1):
        tail += ordered[..., r]
        product *= tail
    return product
