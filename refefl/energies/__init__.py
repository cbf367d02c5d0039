"""Energies Φ(y, params) (higher is better) with ∇_yΦ and ∇_paramsΦ: the Φ of generalized Fenchel-Young losses.

``Bilinear`` (⟨y, θ⟩: the classic FY loss), ``Quadratic`` (⟨y, θ⟩ + ½⟨y, Ay⟩) and ``LowRankConcave`` (A = −VVᵀ),
both of the type ``PairwiseEnergy``, ``MLPEnergy`` (an MLP of (x, y)) and ``InputConcaveEnergy`` (an input-concave
network, concave in y).
"""
from refefl.energies._base import Energy
from refefl.energies._bilinear import Bilinear
from refefl.energies._networks import InputConcaveEnergy, MLPEnergy
from refefl.energies._quadratic import LowRankConcave, PairwiseEnergy, Quadratic

__all__ = ["Energy", "Bilinear", "PairwiseEnergy", "Quadratic", "LowRankConcave", "MLPEnergy", "InputConcaveEnergy"]
