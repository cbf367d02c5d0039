r"""Maximizers of F(y) = Φ(y, params) − Ω(y) over the domain C of Ω: the inner problem of generalized
Fenchel-Young losses, :math:`\hat y^\Phi_\Omega = \operatorname{argmax}_{y \in C} F(y)`.

Each maximizer has ``maximize(energy, regularizer, params, *, y0=None) -> (y_hat, info)`` with
``info`` a :class:`MaximizerInfo` (iterations, objective, stationarity, duality gap, converged flag).
:class:`ComponentwiseMaximizer` maximizes the upper envelope of concave pieces
(:class:`~refefl.energies.MaxConcaveEnergy`) piece by piece.
"""
from refefl.maximizers._base import Maximizer, MaximizerInfo
from refefl.maximizers._closed_form import ClosedForm
from refefl.maximizers._componentwise import ComponentwiseMaximizer
from refefl.maximizers._coordinate import CoordinateAscent
from refefl.maximizers._default import default_maximizer
from refefl.maximizers._first_order import FrankWolfe, MirrorAscent, ProjectedGradientAscent

__all__ = [
    "Maximizer",
    "MaximizerInfo",
    "ClosedForm",
    "CoordinateAscent",
    "ProjectedGradientAscent",
    "MirrorAscent",
    "FrankWolfe",
    "ComponentwiseMaximizer",
    "default_maximizer",
]
