r"""Behaviour-cloning policies for :mod:`refefl.experiments.imitation`: energy policies trained with the generalized
Fenchel-Young loss, and mean-squared-error regression.

Change of variables. Actions live in the box :math:`[-1, 1]^d`; refefl's box regularizers live on
:math:`[0, 1]^d`. With :math:`a = 2u - 1` (:func:`to_action`) and :math:`u = (a + 1)/2` (:func:`to_unit`), the
energy policy

.. math::

    a^\star(s) = \operatorname*{argmax}_{a \in [-1,1]^d} \Phi(a, s) - \Omega\big(\tfrac{a+1}{2}\big)
    = 2\,\hat u(s) - 1, \qquad \hat u(s) = \operatorname*{argmax}_{u \in [0,1]^d} \tilde\Phi(u, s) - \Omega(u),
    \quad \tilde\Phi(u, s) = \Phi(2u - 1, s),

so an energy of u is an energy of a (every energy used here is affine in its first layer or quadratic in its
input, classes closed under this affine map) and the loss :math:`L(s; u)` of the target u = (a + 1)/2 is the loss
of a. With Ω the binary negentropy, :math:`\Omega((a+1)/2) = \sum_i \tfrac{1+a_i}2\log\tfrac{1+a_i}2 +
\tfrac{1-a_i}2\log\tfrac{1-a_i}2` is symmetric with its minimum at a = 0, and for a bilinear energy
:math:`\Phi(a, s) = \langle a, \theta(s)\rangle = \langle u, 2\theta\rangle - \langle 1, \theta\rangle` the policy
is :math:`a^\star = 2\sigma(2\theta) - 1 = \tanh\theta`: the usual squashed output layer.

Regularization strength: :math:`\operatorname{argmax}_u \Phi - \lambda\Omega = \operatorname{argmax}_u
\Phi/\lambda - \Omega` and :math:`L^{\Phi}_{\lambda\Omega} = \lambda L^{\Phi/\lambda}_{\Omega}`, so λ is absorbed
in the scale of Φ, which the networks learn (their initial scale is set by
:class:`~refefl.energies.HeadNetwork`'s fixed factors).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from refefl._validation import as_float_array, check_finite, check_positive, check_positive_int
from refefl.energies import Energy, MaxConcaveEnergy
from refefl.losses import GeneralizedFenchelYoungLoss
from refefl.maximizers import Maximizer
from refefl.nn import MLP, train_minibatch, tree_map
from refefl.projections._root_finding import ConvergenceWarning
from refefl.regularizers import regularizer


def to_unit(a: np.ndarray) -> np.ndarray:
    """u = (a + 1)/2: actions in [−1, 1]^d to the box [0, 1]^d of the regularizers."""
    return (np.asarray(a) + 1) / 2


def to_action(u: np.ndarray) -> np.ndarray:
    """a = 2u − 1: the inverse of :func:`to_unit`."""
    return 2 * np.asarray(u) - 1


def _check_demonstrations(states, actions) -> tuple[np.ndarray, np.ndarray]:
    states, actions = as_float_array(states, "states", min_ndim=2), as_float_array(actions, "actions", min_ndim=2)
    if states.ndim != 2 or actions.ndim != 2 or len(states) != len(actions):
        raise ValueError(f"states and actions must be 2-D with one row per sample, got {states.shape}, {actions.shape}")
    check_finite(states, "states")
    check_finite(actions, "actions")
    if np.abs(actions).max() > 1:
        raise ValueError("actions must lie in [-1, 1]")
    return states, actions


def _replacement_schedule(steps: int) -> dict:
    """The :func:`~refefl.nn.train_minibatch` arguments for ``steps`` Adam steps on minibatches drawn uniformly with
    replacement, in epochs of steps // 10 steps (the last one shorter when 10 does not divide the steps): the
    history's train_loss is then the mean loss of each tenth of the run."""
    steps = check_positive_int(steps, "steps")
    per_epoch = max(steps // 10, 1)
    return {"max_epochs": -(-steps // per_epoch), "sampling": "replacement", "steps_per_epoch": per_epoch,
            "max_steps": steps}


class MSEPolicy:
    r"""Behaviour cloning by regression: :math:`a(s) = \tanh f_W(s)`, :math:`\min_W \frac1n\sum_i \tfrac12\|a(s_i)
    - a_i\|^2`, an :class:`~refefl.nn.MLP` trained by minibatch Adam. Its minimizer is the conditional mean
    E[a | s], the average of the expert's modes where they share states.

    References
    ----------
    Pomerleau (1989), "ALVINN: An Autonomous Land Vehicle in a Neural Network", NeurIPS (behaviour cloning).
    """

    def __init__(self, n_features: int, n_actions: int, *, hidden: Sequence[int] = (64, 64), steps: int = 3000,
                 batch_size: int = 128, learning_rate: float = 1e-3):
        self.net = MLP([n_features, *hidden, n_actions], activation="relu", output_activation="tanh")
        self.steps, self.batch_size, self.learning_rate = steps, batch_size, learning_rate

    def fit(self, states, actions, *, rng: np.random.Generator, verbose: bool = False) -> "MSEPolicy":
        """Fit to demonstrations: states (n, n_features), actions (n, n_actions) in [−1, 1]."""
        states, actions = _check_demonstrations(states, actions)

        def grad_fn(weights, rows):
            out, cache = self.net.forward(weights, states[rows])
            residual = out - actions[rows]
            grads = self.net.backward(cache, residual / len(rows), input_grad=False)[1]
            return 0.5 * float((residual * residual).sum(axis=1).mean()), grads

        result = train_minibatch(grad_fn, self.net.init(rng), len(states), rng=rng, learning_rate=self.learning_rate,
                                 batch_size=self.batch_size, verbose=verbose, **_replacement_schedule(self.steps))
        self.weights_, self.curve_ = result.params, [record["train_loss"] for record in result.history]
        return self

    def act(self, states, previous=None) -> np.ndarray:
        """Actions (n, n_actions) at states (n, n_features); ``previous`` is ignored."""
        return self.net.forward(self.weights_, states)[0]


class EnergyPolicy:
    r"""Energy policy :math:`a(s) = 2\hat u(s) - 1`, :math:`\hat u(s) = \operatorname{argmax}_{u \in [0,1]^d}
    \Phi(u; p_W(s)) - \Omega(u)` (module docstring), trained with the generalized Fenchel-Young loss

    .. math::

        \min_W \frac1n \sum_i L^\Phi_\Omega(p_W(s_i); u_i), \qquad
        \nabla_W L = J_{p_W}^\top\big[\nabla_p\Phi(\hat u_i, p) - \nabla_p\Phi(u_i, p)\big]

    (Danskin: ŷ is held fixed, the maximizer is never differentiated). Training warm-starts the maximizer from the
    target and, with ``train_starts`` > 0, from that many uniform random points too, keeping the best (the loss's
    own maximizer then polishes it within its fixed budget). Acting starts from the previous action and, with
    ``act_grid`` = m > 0, from an m × m grid too, keeping the best objective (the warm start keeps a local solver
    in the basin of the previous action). ``unconverged_`` counts the training steps whose inner solve used up its
    budget (expected with a fixed budget: the loss is then the lower bound L̃ ≤ L, docs/fenchel_young.md §2.7).

    Parameters
    ----------
    energy : Energy
        Φ of (u, parameters).
    parametrization : refefl.energies.StateInput or refefl.energies.HeadNetwork
        How the trained weights W and the state s give the energy's parameters p_W(s).
    maximizer : Maximizer
        Inner solver used in training (a fixed budget is fine: docs/fenchel_young.md §2.7).
    act_maximizer : Maximizer or None
        Inner solver used to act (default: ``maximizer``).
    train_starts, act_grid : int, default 0
    temperature_schedule : (float, float) or None
        (τ_0, τ_1): anneal the energy's temperature from τ_0 to τ_1, then train the last 20 % of the steps at
        τ = 0 (see :meth:`temperatures`); the fitted policy acts at τ = 0.
    steps, batch_size, learning_rate
        Minibatch Adam settings.
    omega : str, default "binary_entropy"
        Ω on [0, 1]^d.

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §3.3 (gradient) and §5 (imitation learning with energy policies
    a = argmax Φ(a, s) − Ω(a) over [−1, 1]^d).
    """

    def __init__(self, energy: Energy, parametrization, *, maximizer: Maximizer, act_maximizer: Maximizer | None = None,
                 train_starts: int = 0, act_grid: int = 0, temperature_schedule: tuple[float, float] | None = None,
                 steps: int = 2000, batch_size: int = 128, learning_rate: float = 1e-3, omega: str = "binary_entropy"):
        if temperature_schedule is not None:
            if not isinstance(energy, MaxConcaveEnergy):
                raise ValueError(f"temperature_schedule needs an energy with a temperature (MaxConcaveEnergy), "
                                 f"got {energy!r}")
            temperature_schedule = tuple(check_positive(t, "temperature_schedule") for t in temperature_schedule)
        self.parametrization, self.temperature_schedule = parametrization, temperature_schedule
        self.loss = GeneralizedFenchelYoungLoss(energy, regularizer(omega), maximizer)
        self.act_loss = GeneralizedFenchelYoungLoss(energy, regularizer(omega), act_maximizer or maximizer)
        self.train_starts, self.act_grid = int(train_starts), int(act_grid)
        self.steps, self.batch_size, self.learning_rate = steps, batch_size, learning_rate

    def _best(self, loss, weights, states: np.ndarray, starts: list[np.ndarray]) -> np.ndarray:
        """The maximizer's answer from each start (one batched solve), best objective per row."""
        k, n = len(starts), len(states)
        params = self.parametrization.forward(weights, np.tile(states, (k, 1)))[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed budget, by design
            y_hat, info = loss.predict(params, y0=np.concatenate(starts))
        best = info.objective.reshape(k, n).argmax(axis=0)
        return y_hat.reshape(k, n, -1)[best, np.arange(n)]

    def _grad(self, weights, states: np.ndarray, targets: np.ndarray, rng: np.random.Generator):
        y0 = targets
        if self.train_starts:
            extra = [rng.uniform(0.05, 0.95, targets.shape) for _ in range(self.train_starts)]
            y0 = self._best(self.loss, weights, states, [targets, *extra])
        params, cache = self.parametrization.forward(weights, states)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            loss, grad = self.loss.value_and_grad(params, targets, y0=y0)
        grad = self.parametrization.backward(cache, grad)
        return float(loss.mean()), tree_map(lambda g: g / len(states), grad), not caught

    def fit(self, states, actions, *, rng: np.random.Generator, verbose: bool = False) -> "EnergyPolicy":
        """Fit to demonstrations: states (n, n_features), actions (n, d) in [−1, 1]."""
        states, actions = _check_demonstrations(states, actions)
        targets = to_unit(actions)
        self.n_actions_ = actions.shape[1]
        schedule, step = self.temperatures(), iter(range(self.steps))

        def grad_fn(weights, rows):
            t = next(step)
            if schedule is not None:
                self.loss.energy.temperature = schedule[t]
            return self._grad(weights, states[rows], targets[rows], rng)

        result = train_minibatch(grad_fn, self.parametrization.init(rng), len(states), rng=rng,
                                 learning_rate=self.learning_rate, batch_size=self.batch_size,
                                 reports_convergence=True, verbose=verbose, **_replacement_schedule(self.steps))
        self.weights_, self.curve_ = result.params, [record["train_loss"] for record in result.history]
        self.unconverged_ = sum(record["unconverged"] for record in result.history)
        return self

    def temperatures(self) -> np.ndarray:
        r"""The energy's temperature at each training step: :math:`\tau_0 (\tau_1/\tau_0)^{t / T'}` for the first
        T' = 80 % of the steps, then 0 (the exact maximum) for the rest; None without a schedule."""
        if self.temperature_schedule is None:
            return None
        start, end = self.temperature_schedule
        annealed = int(0.8 * self.steps)
        return np.concatenate([start * (end / start) ** (np.arange(annealed) / max(annealed, 1)),
                               np.zeros(self.steps - annealed)])

    def act(self, states, previous=None) -> np.ndarray:
        """Actions (n, d) at states (n, n_features), warm-started from ``previous`` actions (n, d) if given."""
        states, d = as_float_array(states, "states", min_ndim=2), self.n_actions_
        check_finite(states, "states")
        starts = [] if previous is None else [np.clip(to_unit(previous), 0.02, 0.98)]
        if self.act_grid or not starts:
            side = np.linspace(0.1, 0.9, self.act_grid) if self.act_grid else [0.5]
            grid = np.stack(np.meshgrid(*[side] * d), axis=-1).reshape(-1, d)
            starts += [np.broadcast_to(point, (len(states), d)) for point in grid]
        return to_action(self._best(self.act_loss, self.weights_, states, starts))

    def objective(self, state, actions) -> np.ndarray:
        r"""F(a) = Φ(u; p_W(s)) − Ω(u), u = (a + 1)/2, at one state (n_features,) for actions (m, d): ndarray of
        shape (m,), the landscape the policy maximizes."""
        units = to_unit(actions)
        params = self.parametrization.forward(self.weights_, np.tile(np.asarray(state, float), (len(units), 1)))[0]
        return self.loss.energy.value(params, units) - self.loss.regularizer.value(units)
