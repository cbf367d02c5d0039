r"""Baselines of the partition-network comparison, on the networks of :class:`PartitionNetworks`.

Each objective returns ``(mean loss, grads)`` with ``grads`` in the structure of ``params`` (V, the partition
network, gets a zero gradient where the baseline has no τ):

- :func:`nce_objective`: ranking noise-contrastive estimation, the softmax of the target among itself and m
  samples of q (a true gradient);
- :func:`mcmc_objective`: maximum likelihood with the model expectation estimated by persistent Markov chains, one
  per training example (:class:`PersistentChains`): Gibbs sweeps on label sets, swap-Metropolis on rankings;
- :func:`min_max_objective`: the variational (min-max) form of maximum likelihood with an adversarial sampler
  network trained by REINFORCE.

Derivations: ``docs/partition.md`` §7.
"""
from __future__ import annotations

import numpy as np

from refefl._validation import check_positive_int
from refefl.partition._loss import min_min_loss
from refefl.partition._networks import _like
from refefl.partition._spaces import Permutations, _sigmoid

def _checked(energy, params, states):
    """Validated energy parameters and chain states (n, c, k) of the energy's space (a fresh array)."""
    params = energy._check_params(params)
    return params, np.array(energy._check_samples(states, energy._n(params), name="states"))


def _zeros_like_layers(layers):
    return [{name: np.zeros_like(value) for name, value in layer.items()} for layer in layers]


def _energy_grads(net, params, theta, cache, Y, samples, d_target, d_samples):
    """Gradients of W (and U) of Σ_i d_target_i g(y_i) + Σ_ij d_samples_ij g(y'_ij); V (and φ) zero."""
    d_energy = net._energy_vjp(theta, Y, d_target, samples, d_samples)
    grads = net._energy_backward(params, cache, d_energy)
    grads["tau"] = _zeros_like_layers(params["tau"])
    if "sampler" in params:
        grads["sampler"] = _zeros_like_layers(params["sampler"])
    return grads


# -- ranking NCE ------------------------------------------------------------------------------------------------
def nce_objective(net, params: dict, X: np.ndarray, Y: np.ndarray, *, rng: np.random.Generator,
                  n_samples: int) -> tuple[float, dict]:
    r"""Ranking noise-contrastive estimation: the target's log-softmax among m + 1 candidates.

    .. math::

        \ell_i = -g(x_i, y_i) + \log\Big(e^{g(x_i, y_i)} + \sum_{j=1}^m e^{g(x_i, y'_{ij})}\Big),
        \qquad y'_{ij} \sim q,

    (with noise from q itself the log-ratios :math:`\log q` of the candidates are equal and cancel). Gradient:
    :math:`(\pi_0 - 1)\nabla g(y_i) + \sum_j \pi_j \nabla g(y'_{ij})`, π the softmax over the m + 1 energies.
    τ is unused (zero gradient).

    Parameters
    ----------
    net : PartitionNetworks
    params : dict
    X : ndarray of shape (n, d)
    Y : ndarray of shape (n, k)
    rng : numpy.random.Generator
    n_samples : int
        m ≥ 1 noise samples per example.

    Returns
    -------
    loss : float
        Mean of :math:`\ell_i` (≥ 0; log(m + 1) at g = 0).
    grads : dict

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), ICML, §5 (baselines); Jozefowicz, Vinyals, Schuster, Shazeer, Wu (2016),
    "Exploring the Limits of Language Modeling", §3.1 (the ranking / softmax form of NCE); Ma, Collins (2018),
    "Noise Contrastive Estimation and Negative Sampling for Conditional Models", EMNLP, §2.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PartitionNetworks
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(4, 2)), np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
    >>> from refefl.partition import nce_objective
    >>> net = PartitionNetworks(n_features=2, k=3, energy="unary")
    >>> loss, grads = nce_objective(net, net.init(rng), X, Y, rng=rng, n_samples=7)
    >>> print(round(loss, 4), round(float(np.log(8)), 4))
    2.0794 2.0794
    """
    n, m = len(X), check_positive_int(n_samples, "n_samples")
    samples, _ = net.space.sample(rng, n, m)
    theta, cache, g_target, g_samples = net._energies(params, X, Y, samples)
    logits = np.concatenate([g_target[:, None], g_samples], axis=1)
    shift = logits.max(axis=1)
    weights = np.exp(logits - shift[:, None])  # one exponential for the loss and π; the largest is 1
    total = weights.sum(axis=1)
    loss = np.log(total) + (shift - g_target)
    pi = weights / total[:, None]
    grads = _energy_grads(net, params, theta, cache, Y, samples, (pi[:, 0] - 1.0) / n, pi[:, 1:] / n)
    return float(loss.mean()), _like(params, grads)


# -- MCMC with persistent chains ----------------------------------------------------------------------------------
class PersistentChains:
    r"""The states of persistent Markov chains, ``n_chains`` per training example, addressed by row index.

    A mutable store (the one object the objectives update in place): :func:`mcmc_objective` reads
    ``states[rows]``, advances those chains and writes them back, so that each example's chains persist across
    training steps (persistent contrastive divergence).

    Parameters
    ----------
    initial_states : array_like of shape (n_rows, n_chains, k)
        Valid states of the space (e.g. the training targets, ``Y[:, None, :]``); copied.

    References
    ----------
    Tieleman (2008), "Training Restricted Boltzmann Machines using Approximations to the Likelihood Gradient",
    ICML (persistent chains).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PersistentChains
    >>> Y = np.array([[1, 0, 1], [0, 1, 1]])
    >>> chains = PersistentChains(Y[:, None, :].repeat(2, axis=1))
    >>> print(chains.states.shape, chains.states[1, 0])
    (2, 2, 3) [0 1 1]
    """

    def __init__(self, initial_states):
        states = np.array(initial_states)
        if states.ndim != 3 or 0 in states.shape or states.dtype.kind not in "iu":
            raise ValueError(f"initial_states must be integer states of shape (n_rows, n_chains, k), got "
                             f"{states.dtype} {states.shape}")
        self.states = states


def gibbs_sweeps(energy, params, states: np.ndarray, rng: np.random.Generator, n_sweeps: int) -> np.ndarray:
    r"""Systematic-scan Gibbs sweeps on label sets under the unary or pairwise energy (a fresh array).

    Label i is redrawn from its exact conditional under :math:`p \propto q\, e^{g}` (q uniform):

    .. math::

        p(y_i = 1 \mid y_{-i}) = \operatorname{sigmoid}\big(u_i + (U y)_i\big) \qquad (U = 0 \text{ unary}),

    since :math:`g(y^{i \leftarrow 1}) - g(y^{i \leftarrow 0}) = u_i + \sum_{l \ne i} U_{il} y_l` (zero diagonal).
    p is stationary for every update, hence for the sweep.

    Parameters
    ----------
    energy : UnarySetEnergy or PairwiseSetEnergy
    params : ndarray (n, k) or pair (u (n, k), U (n, k, k))
    states : ndarray of shape (n, c, k), in {0, 1}
    rng : numpy.random.Generator
    n_sweeps : int

    Returns
    -------
    ndarray of shape (n, c, k), int8

    References
    ----------
    Geman, Geman (1984), "Stochastic Relaxation, Gibbs Distributions, and the Bayesian Restoration of Images",
    IEEE TPAMI 6(6).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import UnarySetEnergy, gibbs_sweeps
    >>> u = np.array([[4.0, -4.0, 0.0]])
    >>> states = np.zeros((1, 2000, 3), dtype=np.int8)
    >>> out = gibbs_sweeps(UnarySetEnergy(3), u, states, np.random.default_rng(0), n_sweeps=1)
    >>> print(out.shape, out.dtype, np.round(out[0].mean(axis=0), 1))
    (1, 2000, 3) int8 [1.  0.  0.5]
    """
    params, y = _checked(energy, params, states)
    u, U = params if isinstance(params, tuple) else (params, None)
    y = y.astype(u.dtype)
    for _ in range(check_positive_int(n_sweeps, "n_sweeps")):
        for i in range(y.shape[-1]):
            field = u[:, None, i] if U is None else u[:, None, i] + np.einsum("nl,ncl->nc", U[:, i, :], y)
            y[:, :, i] = rng.random(y.shape[:2]) < _sigmoid(field)
    return y.astype(np.int8)


def swap_metropolis(energy, params, states: np.ndarray, rng: np.random.Generator, n_sweeps: int) -> np.ndarray:
    r"""Swap-Metropolis sweeps on rankings (a fresh array): k proposals per sweep.

    Each proposal swaps the items at positions a and b, drawn uniformly and independently (a = b leaves σ as it is,
    which makes the chain aperiodic), and is accepted with probability :math:`\min(1, e^{g(\sigma') - g(\sigma)})`;
    the proposal is symmetric and q uniform, so :math:`p \propto e^{g}` satisfies detailed balance, and
    transpositions connect all k! rankings. The gain :math:`g(\sigma') - g(\sigma)` is formed from the entries the
    swap touches, O(1) per proposal: :math:`(\theta_{\sigma_b} - \theta_{\sigma_a})(b - a)` (permutahedron) and
    :math:`\Theta_{\sigma_b a} + \Theta_{\sigma_a b} - \Theta_{\sigma_a a} - \Theta_{\sigma_b b}` (Birkhoff). All the
    positions and uniforms of the call are drawn from ``rng`` up front.

    Parameters
    ----------
    energy : PermutahedronEnergy or BirkhoffEnergy
    params : ndarray (n, k) or (n, k, k)
    states : ndarray of shape (n, c, k)
        Rankings (best first).
    rng : numpy.random.Generator
    n_sweeps : int

    Returns
    -------
    ndarray of shape (n, c, k), intp

    References
    ----------
    Metropolis, Rosenbluth, Rosenbluth, Teller, Teller (1953), J. Chem. Phys. 21; Hastings (1970), Biometrika 57.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PermutahedronEnergy, swap_metropolis
    >>> theta = np.array([[3.0, 0.0, 1.0]])
    >>> states = np.tile(np.arange(3), (1, 500, 1))
    >>> out = swap_metropolis(PermutahedronEnergy(3), theta, states, np.random.default_rng(0), n_sweeps=20)
    >>> print(out.shape, bool((np.sort(out, axis=-1) == np.arange(3)).all()))
    (1, 500, 3) True
    >>> print(np.round(np.mean(out[0, :, 0] == 0), 1))
    0.9
    """
    params, sigma = _checked(energy, params, states)
    sigma = sigma.astype(np.intp, copy=False)  # _checked made it fresh: swapped in place below
    n, c, k = sigma.shape
    rows = np.arange(n)[:, None], np.arange(c)[None, :]
    n_proposals = check_positive_int(n_sweeps, "n_sweeps") * k
    positions = rng.integers(0, k, size=(n_proposals, 2, n, c))
    log_uniforms = np.log(rng.random((n_proposals, n, c)))
    for (a, b), log_u in zip(positions, log_uniforms):
        item_a, item_b = sigma[rows + (a,)], sigma[rows + (b,)]
        gain = energy._swap_gain(params, item_a, item_b, a, b)  # g(σ') − g(σ) from the entries the swap touches
        accept = log_u < gain  # with probability min(1, e^gain)
        sigma[rows + (a,)] = np.where(accept, item_b, item_a)
        sigma[rows + (b,)] = np.where(accept, item_a, item_b)
    return sigma


def mcmc_objective(net, params: dict, X: np.ndarray, Y: np.ndarray, rows: np.ndarray, *,
                   rng: np.random.Generator, chains: PersistentChains, n_mcmc_steps: int) -> tuple[float, dict]:
    r"""Maximum likelihood with the model expectation from persistent chains, one chain state per example row.

    The chains of ``rows`` first make ``n_mcmc_steps`` sweeps under the current energy (:func:`gibbs_sweeps` for
    sets, :func:`swap_metropolis` for rankings; written back to ``chains``); then, with :math:`y^{c}_{i}` those
    states, the gradient is the stochastic estimate of the NLL's :math:`\mathbb E_p[\nabla g] - \nabla g(y_i)`:

    .. math::

        \frac1n \sum_i \frac1C \sum_c \nabla g(x_i, y^c_i) - \nabla g(x_i, y_i).

    The loss reported is the proxy whose gradient (states held fixed) this is, the mean energy gap
    :math:`\frac1n\sum_i \frac1C\sum_c g(x_i, y^c_i) - g(x_i, y_i)`: not the NLL (it is 0 when the chains sit on the
    targets). τ is unused (zero gradient).

    Parameters
    ----------
    net : PartitionNetworks
    params : dict
    X : ndarray of shape (n, d)
    Y : ndarray of shape (n, k)
    rows : ndarray of shape (n,), int
        The training-row indices of X, Y: which chains of ``chains`` to advance.
    rng : numpy.random.Generator
    chains : PersistentChains
        Updated in place.
    n_mcmc_steps : int
        Sweeps per training step, ≥ 1.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), ICML, §5 (the MCMC baseline); Tieleman (2008), ICML (persistent
    contrastive divergence).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PartitionNetworks
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(4, 2)), np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
    >>> from refefl.partition import PersistentChains, mcmc_objective
    >>> net = PartitionNetworks(n_features=2, k=3, energy="unary")
    >>> chains = PersistentChains(Y[:, None, :])
    >>> rows = np.array([0, 2])
    >>> params = net.init(rng)
    >>> loss, grads = mcmc_objective(net, params, X[rows], Y[rows], rows, rng=rng, chains=chains, n_mcmc_steps=2)
    >>> print(chains.states.shape, sorted(grads))
    (4, 1, 3) ['energy', 'tau']
    """
    steps = check_positive_int(n_mcmc_steps, "n_mcmc_steps")
    rows = np.asarray(rows)
    if rows.shape != (len(X),):
        raise ValueError(f"rows must give one chain index per row of X, shape ({len(X)},), got {rows.shape}")
    theta, cache = net.energy_params(params, X)
    sweep = swap_metropolis if isinstance(net.space, Permutations) else gibbs_sweeps
    states = sweep(net.energy, theta, chains.states[rows], rng, steps)
    chains.states[rows] = states
    n, c = states.shape[:2]
    gap = net.energy._value(theta, states).mean(axis=1) - net.energy.value(theta, Y[:, None, :])[:, 0]
    grads = _energy_grads(net, params, theta, cache, Y, states, np.full(n, -1.0 / n), np.full((n, c), 1.0 / (n * c)))
    return float(gap.mean()), _like(params, grads)


# -- min-max with a REINFORCE sampler -----------------------------------------------------------------------------
def log_prob_gradient(space, logits: np.ndarray, samples: np.ndarray) -> np.ndarray:
    r""":math:`\nabla_a \log r_a(y)` for each sample: shape (n, m, k).

    Bernoulli logits: :math:`y - \operatorname{sigmoid}(a)`. Plackett-Luce scores: for the item at position p of σ,
    :math:`1 - \sum_{r \le p} e^{s_{\sigma_p}} / \sum_{t \ge r} e^{s_{\sigma_t}}` (each ratio ≤ 1, formed in logs).

    References
    ----------
    Plackett (1975), "The Analysis of Permutations", Applied Statistics 24(2), eq. (1).
    """
    if not isinstance(space, Permutations):
        return samples - _sigmoid(logits)[:, None, :]
    s = logits - logits.max(axis=1, keepdims=True)
    ordered = np.take_along_axis(np.broadcast_to(s[:, None, :], samples.shape), samples, axis=2)
    log_tails = np.logaddexp.accumulate(ordered[..., ::-1], axis=-1)[..., ::-1]
    grad_ordered = 1.0 - np.exp(ordered + np.logaddexp.accumulate(-log_tails, axis=-1))
    grad = np.empty_like(grad_ordered)
    np.put_along_axis(grad, samples, grad_ordered, axis=2)
    return grad


def min_max_objective(net, params: dict, X: np.ndarray, Y: np.ndarray, *, rng: np.random.Generator,
                      n_samples: int) -> tuple[float, dict]:
    r"""The min-max (variational) form of maximum likelihood with an adversarial sampler :math:`r_\phi(y|x)`.

    The KL case of the variational identity of ``docs/partition.md`` §2, kept as a maximum over distributions
    (Gibbs' variational principle) instead of its dual minimum over τ:
    :math:`\log \mathbb E_q e^{g} = \max_r \mathbb E_{y' \sim r}[g(y') + \log q(y') - \log r(y')]`, attained at
    r = p. With a sampler network (Bernoulli logits for sets, Plackett-Luce scores for rankings, ``params["sampler"]``):

    .. math::

        \min_W \max_\phi\; J = \frac1n\sum_i \mathbb E_{y' \sim r_\phi(\cdot|x_i)}\big[h_i(y')\big] - g(x_i, y_i),
        \qquad h_i(y') = g(x_i, y') + \log q(y') - \log r_\phi(y'|x_i),

    a lower bound of the NLL for every φ, equal to it at :math:`r_\phi = p_W`. For m = 1 sample this is exactly the
    maximum over the sampler of the importance-weighted min-min objective minimized over τ
    (:math:`\min_\tau \tau + w e^{g - \tau} - 1 = g + \log w`, :math:`w = q/r`); for general m we average m
    copies. (The min-min objective averaged over r does not depend on r, so a sampler cannot play against it.)
    Gradients, all unbiased for ∇J: W gets :math:`\frac1{nm}\sum_{ij} \nabla g(y'_{ij}) - \frac1n \sum_i \nabla g(y_i)`;
    φ gets (as the negative of its ascent direction) the REINFORCE estimate with a leave-one-out mean baseline,

    .. math::

        \nabla_\phi J \approx \frac1{nm}\sum_{ij} \big(h_{ij} - \bar h_{i,-j}\big)\, \nabla_\phi \log r_\phi(y'_{ij}|x_i),
        \qquad \bar h_{i,-j} = \frac1{m-1}\sum_{l \ne j} h_{il}

    (the baseline is independent of :math:`y'_{ij}` and :math:`\mathbb E_r \nabla \log r = 0`, which also cancels the
    :math:`-\nabla_\phi \log r` inside h). τ is trained in the same step on the importance-weighted min-min objective
    with these samples (its τ-gradient only), so that it estimates the log-partition.

    Parameters
    ----------
    net : PartitionNetworks
        Built with a sampler network (``sampler_hidden`` not None).
    params : dict
    X : ndarray of shape (n, d)
    Y : ndarray of shape (n, k)
    rng : numpy.random.Generator
    n_samples : int
        m ≥ 2 samples of r per example (the baseline needs another sample).

    Returns
    -------
    loss : float
        The sampled J (in expectation ≤ the NLL).
    grads : dict

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), ICML, §5 (the min-max baseline); Williams (1992), "Simple Statistical
    Gradient-Following Algorithms for Connectionist Reinforcement Learning", Machine Learning 8 (REINFORCE);
    Kim, Bengio (2016), "Deep Directed Generative Models with Energy-Based Probability Estimation" (an energy
    trained against a sampler); Mnih, Rezende (2016), "Variational Inference for Monte Carlo Objectives", ICML
    (leave-one-out baselines).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.partition import PartitionNetworks
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(4, 2)), np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
    >>> from refefl.partition import min_max_objective
    >>> net = PartitionNetworks(n_features=2, k=3, energy="unary", sampler_hidden=(8,))
    >>> loss, grads = min_max_objective(net, net.init(rng), X, Y, rng=rng, n_samples=8)
    >>> print(round(loss, 12), sorted(grads))
    0.0 ['energy', 'sampler', 'tau']
    """
    if getattr(net, "sampler_net", None) is None or "sampler" not in params:
        raise ValueError("min_max_objective needs a sampler network: PartitionNetworks(..., sampler_hidden=(...))")
    m = check_positive_int(n_samples, "n_samples")
    if m < 2:
        raise ValueError(f"n_samples must be at least 2 for the min-max baseline (leave-one-out baseline), got {m}")
    n = len(X)
    logits, sampler_cache = net.sampler_net.forward(params["sampler"], X)
    samples, log_r = net.space.sample(rng, n, m, logits)
    theta, cache, g_target, g_samples = net._energies(params, X, Y, samples)
    h = g_samples + net.space.log_uniform - log_r
    grads = _energy_grads(net, params, theta, cache, Y, samples, np.full(n, -1.0 / n), np.full((n, m), 1.0 / (n * m)))
    advantage = h - (h.sum(axis=1, keepdims=True) - h) / (m - 1)
    d_logits = np.einsum("nm,nmk->nk", advantage / (n * m), log_prob_gradient(net.space, logits, samples))
    _, grads["sampler"] = net.sampler_net.backward(sampler_cache, -d_logits, input_grad=False)  # the sampler ascends J
    tau, tau_cache = net.log_partition_estimate(params, X)
    _, (_, _, d_tau) = min_min_loss(g_target, g_samples, tau, log_weights=net.space.log_uniform - log_r,
                                    return_grad=True)
    _, grads["tau"] = net.tau_net.backward(tau_cache, (d_tau / n)[:, None], input_grad=False)
    return float((h.mean(axis=1) - g_target).mean()), _like(params, grads)
