r"""The min-min loss: an unbiased sampled objective for an energy g and a log-partition estimate τ.

For an f-divergence generator f with conjugate :math:`f^*`, the variational identity

.. math::

    \max_{p}\; \mathbb E_p[g] - D_f(p, q) = \min_\tau\; \tau + \mathbb E_{y' \sim q}\, f^*(g(y') - \tau)

turns the log-partition (KL) or its sparse analogues into a minimum over a scalar τ of an expectation, which m
samples estimate without bias. Each conjugate is written :math:`f^*(v) = \varphi(v) + c` with
:math:`\varphi(-\infty) = 0`: only φ is averaged over samples, the constant c is added exactly (lower variance,
same expectation). Derivations and the choice of the Tsallis constants: ``docs/partition.md``.
"""
from __future__ import annotations

import math

import numpy as np

from refefl._validation import as_float_array, check_finite, common_float_dtype

DIVERGENCES = ("kl", "tsallis", "sparsemax")


def min_min_loss(g_target, g_samples, tau, *, divergence: str = "kl", alpha: float | None = None,
                 log_weights=None, return_grad: bool = False):
    r"""Per-example min-min loss of an energy and a log-partition estimate, from m samples per example.

    .. math::

        \ell_i = \tau_i + \frac1m \sum_{j=1}^m w_{ij}\, \varphi\big(g_{ij} - \tau_i\big) + c - g^{\mathrm{target}}_i,
        \qquad f^*(v) = \varphi(v) + c,

    with samples :math:`y'_{ij} \sim r`, energies :math:`g_{ij} = g(x_i, y'_{ij})` and importance weights
    :math:`w_{ij} = q(y'_{ij}) / r(y'_{ij})` (``log_weights``; all ones when r = q, the base measure). Its
    expectation over the samples is :math:`\tau_i + \mathbb E_{y'\sim q} f^*(g(x_i, y') - \tau_i) - g(x_i, y_i)`
    for any m ≥ 1: the estimate is unbiased. The base measure q sits in the expectation (the divergence is
    :math:`D_f(p, q)`); the model implied by the minimizing τ is :math:`p(y) = q(y)\,(f^*)'(g(y) - \tau)`.

    - ``"kl"``: :math:`f^*(v) = e^v - 1`, model :math:`p = q\, e^{g - \tau}`, minimizer
      :math:`\tau^* = \log \mathbb E_q e^{g}` (the log-partition). The mean of exponentials is computed as
      :math:`\exp(\operatorname{logsumexp}_j(g_{ij} - \tau_i + \log w_{ij}) - \log m)`: finite for
      :math:`|g - \tau|` up to 700 in float64.
    - ``"tsallis"`` with α ∈ (1, 2]: :math:`f^*(v) = \frac1\alpha [1 + (\alpha-1)(v - \alpha + 1)]_+^{\alpha/(\alpha-1)}
      - \frac1\alpha + \alpha - 1`, model :math:`p = q\, [1 + (\alpha-1)(g - \tau - \alpha + 1)]_+^{1/(\alpha-1)}`;
      α → 1 gives the KL conjugate, α = 2 exactly the sparsemax one.
    - ``"sparsemax"``: :math:`f^*(v) = \frac12 [v]_+^2 + \frac12`, sparse model :math:`p = q\,[g - \tau]_+`
      (τ is a threshold; for a uniform q over N states, p = sparsemax(g / N)).

    Parameters
    ----------
    g_target : array_like of shape (n,)
        Energies of the observed outputs, finite.
    g_samples : array_like of shape (n, m)
        Energies of the m ≥ 1 sampled outputs; finite or ``-inf`` (an impossible output contributes 0).
    tau : array_like of shape (n,)
        Log-partition estimates (the partition network's outputs), finite.
    divergence : {"kl", "tsallis", "sparsemax"}, default "kl"
    alpha : float in (1, 2], optional
        Tsallis index; required for ``"tsallis"`` and refused otherwise.
    log_weights : array_like of shape (n, m), optional
        :math:`\log q(y'_{ij}) - \log r(y'_{ij})`; finite or ``-inf``.
    return_grad : bool, default False
        Also return the gradients of :math:`\sum_i \ell_i`.

    Returns
    -------
    loss : ndarray of shape (n,)
        float32 when every input is float32, else float64.
    grads : tuple (d_target (n,), d_samples (n, m), d_tau (n,))
        Only with ``return_grad=True``: :math:`-1`, :math:`w_{ij} (f^*)'(g_{ij} - \tau_i) / m` and
        :math:`1 - \frac1m \sum_j w_{ij} (f^*)'(g_{ij} - \tau_i)`.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the min-min objective and its unbiasedness) and §4 (the f-divergence generalization).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import min_min_loss
    >>> g_samples = np.array([[0.0, 1.0, 2.0, 3.0]])
    >>> tau = np.log(np.mean(np.exp(g_samples), axis=1))
    >>> loss = min_min_loss([3.0], g_samples, tau)
    >>> print(np.round(loss, 4), np.round(tau, 4))
    [-0.9461] [2.0539]
    >>> above, below = min_min_loss([3.0], g_samples, tau + 0.1), min_min_loss([3.0], g_samples, tau - 0.1)
    >>> print(bool(above > loss), bool(below > loss))
    True True
    >>> loss, (d_target, d_samples, d_tau) = min_min_loss([3.0], g_samples, tau, return_grad=True)
    >>> print(d_target, np.round(d_samples, 4), bool(abs(d_tau[0]) < 1e-12))
    [-1.] [[0.0321 0.0871 0.2369 0.6439]] True
    """
    g_target, g_samples, log_weights, tau = _check_energies(g_target, g_samples, log_weights, tau)
    divergence, alpha = _check_divergence(divergence, alpha)
    if divergence == "sparsemax":
        mean, slope, d_samples = _sparsemax_terms(g_samples, tau, log_weights, return_grad)
        const = 0.5
    else:
        mean, slope, d_samples = _log_space_terms(g_samples, tau, log_weights, alpha, return_grad)
        const = -1.0 if alpha is None else alpha - 1.0 - 1.0 / alpha
    loss = tau + mean + const - g_target
    if not return_grad:
        return loss
    return loss, (np.full_like(g_target, -1.0), d_samples, 1.0 - slope)


def log_mean_exp_loss(g_target, g_samples, *, log_weights=None, return_grad: bool = False):
    r"""The naive sampled NLL: the log of the sampled mean of exponentials, minus the target energy.

    .. math::

        \hat\ell_i = \log \frac1m \sum_{j=1}^m w_{ij}\, e^{g_{ij}} - g^{\mathrm{target}}_i.

    By Jensen's inequality its expectation is at most the exact :math:`\log \mathbb E_q e^{g} - g^{\mathrm{target}}`,
    strictly for a non-constant g: the estimate is biased downwards for every finite m (the bias shrinks like 1/m).
    It is the baseline that :func:`min_min_loss` corrects; ``docs/partition.md`` explains the bias.

    Parameters
    ----------
    g_target : array_like of shape (n,)
    g_samples : array_like of shape (n, m)
    log_weights : array_like of shape (n, m), optional
        As in :func:`min_min_loss`.
    return_grad : bool, default False

    Returns
    -------
    loss : ndarray of shape (n,)
    grads : tuple (d_target (n,), d_samples (n, m))
        Only with ``return_grad=True``: :math:`-1` and the softmax over j of :math:`g_{ij} + \log w_{ij}`.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the biased log-mean-exp estimate).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import log_mean_exp_loss
    >>> g_samples = np.array([[0.0, 1.0, 2.0, 3.0]])
    >>> print(np.round(log_mean_exp_loss([3.0], g_samples), 4))
    [-0.9461]
    >>> loss, (d_target, d_samples) = log_mean_exp_loss([3.0], g_samples, return_grad=True)
    >>> print(d_target, np.round(d_samples, 4), round(float(d_samples.sum()), 12))
    [-1.] [[0.0321 0.0871 0.2369 0.6439]] 1.0
    """
    g_target, g_samples, log_weights, _ = _check_energies(g_target, g_samples, log_weights)
    a = g_samples.copy() if log_weights is None else g_samples + log_weights
    log_mean, weights = _mean_exp(a, return_grad, log_output=True)
    loss = log_mean - g_target
    if not return_grad:
        return loss
    return loss, (np.full_like(g_target, -1.0), weights * g_samples.shape[1])


# -- the two evaluation paths ----------------------------------------------------------------------------------
def _log_space_terms(g_samples, tau, log_weights, alpha, return_grad):
    """Sampled means of w φ(g - τ) and of w (f*)'(g - τ), and the terms w (f*)'(g - τ) / m, for KL (alpha None)
    and Tsallis: log φ and log (f*)' are formed, so each mean is one logsumexp whatever the range of g - τ."""
    if alpha is None:  # KL: φ = (f*)' = exp, so g - τ + log w is already log(w φ)
        mean, d_samples = _mean_exp(_shifted(g_samples, tau, log_weights), return_grad)
        return mean, mean, d_samples
    log_base = _tsallis_log_base(g_samples - tau[:, None], alpha)
    log_phi = log_base * (alpha / (alpha - 1.0)) - math.log(alpha)
    log_base /= alpha - 1.0  # now log (f*)'
    if log_weights is not None:
        log_phi += log_weights
        log_base += log_weights
    mean = _mean_exp(log_phi, False)[0]
    slope, d_samples = _mean_exp(log_base, return_grad)
    return mean, slope, d_samples


def _tsallis_log_base(v, alpha):
    """log [1 + (α-1)(v - α + 1)]_+ (``-inf`` outside the support), accurate as α → 1 through log1p."""
    z = (alpha - 1.0) * (v - (alpha - 1.0))
    with np.errstate(divide="ignore"):
        return np.log1p(np.maximum(z, -1.0, out=z), out=z)


def _sparsemax_terms(g_samples, tau, log_weights, return_grad):
    """Sampled means of w ½[g - τ]_+² and of w [g - τ]_+, and the terms w [g - τ]_+ / m."""
    m = g_samples.shape[1]
    r = np.subtract(g_samples, tau[:, None])
    _check_row_max(r.max(axis=1))
    np.maximum(r, 0.0, out=r)
    if log_weights is not None:
        _check_row_max(log_weights.max(axis=1))
        r_weighted = r * np.exp(log_weights)
    else:
        r_weighted = r
    mean = np.einsum("ij,ij->i", r_weighted, r) / (2 * m)
    slope = r_weighted.sum(axis=1) / m
    return mean, slope, (r_weighted / m if return_grad else None)


def _shifted(g_samples, tau, log_weights):
    """g - τ (+ log w) as one new array."""
    a = np.subtract(g_samples, tau[:, None])
    if log_weights is not None:
        a += log_weights
    return a


def _mean_exp(a, return_grad, *, log_output=False):
    """(1/m) Σ_j exp(a_ij) per row (its log with ``log_output``) and, with ``return_grad``, the terms
    exp(a_ij) / m (with ``log_output``: the softmax weights / m). Consumes ``a``.

    The row maximum doubles as validation (NaN and +inf propagate into it): no separate pass over the samples.
    """
    m = a.shape[1]
    row_max = a.max(axis=1)
    _check_row_max(row_max)
    shift = np.where(row_max == -np.inf, 0.0, row_max).astype(a.dtype, copy=False)
    a -= shift[:, None]
    np.exp(a, out=a)
    total = a.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_mean = shift + (np.log(total) - math.log(m))
    out = log_mean if log_output else np.exp(log_mean)
    if not return_grad:
        return out, None
    if log_output:
        a /= (total * m)[:, None]
    else:
        a *= np.exp(shift - math.log(m))[:, None]
    return out, a


# -- validation -------------------------------------------------------------------------------------------------
def _check_row_max(row_max):
    """NaN or +inf anywhere in a row shows in its maximum."""
    if np.isnan(row_max).any() or np.isposinf(row_max).any():
        raise ValueError("g_samples and log_weights must not contain NaN or +inf (-inf is allowed)")


def _check_energies(g_target, g_samples, log_weights, tau=None):
    """Validated (g_target (n,), g_samples (n, m), log_weights (n, m) or None, tau (n,) or None), one dtype.

    NaN/+inf in g_samples and log_weights are caught later, by the row maxima the evaluation computes anyway.
    """
    g_samples = as_float_array(g_samples, "g_samples (energies of m >= 1 samples per example)")
    if g_samples.ndim != 2:
        raise ValueError(f"g_samples must have shape (n, m), got {g_samples.shape}")
    vectors = [as_float_array(g_target, "g_target", min_ndim=0)]
    if tau is not None:
        vectors.append(as_float_array(tau, "tau", min_ndim=0))
    if log_weights is not None:
        log_weights = as_float_array(log_weights, "log_weights")
        if log_weights.shape != g_samples.shape:
            raise ValueError(f"log_weights must have the shape of g_samples {g_samples.shape}, got {log_weights.shape}")
    dtype = common_float_dtype(g_samples, *vectors, *([] if log_weights is None else [log_weights]))
    n = g_samples.shape[0]
    checked = [_check_vector(x, name, n, dtype) for x, name in zip(vectors, ("g_target", "tau"))]
    g_samples = g_samples.astype(dtype, copy=False)
    if log_weights is not None:
        log_weights = log_weights.astype(dtype, copy=False)
    return checked[0], g_samples, log_weights, (checked[1] if tau is not None else None)


def _check_vector(x, name, n, dtype):
    """``x`` as a finite vector of length n in ``dtype``."""
    if x.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match g_samples, got {x.shape}")
    x = x.astype(dtype, copy=False)
    check_finite(x, name)
    return x


def _check_divergence(divergence, alpha):
    """Normalized (divergence, alpha): alpha is None for KL and sparsemax, a float in (1, 2] for Tsallis."""
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    if divergence != "tsallis":
        if alpha is not None:
            raise ValueError(f"alpha is only used with divergence='tsallis', got alpha={alpha!r} for {divergence!r}")
        return divergence, None
    if alpha is None or isinstance(alpha, bool) or not np.isscalar(alpha) or not 1.0 < float(alpha) <= 2.0:
        raise ValueError(f"divergence='tsallis' needs alpha in (1, 2], got {alpha!r}")
    return divergence, float(alpha)
