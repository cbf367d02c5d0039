"""First-order optimizers over parameter pytrees, in functional form: ``state = opt.init(params)`` then
``params, state = opt.step(params, grads, state)``. Nothing is modified in place."""
from __future__ import annotations

from typing import Any

import numpy as np

from refefl import _backend
from refefl._validation import check_positive
from refefl.nn._tree import tree_leaves, tree_map, tree_ravel, tree_unravel


class SGD:
    r"""Stochastic gradient descent with optional heavy-ball momentum.

    .. math::

        v \leftarrow \mu v + g, \qquad w \leftarrow w - \eta v

    (plain SGD when μ = 0).

    Parameters
    ----------
    learning_rate : float
        Step size η > 0.
    momentum : float, default 0.0
        μ in [0, 1).

    References
    ----------
    Polyak (1964), "Some methods of speeding up the convergence of iteration methods", USSR Comput. Math. 4(5).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import SGD
    >>> opt = SGD(0.1)
    >>> params = [np.array([1.0, -2.0])]
    >>> state = opt.init(params)
    >>> for _ in range(20):
    ...     params, state = opt.step(params, [2 * p for p in params], state)
    >>> print(np.round(params[0], 3))
    [ 0.012 -0.023]
    """

    def __init__(self, learning_rate: float, *, momentum: float = 0.0):
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        self.momentum = check_positive(momentum, "momentum", strict=False)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")

    def init(self, params: Any) -> Any:
        """The velocity v, zeros of the structure of ``params``."""
        return tree_map(np.zeros_like, params)

    def step(self, params: Any, grads: Any, state: Any) -> tuple[Any, Any]:
        """One update; returns new ``(params, state)``."""
        velocity = tree_map(lambda v, g: self.momentum * v + g, state, grads)
        params = tree_map(lambda w, v: w - self.learning_rate * v, params, velocity)
        return params, velocity

    def __repr__(self) -> str:
        return f"SGD(learning_rate={self.learning_rate}, momentum={self.momentum})"


class Adam:
    r"""Adam: bias-corrected moment estimates scale each coordinate's step.

    .. math::

        m \leftarrow \beta_1 m + (1 - \beta_1) g,\quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,\quad
        w \leftarrow w - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}

    Parameters
    ----------
    learning_rate : float, default 1e-3
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates in [0, 1).
    eps : float, default 1e-8

    References
    ----------
    Kingma, Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR, Algorithm 1.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import Adam
    >>> opt = Adam(0.1)
    >>> params = [np.array([1.0, -2.0])]
    >>> state = opt.init(params)
    >>> for _ in range(20):
    ...     params, state = opt.step(params, [2 * p for p in params], state)
    >>> print(np.round(params[0], 3))
    [-0.271 -0.222]
    """

    def __init__(self, learning_rate: float = 1e-3, *, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= check_positive(beta, name, strict=False) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {beta}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = check_positive(eps, "eps")

    def init(self, params: Any) -> dict:
        """``{"t": 0, "m": zeros, "v": zeros}``: the moments as flat vectors over the leaves of ``params`` (in
        :func:`~refefl.nn.tree_leaves` order), of their common floating dtype."""
        leaves = tree_leaves(params)
        dtype = _leaf_dtype(leaves, "params")
        size = sum(np.size(leaf) for leaf in leaves)
        return {"t": 0, "m": np.zeros(size, dtype), "v": np.zeros(size, dtype)}

    def step(self, params: Any, grads: Any, state: dict) -> tuple[Any, dict]:
        """One update; returns new ``(params, state)``: the parameters are views of one new flat vector."""
        w = tree_ravel(params)
        g = tree_ravel(grads, [np.shape(leaf) for leaf in tree_leaves(params)])
        w, state = self.flat_step(w, g, state)
        return tree_unravel(params, w), state

    def flat_step(self, w: np.ndarray, g: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        """:meth:`step` on the parameters and gradients as flat vectors (``w`` and ``g`` are not modified); returns
        the new flat parameters and state, from :func:`adam_update` (compiled when refefl_ext is built). Raises
        ``FloatingPointError`` when g² overflows the dtype (the training diverged): the second moment would become
        inf and stop that coordinate without a word."""
        t = state["t"] + 1
        m, v = state["m"], state["v"]
        if not w.shape == g.shape == m.shape:
            raise ValueError(f"w and g must have the shape {m.shape} of the state's moments, got {w.shape} and "
                             f"{g.shape}")
        if not w.dtype == g.dtype == m.dtype:
            raise TypeError(f"w and g must have the dtype {m.dtype} of the state's moments, got {w.dtype} and "
                            f"{g.dtype}")
        # bias corrections folded into the step and into ε (an exact rewrite, Kingma & Ba end of §2)
        step = self.learning_rate * np.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        eps_hat = self.eps * np.sqrt(1 - self.beta2**t)
        new_w, new_m, new_v = np.empty_like(w), np.empty_like(m), np.empty_like(v)
        kernel = _backend.select(adam_update)
        if kernel(np.ascontiguousarray(w), np.ascontiguousarray(g), m, v, self.beta1, self.beta2, float(step),
                  float(eps_hat), new_w, new_m, new_v):  # v = inf would freeze the coordinate (its step m/√v is 0)
            raise FloatingPointError(
                f"Adam's second moment v = β2 v + (1 − β2) g² overflows {g.dtype} (largest |g| = "
                f"{np.max(np.abs(g)):.3g}): the training diverged; lower the learning rate")
        return new_w, {"t": t, "m": new_m, "v": new_v}

    def __repr__(self) -> str:
        return f"Adam(learning_rate={self.learning_rate}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"


def _leaf_dtype(leaves: list, name: str) -> np.dtype:
    """The floating dtype that all ``leaves`` share (the flat moments are kept in it)."""
    dtypes = {np.asarray(leaf).dtype for leaf in leaves}
    if len(dtypes) != 1 or not np.issubdtype(next(iter(dtypes)), np.floating):
        raise TypeError(f"{name} must have leaves of one floating dtype, got {sorted(map(str, dtypes))}")
    return dtypes.pop()


@_backend.numpy_twin
def adam_update(w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, beta1: float, beta2: float,
                step: float, eps_hat: float, w_out: np.ndarray, m_out: np.ndarray, v_out: np.ndarray) -> bool:
    r"""One Adam update of flat vectors, written into ``w_out``, ``m_out``, ``v_out``; True when some new
    :math:`v_i` is infinite (:math:`g_i^2` overflowed, or :math:`g_i` was infinite): the outputs are then void.

    .. math::

        v' = \beta_2 v + (1 - \beta_2)\, g \odot g, \qquad m' = \beta_1 m + (1 - \beta_1)\, g, \qquad
        w' = w - \frac{s\, m'}{\sqrt{v'} + \hat\epsilon},

    with :math:`s = \eta \sqrt{1 - \beta_2^t} / (1 - \beta_1^t)` and :math:`\hat\epsilon = \epsilon \sqrt{1 -
    \beta_2^t}` (Adam with its bias corrections folded in). Every product and sum is rounded in the order written,
    in the dtype of the vectors (float32 or float64, all alike, C-contiguous); for float32 vectors
    :math:`s\, m'` and :math:`\sqrt{v'} + \hat\epsilon` are formed in float64, as NumPy promotes a float64 scalar,
    and the update is rounded to float32 before the subtraction. The compiled twin (``refefl_ext``) makes the same
    roundings in one pass over the vectors: the twins agree bit for bit.

    References
    ----------
    Kingma, Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR, Algorithm 1 and the end of §2.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn._optim import adam_update
    >>> w, g, zero = np.array([1.0, -2.0]), np.array([0.5, -4.0]), np.zeros(2)
    >>> out = [np.empty(2) for _ in range(3)]
    >>> adam_update(w, g, zero, zero, 0.9, 0.999, 0.1 * np.sqrt(0.001) / 0.1, 1e-8 * np.sqrt(0.001), *out)
    False
    >>> print(np.round(out[0], 6))  # the first step moves each coordinate by η against the sign of g
    [ 0.9 -1.9]
    """
    with np.errstate(over="ignore", invalid="ignore"):  # overflow shows as v' = inf, returned
        np.multiply(g, 1 - beta2, out=m_out)  # m_out holds (1 − β2) g ⊙ g until m' is formed
        m_out *= g
        np.multiply(v, beta2, out=v_out)
        v_out += m_out
        np.multiply(g, 1 - beta1, out=w_out)  # w_out holds (1 − β1) g until w' is formed
        np.multiply(m, beta1, out=m_out)
        m_out += w_out
        update = np.multiply(m_out, np.float64(step))  # float64 for float32 moments too
        denominator = np.sqrt(v_out)
        if denominator.dtype == update.dtype:
            denominator += eps_hat
        else:  # float32 moments: √v' + ε̂ in float64
            denominator = denominator + np.float64(eps_hat)
        update /= denominator
        np.subtract(w, update.astype(w.dtype, copy=False), out=w_out)
    return bool(np.isinf(v_out).any())
