"""The GDA training loop: Langevin walkers (ascent) and neurons (descent), with restarts at the data."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from refefl._backend import select
from refefl._validation import check_positive, check_positive_int
from refefl.gda._energy import ReLUEnergy, check_on_sphere
from refefl.gda._kernels import gda_iteration
from refefl.gda._neurons import _neuron_step

Callback = Callable[[int, ReLUEnergy], None]


@dataclass(frozen=True)
class GDAConfig:
    r"""Step sizes, constraint and restart schedule of the GDA.

    Parameters
    ----------
    step_x : float
        Langevin step :math:`h_x` (paper: 0.02).
    step_z, step_w : float or None
        Neuron and mass steps. None picks the paper's defaults (docs/gda.md §2), with
        :math:`\alpha = 1 + 0.1\, p_R / h_x` (:math:`p_R = 1/N_\mathrm{restart}`): :math:`h_z = 0.04\alpha`,
        :math:`h_w = 0.04\alpha` in d = 3 and :math:`h_z = h_w = 0.2\alpha` in d > 3 (the paper's d = 15 values;
        unconfirmed for 3 < d < 15). α compensates the O(h_x) size of the restarted (score-matching) update.
        The paper's text gives :math:`h_w = 0.02\alpha` in d = 3; 0.04 is the default because it reproduces the
        paper's KL curves (docs/gda.md §2).
    beta : float
        Bound β on the total variation mean(w) (paper: 10).
    restart : float
        Probability :math:`p_R \in [0, 1]` that all walkers restart at the data at an iteration: 0 is persistent
        (dual) training, 1 is score matching. One coin per iteration for the whole population (a choice: whether
        the paper restarts walkers jointly or one by one is unconfirmed).
    restart_period : int or None
        Restart deterministically every ``restart_period`` iterations instead (then ``restart`` must be 0).
    time_scale : float
        Multiplies :math:`h_z` and :math:`h_w`: the ratio of the neurons' time scale to the particles'.
    lazy : bool
        Freeze the directions (:math:`h_z = 0`): the lazy (kernel) regime, convex in w.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", §5 (step sizes, α, β; docs/gda.md §2 notes
    which of them are uncertain).

    Examples
    --------
    >>> from refefl.gda import GDAConfig
    >>> GDAConfig(restart=1.0).beta
    10.0
    """

    step_x: float = 0.02
    step_z: float | None = None
    step_w: float | None = None
    beta: float = 10.0
    restart: float = 0.0
    restart_period: int | None = None
    time_scale: float = 1.0
    lazy: bool = False

    def __post_init__(self) -> None:
        check_positive(self.step_x, "step_x")
        for name in ("step_z", "step_w"):
            if getattr(self, name) is not None:
                check_positive(getattr(self, name), name, strict=False)
        check_positive(self.beta, "beta")
        check_positive(self.time_scale, "time_scale")
        if not 0 <= check_positive(self.restart, "restart", strict=False) <= 1:
            raise ValueError(f"restart must be a probability in [0, 1], got {self.restart}")
        if self.restart_period is not None:
            check_positive_int(self.restart_period, "restart_period")
            if self.restart != 0:
                raise ValueError("give either restart (a probability) or restart_period, not both")

    @property
    def restart_probability(self) -> float:
        """:math:`p_R`: ``restart``, or 1 / ``restart_period``."""
        return 1.0 / self.restart_period if self.restart_period is not None else float(self.restart)

    def steps(self, dim: int) -> tuple[float, float, float]:
        r""":math:`(h_x, h_z, h_w)` for dimension ``dim``, defaults and ``time_scale`` applied."""
        alpha = 1.0 + 0.1 * self.restart_probability / self.step_x
        default_z, default_w = (0.04 * alpha, 0.04 * alpha) if dim <= 3 else (0.2 * alpha, 0.2 * alpha)
        step_z = default_z if self.step_z is None else self.step_z
        step_w = default_w if self.step_w is None else self.step_w
        return self.step_x, 0.0 if self.lazy else self.time_scale * step_z, self.time_scale * step_w


@dataclass
class GDAResult:
    """The trained energy, the final walkers (shape (2N, d)) and the number of restarts (the first included).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import ReLUEnergy, sample_gibbs, train_gda
    >>> rng = np.random.default_rng(0)
    >>> data = sample_gibbs(teacher, 40, rng)
    >>> student = ReLUEnergy.random(8, 3, rng)
    >>> result = train_gda(data, student, n_iter=5, rng=rng)
    >>> print(type(result).__name__, result.walkers.shape, result.energy.n_neurons)
    GDAResult (80, 3) 8
    """

    energy: ReLUEnergy
    walkers: np.ndarray
    n_restarts: int


class _Iteration:
    """One iteration of :func:`train_gda` (a call, ``(t, energy) -> energy``): the restart check, the antithetic
    noise, then :func:`gda_iteration` (walkers' step, witness, neuron step) in the implementation ``backend`` picks
    (:func:`refefl._backend.select`).

    ``data`` and the energies it is called with are C-contiguous arrays of one dtype (:func:`train_gda` converts
    them once); the walkers live in two buffers that the kernel writes in turn.
    """

    def __init__(self, data: np.ndarray, config: GDAConfig, rng: np.random.Generator, backend: str = "auto") -> None:
        self.data, self.config, self.rng = data, config, rng
        self.steps = config.steps(data.shape[1])
        self._kernel = select(gda_iteration, backend)
        self.walkers = np.concatenate([data, data])
        self._moved = np.empty_like(self.walkers)
        self._noise = np.empty(data.shape)  # the float64 draws (rounded to the dtype when it is float32)
        self.n_restarts = 0

    def _restart_now(self, t: int) -> bool:
        if t == 0:
            return True
        if self.config.restart_period is not None:
            return t % self.config.restart_period == 0
        # p_R = 0 and p_R = 1 draw no coin, so their noise streams match the loop without restarts' coins
        return self.config.restart >= 1 or (self.config.restart > 0 and self.rng.random() < self.config.restart)

    def __call__(self, t: int, energy: ReLUEnergy) -> ReLUEnergy:
        if self._restart_now(t):
            self.walkers, self.n_restarts = np.concatenate([self.data, self.data]), self.n_restarts + 1
            self._moved = np.empty_like(self.walkers)
        # the draws of antithetic_noise, without the copy
        noise = self.rng.standard_normal(out=self._noise).astype(self.data.dtype, copy=False)
        directions, masses = np.empty_like(energy.directions), np.empty_like(energy.masses)
        step_x, step_z, step_w = self.steps
        self._kernel(self.data, self.walkers, energy.directions, energy.signs, energy.masses, noise, step_x, step_z,
                     step_w, self.config.beta, self._moved, directions, masses)
        self.walkers, self._moved = self._moved, self.walkers
        return ReLUEnergy._trusted(directions, energy.signs, masses)


def _iterate(energy: ReLUEnergy, step: Callable[[int, ReLUEnergy], ReLUEnergy], n_iter: int,
             callback: Callback | None, callback_every: int) -> ReLUEnergy:
    """``energy = step(t, energy)`` for t = 0, ..., n_iter - 1, with the callbacks of :func:`descend`."""
    if callback is not None:
        callback(0, energy)
    for t in range(n_iter):
        energy = step(t, energy)
        if callback is not None and ((t + 1) % callback_every == 0 or t + 1 == n_iter):
            callback(t + 1, energy)
    return energy


def descend(energy: ReLUEnergy, witness_fn: Callable[[int, ReLUEnergy], np.ndarray], *, n_iter: int,
            step_z: float, step_w: float, beta: float, callback: Callback | None = None,
            callback_every: int = 1) -> ReLUEnergy:
    r"""The neurons' loop: :math:`D \leftarrow` ``witness_fn(t, energy)``, then :func:`neuron_step`, n_iter times.

    ``callback(t, energy)`` runs at t = 0, every ``callback_every`` iterations and after the last one.
    Returns the final :class:`ReLUEnergy`. Shared by :func:`train_mle` and :func:`train_score_matching`, which
    differ only in how they estimate the witness gradient D; :func:`train_gda` runs the same loop (and
    callbacks) with the witness and the neuron step fused into one kernel (:mod:`refefl.gda._kernels`).

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", the neuron dynamics (Wasserstein-Fisher-Rao
    flow of the neuron measure; equation number unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import descend, sample_gibbs, witness_gradient
    >>> x = sample_gibbs(teacher, 40, np.random.default_rng(0))
    >>> energy = descend(teacher, lambda t, e: witness_gradient(e, x, x), n_iter=3, step_z=0.1, step_w=0.1, beta=10.0)
    >>> print(np.round(energy.masses, 4))
    [10. 10.]
    """
    n_iter, callback_every = check_positive_int(n_iter, "n_iter"), check_positive_int(callback_every,
                                                                                       "callback_every")
    return _iterate(energy, lambda t, e: _neuron_step(e, witness_fn(t, e), step_z, step_w, beta), n_iter, callback,
                    callback_every)


def train_gda(data, student: ReLUEnergy, *, n_iter: int, rng=None, config: GDAConfig = GDAConfig(),
              callback: Callback | None = None, callback_every: int = 1, backend: str = "auto") -> GDAResult:
    r"""Train a shallow ReLU energy by particle gradient descent-ascent, with restarts at the data.

    Walkers start at the data, two per point (M = 2N, antithetic noise). Iteration t:

    1. restart: :math:`Y \leftarrow [X; X]` at t = 0 and then with probability :math:`p_R` (or every
       :math:`N_\mathrm{restart}` iterations);
    2. particles (ascent, :func:`particle_step`):
       :math:`Y \leftarrow \mathrm{normalize}(Y - h_x \nabla_S E(Y) + \sqrt{2h_x}[\xi; -\xi])`;
    3. neurons (descent, :func:`neuron_step`) from the witness of the *moved* walkers,
       :math:`D_i = \mathrm{mean}_j \mathbb 1[\langle x_j, z_i\rangle > 0] x_j -
       \mathrm{mean}_k \mathbb 1[\langle y_k, z_i\rangle > 0] y_k`:
       :math:`z_i \leftarrow \mathrm{normalize}(z_i - h_z c_i (I - z_i z_i^\top) D_i)`,
       :math:`w_i \leftarrow w_i e^{-h_w c_i \langle D_i, z_i\rangle}`, rescaled to mean(w) ≤ β.

    With :math:`p_R = 1` the walkers are one Langevin step from the data and :math:`D / h_x` estimates the
    score-matching gradient (:func:`score_matching_witness_gradient`); with :math:`p_R = 0` it is the
    persistent ("dual") GDA, whose fixed points are MLE solutions up to the Langevin bias.

    Parameters
    ----------
    data : array_like of shape (N, d)
        Training points on the unit sphere (``ValueError`` naming the first row whose norm is not 1 to sqrt(eps)
        of the dtype).
    student : ReLUEnergy
        Initial energy (e.g. :meth:`ReLUEnergy.random`).
    n_iter : int
    rng : numpy.random.Generator or int or None
        Source of the Langevin noise and the restart coins.
    config : GDAConfig
    callback : callable ``(t, energy) -> None``, optional
        Called at t = 0, every ``callback_every`` iterations and at the end (for metrics).
    backend : {"auto", "numpy", "ext"}
        Implementation of the walkers' pass and the moments (:mod:`refefl.gda._kernels`): the NumPy reference
        or its compiled twin ("auto": the backend of :func:`refefl.config_context`, the twin when it is built). Both
        compute the same iteration; rounding differs, and the walkers are a chaotic system, so long runs agree
        in distribution, not to the last digit.

    Returns
    -------
    GDAResult

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks": the GDA with restarts (algorithm number unconfirmed); the
    p_R = 1 ↔ score matching correspondence.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import ReLUEnergy, sample_gibbs, train_gda
    >>> rng = np.random.default_rng(0)
    >>> data = sample_gibbs(teacher, 40, rng)
    >>> student = ReLUEnergy.random(8, 3, rng)
    >>> result = train_gda(data, student, n_iter=5, rng=rng)
    >>> print(result.walkers.shape, result.energy.total_variation() <= 10.0)
    (80, 3) True
    """
    x = np.ascontiguousarray(student._points(data))
    check_on_sphere(x, "data")
    n_iter, callback_every = check_positive_int(n_iter, "n_iter"), check_positive_int(callback_every,
                                                                                       "callback_every")
    # validated once: the loop runs on C-contiguous arrays of the data's dtype
    student = ReLUEnergy._trusted(*(np.ascontiguousarray(a, dtype=x.dtype)
                                    for a in (student.directions, student.signs, student.masses)))
    iteration = _Iteration(x, config, np.random.default_rng(rng), backend)
    energy = _iterate(student, iteration, n_iter, callback, callback_every)
    return GDAResult(energy, iteration.walkers, iteration.n_restarts)
