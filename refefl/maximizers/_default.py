"""The maximizer a generalized FY loss uses when none is given."""
from __future__ import annotations

from refefl.energies._base import Energy
from refefl.energies._bilinear import Bilinear
from refefl.maximizers._base import Maximizer
from refefl.maximizers._closed_form import ClosedForm
from refefl.maximizers._coordinate import DIAGONAL_BOUND, CoordinateAscent
from refefl.maximizers._first_order import FrankWolfe, MirrorAscent, ProjectedGradientAscent
from refefl.maximizers._geometry import ENTROPIC, SMOOTH
from refefl.regularizers._base import Regularizer


def default_maximizer(energy: Energy, regularizer: Regularizer) -> Maximizer:
    """The most specific solver that handles ``energy`` and ``regularizer``.

    :class:`ClosedForm` for :class:`~refefl.energies.Bilinear`; :class:`CoordinateAscent` for pairwise energies
    with ``"binary_entropy"`` or ``"box_squared"``; otherwise :class:`MirrorAscent` for entropic Ω,
    :class:`ProjectedGradientAscent` for Ω differentiable on C, and :class:`FrankWolfe` for any other Ω.
    """
    if isinstance(energy, Bilinear):
        return ClosedForm()
    if hasattr(energy, "pairwise") and regularizer.name in DIAGONAL_BOUND:
        return CoordinateAscent()
    if regularizer.name in ENTROPIC:
        return MirrorAscent()
    if regularizer.name in SMOOTH:
        return ProjectedGradientAscent()
    return FrankWolfe()
