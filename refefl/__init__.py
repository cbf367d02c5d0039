"""refefl: a reference implementation of Fenchel-Young losses for energy-based models.

The public names are re-exported here; the modules below hold the implementations (see README.md for a map from
the papers' objects to these names).
"""
from refefl._backend import HAVE_EXT
from refefl.losses import FenchelYoungLoss
from refefl.projections import isotonic_regression, isotonic_regression_kl
from refefl.regularizers import Regularizer, regularizer

__version__ = "0.1.0"
__all__ = [
    "HAVE_EXT",
    "FenchelYoungLoss",
    "Regularizer",
    "regularizer",
    "isotonic_regression",
    "isotonic_regression_kl",
]
