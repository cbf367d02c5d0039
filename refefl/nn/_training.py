r"""The minibatch training loop of refefl's estimators and experiments: Adam with L2 weight decay, optional
projection after each step and early stopping on a validation split.

The objective minimized is the mean loss plus :math:`\tfrac{\lambda}{2}\|w\|^2` over the decayed leaves (weight
matrices, not biases), so that λ has the meaning of scikit-learn's ``1 / (C n)``. An epoch is one pass over the
rows in a fresh random order (``sampling="shuffle"``) or ``steps_per_epoch`` minibatches drawn uniformly with
replacement (``sampling="replacement"``). Every epoch ends with a call to ``validate``; the parameters of the best
validation epoch are returned, and training stops after ``patience`` epochs without improvement.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from refefl._validation import check_positive, check_positive_int
from refefl.nn._optim import Adam
from refefl.nn._tree import tree_leaves, tree_map, tree_ravel, tree_unravel

SAMPLINGS = ("shuffle", "replacement")


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
        One record per epoch: ``epoch``, ``train_loss`` (the mean loss of its minibatches, weighted by their
        rows), the entries of ``validate``'s report, ``unconverged`` (minibatches whose inner maximizer ran out of
        budget, see ``reports_convergence``) and ``seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import train_minibatch
    >>> def grad_fn(w, rows):  # mean of (w - 1)²/2 over the rows: its minimizer is w = 1
    ...     return float((w[0] - 1) ** 2 / 2), w - 1
    >>> result = train_minibatch(grad_fn, np.zeros(1), 4, rng=np.random.default_rng(0), learning_rate=0.1,
    ...                          batch_size=2, max_epochs=3)
    >>> result.best_epoch, [record["epoch"] for record in result.history]
    (3, [1, 2, 3])
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


def _batch_gradient(grad_fn: Callable, params, w: np.ndarray, rows: np.ndarray, shapes: list,
                    decay: np.ndarray | None, penalty: np.ndarray | None, reports_convergence: bool,
                    refuse_nonfinite: bool) -> tuple:
    """(loss, penalized gradient as a new flat vector, 1 if the inner maximizer did not converge else 0) on one
    minibatch; ``w`` is ``params`` flat, ``decay`` the flat vector of λ on the decayed entries and 0 elsewhere
    (None: no decay), ``penalty`` a work vector. ``FloatingPointError`` with ``refuse_nonfinite`` when the loss or
    the gradient is not finite."""
    if reports_convergence:
        loss, grads, converged = grad_fn(params, rows)
    else:
        (loss, grads), converged = grad_fn(params, rows), True
    g = tree_ravel(grads, shapes)
    if refuse_nonfinite and not (np.isfinite(loss) and np.isfinite(g).all()):
        raise FloatingPointError("the loss or its gradient is not finite, so the training diverged; lower the "
                                 "learning rate")
    if decay is not None:  # g + λ w on the decayed entries, + 0 w (the same g while w is finite) elsewhere
        np.multiply(w, decay, out=penalty)
        g += penalty
    return loss, g, int(not converged)


def _epoch_batches(sampling: str, n_samples: int, batch_size: int, steps_per_epoch: int | None,
                   rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The row indices of each minibatch of one epoch, drawn from ``rng`` only when the batch is asked for (a
    ``grad_fn`` that draws from the same generator sees the same stream whatever the epoch length)."""
    if sampling == "shuffle":
        order = rng.permutation(n_samples)
        for first in range(0, n_samples, batch_size):
            yield order[first : first + batch_size]
    else:
        for _ in range(steps_per_epoch):
            yield rng.integers(0, n_samples, batch_size)


def _check_schedule(n_samples, learning_rate, weight_decay, decay_mask, batch_size, max_epochs, patience, sampling,
                    steps_per_epoch, max_steps) -> None:
    check_positive_int(n_samples, "n_samples")
    check_positive(learning_rate, "learning_rate")
    if check_positive(weight_decay, "weight_decay", strict=False) > 0 and decay_mask is None:
        raise ValueError("weight_decay > 0 needs a decay_mask (True on the leaves to shrink)")
    for value, name in ((batch_size, "batch_size"), (max_epochs, "max_epochs")):
        check_positive_int(value, name)
    for value, name in ((patience, "patience"), (max_steps, "max_steps")):
        if value is not None:
            check_positive_int(value, name)
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if (sampling == "replacement") != (steps_per_epoch is not None):
        raise ValueError(f"steps_per_epoch is needed with sampling='replacement' and only then, got "
                         f"steps_per_epoch={steps_per_epoch!r} with sampling={sampling!r}")
    if steps_per_epoch is not None:
        check_positive_int(steps_per_epoch, "steps_per_epoch")


def train_minibatch(
    grad_fn: Callable,
    params: Any,
    n_samples: int,
    *,
    rng: np.random.Generator,
    learning_rate: float,
    batch_size: int,
    max_epochs: int,
    validate: Callable | None = None,
    weight_decay: float = 0.0,
    decay_mask: Any = None,
    patience: int | None = None,
    project: Callable | None = None,
    reports_convergence: bool = False,
    sampling: str = "shuffle",
    steps_per_epoch: int | None = None,
    max_steps: int | None = None,
    refuse_nonfinite: bool = True,
    verbose: bool = False,
) -> TrainingResult:
    r"""Minimize :math:`\frac1n\sum_i \ell_i(w) + \frac\lambda2\|w\|^2` by minibatch Adam with early stopping.

    Each step draws a minibatch B of rows and applies Adam to :math:`\nabla_w \frac1{|B|}\sum_{i \in B}\ell_i(w)
    + \lambda\, m \odot w` (m the decay mask), then ``project``.

    Parameters
    ----------
    grad_fn : callable
        ``grad_fn(params, rows) -> (mean loss, gradient)`` on the training rows ``rows`` (indices), or
        ``-> (mean loss, gradient, converged)`` with ``reports_convergence``. ``params`` are views of the loop's
        parameter vector, which the next step overwrites: copy what must outlive the call.
    params : pytree
        Initial parameters.
    n_samples : int
        Number of training rows.
    rng : numpy.random.Generator
        Draws the minibatches, each just before its gradient is asked for.
    learning_rate : float
        Adam's step η > 0.
    batch_size, max_epochs : int
    validate : callable or None, default None
        ``validate(params) -> (criterion, report)``: lower criterion is better; ``report`` a dict of floats
        shown per epoch. None: no early stopping, the last epoch's parameters are returned.
    weight_decay : float, default 0.0
        The L2 strength λ ≥ 0, applied where ``decay_mask`` is True.
    decay_mask : pytree of bool or None
        Same structure as ``params``; needed when λ > 0.
    patience : int or None, default None
        Stop after this many epochs without a better validation criterion (None: never stop early).
    project : callable or None
        ``project(params) -> params`` applied after every step (projected Adam onto a constraint set).
    reports_convergence : bool
        ``grad_fn`` also returns whether its inner maximizer converged (the ``converged`` flag of its
        :class:`~refefl.maximizers.MaximizerInfo`); the history counts the batches where it did not. Without it
        the count is 0.
    sampling : {"shuffle", "replacement"}, default "shuffle"
        An epoch visits the ``n_samples`` rows once in a fresh random order (the last batch may be smaller), or is
        ``steps_per_epoch`` minibatches of ``batch_size`` rows drawn uniformly with replacement.
    steps_per_epoch : int or None
        Only with ``sampling="replacement"``.
    max_steps : int or None, default None
        Stop after this many steps in all (the last epoch may be cut short; its record covers its steps).
    refuse_nonfinite : bool, default True
        Raise ``FloatingPointError`` when a minibatch's loss or gradient is not finite (the training diverged),
        before the step could write NaN or inf into the parameters. False steps it in (the parameters become NaN):
        only for studying a divergence.
    verbose : bool
        Print one line per epoch.

    Returns
    -------
    TrainingResult

    References
    ----------
    Kingma, Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR, Algorithm 1; Prechelt (1998),
    "Early Stopping — But When?", Neural Networks: Tricks of the Trade, §2.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import train_minibatch
    >>> X = np.linspace(-1, 1, 20)
    >>> def grad_fn(w, rows):  # least squares fit of y = 3x: loss mean (w x - 3x)²/2
    ...     r = (w[0] - 3) * X[rows]
    ...     return float(np.mean(r * r) / 2), np.array([np.mean(r * X[rows])])
    >>> result = train_minibatch(grad_fn, np.zeros(1), len(X), rng=np.random.default_rng(0), learning_rate=0.1,
    ...                          batch_size=5, max_epochs=50)
    >>> np.round(result.params, 2), len(result.history)
    (array([3.]), 50)
    >>> steps = train_minibatch(grad_fn, np.zeros(1), len(X), rng=np.random.default_rng(0), learning_rate=0.1,
    ...                         batch_size=5, max_epochs=4, sampling="replacement", steps_per_epoch=3,
    ...                         max_steps=10)
    >>> len(steps.history)  # epochs of 3, 3, 3 and 1 steps
    4
    """
    _check_schedule(n_samples, learning_rate, weight_decay, decay_mask, batch_size, max_epochs, patience, sampling,
                    steps_per_epoch, max_steps)
    optimizer = Adam(learning_rate)
    state = optimizer.init(params)
    # the steps run on the loop's own flat vector w, updated in place; grad_fn, project and validate see views of
    # it in the structure of params (a snapshot is kept of the best epoch's)
    w, shapes = tree_ravel(params), [np.shape(leaf) for leaf in tree_leaves(params)]
    views = tree_unravel(params, w)
    decay, penalty = None, None
    if weight_decay > 0:  # λ where the mask is True, 0 elsewhere (one product per step instead of a masked one)
        decay = tree_ravel(tree_map(lambda leaf, on: np.full(np.shape(leaf), weight_decay if on else 0.0, w.dtype),
                                    params, decay_mask))
        penalty = np.zeros_like(w)
    result = TrainingResult(params, 0)
    best, steps = np.inf, 0
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        total, seen, unconverged = 0.0, 0, 0
        for rows in _epoch_batches(sampling, n_samples, batch_size, steps_per_epoch, rng):
            loss, g, failed = _batch_gradient(grad_fn, views, w, rows, shapes, decay, penalty, reports_convergence,
                                              refuse_nonfinite)
            new_w, state = optimizer.flat_step(w, g, state)
            np.copyto(w, new_w)
            if project is not None:
                np.copyto(w, tree_ravel(project(views), shapes))
            total += loss * len(rows)
            seen += len(rows)
            unconverged += failed
            steps += 1
            if steps == max_steps:
                break
        record = {"epoch": epoch, "train_loss": total / seen}
        criterion, report = (np.nan, {}) if validate is None else validate(views)
        record.update(report, unconverged=unconverged, seconds=time.perf_counter() - start)
        result.history.append(record)
        if verbose:
            print("  ".join(_format(key, value) for key, value in record.items()), flush=True)
        if validate is None or criterion < best:
            best, result.params, result.best_epoch = criterion, tree_unravel(views, w.copy()), epoch
        elif patience is not None and epoch - result.best_epoch >= patience:
            break
        if steps == max_steps:
            break
    return result


def _format(key: str, value) -> str:
    if key == "epoch":
        return f"epoch {value:4d}"
    if isinstance(value, (int, np.integer)):
        return f"{key} {value}"
    return f"{key} {value:.4f}"
