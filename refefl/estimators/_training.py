r"""Minibatch Adam with L2 weight decay and early stopping on a validation split: the training loop of the
estimators.

The objective minimized is the mean loss plus :math:`\tfrac{\lambda}{2}\|w\|^2` over the decayed leaves (weight
matrices, not biases), so that λ has the meaning of scikit-learn's ``1 / (C n)``. Every epoch ends with a call to
``validate``; the parameters of the best validation epoch are returned, and training stops after ``patience``
epochs without improvement.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from refefl.nn import Adam
from refefl.nn._tree import tree_map


@dataclass
class TrainingResult:
    """What :func:`train_minibatch` returns.

    Attributes
    ----------
    params : pytree
        The parameters of the best validation epoch (of the last epoch without validation).
    best_epoch : int
        That epoch (1-based; 0 means the initial parameters were never improved on).
    history : list of dict
        One record per epoch: ``epoch``, ``train_loss``, the entries of ``validate``'s report, ``unconverged``
        (minibatches whose inner maximizer ran out of budget, see ``reports_convergence``) and ``seconds``.
    """

    params: Any
    best_epoch: int
    history: list = field(default_factory=list)


def validation_split(n: int, fraction, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(validation rows, training rows): a random ``fraction`` in [0, 1) of ``range(n)`` and the rest."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 <= fraction < 1:
        raise ValueError(f"validation_fraction must be a number in [0, 1), got {fraction!r}")
    n_val = int(round(fraction * n))
    if n_val >= n:
        raise ValueError(f"validation_fraction={fraction} leaves no training rows out of {n}")
    order = rng.permutation(n)
    return order[:n_val], order[n_val:]


def _batch_gradient(grad_fn: Callable, params, rows: np.ndarray, weight_decay: float, mask,
                    reports_convergence: bool) -> tuple:
    """(loss, penalized gradient, 1 if the inner maximizer did not converge else 0) on one minibatch."""
    if reports_convergence:
        loss, grads, converged = grad_fn(params, rows)
    else:
        (loss, grads), converged = grad_fn(params, rows), True
    if weight_decay > 0:
        grads = tree_map(lambda g, p, m: g + weight_decay * p if m else g, grads, params, mask)
    return loss, grads, int(not converged)


def train_minibatch(
    grad_fn: Callable,
    params: Any,
    n_samples: int,
    *,
    validate: Callable | None,
    rng: np.random.Generator,
    learning_rate: float,
    weight_decay: float,
    decay_mask: Any,
    batch_size: int,
    max_epochs: int,
    patience: int,
    project: Callable | None = None,
    reports_convergence: bool = False,
    verbose: bool = False,
) -> TrainingResult:
    r"""Minimize :math:`\frac1n\sum_i \ell_i(w) + \frac\lambda2\|w\|^2` by minibatch Adam with early stopping.

    Parameters
    ----------
    grad_fn : callable
        ``grad_fn(params, rows) -> (mean loss, gradient)`` on the training rows ``rows`` (indices), or
        ``-> (mean loss, gradient, converged)`` with ``reports_convergence``.
    params : pytree
        Initial parameters.
    n_samples : int
        Number of training rows; each epoch visits them once in a fresh random order.
    validate : callable or None
        ``validate(params) -> (criterion, report)``: lower criterion is better; ``report`` a dict of floats
        shown per epoch. None: no early stopping, the last epoch's parameters are returned.
    rng : numpy.random.Generator
        Shuffles the minibatches.
    learning_rate, weight_decay : float
        Adam's step η and the L2 strength λ ≥ 0 (applied where ``decay_mask`` is True).
    decay_mask : pytree of bool
        Same structure as ``params``.
    batch_size, max_epochs, patience : int
    project : callable or None
        ``project(params) -> params`` applied after every step (projected Adam onto a constraint set).
    reports_convergence : bool
        ``grad_fn`` also returns whether its inner maximizer converged (the ``converged`` flag of its
        :class:`~refefl.maximizers.MaximizerInfo`); the history counts the batches where it did not. Without it
        the count is 0.
    verbose : bool
        Print one line per epoch.

    Returns
    -------
    TrainingResult

    References
    ----------
    Kingma, Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR, Algorithm 1; Prechelt (1998),
    "Early Stopping — But When?", Neural Networks: Tricks of the Trade, §2.
    """
    optimizer = Adam(learning_rate)
    state = optimizer.init(params)
    result = TrainingResult(params, 0)
    best = np.inf
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(n_samples)
        total, unconverged = 0.0, 0
        for first in range(0, n_samples, batch_size):
            rows = order[first : first + batch_size]
            loss, grads, failed = _batch_gradient(grad_fn, params, rows, weight_decay, decay_mask,
                                                  reports_convergence)
            params, state = optimizer.step(params, grads, state)
            if project is not None:
                params = project(params)
            total += loss * len(rows)
            unconverged += failed
        record = {"epoch": epoch, "train_loss": total / n_samples}
        criterion, report = (np.nan, {}) if validate is None else validate(params)
        record.update(report, unconverged=unconverged, seconds=time.perf_counter() - start)
        result.history.append(record)
        if verbose:
            print("  ".join(_format(key, value) for key, value in record.items()), flush=True)
        if validate is None or criterion < best:
            best, result.params, result.best_epoch = criterion, params, epoch
        elif epoch - result.best_epoch >= patience:
            break
    return result


def _format(key: str, value) -> str:
    if key == "epoch":
        return f"epoch {value:4d}"
    if isinstance(value, (int, np.integer)):
        return f"{key} {value}"
    return f"{key} {value:.4f}"
