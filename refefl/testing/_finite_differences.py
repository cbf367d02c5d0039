"""Central finite differences, the yardstick for every hand-written gradient and JVP in refefl."""
from __future__ import annotations

from typing import Callable

import numpy as np


def directional_derivative(f: Callable, x: np.ndarray, v: np.ndarray, *, eps: float = 1e-6) -> np.ndarray:
    r"""Central difference :math:`(f(x + \epsilon v) - f(x - \epsilon v)) / (2\epsilon)` in float64.

    Its error is :math:`O(\epsilon^2 \|f'''\|) + O(\mathrm{eps}_{64} |f| / \epsilon)`; with ε = 1e-6 it agrees with
    an exact derivative of a smooth f to about 1e-8 relative.
    """
    x = np.asarray(x, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return (np.asarray(f(x + eps * v), dtype=np.float64) - np.asarray(f(x - eps * v), dtype=np.float64)) / (2 * eps)


def central_difference(f: Callable, x: np.ndarray, *, eps: float = 1e-6) -> np.ndarray:
    """Gradient of a scalar function ``f`` at ``x`` by central differences, coordinate by coordinate (float64)."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = 1.0
        grad[index] = directional_derivative(f, x, e, eps=eps)
    return grad
