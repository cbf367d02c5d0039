r"""The model behind the multilabel estimators: a network θ = f_W(x) feeding an energy Φ, trained with the
generalized Fenchel-Young loss, and its hand-written backward pass.

Parameters are the pytree ``{"net": [...], "energy": ...}``: ``"net"`` the layers of the :class:`~refefl.nn.MLP`
f_W, ``"energy"`` the energy's own parameters (absent for the unary energy). The loss of a batch is the mean of the
per-row losses, and its gradient follows Danskin's formula through the network,

.. math::

    \nabla_W L = J_{f_W}^\top\big[\nabla_\theta\Phi(\hat y, \theta) - \nabla_\theta\Phi(y, \theta)\big],
    \qquad \nabla_A L = \tfrac12 \textstyle\sum_i (\hat y_i \hat y_i^\top - y_i y_i^\top),

with ŷ held fixed (docs/fenchel_young.md §2.3).

The pairwise matrix A keeps a zero diagonal and :math:`\lambda_{\max}(A) \le \mu/2`, with μ the strong convexity
of Ω on the box, so that the inner problem stays strongly concave and coordinate ascent solves it exactly: why,
and what goes wrong without it, in docs/fenchel_young.md §2.9.
"""
from __future__ import annotations

import itertools

import numpy as np

from refefl.energies import (Bilinear, LowRankConcave, PairwiseEnergy, Quadratic, UnaryPlusMLPEnergy,
                             project_zero_diagonal_bounded)
from refefl.losses import GeneralizedFenchelYoungLoss
from refefl.maximizers import default_maximizer
from refefl.nn import MLP
from refefl.nn._tree import tree_leaves, tree_map
from refefl.regularizers import regularizer as make_regularizer

ENERGIES = ("unary", "quadratic", "low_rank", "mlp")
REGULARIZERS = ("binary_entropy", "box_squared")
#: the largest number of labels for which exact decoding enumerates {0, 1}^k
MAX_EXACT_LABELS = 16
# rows × label sets scored at once by exact decoding (bounds its memory to a few tens of MB)
_EXACT_CHUNK = 1 << 17
# scale of the initial low-rank factor V (V = 0 is a stationary point: ∇_V = −y (Vᵀy)ᵀ vanishes there)
_LOW_RANK_INIT = 0.1


class EnergyModel:
    r"""θ = f_W(x) ∈ R^k feeding the energy Φ(y, ·), with regularizer Ω on the box [0, 1]^k.

    ``energy``: ``"unary"`` Φ = ⟨y, θ⟩ (:class:`~refefl.energies.Bilinear`, exact maximizer: the classic
    logistic or sparse multilabel FY loss); ``"quadratic"`` Φ = ⟨y, θ⟩ + ½⟨y, Ay⟩ with A learned, shared,
    symmetric, zero on the diagonal and with λ_max(A) ≤ μ/2 (kept so by :meth:`project`); ``"low_rank"``
    A = −VVᵀ with V of shape (k, rank); ``"mlp"`` Φ = ⟨y, θ⟩ + MLP([θ, y])
    (:class:`~refefl.energies.UnaryPlusMLPEnergy`).
    The maximizer is :func:`~refefl.maximizers.default_maximizer`'s, with the budget ``max_iter`` and ``tol``:
    :class:`~refefl.maximizers.CoordinateAscent` for the pairwise energies, mirror ascent (binary entropy) or
    projected gradient ascent (½‖·‖²) for the MLP energy. μ is the regularizer's ``strong_convexity``.
    """

    def __init__(self, n_features: int, n_labels: int, *, energy: str, regularizer: str, hidden: tuple[int, ...],
                 activation: str, rank: int, energy_hidden: tuple[int, ...], max_iter: int, tol: float):
        self.kind, self.n_labels, self.rank = energy, n_labels, rank
        self.net = MLP([n_features, *hidden, n_labels], activation=activation)
        self.omega = make_regularizer(regularizer)
        self.bound = self.omega.strong_convexity / 2  # λ_max(A) ≤ μ/2 for the quadratic energy
        if energy == "unary":
            self.energy = Bilinear()
        elif energy in ("quadratic", "low_rank"):
            self.energy = Quadratic() if energy == "quadratic" else LowRankConcave()
        else:
            self.energy = UnaryPlusMLPEnergy(n_labels, hidden=energy_hidden)
        maximizer = default_maximizer(self.energy, self.omega, max_iter=max_iter, tol=tol)
        self.loss = GeneralizedFenchelYoungLoss(self.energy, self.omega, maximizer)

    def init(self, rng: np.random.Generator) -> dict:
        """Fresh parameters: network weights from ``rng``, A = 0 (the model starts unary), V small and random."""
        params = {"net": self.net.init(rng)}
        if self.kind == "quadratic":
            params["energy"] = np.zeros((self.n_labels, self.n_labels))
        elif self.kind == "low_rank":
            params["energy"] = rng.normal(0.0, _LOW_RANK_INIT, size=(self.n_labels, self.rank))
        elif self.kind == "mlp":
            params["energy"] = self.energy.init(rng)
        return params

    def decay_mask(self, params: dict) -> dict:
        """True on the leaves that weight decay shrinks: every weight matrix, A and V; not the biases."""
        mask = tree_map(lambda _: True, params)
        for layer in mask["net"] + (mask["energy"] if self.kind == "mlp" else []):
            layer["b"] = False
        return mask

    def project(self, params: dict) -> dict:
        r"""Projection of A onto :math:`\{A = A^\top : A_{jj} = 0,\ \lambda_{\max}(A) \le \mu/2\}` (Frobenius
        norm, among symmetric matrices; see :func:`~refefl.energies.project_zero_diagonal_bounded`); other
        parameters are returned as they are."""
        if self.kind != "quadratic":
            return params
        return {**params, "energy": project_zero_diagonal_bounded(params["energy"], self.bound)}

    def scores(self, params: dict, X: np.ndarray) -> tuple[np.ndarray, list]:
        """The network's scores θ = f_W(X) of shape (n, k) and its cache. ``FloatingPointError`` when θ is not
        finite: finite weights so large that the network overflowed (a diverged training)."""
        theta, cache = self.net.forward(params["net"], X)
        if not np.isfinite(theta).all():
            raise FloatingPointError(f"the network's scores theta are not finite (largest |weight| "
                                     f"{max(np.max(np.abs(w)) for w in tree_leaves(params['net'])):.3g}): the "
                                     "training diverged; lower the learning rate")
        return theta, cache

    def energy_params(self, params: dict, theta: np.ndarray):
        """The energy's parameters for scores θ of shape (n, k): θ, or (θ, A), (θ, V), (θ, MLP weights)."""
        return theta if self.kind == "unary" else (theta, params["energy"])

    def value_and_grad(self, params: dict, X: np.ndarray, Y: np.ndarray,
                       y0: np.ndarray | None = None) -> tuple[float, dict, np.ndarray | None, bool]:
        """Mean generalized FY loss over the rows of (X, Y), its gradient (of the structure of ``params``), the
        maximizer ŷ of shape (n, k) for the pairwise energies (None otherwise), to warm-start the next solve on
        these rows through ``y0``, and whether the inner maximizer converged."""
        theta, cache = self.scores(params, X)
        pairwise = isinstance(self.energy, PairwiseEnergy)
        solution = self.loss.solve(self.energy_params(params, theta), Y, y0=y0 if pairwise else None)
        grad_theta, grad_energy = (solution.grad, None) if self.kind == "unary" else solution.grad
        n = X.shape[0]
        grads = {"net": self.net.backward(cache, grad_theta / n, input_grad=False)[1]}
        if grad_energy is not None:
            if self.kind == "quadratic":  # A's diagonal is fixed at 0
                grad_energy = grad_energy - np.diag(np.diag(grad_energy))
            grads["energy"] = tree_map(lambda g: g / n, grad_energy)
        return (float(solution.value.mean()), grads, solution.y_hat if pairwise else None,
                solution.info.converged)

    def predict_proba(self, params: dict, X: np.ndarray) -> np.ndarray:
        r"""The regularized prediction :math:`\hat y^\Phi_\Omega(f_W(x))`, ndarray of shape (n, k) in [0, 1]."""
        theta, _ = self.scores(params, X)
        return self.loss.predict(self.energy_params(params, theta))[0]

    def mean_loss(self, params: dict, X: np.ndarray, Y: np.ndarray, y0: np.ndarray | None = None) -> float:
        """Mean generalized FY loss over the rows; ``y0`` warm-starts the maximizer."""
        theta, _ = self.scores(params, X)
        return float(self.loss.value(self.energy_params(params, theta), Y, y0=y0).mean())

    def exact_decode(self, params: dict, X: np.ndarray) -> np.ndarray:
        r"""The best label set :math:`\operatorname{argmax}_{y \in \{0,1\}^k} \Phi(y, \theta) - \Omega(y)` by
        enumeration, ndarray of shape (n, k) in {0, 1} (k ≤ :data:`MAX_EXACT_LABELS`)."""
        k = self.n_labels
        if k > MAX_EXACT_LABELS:
            raise ValueError(f"exact decoding enumerates 2^k label sets: needs k <= {MAX_EXACT_LABELS}, got {k}")
        theta, _ = self.scores(params, X)
        states = np.array(list(itertools.product((0.0, 1.0), repeat=k)))
        penalty = self.omega.value(states)
        rows = max(1, _EXACT_CHUNK // len(states))
        best = np.empty(len(X), dtype=np.intp)
        for start in range(0, len(X), rows):
            chunk = theta[start : start + rows]
            tiled = self.energy_params(params, np.repeat(chunk, len(states), axis=0))
            scores = self.energy.value(tiled, np.tile(states, (len(chunk), 1))).reshape(len(chunk), -1)
            best[start : start + rows] = np.argmax(scores - penalty, axis=1)
        return states[best]
