r"""Exact maximization of the upper envelope of concave pieces, piece by piece (docs/fenchel_young.md §2.10)."""
from __future__ import annotations

import numpy as np

from refefl._validation import check_positive_int
from refefl.energies._base import Energy
from refefl.energies._max_concave import MaxConcaveEnergy
from refefl.maximizers._base import Maximizer, MaximizerInfo
from refefl.maximizers._coordinate import CoordinateAscent
from refefl.maximizers._default import default_maximizer


class ComponentwiseMaximizer(Maximizer):
    r"""Maximizer for :class:`~refefl.energies.MaxConcaveEnergy` on the box, exact at temperature 0:
    :math:`\max_y \max_k \Phi_k(y) - \Omega(y) = \max_k \big[\max_y \Phi_k(y) - \Omega(y)\big]`.

    Each piece's problem is strongly concave with a unique solution, found by exact coordinate ascent
    (:class:`~refefl.maximizers.CoordinateAscent`, all K n of them in one batch, warm-started from ``y0``); the
    best piece wins. At τ > 0 that point starts a first-order ascent on the soft maximum
    (:func:`~refefl.maximizers.default_maximizer`'s: mirror ascent for the binary negentropy, projected gradient
    for ½‖·‖²) with a budget of ``polish_iter`` iterations: a stationary point within τ log K of the global
    maximum (docs/fenchel_young.md §2.10). Supports the regularizers :class:`~refefl.maximizers.CoordinateAscent`
    supports (``"binary_entropy"``, ``"box_squared"``).

    Parameters
    ----------
    max_iter : int, default 100
        Sweeps of coordinate ascent per piece.
    tol : float or None
        Stopping tolerance of both stages (default sqrt(eps)).
    polish_iter : int, default 20

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (coordinate ascent for quadratic energies).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl import GeneralizedFenchelYoungLoss, regularizer
    >>> from refefl.energies import MaxConcaveEnergy
    >>> from refefl.maximizers import ComponentwiseMaximizer
    >>> energy = MaxConcaveEnergy(2, 1, rank=1)  # pieces 2y − y²/2 and −2y − y²/2 + 2 on [0, 1]
    >>> params = (np.array([[[2.0], [-2.0]]]), np.ones((1, 2, 1, 1)), np.array([[0.0, 2.0]]))
    >>> loss = GeneralizedFenchelYoungLoss(energy, regularizer("box_squared"), ComponentwiseMaximizer())
    >>> y_hat, info = loss.predict(params)  # with Ω = y²/2: F = 1 at y = 1 (piece 1), F = 2 at y = 0 (piece 2)
    >>> y_hat, info.objective
    (array([[0.]]), array([2.]))
    """

    def __init__(self, *, max_iter: int = 100, tol: float | None = None, polish_iter: int = 20):
        super().__init__(max_iter=max_iter, tol=tol)
        self.polish_iter = check_positive_int(polish_iter, "polish_iter")
        self._inner = CoordinateAscent(max_iter=max_iter, tol=tol)

    def check_supported(self, energy: Energy, regularizer) -> None:
        if not isinstance(energy, MaxConcaveEnergy):
            raise ValueError(f"ComponentwiseMaximizer needs a MaxConcaveEnergy, got {energy!r}")
        self._inner.check_supported(energy._piece, regularizer)

    def _maximize(self, energy, omega, params, y0) -> tuple[np.ndarray, MaximizerInfo]:
        piece, b = energy.pieces(params)
        start = None if y0 is None else np.repeat(y0, energy.n_components, axis=0)
        y, info = self._inner._maximize(energy._piece, omega, piece, start)  # validated: the pieces of params
        best = (info.objective.reshape(b.shape) + b).argmax(axis=1)
        y = np.ascontiguousarray(y.reshape(b.shape + (-1,))[np.arange(len(best)), best])
        if energy.temperature == 0:
            return self._finish(energy, omega, params, y, info.iterations, info.converged)
        polish = default_maximizer(energy, omega, max_iter=self.polish_iter, tol=self.tol)
        return polish._maximize(energy, omega, params, y)
