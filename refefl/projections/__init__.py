"""Projections and the problems that reduce to them: simplex, capped simplex, isotonic regression,
permutahedron (soft sort and rank), and the root finding they share."""
from refefl.projections._capped_simplex import capped_simplex_entropic, projection_capped_simplex
from refefl.projections._entmax import entmax
from refefl.projections._isotonic import IsotonicResult, isotonic_regression, isotonic_regression_kl
from refefl.projections._permutahedron import projection_permutahedron, soft_rank, soft_sort
from refefl.projections._permutahedron import projection_permutahedron_jvp, soft_rank_jvp, soft_sort_jvp
from refefl.projections._permutahedron import projection_permutahedron_vjp, soft_rank_vjp, soft_sort_vjp
from refefl.projections._simplex import projection_simplex, softmax, sparsemax

__all__ = [
    "IsotonicResult",
    "isotonic_regression",
    "isotonic_regression_kl",
    "softmax",
    "sparsemax",
    "entmax",
    "projection_simplex",
    "projection_capped_simplex",
    "capped_simplex_entropic",
    "projection_permutahedron",
    "projection_permutahedron_jvp",
    "projection_permutahedron_vjp",
    "soft_rank",
    "soft_rank_jvp",
    "soft_rank_vjp",
    "soft_sort",
    "soft_sort_jvp",
    "soft_sort_vjp",
]
