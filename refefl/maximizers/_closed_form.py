"""The exact maximizer for bilinear energies: the regularized prediction ŷ_Ω(θ)."""
from __future__ import annotations

import numpy as np

from refefl.energies._base import Energy
from refefl.energies._bilinear import Bilinear
from refefl.maximizers._base import Maximizer, MaximizerInfo
from refefl.regularizers._base import Regularizer


class ClosedForm(Maximizer):
    r"""Exact maximizer for the bilinear energy: :math:`\max_{y\in C}\langle y,\theta\rangle - \Omega(y)` is
    attained at :math:`\hat y_\Omega(\theta) = \nabla\Omega^*(\theta)`, the regularizer's prediction.

    Supports :class:`~refefl.energies.Bilinear` only (``ValueError`` otherwise). ``y0`` is accepted and ignored;
    the report has 0 iterations and is always converged.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, Prop. 1 (ŷ_Ω = ∇Ω*);
    Blondel et al. (2022), "Learning Energy Networks with Generalized Fenchel-Young Losses", NeurIPS, §3.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Bilinear
    >>> from refefl.maximizers import ClosedForm
    >>> from refefl.regularizers import BoxSquared
    >>> y_hat, info = ClosedForm().maximize(Bilinear(), BoxSquared(), np.array([[1.0, -2.0, 0.5]]))
    >>> print(np.round(y_hat, 4))
    [[1.  0.  0.5]]
    """

    def __init__(self):
        super().__init__(max_iter=1)

    def check_supported(self, energy: Energy, regularizer: Regularizer) -> None:
        if not isinstance(energy, Bilinear):
            raise ValueError(f"ClosedForm needs a Bilinear energy, got {energy!r}")

    def _maximize(self, energy, omega, params, y0) -> tuple[np.ndarray, MaximizerInfo]:
        return self._finish(energy, omega, params, omega._predict(params), 0, True)
