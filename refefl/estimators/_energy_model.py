r"""The model behind the multilabel estimators: a network θ = f_W(x) feeding an energy Φ, trained with the
generalized Fenchel-Young loss, and its hand-written backward pass.

Parameters are the pytree ``{"net": [...], "energy": ...}``: ``"net"`` the layers of the :class:`~refefl.nn.MLP`
f_W, ``"energy"`` the energy's own parameters (absent for the unary energy). The loss of a batch is the mean of the
per-row losses, and its gradient follows Danskin's formula through the network,

.. math::

    \nabla_W L = J_{f_W}^\top\big[\nabla_\theta\Phi(\hat y, \theta) - \nabla_\theta\Phi(y, \theta)\big],
    \qquad \nabla_A L = \tfrac12 \textstyle\sum_i (\hat y_i \hat y_i^\top - y_i y_i^\top),

with ŷ held fixed (docs/fenchel_young.md §2.3).

Why the pairwise matrix is constrained: with A free, the inner problem max_y Φ − Ω stops being concave as A
grows, coordinate ascent returns a local maximizer, and training learns to exploit it: the loss it sees,
F(ŷ_local) − F(y), falls while the true loss and the accuracy get worse (measured on yeast: validation Hamming
accuracy from 79.1% down to 75% within 30 epochs, with λ_max(A) ≈ 7 > 4, the strong convexity of the binary
entropy). So A keeps a zero diagonal (the coordinate updates are then closed forms: a sigmoid or a clip, docs/fenchel_young.md
§2) and :math:`\lambda_{\max}(A) \le \mu/2`, with μ the strong convexity of Ω on the box (4 for the binary
entropy, 1 for ½‖·‖²): F is then (μ/2)-strongly concave, the maximizer is unique, coordinate ascent converges
linearly to it, and the loss is the exact generalized FY loss of a "linear-concave" model. With the binary
entropy, ŷ is then the naive mean-field solution ŷ = σ(θ + Aŷ) of the Ising model p(y) ∝ exp(⟨y, θ⟩ + ½⟨y, Ay⟩).
"""
from __future__ import annotations

import itertools

import numpy as np

from refefl.energies import Bilinear, Energy, LowRankConcave, MLPEnergy, PairwiseEnergy, Quadratic
from refefl.losses import GeneralizedFenchelYoungLoss
from refefl.maximizers import default_maximizer
from refefl.nn import MLP
from refefl.nn._tree import tree_map
from refefl.regularizers import regularizer as make_regularizer

ENERGIES = ("unary", "quadratic", "low_rank", "mlp")
REGULARIZERS = ("binary_entropy", "box_squared")
#: the largest number of labels for which exact decoding enumerates {0, 1}^k
MAX_EXACT_LABELS = 16
# rows × label sets scored at once by exact decoding (bounds its memory to a few tens of MB)
_EXACT_CHUNK = 1 << 17
# scale of the initial low-rank factor V (V = 0 is a stationary point: ∇_V = −y (Vᵀy)ᵀ vanishes there)
_LOW_RANK_INIT = 0.1


def _clip_spectrum(b: np.ndarray, bound: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U min(Λ, bound) Uᵀ, Λ, U) for the symmetric ``b`` = U Λ Uᵀ."""
    eigenvalues, vectors = np.linalg.eigh(b)
    return (vectors * np.minimum(eigenvalues, bound)) @ vectors.T, eigenvalues, vectors


def _huber(eigenvalues: np.ndarray, bound: float) -> float:
    """Σ_i g(λ_i) with g(λ) = λ²/2 for λ ≤ c and cλ − c²/2 above: the dual objective, whose gradient is
    diag(U min(Λ, c) Uᵀ)."""
    top = np.minimum(eigenvalues, bound)
    return float(np.sum(top * eigenvalues - top * top / 2))


def _dual_hessian(eigenvalues: np.ndarray, vectors: np.ndarray, bound: float) -> np.ndarray:
    r"""Generalized Hessian of the dual of :func:`project_zero_diagonal_bounded`, ndarray of shape (k, k).

    :math:`J_{lm} = \sum_{ij}\Omega_{ij} U_{li}U_{lj}U_{mi}U_{mj}` with the divided differences Ω of min(·, c):
    1 between eigenvalues ≤ c (columns P of U), 0 between eigenvalues > c (columns Q), and
    :math:`(\lambda_i - c)/(\lambda_i - \lambda_j)` across. Hence
    :math:`J = (PP^\top)\circ(PP^\top) + 2\sum_{j} (q_j q_j^\top)\circ(P\,\operatorname{Diag}(\Omega_{\cdot j})P^\top)`,
    O(k³ (1 + #{λ > c})) instead of the O(k⁴) of the four-index sum.
    """
    below = eigenvalues <= bound
    p, q = vectors[:, below], vectors[:, ~below]
    inner = p @ p.T
    across = (eigenvalues[below, None] - bound) / (eigenvalues[below, None] - eigenvalues[None, ~below])
    # Σ_j (q_j q_jᵀ) ∘ (P Diag(Ω_·j) Pᵀ) = W Diag(vec Ω) Wᵀ with W_{l,(i,j)} = P_li q_lj: one product
    w = (p[:, :, None] * q[:, None, :]).reshape(len(p), -1)
    return inner * inner + 2 * (w * across.ravel()) @ w.T


def project_zero_diagonal_bounded(a: np.ndarray, bound: float, *, tol: float = 1e-10,
                                  max_iter: int = 100) -> np.ndarray:
    r"""Frobenius projection of a symmetric matrix onto matrices with zero diagonal and eigenvalues at most c.

    .. math::

        P(A) = \operatorname*{argmin}_{X = X^\top,\ \operatorname{diag} X = 0,\ X \preceq cI}
        \tfrac12\|X - A\|_F^2 = \Pi_c(A + \operatorname{Diag} y^\star), \qquad
        y^\star = \operatorname*{argmin}_y \textstyle\sum_i g(\lambda_i(A + \operatorname{Diag} y)),

    with :math:`\Pi_c` the clipping of the eigenvalues at c and g the Huber-like function of :func:`_huber`
    (the Lagrangian dual of the diagonal constraint). A feasible A is returned as it is (symmetrized). Otherwise
    the dual is solved by semismooth Newton with Armijo backtracking; its generalized Hessian is
    :func:`_dual_hessian`. The result's diagonal is then set to 0 and, if rounding left λ_max above c, it is
    shrunk by the factor c/λ_max.

    Parameters
    ----------
    a : ndarray of shape (k, k)
        Symmetrized before use.
    bound : float
        c > 0.
    tol : float, default 1e-10
        Stop when every diagonal entry of the dual iterate is below tol·max(1, c).
    max_iter : int, default 100

    Returns
    -------
    ndarray of shape (k, k)

    References
    ----------
    Qi, Sun (2006), "A quadratically convergent Newton method for computing the nearest correlation matrix",
    SIAM J. Matrix Anal. Appl. 28(2), Algorithm 5.1 (the same dual, with the PSD cone); Malick (2004), "A dual
    approach to semidefinite least-squares problems", SIAM J. Matrix Anal. Appl. 26(1).
    """
    a = (a + a.T) / 2
    if not np.diag(a).any() and np.linalg.eigvalsh(a)[-1] <= bound:  # already feasible: its own projection
        return a
    y = -np.diag(a).copy()  # the start y = −diag(A) is exact when A + Diag y already satisfies the bound
    for _ in range(max_iter):
        x, eigenvalues, vectors = _clip_spectrum(a + np.diag(y), bound)
        residual = np.diag(x)
        if np.abs(residual).max() <= tol * max(1.0, bound):
            break
        hessian = _dual_hessian(eigenvalues, vectors, bound)
        shift = min(1e-2, float(np.abs(residual).max()))  # keeps the Newton system regular (Qi & Sun, §5)
        step = -np.linalg.solve(hessian + shift * np.eye(len(y)), residual)
        value, slope, t = _huber(eigenvalues, bound), float(residual @ step), 1.0
        slack = 64 * np.finfo(float).eps * (1 + abs(value))  # below it a decrease is lost in rounding
        while t > 1e-10 and _huber(np.linalg.eigvalsh(a + np.diag(y + t * step)), bound) > (
                value + 1e-4 * t * slope + slack):
            t /= 2
        y = y + t * step
    x = (x + x.T) / 2
    x = x - np.diag(np.diag(x))
    top = np.linalg.eigvalsh(x)[-1]
    return x * (bound / top) if top > bound else x


class UnaryPlusMLPEnergy(Energy):
    r"""A unary term plus an MLP of the scores and the labels: :math:`\Phi(y, (\theta, W)) = \langle y, \theta\rangle
    + g_W([\theta, y])`, with :math:`g_W` an :class:`~refefl.energies.MLPEnergy` whose input features are θ.

    .. math::

        \nabla_y\Phi = \theta + \nabla_y g_W, \qquad \nabla_\theta\Phi = y + \nabla_\theta g_W, \qquad
        \nabla_W \Phi = \nabla_W g_W.

    ``params`` is the tuple ``(theta, weights)`` of :class:`~refefl.energies.MLPEnergy` with ``n_features ==
    n_labels``. Why the unary term: alone, an MLP of (θ, y) must build the products θ_j y_j out of its units'
    gating, and it learns them slowly (on yeast it stayed at the all-zero prediction for tens of epochs and ended
    below 75% Hamming accuracy); with it, the network learns a correction to a logistic model.

    Parameters
    ----------
    n_labels : int
    hidden : tuple of int
        Hidden widths of g_W.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (energy networks); Belanger, McCallum (2016), "Structured Prediction
    Energy Networks", ICML, §3 (a local term plus a global network of the labels).
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


class EnergyModel:
    r"""θ = f_W(x) ∈ R^k feeding the energy Φ(y, ·), with regularizer Ω on the box [0, 1]^k.

    ``energy``: ``"unary"`` Φ = ⟨y, θ⟩ (:class:`~refefl.energies.Bilinear`, exact maximizer: the classic
    logistic or sparse multilabel FY loss); ``"quadratic"`` Φ = ⟨y, θ⟩ + ½⟨y, Ay⟩ with A learned, shared,
    symmetric, zero on the diagonal and with λ_max(A) ≤ μ/2 (kept so by :meth:`project`); ``"low_rank"``
    A = −VVᵀ with V of shape (k, rank); ``"mlp"`` Φ = ⟨y, θ⟩ + MLP([θ, y]) (:class:`UnaryPlusMLPEnergy`).
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
        norm, among symmetric matrices; see :func:`project_zero_diagonal_bounded`); other parameters are
        returned as they are."""
        if self.kind != "quadratic":
            return params
        return {**params, "energy": project_zero_diagonal_bounded(params["energy"], self.bound)}

    def energy_params(self, params: dict, theta: np.ndarray):
        """The energy's parameters for scores θ of shape (n, k): θ, or (θ, A), (θ, V), (θ, MLP weights)."""
        return theta if self.kind == "unary" else (theta, params["energy"])

    def value_and_grad(self, params: dict, X: np.ndarray, Y: np.ndarray,
                       y0: np.ndarray | None = None) -> tuple[float, dict, np.ndarray | None, bool]:
        """Mean generalized FY loss over the rows of (X, Y), its gradient (of the structure of ``params``), the
        maximizer ŷ of shape (n, k) for the pairwise energies (None otherwise), to warm-start the next solve on
        these rows through ``y0``, and whether the inner maximizer converged."""
        theta, cache = self.net.forward(params["net"], X)
        pairwise = isinstance(self.energy, PairwiseEnergy)
        solution = self.loss.solve(self.energy_params(params, theta), Y, y0=y0 if pairwise else None)
        grad_theta, grad_energy = (solution.grad, None) if self.kind == "unary" else solution.grad
        n = X.shape[0]
        grads = {"net": self.net.backward(cache, grad_theta / n)[1]}
        if grad_energy is not None:
            if self.kind == "quadratic":  # A's diagonal is fixed at 0
                grad_energy = grad_energy - np.diag(np.diag(grad_energy))
            grads["energy"] = tree_map(lambda g: g / n, grad_energy)
        return (float(solution.value.mean()), grads, solution.y_hat if pairwise else None,
                solution.info.converged)

    def predict_proba(self, params: dict, X: np.ndarray) -> np.ndarray:
        r"""The regularized prediction :math:`\hat y^\Phi_\Omega(f_W(x))`, ndarray of shape (n, k) in [0, 1]."""
        theta, _ = self.net.forward(params["net"], X)
        return self.loss.predict(self.energy_params(params, theta))[0]

    def mean_loss(self, params: dict, X: np.ndarray, Y: np.ndarray, y0: np.ndarray | None = None) -> float:
        """Mean generalized FY loss over the rows; ``y0`` warm-starts the maximizer."""
        theta, _ = self.net.forward(params["net"], X)
        return float(self.loss.value(self.energy_params(params, theta), Y, y0=y0).mean())

    def exact_decode(self, params: dict, X: np.ndarray) -> np.ndarray:
        r"""The best label set :math:`\operatorname{argmax}_{y \in \{0,1\}^k} \Phi(y, \theta) - \Omega(y)` by
        enumeration, ndarray of shape (n, k) in {0, 1} (k ≤ :data:`MAX_EXACT_LABELS`)."""
        k = self.n_labels
        if k > MAX_EXACT_LABELS:
            raise ValueError(f"exact decoding enumerates 2^k label sets: needs k <= {MAX_EXACT_LABELS}, got {k}")
        theta, _ = self.net.forward(params["net"], X)
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
