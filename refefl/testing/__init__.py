"""Helpers for checking an implementation against refefl: dtype-keyed tolerances and finite differences.

Implementers (PyTorch, JAX, C++) can call these on their own functions; refefl's tests use them too.
"""
from refefl.testing._finite_differences import central_difference, directional_derivative
from refefl.testing._tolerances import assert_close, default_tolerance

__all__ = ["central_difference", "directional_derivative", "assert_close", "default_tolerance"]
