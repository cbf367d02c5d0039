r"""Maximizers of F(y) = Φ(y, params) − Ω(y) over the domain C of Ω: the inner problem of generalized
Fenchel-Young losses, :math:`\hat y^\Phi_\Omega = \operatorname{argmax}_{y \in C} F(y)`.

Each maximizer has ``maximize(energy, regularizer, params, *, y0=None) -> (y_hat, info)`` with
``info`` a :class:`MaximizerInfo` (iterations, objective, stationarity, duality gap, converged flag).
"""
from refefl.maximizers._base import Maximizer, MaximizerInfo
from refefl.maximizers._closed_form import ClosedForm
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
    "default_maximizer",
]
