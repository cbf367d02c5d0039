"""The maximizer a generalized FY loss uses when none is given, chosen from the types of Φ and the geometry of Ω."""
from __future__ import annotations

from refefl.energies._base import Energy
from refefl.energies._bilinear import Bilinear
from refefl.energies._quadratic import PairwiseEnergy
from refefl.maximizers._base import Maximizer
from refefl.maximizers._closed_form import ClosedForm
from refefl.maximizers._coordinate import CoordinateAscent
from refefl.maximizers._first_order import FrankWolfe, MirrorAscent, ProjectedGradientAscent
from refefl.regularizers._base import Regularizer, defines


def default_maximizer(energy: Energy, regularizer: Regularizer, *, max_iter: int | None = None,
                      tol: float | None = None) -> Maximizer:
    """The most specific solver that handles ``energy`` and ``regularizer``, read from their types and from the
    geometry Ω declares (see :class:`~refefl.Regularizer`, "Subclassing"), never from its name.

    :class:`ClosedForm` for :class:`~refefl.energies.Bilinear`; :class:`CoordinateAscent` for a
    :class:`~refefl.energies.PairwiseEnergy` with an Ω that has ``_coordinate_update`` and ``strong_convexity``
    (binary negentropy, ½‖·‖² on the box); otherwise :class:`MirrorAscent` for a ``legendre`` Ω with
    ``_gradient``, :class:`ProjectedGradientAscent` for any other Ω with ``_gradient`` and ``_project``, and
    :class:`FrankWolfe` (which needs only ŷ_Ω and Ω) for the rest.

    Parameters
    ----------
    energy : Energy
    regularizer : Regularizer
    max_iter, tol : optional
        Passed to the iterative solver chosen (its own defaults when None); :class:`ClosedForm` takes none.

    Returns
    -------
    Maximizer

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §3–4 (regularized energy maximization and its solvers).

    Examples
    --------
    >>> from refefl.energies import Bilinear, Quadratic
    >>> from refefl.maximizers import default_maximizer
    >>> from refefl.regularizers import BinaryEntropy
    >>> print(type(default_maximizer(Bilinear(), BinaryEntropy())).__name__)
    ClosedForm
    >>> print(type(default_maximizer(Quadratic(), BinaryEntropy())).__name__)
    CoordinateAscent
    """
    if isinstance(energy, Bilinear):
        return ClosedForm()
    options = {key: value for key, value in (("max_iter", max_iter), ("tol", tol)) if value is not None}
    if isinstance(energy, PairwiseEnergy) and CoordinateAscent.supports(regularizer):
        return CoordinateAscent(**options)
    if regularizer.legendre and defines(regularizer, "_gradient"):
        return MirrorAscent(**options)
    if not regularizer.legendre and defines(regularizer, "_gradient", "_project"):
        return ProjectedGradientAscent(**options)
    return FrankWolfe(**options)
