r"""Parametrizations: how trained weights W and a state s give an energy's parameters p_W(s), with the backward
pass :math:`\nabla_W = J_{p}^\top \nabla_p` (docs/fenchel_young.md §2.3)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from refefl.energies._base import Energy
from refefl.energies._max_concave import MaxConcaveEnergy
from refefl.nn import MLP


class StateInput:
    r"""Energy parameters :math:`p_W(s) = (s, W)` for energies that take the state (or features) s as an input
    (:class:`MLPEnergy`, :class:`InputConcaveEnergy`): the trained weights W are the energy's own, and the
    backward pass keeps the weights' part of the gradient, :math:`\nabla_W = \nabla_{p}\Phi[1]`.

    A parametrization maps trained weights and a batch of states to an energy's parameters (``forward(weights,
    states) -> (params, cache)``) and carries a gradient with respect to those parameters back to the weights
    (``backward(cache, grad_params) -> grad_weights``); ``init(rng)`` draws the weights.

    Parameters
    ----------
    energy : Energy
        An energy whose ``params`` are ``(x, weights)``.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (energy networks Φ(y, x) of the input).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import MLPEnergy, StateInput
    >>> energy = MLPEnergy(2, 3, hidden=(4,))
    >>> link = StateInput(energy)
    >>> weights = link.init(np.random.default_rng(0))
    >>> (states, same), _ = link.forward(weights, np.zeros((5, 2)))
    >>> states.shape, same is weights
    ((5, 2), True)
    """

    def __init__(self, energy: Energy):
        if not isinstance(energy, Energy):
            raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
        self.energy = energy

    def init(self, rng: np.random.Generator) -> Any:
        """The energy's weights drawn from ``rng``."""
        return self.energy.init(rng)

    def forward(self, weights: Any, states: np.ndarray) -> tuple[tuple[np.ndarray, Any], None]:
        """``((states, weights), None)``: the energy's parameters and an empty cache."""
        return (states, weights), None

    def backward(self, cache: None, grad_params: tuple[np.ndarray, Any]) -> Any:
        """The weights' part of the gradient with respect to ``(states, weights)``."""
        return grad_params[1]


class HeadNetwork:
    r"""Energy parameters predicted from the state by an MLP: :math:`(\theta, V, b) = (4 h_\theta, 2 h_V, h_b)` with
    :math:`h = f_W(s)` a ``tanh`` :class:`~refefl.nn.MLP` (the fixed scales give the pieces of a
    :class:`MaxConcaveEnergy` a useful range at initialization). Backward: :math:`\nabla_W = J_f^\top
    \nabla_{(\theta, V, b)}` (docs/fenchel_young.md §2.3), with the loss gradient taken at fixed ŷ. The same
    interface as :class:`StateInput`.

    Parameters
    ----------
    energy : MaxConcaveEnergy
        Gives K, d and r, hence the heads' shapes (K, d), (K, d, r) and (K,).
    n_features : int
        Width of the states.
    hidden : sequence of int
        Hidden widths of f_W.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §3.3 (gradients through a network θ = f_W(x)).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import HeadNetwork, MaxConcaveEnergy
    >>> heads = HeadNetwork(MaxConcaveEnergy(4, 2, rank=2), n_features=3, hidden=(8,))
    >>> (theta, v, b), _ = heads.forward(heads.init(np.random.default_rng(0)), np.zeros((5, 3)))
    >>> theta.shape, v.shape, b.shape
    ((5, 4, 2), (5, 4, 2, 2), (5, 4))
    """

    scales = (4.0, 2.0, 1.0)

    def __init__(self, energy: MaxConcaveEnergy, n_features: int, hidden: Sequence[int]):
        if not isinstance(energy, MaxConcaveEnergy):
            raise TypeError(f"energy must be a MaxConcaveEnergy, got {type(energy).__name__}")
        self.energy = energy
        k, d, r = energy.n_components, energy.n_labels, energy.rank
        self._shapes = ((k, d), (k, d, r), (k,))
        self._sizes = [int(np.prod(shape)) for shape in self._shapes]
        self.net = MLP([n_features, *hidden, sum(self._sizes)], activation="tanh")

    def init(self, rng: np.random.Generator) -> list[dict]:
        """Weights of f_W drawn from ``rng``."""
        return self.net.init(rng)

    def forward(self, weights: list[dict], states: np.ndarray) -> tuple[tuple[np.ndarray, ...], Any]:
        """``((theta, V, b), cache)`` for states of shape (n, n_features), shapes (n, K, d), (n, K, d, r), (n, K)."""
        out, cache = self.net.forward(weights, states)
        blocks = np.split(out, np.cumsum(self._sizes)[:-1], axis=1)
        params = tuple(s * blk.reshape((len(out),) + shape) for s, blk, shape in zip(self.scales, blocks, self._shapes))
        return params, cache

    def backward(self, cache: Any, grad_params: tuple[np.ndarray, ...]) -> list[dict]:
        """∇_W from the gradient with respect to (θ, V, b) and the cache of :meth:`forward`."""
        grad_out = np.hstack([s * g.reshape(len(g), -1) for s, g in zip(self.scales, grad_params)])
        return self.net.backward(cache, grad_out)[1]
