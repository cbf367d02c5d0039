"""Energies given by networks of (x, y): a plain MLP, a unary term plus an MLP of (θ, y), and an input-concave
network (concave in y)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit, log_expit

from refefl._validation import check_positive_int
from refefl.energies._base import Energy, check_matrix
from refefl.nn import MLP
from refefl.nn._tree import tree_map


def _unpack_features(params, n_features: int) -> tuple[np.ndarray, object]:
    if not isinstance(params, (tuple, list)) or len(params) != 2:
        raise TypeError(f"params must be a tuple (x, weights), got {type(params).__name__}")
    x = check_matrix(params[0], "x", f"(n_samples, {n_features})")
    if x.shape[1] != n_features:
        raise ValueError(f"x must have shape (n_samples, {n_features}), got {x.shape}")
    return x, params[1]


class MLPEnergy(Energy):
    r"""Energy given by a multilayer perceptron of the input features and the output:
    :math:`\Phi(y, (x, W)) = f_W([x, y])` with :math:`f_W : \mathbb R^{d + k} \to \mathbb R` an :class:`~refefl.nn.MLP`.

    ``params`` is the tuple ``(x, weights)``: x of shape (n_samples, n_features) holds features of the input
    (raw, or the output of another network: its gradient ∇_xΦ is returned so that such a network can be trained
    through it), ``weights`` are the network parameters (from :meth:`init`, shared by every row, so their gradient
    sums over rows). ∇_y and ∇_params come from one hand-written backward pass:

    .. math::

        (\nabla_x \Phi, \nabla_y \Phi) = J_{f_W}([x, y])^\top 1, \qquad \nabla_W \Phi = \partial_W f_W([x, y])^\top 1.

    Φ is in general neither concave in y nor affine in W: the inner maximization finds a stationary point.

    Parameters
    ----------
    n_features, n_labels : int
        d and k.
    hidden : sequence of int, default (64,)
        Hidden widths.
    activation : str, default "softplus"
        Hidden activation (smooth activations give a smooth inner problem).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (energy networks Φ(y, x) given by neural networks).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import MLPEnergy
    >>> energy = MLPEnergy(n_features=4, n_labels=3, hidden=(8,))
    >>> params = energy.init(np.random.default_rng(0))
    >>> x, y = np.ones((2, 4)), np.full((2, 3), 0.5)
    >>> energy.value((x, params), y).shape
    (2,)
    """

    def __init__(self, n_features: int, n_labels: int, *, hidden: Sequence[int] = (64,), activation: str = "softplus"):
        self.n_features = check_positive_int(n_features, "n_features")
        self.n_labels = check_positive_int(n_labels, "n_labels")
        self.hidden = tuple(hidden)
        self.activation = activation
        self._net = MLP([self.n_features + self.n_labels, *self.hidden, 1], activation=activation)

    def init(self, rng: np.random.Generator, dtype=np.float64) -> list[dict]:
        """Network weights drawn from ``rng``."""
        return self._net.init(rng, dtype)

    def output_shape(self, params) -> tuple[int, int]:
        return params[0].shape[0], self.n_labels

    def _check_params(self, params) -> tuple[np.ndarray, list[dict]]:
        x, weights = _unpack_features(params, self.n_features)
        self._net.check_params(weights)
        return x, weights

    def _forward(self, params, y: np.ndarray):
        x, weights = params
        return self._net.forward(weights, np.hstack([x, y]))

    def _value(self, params, y: np.ndarray) -> np.ndarray:
        return self._forward(params, y)[0][:, 0]

    def _grad_y(self, params, y: np.ndarray) -> np.ndarray:
        out, cache = self._forward(params, y)
        return self._net.backward(cache, np.ones_like(out))[0][:, self.n_features :]

    def _grad_params(self, params, y: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        out, cache = self._forward(params, y)
        grad_input, grad_weights = self._net.backward(cache, np.ones_like(out))
        return grad_input[:, : self.n_features], grad_weights


class UnaryPlusMLPEnergy(Energy):
    r"""A unary term plus an MLP of the scores and the labels: :math:`\Phi(y, (\theta, W)) = \langle y, \theta\rangle
    + g_W([\theta, y])`, with :math:`g_W` an :class:`MLPEnergy` (softplus units) whose input features are θ.

    .. math::

        \nabla_y\Phi = \theta + \nabla_y g_W, \qquad \nabla_\theta\Phi = y + \nabla_\theta g_W, \qquad
        \nabla_W \Phi = \nabla_W g_W.

    ``params`` is the tuple ``(theta, weights)`` of :class:`MLPEnergy` with ``n_features == n_labels``: θ of shape
    (n_samples, n_labels), e.g. the output of a network θ = f(x), whose gradient ∇_θΦ is returned so that the
    network can be trained through it. Why the unary term: alone, an MLP of (θ, y) must build the products
    θ_j y_j out of its units' gating and learns them slowly; with it, the network learns a correction to a
    logistic model (docs/fenchel_young.md §2.9).

    Parameters
    ----------
    n_labels : int
        k.
    hidden : tuple of int
        Hidden widths of g_W.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (energy networks); Belanger, McCallum (2016), "Structured Prediction
    Energy Networks", ICML, §3 (a local term plus a global network of the labels).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import UnaryPlusMLPEnergy
    >>> energy = UnaryPlusMLPEnergy(3, hidden=(8,))
    >>> weights = energy.init(np.random.default_rng(0))
    >>> theta, y = np.array([[1.0, -1.0, 0.0]]), np.array([[1.0, 0.0, 0.5]])
    >>> gap = energy.value((theta, weights), y) - energy.mlp.value((theta, weights), y)  # the unary term
    >>> np.round(gap, 12)
    array([1.])
    """

    def __init__(self, n_labels: int, *, hidden: tuple[int, ...]):
        self.mlp = MLPEnergy(n_labels, n_labels, hidden=hidden, activation="softplus")

    def init(self, rng: np.random.Generator) -> list[dict]:
        """Weights of g_W drawn from ``rng``."""
        return self.mlp.init(rng)

    def output_shape(self, params) -> tuple[int, int]:
        return self.mlp.output_shape(params)

    def _check_params(self, params):
        return self.mlp._check_params(params)

    def _value(self, params, y: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", y, params[0]) + self.mlp._value(params, y)

    def _grad_y(self, params, y: np.ndarray) -> np.ndarray:
        return params[0] + self.mlp._grad_y(params, y)

    def _grad_params(self, params, y: np.ndarray):
        grad_theta, grad_weights = self.mlp._grad_params(params, y)
        return grad_theta + y, grad_weights


class InputConcaveEnergy(Energy):
    r"""Input-concave network: an energy of (x, y) that is concave in y for every parameter value.

    With :math:`g = \log\sigma` (concave and non-decreasing) and :math:`\mathrm{sp} = \mathrm{softplus}`,

    .. math::

        z_1 = g(y W^y_1 + x W^x_1 + b_1), \qquad
        z_{l+1} = g\big(z_l\, \mathrm{sp}(W^z_{l+1}) + y W^y_{l+1} + x W^x_{l+1} + b_{l+1}\big),

        \Phi(y, (x, W)) = \langle z_L, \mathrm{sp}(w)\rangle + \langle y, x U + c\rangle.

    Why Φ is concave in y: z_1 is a concave function (g) of an affine map of y, hence concave. If every entry of
    z_l is concave in y, then z_l sp(W^z) is a combination of them with non-negative weights (softplus > 0), hence
    concave; adding the affine term y W^y + x W^x + b keeps it concave; and g, concave and non-decreasing, maps a
    concave function to a concave one. So every z_l is concave, ⟨z_L, sp(w)⟩ is a non-negative combination of
    concave functions, and the last term is affine in y. The y-path weights W^y, x-path weights W^x, U, b and c
    are free; only the z-path and output weights pass through softplus, so every parameter value, e.g. after an
    unconstrained optimizer step, gives a concave energy (instead of clipping weights at 0).

    ``params`` is the tuple ``(x, weights)``: x of shape (n_samples, n_features), ``weights`` a dict
    ``{"layers": [{"Wy": (k, m_l), "Wx": (d, m_l), "b": (m_l,)[, "Wz": (m_{l-1}, m_l)]}, ...],
    "out": {"w": (m_L,), "U": (d, k), "c": (k,)}}`` (from :meth:`init`; "Wz" and "w" are the raw, pre-softplus
    values; every layer but the first has "Wz"). Weights are shared by every row, so their gradient sums over rows.

    Parameters
    ----------
    n_features, n_labels : int
        d and k.
    hidden : sequence of int, default (32, 32)
        Widths m_1, ..., m_L.

    References
    ----------
    Amos, Xu, Kolter (2017), "Input Convex Neural Networks", ICML, §2 and Prop. 1 (the convex version: negate to
    get the concave one); Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with
    Generalized Fenchel-Young Losses", NeurIPS, §4.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import InputConcaveEnergy
    >>> energy = InputConcaveEnergy(n_features=4, n_labels=3, hidden=(8,))
    >>> params = energy.init(np.random.default_rng(0))
    >>> x, y = np.ones((2, 4)), np.full((2, 3), 0.5)
    >>> energy.value((x, params), y).shape
    (2,)
    """

    concave_in_y = True

    def __init__(self, n_features: int, n_labels: int, *, hidden: Sequence[int] = (32, 32)):
        self.n_features = check_positive_int(n_features, "n_features")
        self.n_labels = check_positive_int(n_labels, "n_labels")
        if len(hidden) < 1:
            raise ValueError("hidden must list at least one width")
        self.hidden = tuple(check_positive_int(m, "hidden") for m in hidden)
        # the layout of init's weights, shapes only (no memory), built once: _check_params compares against it
        self._layout = tree_map(lambda w: np.broadcast_to(0.0, w.shape), self.init(np.random.default_rng(0)))

    def init(self, rng: np.random.Generator, dtype=np.float64) -> dict:
        """Weights drawn from ``rng``: free weights N(0, 1/fan_in), raw z-path and output weights near −1."""
        d, k = self.n_features, self.n_labels
        layers, previous = [], None
        for m in self.hidden:
            layer = {"Wy": rng.normal(0, 1 / np.sqrt(k), (k, m)), "Wx": rng.normal(0, 1 / np.sqrt(d), (d, m)),
                     "b": np.zeros(m)}
            if previous is not None:
                layer["Wz"] = rng.normal(-1.0, 0.5, (previous, m)) - np.log(previous)
            layers.append(layer)
            previous = m
        out = {"w": rng.normal(-1.0, 0.5, previous), "U": rng.normal(0, 1 / np.sqrt(d), (d, k)), "c": np.zeros(k)}
        return tree_map(lambda w: np.asarray(w, dtype=dtype), {"layers": layers, "out": out})

    def output_shape(self, params) -> tuple[int, int]:
        return params[0].shape[0], self.n_labels

    def _check_params(self, params) -> tuple[np.ndarray, dict]:
        x, weights = _unpack_features(params, self.n_features)
        try:
            tree_map(lambda w, e: _check_leaf(w, e.shape), weights, self._layout)
        except ValueError as error:
            raise ValueError(f"weights do not match the layout of InputConcaveEnergy.init: {error}") from None
        return x, weights

    def _forward(self, params, y: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """Φ per row, the pre-activations u_l and the activations z_l."""
        x, weights = params
        pre, acts, z = [], [], None
        for layer in weights["layers"]:
            u = y @ layer["Wy"] + x @ layer["Wx"] + layer["b"]
            if z is not None:
                u = u + z @ np.logaddexp(0, layer["Wz"])
            z = log_expit(u)
            pre.append(u)
            acts.append(z)
        out = weights["out"]
        value = z @ np.logaddexp(0, out["w"]) + np.einsum("ij,ij->i", y, x @ out["U"] + out["c"])
        return value, pre, acts

    def _value(self, params, y: np.ndarray) -> np.ndarray:
        return self._forward(params, y)[0]

    def _backward(self, params, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """(∇_x, ∇_y, ∇_weights) of Σ_i Φ(y_i) by reverse accumulation through the layers."""
        x, weights = params
        _, pre, acts = self._forward(params, y)
        out = weights["out"]
        grad_out = {"w": acts[-1].sum(axis=0) * expit(out["w"]), "U": x.T @ y, "c": y.sum(axis=0)}
        grad_y = np.broadcast_to(x @ out["U"] + out["c"], y.shape).copy()
        grad_x = y @ out["U"].T
        grad_z = np.broadcast_to(np.logaddexp(0, out["w"]), acts[-1].shape)
        grad_layers = []
        for l in range(len(pre) - 1, -1, -1):
            layer = weights["layers"][l]
            grad_u = grad_z * expit(-pre[l])  # (log σ)'(u) = σ(−u)
            grads = {"Wy": y.T @ grad_u, "Wx": x.T @ grad_u, "b": grad_u.sum(axis=0)}
            grad_y += grad_u @ layer["Wy"].T
            grad_x += grad_u @ layer["Wx"].T
            if "Wz" in layer:
                grads["Wz"] = (acts[l - 1].T @ grad_u) * expit(layer["Wz"])
                grad_z = grad_u @ np.logaddexp(0, layer["Wz"]).T
            grad_layers.append(grads)
        return grad_x, grad_y, {"layers": grad_layers[::-1], "out": grad_out}

    def _grad_y(self, params, y: np.ndarray) -> np.ndarray:
        return self._backward(params, y)[1]

    def _grad_params(self, params, y: np.ndarray) -> tuple[np.ndarray, dict]:
        grad_x, _, grad_weights = self._backward(params, y)
        return grad_x, grad_weights


def _check_leaf(w, shape: tuple[int, ...]) -> None:
    w = np.asarray(w)
    if w.shape != shape:
        raise ValueError(f"expected an array of shape {shape}, got {w.shape}")
    if w.dtype.kind != "f" or not np.isfinite(w).all():
        raise ValueError("every weight must be a finite float array")
