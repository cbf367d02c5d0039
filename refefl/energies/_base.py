"""The energy Φ(y, params): a score of an output y given parameters (higher is better), with its gradients.

A subclass supplies Φ (``_value``), ∇_yΦ (``_grad_y``), ∇_paramsΦ (``_grad_params``), the validation of its
parameters (``_check_params``) and the output shape they imply (``output_shape``). The public methods validate and
then call the private ones; maximizers and losses validate once and call the private ones in their loops.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from refefl._validation import as_float_array, check_finite
from refefl.nn._tree import tree_leaves


def check_matrix(x, name: str, shape_hint: str) -> np.ndarray:
    """``x`` as a finite float32/float64 2-D array; ``ValueError`` naming ``shape_hint`` otherwise."""
    x = as_float_array(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape {shape_hint}, got {x.shape}")
    check_finite(x, name)
    return x


class Energy(ABC):
    r"""An energy :math:`\Phi(y, \mathrm{params})` over outputs :math:`y \in \mathbb R^k`, one value per row.

    ``y`` has shape ``(n_samples, n_labels)``; ``params`` is a pytree (array, tuple, list, dict) whose layout each
    subclass documents. Gradient convention: :meth:`grad_params` is the gradient of :math:`\sum_i \Phi(y_i,
    \mathrm{params})`. For parameters with one slice per row (scores θ of shape (n, k), per-example matrices) this
    is the per-row gradient; for parameters shared by all rows (a shared matrix, network weights) it is the sum of
    the per-row gradients. Parameters and targets must be finite (``ValueError`` otherwise).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §3.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Bilinear
    >>> theta, y = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])
    >>> print(np.round(Bilinear().value(theta, y), 4))
    [1.5]
    """

    #: Φ(y, ·) is affine in params for every y (the generalized FY loss is then convex in params, docs/fenchel_young.md §2.4)
    affine_in_params: bool = False
    #: Φ(·, params) is concave in y for every params (the inner maximization is then a concave problem)
    concave_in_y: bool = False

    # -- public API ---------------------------------------------------------------------------------------------
    def value(self, params: Any, y) -> np.ndarray:
        """Φ(y_i, params) per row, ndarray of shape (n_samples,)."""
        params = self.check_params(params)
        return self._value(params, self.check_y(params, y))

    def grad_y(self, params: Any, y) -> np.ndarray:
        """∇_yΦ(y_i, params) per row, ndarray of shape (n_samples, n_labels)."""
        params = self.check_params(params)
        return self._grad_y(params, self.check_y(params, y))

    def grad_params(self, params: Any, y) -> Any:
        r"""∇_params :math:`\sum_i \Phi(y_i, \mathrm{params})`, of the structure of ``params``."""
        params = self.check_params(params)
        return self._grad_params(params, self.check_y(params, y))

    def check_params(self, params: Any) -> Any:
        """Validated parameters: float32/float64 arrays of the documented shapes, finite."""
        return self._check_params(params)

    def check_y(self, params: Any, y) -> np.ndarray:
        """``y`` as a finite 2-D float array of shape ``output_shape(params)``, in the dtype shared with params."""
        y = check_matrix(y, "y", "(n_samples, n_labels)")
        if y.shape != self.output_shape(params):
            raise ValueError(f"y must have shape {self.output_shape(params)} to match params, got {y.shape}")
        return y.astype(np.result_type(y, self.output_dtype(params)), copy=False)

    def output_dtype(self, params: Any) -> np.dtype:
        """float32 if every array in the validated ``params`` is float32, else float64."""
        return np.result_type(*tree_leaves(params), np.float32)

    # -- what a subclass implements -----------------------------------------------------------------------------
    @abstractmethod
    def output_shape(self, params: Any) -> tuple[int, int]:
        """``(n_samples, n_labels)`` of the outputs y that validated ``params`` score."""

    @abstractmethod
    def _check_params(self, params: Any) -> Any:
        """Validate and convert ``params``."""

    @abstractmethod
    def _value(self, params: Any, y: np.ndarray) -> np.ndarray:
        """Φ per row for validated inputs."""

    @abstractmethod
    def _grad_y(self, params: Any, y: np.ndarray) -> np.ndarray:
        """∇_yΦ per row for validated inputs."""

    @abstractmethod
    def _grad_params(self, params: Any, y: np.ndarray) -> Any:
        """∇_params Σ_i Φ(y_i) for validated inputs."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"
