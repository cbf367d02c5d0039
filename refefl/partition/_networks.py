r"""An energy network and a log-partition network, and the objectives that train them (jointly or not).

The energy network maps features to the parameters of one of the structured energies of
:mod:`refefl.partition._energies`, :math:`g_W(x, y) = \langle f_W(x), \phi(y)\rangle` (for the pairwise
energy, u(x) and the k(k − 1)/2 entries above the diagonal of U(x)); the partition
network is a separate MLP :math:`\tau_V(x) \in \mathbb R`. Each objective returns its mean over a minibatch and
its gradient in every parameter, through the hand-written backward passes of :class:`refefl.nn.MLP`:

- :meth:`PartitionNetworks.min_min`: the unbiased min-min loss of :func:`refefl.partition.min_min_loss` with m
  sampled outputs per example (W and V trained together);
- :meth:`PartitionNetworks.log_mean_exp`: the biased sampled log-likelihood (τ unused);
- :meth:`PartitionNetworks.exact_nll`: the exact negative log-likelihood from the energy's oracle (exact MLE;
  ``fit_tau=True`` also regresses τ on the exact log-partition in the same pass);
- :meth:`PartitionNetworks.log_partition_regression`: ½(τ(x) − log Z(x))², which fits τ to the exact
  log-partition of a fixed energy (what τ should learn; used to compare with the jointly learned one).

Derivations: ``docs/partition.md``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from refefl.nn import MLP
from refefl.partition._energies import BirkhoffEnergy, PairwiseSetEnergy, PermutahedronEnergy, UnarySetEnergy
from refefl.partition._loss import log_mean_exp_loss, min_min_loss

#: the energies a network can feed, by name
ENERGIES = {"unary": UnarySetEnergy, "pairwise": PairwiseSetEnergy, "permutahedron": PermutahedronEnergy,
            "birkhoff": BirkhoffEnergy}


class PartitionNetworks:
    r"""An energy network :math:`g_W(x, y)` over a combinatorial output space and a partition network
    :math:`\tau_V(x)`.

    .. math::

        g_W(x, y) = \langle f_W(x), \phi(y)\rangle, \qquad \tau_V(x) = h_V(x),

    with MLPs :math:`f_W: \mathbb R^d \to \mathbb R^{p}` and :math:`h_V: \mathbb R^d \to \mathbb R`: p = k
    for the unary and permutahedron energies (u(x), θ(x)), k² for the Birkhoff one (Θ(x), reshaped to k × k),
    and k + k(k − 1)/2 for the pairwise one (u(x), then the entries :math:`U_{ij}(x) = U_{ji}(x)`, i < j, of a
    symmetric zero-diagonal U(x): g = ⟨u(x), y⟩ + ½⟨y, U(x) y⟩). Parameters are a dict
    ``{"energy": [...], "tau": [...]}``; the object holds no state.

    Parameters
    ----------
    n_features : int
    k : int
        Number of labels (sets) or items (rankings).
    energy : {"unary", "pairwise", "permutahedron", "birkhoff"}
    hidden : sequence of int, default ()
        Hidden widths of f_W (() is linear).
    tau_hidden : sequence of int, default (32,)
        Hidden widths of h_V.
    activation : str, default "relu"
    sampler_hidden : sequence of int, optional
        Hidden widths of a sampler network :math:`a_\phi(x) \in \mathbb R^k` (Bernoulli logits or Plackett-Luce
        scores of a proposal r_φ; ``params["sampler"]``), for the min-max baseline; None: no sampler.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the min-min objective over (g, τ)) and §5 (energy and partition networks, the baselines).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PartitionNetworks
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(4, 2)), np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
    >>> net = PartitionNetworks(n_features=2, k=3, energy="unary", tau_hidden=(8,))
    >>> params = net.init(rng)
    >>> tau, _ = net.log_partition_estimate(params, X)
    >>> loss, grads = net.min_min(params, X, Y, rng=rng, n_samples=16)
    >>> print(tau.shape, round(loss, 12), sorted(grads))
    (4,) 0.0 ['energy', 'tau']
    >>> print(round(net.exact_nll(params, X, Y)[0], 12))
    0.0
    """

    def __init__(self, n_features: int, k: int, energy: str, *, hidden: Sequence[int] = (),
                 tau_hidden: Sequence[int] = (32,), activation: str = "relu",
                 sampler_hidden: Sequence[int] | None = None):
        if energy not in ENERGIES:
            raise ValueError(f"energy must be one of {tuple(ENERGIES)}, got {energy!r}")
        self.energy_name = energy
        self.energy = ENERGIES[energy](k)
        self.space = self.energy.space
        self.k = self.energy.k
        self._upper = np.triu_indices(self.k, 1)
        n_out = {"birkhoff": self.k * self.k, "pairwise": self.k + len(self._upper[0])}.get(energy, self.k)
        self.energy_net = MLP((n_features, *hidden, n_out), activation=activation)
        self.tau_net = MLP((n_features, *tau_hidden, 1), activation=activation)
        self.sampler_net = (None if sampler_hidden is None
                            else MLP((n_features, *sampler_hidden, self.k), activation=activation))

    # -- parameters -----------------------------------------------------------------------------------------------
    def init(self, rng: np.random.Generator) -> dict:
        """Fresh parameters: the MLPs' initializations with their output layers at zero, so that training
        starts from the base measure itself, g = 0, where τ = 0 is the exact log-partition (a τ far below
        log Z makes the min-min loss's exponentials, and the first Adam moments, huge)."""
        params = {"energy": _zero_output(self.energy_net.init(rng)), "tau": _zero_output(self.tau_net.init(rng))}
        if self.sampler_net is not None:  # zero output: the sampler starts at q
            params["sampler"] = _zero_output(self.sampler_net.init(rng))
        return params

    def decay_mask(self, params: dict) -> dict:
        """Weight matrices are decayed, biases are not (for the training loop's L2 penalty)."""
        return {name: [{"W": True, "b": False} for _ in params[name]] for name in params}

    # -- forward passes -------------------------------------------------------------------------------------------
    def energy_params(self, params: dict, X: np.ndarray):
        """The energy's parameters for each row of X (u, θ of shape (n, k); Θ (n, k, k); the pair (u, U) of
        shapes (n, k), (n, k, k)), and the network's cache."""
        out, cache = self.energy_net.forward(params["energy"], X)
        if self.energy_name == "birkhoff":
            return out.reshape(-1, self.k, self.k), cache
        if self.energy_name == "pairwise":
            U = np.zeros((len(out), self.k, self.k), dtype=out.dtype)
            U[:, self._upper[0], self._upper[1]] = U[:, self._upper[1], self._upper[0]] = out[:, self.k:]
            return (out[:, : self.k], U), cache
        return out, cache

    def log_partition_estimate(self, params: dict, X: np.ndarray):
        """τ_V(x) of shape (n,), and the network's cache."""
        out, cache = self.tau_net.forward(params["tau"], X)
        return out[:, 0], cache

    def mode(self, params: dict, X: np.ndarray) -> np.ndarray:
        r""":math:`\operatorname{argmax}_y g_W(x, y)` per row (the energy's mode oracle)."""
        return self.energy.mode(self.energy_params(params, X)[0])

    # -- backward -------------------------------------------------------------------------------------------------
    def _energy_backward(self, params: dict, cache, d_energy) -> dict:
        """Gradients of W from the gradient in the energy's parameters (an upper entry of U(x) sits at (i, j)
        and (j, i))."""
        if self.energy_name == "pairwise":
            d_u, d_U = d_energy
            i, j = self._upper
            d_out = np.concatenate([d_u, d_U[:, i, j] + d_U[:, j, i]], axis=1)
        else:
            d_out = np.reshape(d_energy, (len(d_energy), -1))
        return {"energy": self.energy_net.backward(cache, d_out, input_grad=False)[1]}

    def _zero_tau(self, params: dict) -> list:
        return [{name: np.zeros_like(value) for name, value in layer.items()} for layer in params["tau"]]

    def _energies(self, params, X, Y, samples):
        """Energy parameters, cache, g of the targets (n,) and of the samples (n, m). The targets are checked;
        the samples, drawn by the space's sampler or moved by the chains, are states of the space already."""
        theta, cache = self.energy_params(params, X)
        return theta, cache, self.energy.value(theta, Y[:, None, :])[:, 0], self.energy._value(theta, samples)

    def _energy_vjp(self, theta, Y, d_target, samples, d_samples):
        """The gradient in the energy's parameters of Σ_i d_target_i g(y_i) + Σ_ij d_samples_ij g(y'_ij) (θ and the
        targets checked by :meth:`_energies` or the caller's ``energy.value`` before, the samples trusted as
        there; a non-finite weight reaches the gradient, which the training loop refuses)."""
        dtype = self.energy._dtype(theta)
        return _add(self.energy._vjp(theta, Y[:, None, :], d_target[:, None].astype(dtype, copy=False)),
                    self.energy._vjp(theta, samples, d_samples.astype(dtype, copy=False)))

    def _sample(self, rng, n: int, n_samples: int, proposal=None):
        """m samples per row from the proposal (uniform q when None) and their log importance weights log q/r."""
        samples, log_prob = self.space.sample(rng, n, n_samples, proposal)
        return samples, (None if proposal is None else self.space.log_uniform - log_prob)

    # -- objectives: (mean over the rows, gradient in every parameter) --------------------------------------------
    def min_min(self, params: dict, X: np.ndarray, Y: np.ndarray, *, rng: np.random.Generator, n_samples: int,
                divergence: str = "kl", alpha: float | None = None, proposal=None) -> tuple[float, dict]:
        r"""The sampled min-min objective and its gradient in (W, V).

        .. math::

            \frac1n \sum_i \tau_V(x_i) + \frac1m \sum_j w_{ij}\, f^*\big(g_W(x_i, y'_{ij}) - \tau_V(x_i)\big)
            - g_W(x_i, y_i), \qquad y'_{ij} \sim r,

        an unbiased estimate of the min-min objective for every m (:func:`refefl.partition.min_min_loss`).
        ``FloatingPointError`` when a sampled :math:`g - \tau` is beyond the float range (e^709): the
        training has diverged.

        Parameters
        ----------
        params : dict
        X : ndarray of shape (n, d)
        Y : ndarray of shape (n, k)
            Observed states (label sets in {0, 1}; rankings as orderings, best first).
        rng : numpy.random.Generator
            Draws the samples.
        n_samples : int
            m ≥ 1.
        divergence, alpha
            As in :func:`refefl.partition.min_min_loss`.
        proposal : ndarray of shape (n, k), optional
            Logits of an importance proposal r (Bernoulli for sets, Plackett-Luce for rankings); q itself when None.

        References
        ----------
        Sander, Roulet, Liu, Blondel (2025), ICML, §3 (the min-min objective), §4 (f-divergences).
        """
        n = len(X)
        samples, log_weights = self._sample(rng, n, n_samples, proposal)
        theta, cache, g_target, g_samples = self._energies(params, X, Y, samples)
        tau, tau_cache = self.log_partition_estimate(params, X)
        loss, (d_target, d_samples, d_tau) = min_min_loss(g_target, g_samples, tau, divergence=divergence,
                                                          alpha=alpha, log_weights=log_weights, return_grad=True)
        if not np.isfinite(d_samples).all():
            raise FloatingPointError(
                f"the min-min loss overflowed: a sampled energy exceeds tau by {float(np.max(g_samples.T - tau)):.4g}"
                " (e^709 is the float64 limit), so the training diverged; lower the learning rate")
        d_energy = self._energy_vjp(theta, Y, d_target / n, samples, d_samples / n)
        grads = self._energy_backward(params, cache, d_energy)
        _, grads["tau"] = self.tau_net.backward(tau_cache, (d_tau / n)[:, None], input_grad=False)
        return float(loss.mean()), _like(params, grads)

    def log_mean_exp(self, params: dict, X: np.ndarray, Y: np.ndarray, *, rng: np.random.Generator,
                     n_samples: int, proposal=None) -> tuple[float, dict]:
        r"""The biased sampled NLL :math:`\frac1n\sum_i \log\frac1m\sum_j w_{ij} e^{g(x_i, y'_{ij})} - g(x_i, y_i)`
        (:func:`refefl.partition.log_mean_exp_loss`) and its gradient in W; V gets a zero gradient.

        References
        ----------
        Sander, Roulet, Liu, Blondel (2025), ICML, §3 (the naive sampled objective, biased for finite m).
        """
        n = len(X)
        samples, log_weights = self._sample(rng, n, n_samples, proposal)
        theta, cache, g_target, g_samples = self._energies(params, X, Y, samples)
        loss, (d_target, d_samples) = log_mean_exp_loss(g_target, g_samples, log_weights=log_weights,
                                                        return_grad=True)
        d_energy = self._energy_vjp(theta, Y, d_target / n, samples, d_samples / n)
        grads = self._energy_backward(params, cache, d_energy)
        grads["tau"] = self._zero_tau(params)
        return float(loss.mean()), _like(params, grads)

    def exact_nll(self, params: dict, X: np.ndarray, Y: np.ndarray, *, fit_tau: bool = False) -> tuple[float, dict]:
        r"""The exact NLL :math:`\frac1n\sum_i \log \mathbb E_q e^{g(x_i, \cdot)} - g(x_i, y_i)` (the energy's
        oracle) and its gradient in W; V gets a zero gradient, or with ``fit_tau=True`` the gradient of
        :meth:`log_partition_regression`'s :math:`\frac1n \sum_i \tfrac12 (\tau_V(x_i) - \log Z_W(x_i))^2`, with
        :math:`\log Z_W(x_i) = \mathrm{NLL}_i + g(x_i, y_i)` from the same oracle call (one step of the exact-MLE
        baseline, which regresses τ on the exact log-partition as it trains W; the returned loss is the NLL).

        References
        ----------
        Sander, Roulet, Liu, Blondel (2025), ICML, §5 (the exact maximum-likelihood baseline).
        """
        theta, cache = self.energy_params(params, X)
        loss, d_theta = self.energy.nll(theta, Y, return_grad=True)
        grads = self._energy_backward(params, cache, _scale(d_theta, 1.0 / len(X)))
        if fit_tau:
            grads["tau"] = self._tau_regression(params, X, loss + self.energy.value(theta, Y[:, None, :])[:, 0])[1]
        else:
            grads["tau"] = self._zero_tau(params)
        return float(loss.mean()), _like(params, grads)

    def log_partition_regression(self, params: dict, X: np.ndarray) -> tuple[float, dict]:
        r""":math:`\frac1n \sum_i \tfrac12 (\tau_V(x_i) - \log Z_W(x_i))^2` and its gradient in V (W held).

        References
        ----------
        Sander, Roulet, Liu, Blondel (2025), ICML, §3 (τ* = log Z is the minimizer over τ of the KL objective).
        """
        theta, _ = self.energy_params(params, X)
        loss, d_tau = self._tau_regression(params, X, self.energy.log_partition(theta))
        grads = {"energy": [{name: np.zeros_like(v) for name, v in layer.items()} for layer in params["energy"]],
                 "tau": d_tau}
        return loss, _like(params, grads)

    def _tau_regression(self, params: dict, X: np.ndarray, log_z: np.ndarray) -> tuple[float, list]:
        """½ mean (τ_V(x) − log Z)² for given targets log Z (n,), and its gradient in V."""
        tau, cache = self.log_partition_estimate(params, X)
        residual = tau - log_z
        _, d_tau = self.tau_net.backward(cache, (residual / len(X))[:, None], input_grad=False)
        return float(0.5 * np.mean(residual**2)), d_tau


def _zero_output(layers: list[dict]) -> list[dict]:
    """MLP parameters with the last layer's weights and bias set to 0."""
    last = {name: np.zeros_like(value) for name, value in layers[-1].items()}
    return [*layers[:-1], last]


def _like(params: dict, grads: dict) -> dict:
    """``grads`` with the keys in the order of ``params`` (pytrees are flattened in key order)."""
    return {key: grads[key] for key in params}


def _add(a, b):
    """a + b for arrays or pairs of arrays (the pairwise energy's parameters)."""
    return tuple(x + y for x, y in zip(a, b)) if isinstance(a, tuple) else a + b


def _scale(a, c: float):
    return tuple(x * c for x in a) if isinstance(a, tuple) else a * c
