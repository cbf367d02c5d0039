"""Layers with hand-written backward passes and no hidden state.

Every layer has ``init(rng, dtype) -> params`` (a dict of arrays, empty for activations),
``forward(params, x) -> (out, cache)`` and ``backward(cache, grad_out) -> (grad_x, grad_params)``: the cache is all
that the backward step needs, and each backward formula sits right under the forward formula it differentiates.
Arrays are ``(n_samples, width)``; float32 stays float32.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy.special import expit, log_expit

from refefl._validation import check_positive_int


class Layer(ABC):
    """A differentiable map ``x -> out`` with parameters passed explicitly (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import ReLU
    >>> out, cache = ReLU().forward((), np.array([[-1.0, 2.0]]))
    >>> print(out)
    [[0. 2.]]
    """

    def init(self, rng: np.random.Generator, dtype=np.float64) -> dict:
        """Parameters of the layer (none by default)."""
        return {}

    @abstractmethod
    def forward(self, params: dict, x: np.ndarray) -> tuple[np.ndarray, object]:
        """Return the output and the cache that :meth:`backward` needs."""

    @abstractmethod
    def backward(self, cache: object, grad_out: np.ndarray) -> tuple[np.ndarray, dict]:
        """Return the gradients with respect to the input and to the parameters (same keys as ``params``)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Linear(Layer):
    r"""Affine layer :math:`\mathrm{out} = x W + b`, with W of shape (n_in, n_out) and b of shape (n_out,).

    Backward: :math:`\nabla_x = g W^\top`, :math:`\nabla_W = x^\top g`, :math:`\nabla_b = \sum_i g_i`.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    scale : float, default 1.0
        Initialization: :math:`W_{ij} \sim \mathcal N(0, \mathrm{scale}^2 / n_{in})`, b = 0 (LeCun; use
        :math:`\sqrt 2` before a ReLU, He et al. 2015).

    References
    ----------
    LeCun, Bottou, Orr, Müller (1998), "Efficient BackProp", §4.6; He, Zhang, Ren, Sun (2015), "Delving Deep into
    Rectifiers", ICCV, eq. (10).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import Linear
    >>> layer = Linear(3, 2)
    >>> params = layer.init(np.random.default_rng(0))
    >>> out, _ = layer.forward(params, np.ones((5, 3)))
    >>> out.shape
    (5, 2)
    """

    def __init__(self, n_in: int, n_out: int, *, scale: float = 1.0):
        self.n_in = check_positive_int(n_in, "n_in")
        self.n_out = check_positive_int(n_out, "n_out")
        self.scale = float(scale)

    def init(self, rng: np.random.Generator, dtype=np.float64) -> dict:
        """``{"W": ndarray of shape (n_in, n_out), "b": ndarray of shape (n_out,)}`` drawn from ``rng``."""
        weights = rng.normal(0.0, self.scale / np.sqrt(self.n_in), size=(self.n_in, self.n_out))
        return {"W": weights.astype(dtype), "b": np.zeros(self.n_out, dtype=dtype)}

    def forward(self, params: dict, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """``x`` of shape (n_samples, n_in) to ``x W + b`` of shape (n_samples, n_out)."""
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"x must have shape (n_samples, {self.n_in}), got {x.shape}")
        return x @ params["W"] + params["b"], (x, params["W"])

    def backward(self, cache: tuple, grad_out: np.ndarray) -> tuple[np.ndarray, dict]:
        x, weights = cache
        return grad_out @ weights.T, self.param_grads(cache, grad_out)

    def param_grads(self, cache: tuple, grad_out: np.ndarray) -> dict:
        """The parameters' part of :meth:`backward` alone: ``{"W": xᵀ grad_out, "b": Σ_rows grad_out}``."""
        x, _ = cache
        return {"W": x.T @ grad_out, "b": grad_out.sum(axis=0)}


class ReLU(Layer):
    r""":math:`\max(x, 0)`; backward :math:`g \odot 1[x > 0]` (the subgradient 0 is used at x = 0).

    References
    ----------
    Nair, Hinton (2010), "Rectified Linear Units Improve Restricted Boltzmann Machines", ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import ReLU
    >>> out, _ = ReLU().forward((), np.array([[-1.0, 0.0, 2.0]]))
    >>> print(np.round(out, 4))
    [[0. 0. 2.]]
    """

    def forward(self, params: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.maximum(x, 0), x

    def backward(self, cache: np.ndarray, grad_out: np.ndarray) -> tuple[np.ndarray, dict]:
        return grad_out * (cache > 0), {}


class Softplus(Layer):
    r""":math:`\log(1 + e^x)` (computed without overflow); backward :math:`g \odot \sigma(x)`.

    References
    ----------
    Dugas, Bengio, Bélisle, Nadeau, Garcia (2001), "Incorporating Second-Order Functional Knowledge for Better
    Option Pricing", NeurIPS.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import Softplus
    >>> out, _ = Softplus().forward((), np.array([[-1.0, 0.0, 2.0]]))
    >>> print(np.round(out, 4))
    [[0.3133 0.6931 2.1269]]
    """

    def forward(self, params: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.logaddexp(0, x), x

    def backward(self, cache: np.ndarray, grad_out: np.ndarray) -> tuple[np.ndarray, dict]:
        return grad_out * expit(cache), {}


class Tanh(Layer):
    r""":math:`\tanh x`; backward :math:`g \odot (1 - \tanh^2 x)`.

    References
    ----------
    LeCun, Bottou, Orr, Müller (1998), "Efficient BackProp", §4.4.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import Tanh
    >>> out, _ = Tanh().forward((), np.array([[-1.0, 0.0, 2.0]]))
    >>> print(np.round(out, 4))
    [[-0.7616  0.      0.964 ]]
    """

    def forward(self, params: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.tanh(x)
        return out, out

    def backward(self, cache: np.ndarray, grad_out: np.ndarray) -> tuple[np.ndarray, dict]:
        return grad_out * (1 - cache * cache), {}


class Sigmoid(Layer):
    r""":math:`\sigma(x) = 1 / (1 + e^{-x})`; backward :math:`g \odot \sigma(x)(1 - \sigma(x))`.

    References
    ----------
    LeCun, Bottou, Orr, Müller (1998), "Efficient BackProp", §4.4.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import Sigmoid
    >>> out, _ = Sigmoid().forward((), np.array([[-1.0, 0.0, 2.0]]))
    >>> print(np.round(out, 4))
    [[0.2689 0.5    0.8808]]
    """

    def forward(self, params: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = expit(x)
        return out, out

    def backward(self, cache: np.ndarray, grad_out: np.ndarray) -> tuple[np.ndarray, dict]:
        return grad_out * cache * (1 - cache), {}


class LogSigmoid(Layer):
    r""":math:`\log\sigma(x) = -\log(1 + e^{-x})`, concave and increasing; backward :math:`g \odot \sigma(-x)`.

    Its concavity and monotonicity are what input-concave networks need (see
    :class:`refefl.energies.InputConcaveEnergy`).

    References
    ----------
    Amos, Xu, Kolter (2017), "Input Convex Neural Networks", ICML, §3.1 (convex non-decreasing activations).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import LogSigmoid
    >>> out, _ = LogSigmoid().forward((), np.array([[-1.0, 0.0, 2.0]]))
    >>> print(np.round(out, 4))
    [[-1.3133 -0.6931 -0.1269]]
    """

    def forward(self, params: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return log_expit(x), x

    def backward(self, cache: np.ndarray, grad_out: np.ndarray) -> tuple[np.ndarray, dict]:
        return grad_out * expit(-cache), {}


ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU,
    "softplus": Softplus,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "log_sigmoid": LogSigmoid,
}


def activation(name: str) -> Layer:
    """The activation layer called ``name``: one of ``"relu"``, ``"softplus"``, ``"tanh"``, ``"sigmoid"``,
    ``"log_sigmoid"``.

    Examples
    --------
    >>> from refefl.nn import activation
    >>> type(activation("tanh")).__name__
    'Tanh'
    """
    try:
        return ACTIVATIONS[name]()
    except (KeyError, TypeError):
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None
