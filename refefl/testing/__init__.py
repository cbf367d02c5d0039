"""Property-test any implementation of refefl's maps, losses and derivatives, and the helpers refefl's tests use.

- ``check_prediction_map``, ``check_projection``, ``check_fy_loss``, ``check_generalized_fy_loss``,
  ``check_min_min_loss``, ``check_isotonic``, ``check_soft_rank``, ``check_soft_sort``, ``check_jvp``,
  ``check_vjp``: run named properties on plain callables (NumPy, or torch/JAX through ``convert=``) and return
  a :class:`CheckReport`;
- :func:`parametrize_checks`: the same properties as one pytest test each;
- :mod:`refefl.testing.strategies`: the Hypothesis strategies behind them;
- ``central_difference``, ``directional_derivative``, ``assert_close``, ``default_tolerance``: finite differences
  and dtype-keyed tolerances.

Only the checks need Hypothesis (``pip install 'refefl[test]'``); it is imported when a check runs.
See docs/testing.md.
"""
from refefl.testing._check_derivatives import check_jvp, check_vjp, refefl_jvp
from refefl.testing._check_generalized import check_generalized_fy_loss
from refefl.testing._check_losses import check_fy_loss
from refefl.testing._check_maps import check_prediction_map, check_projection
from refefl.testing._check_partition import check_min_min_loss
from refefl.testing._check_sorting import check_isotonic, check_soft_rank, check_soft_sort
from refefl.testing._finite_differences import central_difference, directional_derivative
from refefl.testing._kinds import KINDS
from refefl.testing._pytest import parametrize_checks
from refefl.testing._report import CheckReport, PropertyResult
from refefl.testing._tolerances import assert_close, default_tolerance

__all__ = [
    "central_difference",
    "directional_derivative",
    "assert_close",
    "default_tolerance",
    "CheckReport",
    "PropertyResult",
    "KINDS",
    "check_prediction_map",
    "check_projection",
    "check_fy_loss",
    "check_generalized_fy_loss",
    "check_min_min_loss",
    "check_isotonic",
    "check_soft_rank",
    "check_soft_sort",
    "check_jvp",
    "check_vjp",
    "refefl_jvp",
    "parametrize_checks",
]


def __getattr__(name):
    if name == "strategies":  # imports Hypothesis, so only on demand
        import importlib

        return importlib.import_module("refefl.testing.strategies")
    raise AttributeError(f"module 'refefl.testing' has no attribute {name!r}")
