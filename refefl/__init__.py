"""refefl: a reference implementation of Fenchel-Young losses for energy-based models.

The public names are re-exported here; the modules below hold the implementations (see README.md for a map from
the papers' objects to these names).
"""
from refefl._backend import HAVE_EXT, config_context, get_config
from refefl.losses import FenchelYoungLoss
from refefl.losses import GeneralizedFenchelYoungLoss
from refefl import energies, maximizers, nn  # subpackages: `from refefl import energies`
from refefl import estimators  # scikit-learn-style estimators (EnergyMultilabelClassifier, ...)
from refefl.projections import isotonic_regression, isotonic_regression_kl
from refefl.projections import entmax, projection_simplex, softmax, sparsemax
from refefl.projections import capped_simplex_entropic, projection_capped_simplex
from refefl.projections import projection_permutahedron, soft_rank, soft_sort
from refefl.projections._root_finding import ConvergenceWarning  # the warning category users filter on
from refefl.regularizers import Regularizer, regularizer

__version__ = "0.1.0"
__all__ = [
    "HAVE_EXT",
    "config_context",
    "get_config",
    "ConvergenceWarning",
    "FenchelYoungLoss",
    "GeneralizedFenchelYoungLoss",
    "Regularizer",
    "regularizer",
    "isotonic_regression",
    "isotonic_regression_kl",
    "softmax",
    "sparsemax",
    "entmax",
    "projection_simplex",
    "projection_capped_simplex",
    "capped_simplex_entropic",
    "projection_permutahedron",
    "soft_rank",
    "soft_sort",
]
