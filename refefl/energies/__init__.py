"""Energies Φ(y, params) (higher is better) with ∇_yΦ and ∇_paramsΦ: the Φ of generalized Fenchel-Young losses.

``Bilinear`` (⟨y, θ⟩: the classic FY loss), ``Quadratic`` (⟨y, θ⟩ + ½⟨y, Ay⟩) and ``LowRankConcave`` (A = −VVᵀ),
both of the type ``PairwiseEnergy``, with ``project_zero_diagonal_bounded`` (the set of A where the inner problem
stays strongly concave); ``MLPEnergy`` (an MLP of (x, y)), ``UnaryPlusMLPEnergy`` (⟨y, θ⟩ plus an MLP of (θ, y))
and ``InputConcaveEnergy`` (an input-concave network, concave in y); ``MaxConcaveEnergy`` (the soft upper envelope
of concave quadratics: multimodal). Parametrizations give an energy's parameters from a state: ``StateInput`` (the
state is the energy's input) and ``HeadNetwork`` (an MLP of the state predicts them).
"""
from refefl.energies._base import Energy
from refefl.energies._bilinear import Bilinear
from refefl.energies._max_concave import MaxConcaveEnergy
from refefl.energies._networks import InputConcaveEnergy, MLPEnergy, UnaryPlusMLPEnergy
from refefl.energies._parametrizations import HeadNetwork, StateInput
from refefl.energies._quadratic import LowRankConcave, PairwiseEnergy, Quadratic
from refefl.energies._zero_diagonal_projection import project_zero_diagonal_bounded

__all__ = [
    "Energy",
    "Bilinear",
    "PairwiseEnergy",
    "Quadratic",
    "LowRankConcave",
    "project_zero_diagonal_bounded",
    "MLPEnergy",
    "UnaryPlusMLPEnergy",
    "InputConcaveEnergy",
    "MaxConcaveEnergy",
    "StateInput",
    "HeadNetwork",
]
