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
    """
    n, k = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    offsets = (k * np.arange(n))[:, None, None]
    if k * (float(np.ptp(shifted)) + np.log(k)) < _PRODUCT_SAFE:
        weights = np.exp(shifted)
        sigma = np.argsort(exponentials * (1.0 / weights)[:, None, :], axis=-1)  # arrival times, earliest first
        log_tails = np.log(_tail_sum_product(np.take(weights.ravel(), sigma + offsets)))
        return sigma, shifted.sum(axis=1)[:, None] - log_tails
    # a wide range of scores: log arrival times and tail log-sums, never exponentiating the small scores; the
    # terms s_σr - log Σ_{t≥r} e^{s_σt} ≤ 0 are summed one by one (Σ s - Σ log-tails cancels at large |s|)
    sigma = np.argsort(np.log(exponentials) - shifted[:, None, :], axis=-1)
    ordered = np.take(shifted.ravel(), sigma + offsets)
    log_tails = np.logaddexp.accumulate(ordered[..., ::-1], axis=-1)[..., ::-1]
    return sigma, (ordered - log_tails).sum(axis=-1)


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
