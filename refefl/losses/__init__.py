"""Losses built from a regularizer Ω (classic Fenchel-Young) or from an energy Φ and Ω (generalized)."""
from refefl.losses._fenchel_young import FenchelYoungLoss
from refefl.losses._generalized import GeneralizedFenchelYoungLoss, GeneralizedFenchelYoungSolution

__all__ = ["FenchelYoungLoss", "GeneralizedFenchelYoungLoss", "GeneralizedFenchelYoungSolution"]
