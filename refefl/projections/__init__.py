"""Projections and the problems that reduce to them: simplex, capped simplex, isotonic regression,
permutahedron (soft sort and rank), and the root finding they share."""
from refefl.projections._isotonic import isotonic_regression, isotonic_regression_kl

__all__ = ["isotonic_regression", "isotonic_regression_kl"]
