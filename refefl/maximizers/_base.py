"""The maximizer interface, its report, and what every solver shares: the objective F(y) = Φ(y) − Ω(y), the
starting point, the stationarity / duality-gap measures and per-row backtracking."""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from refefl._validation import check_positive, check_positive_int, feasibility_tol
from refefl.energies._base import Energy
from refefl.projections._root_finding import ConvergenceWarning
from refefl.regularizers._base import Regularizer, inner_on_support


@dataclass(frozen=True)
class MaximizerInfo:
    r"""Report of a maximizer on a batch of rows.

    Attributes
    ----------
    iterations : int
        Iterations (sweeps for coordinate ascent) run by the slowest row.
    objective : ndarray of shape (n_samples,)
        :math:`F(\hat y_i) = \Phi(\hat y_i) - \Omega(\hat y_i)`.
    stationarity : ndarray of shape (n_samples,)
        :math:`\|\hat y_i - \hat y_\Omega(\nabla_y\Phi(\hat y_i))\|_\infty`: 0 iff ŷ_i is a stationary point of F
        over C (the first-order condition :math:`\nabla_y\Phi(\hat y) \in \partial(\Omega + I_C)(\hat y)`).
    gap : ndarray of shape (n_samples,)
        :math:`L_\Omega(\nabla_y\Phi(\hat y_i); \hat y_i) \ge 0`, the classic FY loss of the linearized energy:
        the Frank-Wolfe duality gap, an upper bound on :math:`\max_C F - F(\hat y_i)` when Φ is concave in y.
    converged : bool
        Every row met the solver's stopping test within the iteration budget.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Bilinear
    >>> from refefl.maximizers import ClosedForm
    >>> from refefl.regularizers import BoxSquared
    >>> _, info = ClosedForm().maximize(Bilinear(), BoxSquared(), np.array([[1.0, -2.0, 0.5]]))
    >>> print(info.iterations, info.converged)
    0 True
    """

    iterations: int
    objective: np.ndarray
    stationarity: np.ndarray
    gap: np.ndarray
    converged: bool


def objective(energy: Energy, omega: Regularizer, params: Any, y: np.ndarray) -> np.ndarray:
    """F(y) = Φ(y, params) − Ω(y) per row, for validated inputs and y in C."""
    return energy._value(params, y) - omega._value(y)


def measures(energy: Energy, omega: Regularizer, params: Any, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stationarity, gap) per row, as defined in :class:`MaximizerInfo`."""
    g = energy._grad_y(params, y)
    s = omega._predict(g)
    gap = inner_on_support(omega._tangent(g), s - y) + omega._value(y) - omega._value(s)
    return np.abs(y - s).max(axis=1), np.maximum(gap, 0)


def rounding_slack(value: np.ndarray, omega_value: np.ndarray) -> np.ndarray:
    """A few ulps of the terms of F = Φ − Ω (|Φ| ≤ |F| + |Ω|): below it, a change of F is lost in rounding."""
    return 16 * np.finfo(value.dtype).eps * (1 + np.abs(value) + 2 * np.abs(omega_value))


def backtrack(propose: Callable, step: np.ndarray, pending: np.ndarray, max_halvings: int = 60):
    """Per-row backtracking: halve ``step`` on pending rows whose proposal fails, until every row passes.

    ``propose(step) -> (arrays, ok)`` evaluates all rows (``arrays`` a tuple of per-row arrays, ``ok`` a boolean
    mask). Returns the arrays taken from each row's first passing proposal, the steps, and the mask of rows that
    passed (rows that never pass keep the last proposal and must be discarded by the caller).
    """
    out = None
    for _ in range(max_halvings):
        arrays, ok = propose(step)
        take = pending & ok
        if out is None:
            out = arrays
        else:
            out = tuple(np.where(take.reshape((-1,) + (1,) * (a.ndim - 1)), a, o) for a, o in zip(arrays, out))
        pending = pending & ~ok
        if not pending.any():
            break
        step = np.where(pending, step / 2, step)
    return out, step, ~pending


class Maximizer(ABC):
    r"""A solver of :math:`\max_{y \in C} F(y) = \Phi(y, \mathrm{params}) - \Omega(y)`, row by row.

    Parameters
    ----------
    max_iter : int
        Iteration budget; a :class:`~refefl.projections._root_finding.ConvergenceWarning` is issued when a row
        has not met the stopping test within it (the best iterate is still returned).
    tol : float or None
        Stopping tolerance (its meaning is given by each solver); None: sqrt(eps) of the dtype (1.5e-8 in
        float64, 3.5e-4 in float32).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §3 (regularized energy maximization, ŷ^Φ_Ω).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Quadratic
    >>> from refefl.maximizers import CoordinateAscent
    >>> from refefl.regularizers import BinaryEntropy
    >>> theta, A = np.array([[1.0, -2.0, 0.5]]), np.array([[0.0, 0.5, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> y_hat, info = CoordinateAscent(max_iter=200).maximize(Quadratic(), BinaryEntropy(), (theta, A))
    >>> print(np.round(y_hat, 4), info.converged)
    [[0.7469 0.1643 0.6225]] True
    """

    def __init__(self, *, max_iter: int, tol: float | None = None):
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.tol = None if tol is None else check_positive(tol, "tol")

    def maximize(
        self, energy: Energy, regularizer: Regularizer, params: Any, *, y0=None
    ) -> tuple[np.ndarray, MaximizerInfo]:
        """Return ŷ of shape (n_samples, n_labels) and a :class:`MaximizerInfo`; ``y0`` (in C) warm-starts."""
        if not isinstance(energy, Energy):
            raise TypeError(f"energy must be a refefl Energy, got {type(energy).__name__}")
        if not isinstance(regularizer, Regularizer):
            raise TypeError(f"regularizer must be a refefl Regularizer, got {type(regularizer).__name__}")
        self.check_supported(energy, regularizer)
        params = energy.check_params(params)
        if y0 is not None:
            y0 = regularizer.check_target(energy.check_y(params, y0))
        return self._maximize(energy, regularizer, params, y0)

    def check_supported(self, energy: Energy, regularizer: Regularizer) -> None:
        """``ValueError`` if this solver does not handle this energy and regularizer (default: all)."""

    def _tol(self, dtype) -> float:
        # sqrt(eps): the iterate is then accurate to about sqrt(eps), like a feasibility test
        return feasibility_tol(dtype) if self.tol is None else self.tol

    def _start(self, energy: Energy, omega: Regularizer, params: Any, y0) -> np.ndarray:
        r"""A C-contiguous copy of ``y0``, or :math:`\hat y_\Omega(\nabla_y\Phi(c))` with :math:`c = \hat y_\Omega(0)`
        the minimizer of Ω over C (exact for bilinear energies)."""
        dtype = energy.output_dtype(params)
        if y0 is not None:
            return np.array(y0, dtype=np.result_type(y0, dtype), order="C")
        center = omega._predict(np.zeros(energy.output_shape(params), dtype=dtype))
        return np.ascontiguousarray(omega._predict(energy._grad_y(params, center)))

    def _finish(self, energy, omega, params, y, iterations: int, converged: bool) -> tuple[np.ndarray, MaximizerInfo]:
        stationarity, gap = measures(energy, omega, params, y)
        info = MaximizerInfo(int(iterations), objective(energy, omega, params, y), stationarity, gap, bool(converged))
        if not converged:
            warnings.warn(
                f"{type(self).__name__} stopped after {iterations} iterations with stationarity up to "
                f"{float(stationarity.max()):.3g} (tol {self._tol(y.dtype):.3g}); raise max_iter",
                ConvergenceWarning,
                stacklevel=4,
            )
        return y, info

    @abstractmethod
    def _maximize(self, energy: Energy, omega: Regularizer, params: Any, y0) -> tuple[np.ndarray, MaximizerInfo]:
        """Solve for validated inputs (``y0`` None or in C)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"
