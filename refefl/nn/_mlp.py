"""Multilayer perceptrons assembled from :mod:`refefl.nn._layers`, with a hand-written backward pass."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from refefl._validation import as_float_array, check_finite, check_positive_int
from refefl.nn._layers import Layer, Linear
from refefl.nn._layers import activation as make_activation


class MLP:
    r"""A multilayer perceptron :math:`f_W(x) = L_m \circ a \circ L_{m-1} \circ \dots \circ a \circ L_1(x)`.

    Each :math:`L_j(x) = x W_j + b_j` is a :class:`~refefl.nn.Linear` layer and ``a`` the hidden activation;
    ``output_activation`` is applied after the last layer if given. Parameters are passed explicitly as a list of
    dicts ``[{"W": (n_in, n_out), "b": (n_out,)}, ...]``, one per linear layer; the network holds no state.

    Parameters
    ----------
    sizes : sequence of int
        Widths ``(n_in, hidden_1, ..., n_out)``, at least two entries.
    activation : str, default "relu"
        Hidden activation: ``"relu"``, ``"softplus"``, ``"tanh"``, ``"sigmoid"`` or ``"log_sigmoid"``.
    output_activation : str or None, default None
        Activation after the last layer (None: the output is affine in the last hidden layer).

    References
    ----------
    Rumelhart, Hinton, Williams (1986), "Learning representations by back-propagating errors", Nature 323.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import MLP
    >>> net = MLP([4, 8, 2], activation="relu")
    >>> params = net.init(np.random.default_rng(0))
    >>> out, _ = net.forward(params, np.ones((3, 4)))
    >>> out.shape
    (3, 2)
    """

    def __init__(self, sizes: Sequence[int], *, activation: str = "relu", output_activation: str | None = None):
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, got {sizes!r}")
        self.sizes = tuple(check_positive_int(size, "sizes") for size in sizes)
        self.activation = activation
        self.output_activation = output_activation
        hidden = make_activation(activation)  # stateless, so one instance serves every hidden layer
        output = None if output_activation is None else make_activation(output_activation)
        gain = np.sqrt(2.0) if activation == "relu" else 1.0
        self._linears = [Linear(a, b, scale=gain) for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        # the layers in order: Linear, activation, Linear, ..., Linear[, output activation]
        self._layers: list[Layer] = []
        for j, linear in enumerate(self._linears):
            self._layers.append(linear)
            if j < len(self._linears) - 1:
                self._layers.append(hidden)
        if output is not None:
            self._layers.append(output)

    def init(self, rng: np.random.Generator, dtype=np.float64) -> list[dict]:
        """Fresh parameters drawn from ``rng`` (a ``numpy.random.Generator``), of dtype ``dtype``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return [layer.init(rng, dtype) for layer in self._linears]

    def check_params(self, params) -> None:
        """``ValueError`` unless ``params`` is a list of ``{"W", "b"}`` dicts of the right shapes, all finite."""
        if not isinstance(params, (list, tuple)) or len(params) != len(self._linears):
            raise ValueError(f"params must be a list of {len(self._linears)} layer dicts")
        for j, (layer, p) in enumerate(zip(self._linears, params)):
            if not isinstance(p, dict) or set(p) != {"W", "b"}:
                raise ValueError(f"params[{j}] must be a dict with keys 'W' and 'b'")
            if np.shape(p["W"]) != (layer.n_in, layer.n_out) or np.shape(p["b"]) != (layer.n_out,):
                raise ValueError(
                    f"params[{j}] must hold W of shape {(layer.n_in, layer.n_out)} and b of shape {(layer.n_out,)}"
                )
            check_finite(np.asarray(p["W"]), f"params[{j}]['W']")
            check_finite(np.asarray(p["b"]), f"params[{j}]['b']")

    def forward(self, params: list[dict], x) -> tuple[np.ndarray, list]:
        """``x`` of shape (n_samples, n_in) to the output of shape (n_samples, n_out), plus the cache."""
        x = as_float_array(x, "x")
        check_finite(x, "x")
        caches = []
        params_iter = iter(params)
        out = x
        for layer in self._layers:
            out, cache = layer.forward(next(params_iter) if isinstance(layer, Linear) else {}, out)
            caches.append(cache)
        return out, caches

    def backward(self, cache: list, grad_out: np.ndarray, *,
                 input_grad: bool = True) -> tuple[np.ndarray | None, list[dict]]:
        """Gradients with respect to the input (n_samples, n_in) and to ``params`` (same structure).
        ``input_grad=False`` skips the input's (the first layer's product with Wᵀ; None is returned in its
        place), which training does not need."""
        grad = np.asarray(grad_out)
        grads_params = []
        first = self._layers[0]
        for layer, layer_cache in zip(reversed(self._layers[1:]), reversed(cache[1:])):
            grad, grad_p = layer.backward(layer_cache, grad)
            if isinstance(layer, Linear):
                grads_params.append(grad_p)
        if input_grad:
            grad, grad_p = first.backward(cache[0], grad)
        else:
            grad, grad_p = None, first.param_grads(cache[0], grad)
        grads_params.append(grad_p)
        return grad, grads_params[::-1]

    def __repr__(self) -> str:
        return f"MLP({self.sizes!r}, activation={self.activation!r}, output_activation={self.output_activation!r})"

