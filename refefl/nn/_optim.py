"""First-order optimizers over parameter pytrees, in functional form: ``state = opt.init(params)`` then
``params, state = opt.step(params, grads, state)``. Nothing is modified in place."""
from __future__ import annotations

from typing import Any

import numpy as np

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
        the new flat parameters and state. Raises ``FloatingPointError`` when g² overflows the dtype (the training
        diverged): the second moment would become inf and stop that coordinate without a word."""
        t = state["t"] + 1
        m, v = state["m"], state["v"]
        if not w.shape == g.shape == m.shape:
            raise ValueError(f"w and g must have the shape {m.shape} of the state's moments, got {w.shape} and "
                             f"{g.shape}")
        if not w.dtype == g.dtype == m.dtype:
            raise TypeError(f"w and g must have the dtype {m.dtype} of the state's moments, got {w.dtype} and "
                            f"{g.dtype}")
        # each element sees the operations of the formulas in this order; every temporary is this step's own
        with np.errstate(over="raise"):
            try:
                scratch = np.multiply(g, 1 - self.beta2)
                scratch *= g
                v = np.multiply(v, self.beta2)
                v += scratch
            except FloatingPointError:  # v = inf would freeze the coordinate (its step m/√v is 0) silently
                raise FloatingPointError(
                    f"Adam's second moment v = β2 v + (1 − β2) g² overflows {g.dtype} (largest |g| = "
                    f"{np.max(np.abs(g)):.3g}): the training diverged; lower the learning rate") from None
        np.multiply(g, 1 - self.beta1, out=scratch)
        m = np.multiply(m, self.beta1)
        m += scratch
        # bias corrections folded into the step and into ε (an exact rewrite, Kingma & Ba end of §2)
        step = self.learning_rate * np.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        eps_hat = self.eps * np.sqrt(1 - self.beta2**t)
        update = np.multiply(m, step)  # step is a NumPy float64: float32 moments give a float64 update
        np.sqrt(v, out=scratch)
        if scratch.dtype == update.dtype:
            scratch += eps_hat
        else:  # float32 moments: √v + ε̂ in float64, as the formula promotes
            scratch = scratch + eps_hat
        update /= scratch
        return np.subtract(w, update.astype(w.dtype, copy=False)), {"t": t, "m": m, "v": v}

    def __repr__(self) -> str:
        return f"Adam(learning_rate={self.learning_rate}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"


def _leaf_dtype(leaves: list, name: str) -> np.dtype:
    """The floating dtype that all ``leaves`` share (the flat moments are kept in it)."""
    dtypes = {np.asarray(leaf).dtype for leaf in leaves}
    if len(dtypes) != 1 or not np.issubdtype(next(iter(dtypes)), np.floating):
        raise TypeError(f"{name} must have leaves of one floating dtype, got {sorted(map(str, dtypes))}")
    return dtypes.pop()

