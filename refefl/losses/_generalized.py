"""The generalized Fenchel-Young loss L^Φ_Ω(params; y) = max_{y'∈C} F(y') − F(y), F = Φ(·, params) − Ω."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refefl.energies._base import Energy
from refefl.maximizers._base import Maximizer, MaximizerInfo, objective
from refefl.maximizers._default import default_maximizer
from refefl.nn._tree import tree_map
from refefl.regularizers._base import Regularizer


@dataclass(frozen=True)
class GeneralizedFenchelYoungSolution:
    r"""What one inner maximization gives the generalized Fenchel-Young loss (see
    :meth:`GeneralizedFenchelYoungLoss.solve`).

    Attributes
    ----------
    value : ndarray of shape (n_samples,)
        Per-row losses :math:`F(\hat y) - F(y)`.
    grad : pytree
        :math:`\nabla_p \sum_i L_i = \nabla_p\Phi(\hat y, p) - \nabla_p\Phi(y, p)`, of the structure of params.
    y_hat : ndarray of shape (n_samples, n_labels)
        The ŷ of that gradient: the maximizer's answer, or the target y in the rows where y scores at least as
        high (the safeguard of :class:`GeneralizedFenchelYoungLoss`).
    info : MaximizerInfo
        The maximizer's report on its own answer (before the safeguard).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, Def. 2 (loss) and §3.3 (gradient).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl import GeneralizedFenchelYoungLoss, regularizer
    >>> from refefl.energies import Quadratic
    >>> loss = GeneralizedFenchelYoungLoss(Quadratic(), regularizer("box_squared"))
    >>> theta, A = np.array([[0.5, 2.0]]), np.zeros((2, 2))
    >>> solution = loss.solve((theta, A), np.array([[0.5, 1.0]]))
    >>> print(solution.value, solution.y_hat, solution.info.converged)
    [0.] [[0.5 1. ]] True
    """

    value: np.ndarray
    grad: Any
    y_hat: np.ndarray
    info: MaximizerInfo


class GeneralizedFenchelYoungLoss:
    r"""Generalized Fenchel-Young loss of an energy Φ and a regularizer Ω, one value per row.

    .. math::

        L^\Phi_\Omega(p; y) = \Omega^\Phi(p) + \Omega(y) - \Phi(y, p)
        = \max_{y' \in C} F_p(y') - F_p(y) \;\ge 0, \qquad F_p = \Phi(\cdot, p) - \Omega,

        \nabla_p L^\Phi_\Omega(p; y) = \nabla_p\Phi(\hat y, p) - \nabla_p\Phi(y, p) \quad
        (\text{Danskin; } \hat y = \operatorname*{argmax}_{y' \in C} F_p(y') \text{ held fixed}).

    The loss is the suboptimality of the target y in the regularized energy problem, computed as
    :math:`F(\hat y) - F(y)` with ŷ from ``maximizer``; the solver is never differentiated. With an approximate
    maximizer the value is :math:`\tilde L = F(\tilde y) - F(y) \le L` and the gradient above is exact for
    :math:`\tilde L`. Safeguard: in rows where the target itself scores at least as high as the solver's answer
    (F(y) ≥ F(ŷ), e.g. y is the maximizer, or the solver stopped early), y is used as ŷ, so the value is ≥ 0
    exactly and the gradient of that row is 0. Gradients follow the convention of :class:`~refefl.energies.Energy`:
    ∇_p of :math:`\sum_i L_i`, i.e. per row for per-row parameters, summed over rows for shared ones.
    With :class:`~refefl.energies.Bilinear` it is the classic :class:`~refefl.FenchelYoungLoss`.
    :meth:`solve` hands back, beside the value and the gradient, the ŷ they used and the maximizer's report.

    Parameters
    ----------
    energy : Energy
        Φ, e.g. ``refefl.energies.Quadratic()``.
    regularizer : Regularizer
        Ω, e.g. ``refefl.regularizer("binary_entropy")``; targets must lie in its domain C.
    maximizer : Maximizer or None
        Solver of the inner problem; None picks :func:`refefl.maximizers.default_maximizer`.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, Def. 2 (loss), Prop. 2 (properties) and §3.3 (gradient).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl import GeneralizedFenchelYoungLoss, regularizer
    >>> from refefl.energies import Quadratic
    >>> loss = GeneralizedFenchelYoungLoss(Quadratic(), regularizer("binary_entropy"))
    >>> theta = np.array([[2.0, -1.0, 0.5]])
    >>> A = np.array([[0.0, 0.5, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> y = np.array([[1.0, 0.0, 1.0]])
    >>> value, (g_theta, g_A) = loss.value_and_grad((theta, A), y)
    >>> print(np.round(value, 4), g_theta.shape, g_A.shape)
    [1.0547] (1, 3) (3, 3)
    >>> y_hat, info = loss.predict((theta, A))
    >>> print(np.round(y_hat, 3), info.converged)
    [[0.899 0.366 0.622]] True
    """

    def __init__(self, energy: Energy, regularizer: Regularizer, maximizer: Maximizer | None = None):
        if not isinstance(energy, Energy):
            raise TypeError(f"energy must be a refefl Energy, got {type(energy).__name__}")
        if not isinstance(regularizer, Regularizer):
            raise TypeError(f"regularizer must be a refefl Regularizer, got {type(regularizer).__name__}")
        if maximizer is None:
            maximizer = default_maximizer(energy, regularizer)
        elif not isinstance(maximizer, Maximizer):
            raise TypeError(f"maximizer must be a refefl Maximizer, got {type(maximizer).__name__}")
        maximizer.check_supported(energy, regularizer)
        self.energy, self.regularizer, self.maximizer = energy, regularizer, maximizer

    def value(self, params: Any, y, *, y0=None) -> np.ndarray:
        """Per-row losses, ndarray of shape (n_samples,); ``y0`` (in C) warm-starts the maximizer."""
        params, y, y0 = self._checked(params, y, y0)
        return self._losses(params, y, y0)[0]

    def grad(self, params: Any, y, *, y0=None) -> Any:
        """∇_params Σ_i L_i = ∇_paramsΦ(ŷ) − ∇_paramsΦ(y), of the structure of ``params``."""
        return self.solve(params, y, y0=y0).grad

    def value_and_grad(self, params: Any, y, *, y0=None) -> tuple[np.ndarray, Any]:
        """Both, from one inner maximization."""
        solution = self.solve(params, y, y0=y0)
        return solution.value, solution.grad

    def solve(self, params: Any, y, *, y0=None) -> GeneralizedFenchelYoungSolution:
        r"""The losses, their gradient, ŷ and the maximizer's report, from one inner maximization.

        .. math::

            L_i = F_p(\hat y_i) - F_p(y_i), \qquad
            \nabla_p \textstyle\sum_i L_i = \nabla_p\Phi(\hat y, p) - \nabla_p\Phi(y, p).

        Parameters
        ----------
        params : pytree
            The energy's parameters p.
        y : array_like of shape (n_samples, n_labels)
            Targets in C.
        y0 : array_like of shape (n_samples, n_labels) or None
            Warm start of the maximizer (in C).

        Returns
        -------
        GeneralizedFenchelYoungSolution
            ``value`` and ``grad`` are those of :meth:`value_and_grad`; ``y_hat`` the ŷ of the gradient and
            ``info`` the :class:`~refefl.maximizers.MaximizerInfo` of the solve (a caller that solves again, e.g.
            on the same rows at the next epoch, can warm-start from ``y_hat``).

        References
        ----------
        Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
        Fenchel-Young Losses", NeurIPS, Def. 2 and §3.3.
        """
        params, y, y0 = self._checked(params, y, y0)
        loss, y_hat, info = self._losses(params, y, y0)
        energy = self.energy
        grad = tree_map(np.subtract, energy._grad_params(params, y_hat), energy._grad_params(params, y))
        return GeneralizedFenchelYoungSolution(loss, grad, y_hat, info)

    def predict(self, params: Any, *, y0=None) -> tuple[np.ndarray, MaximizerInfo]:
        r"""The regularized energy maximizer :math:`\hat y^\Phi_\Omega`, ndarray of shape (n_samples, n_labels),
        and the solver's report."""
        params = self.energy.check_params(params)
        return self.maximizer._maximize(self.energy, self.regularizer, params, self._check_y0(params, y0))

    def _check_y0(self, params, y0):
        return None if y0 is None else self.regularizer.check_target(self.energy.check_y(params, y0))

    def _checked(self, params, y, y0) -> tuple[Any, np.ndarray, np.ndarray | None]:
        """Validated (params, y, y0): the one validation of a public call."""
        params = self.energy.check_params(params)
        return params, self.regularizer.check_target(self.energy.check_y(params, y)), self._check_y0(params, y0)

    def _losses(self, params, y, y0) -> tuple[np.ndarray, np.ndarray, MaximizerInfo]:
        """(loss, ŷ after the safeguard, the maximizer's report) for validated inputs."""
        energy, omega = self.energy, self.regularizer
        y_hat, info = self.maximizer._maximize(energy, omega, params, y0)
        value_target = objective(energy, omega, params, y)
        target_wins = value_target >= info.objective
        y_hat = np.where(target_wins[:, None], y, y_hat)
        loss = np.where(target_wins, 0, info.objective - value_target)
        return loss.astype(y_hat.dtype, copy=False), y_hat, info

    def __repr__(self) -> str:
        return f"GeneralizedFenchelYoungLoss({self.energy!r}, {self.regularizer!r}, maximizer={self.maximizer!r})"
