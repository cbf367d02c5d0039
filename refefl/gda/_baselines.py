"""Baselines of the GDA: exact MLE on a quadrature grid of S², and score matching with an analytic gradient."""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from refefl._validation import check_positive
from refefl.gda._energy import ReLUEnergy
from refefl.gda._metrics import SphereQuadrature, gibbs_weights
from refefl.gda._neurons import _moment
from refefl.gda._training import Callback, GDAConfig, descend

_INV_SQRT_2PI = 1.0 / np.sqrt(2 * np.pi)


def mle_witness_gradient(energy: ReLUEnergy, data, quadrature: SphereQuadrature) -> np.ndarray:
    r"""Exact MLE witness gradient: the walkers of the GDA replaced by the model's Gibbs measure on the grid.

    .. math::

        D_i = \frac1N \sum_j \mathbb 1[\langle x_j, z_i\rangle > 0]\, x_j
              - \sum_k q_k \mathbb 1[\langle x_k, z_i\rangle > 0]\, x_k, \qquad
        q_k = \frac{\tau_k e^{-E(x_k)}}{\sum_l \tau_l e^{-E(x_l)}},

    so that :math:`\nabla_{z_i} P = \frac{w_i c_i}{n} D_i` and :math:`\partial_{w_i} P = \frac{c_i}{n}
    \langle D_i, z_i\rangle` for the quadrature MLE objective :func:`primal_objective`. Returns (n, d).

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", the exact-gradient MLE baseline on a
    grid of S² (docs/gda.md §4).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import mle_witness_gradient, sample_gibbs, sphere_quadrature
    >>> x = sample_gibbs(teacher, 100, np.random.default_rng(0))
    >>> mle_witness_gradient(teacher, x, sphere_quadrature()).shape
    (2, 3)
    """
    x = energy._points(data)
    z = energy.directions
    grid = quadrature.points
    return (_moment(x, (x @ z.T > 0).astype(x.dtype), None)
            - _moment(grid, (grid @ z.T > 0).astype(grid.dtype), gibbs_weights(energy, quadrature)))


def score_matching_loss(energy: ReLUEnergy, data) -> float:
    r"""Hyvärinen's score-matching loss on the sphere, with the regular part of the Laplacian:

    .. math::

        J(E) = \frac1N \sum_j \tfrac12 \|\nabla_S E(x_j)\|^2 - \Delta_S E(x_j)
             = \frac1N \sum_j \tfrac12 \|\nabla_S E(x_j)\|^2 + (d - 1) E(x_j),

    since :math:`\Delta_S (\langle x, z\rangle)_+ = -(d-1)(\langle x, z\rangle)_+` off the hinge
    :math:`\langle x, z\rangle = 0`. The singular part :math:`(1 - u^2)\delta(u)` of the ReLU's Laplacian
    vanishes on data almost surely, which makes this empirical loss inconsistent for ReLU energies; the GDA with
    p_R = 1 and :func:`score_matching_witness_gradient` keep it, smoothed at the scale :math:`\sqrt{h_x}`.

    References
    ----------
    Hyvärinen (2005), "Estimation of non-normalized statistical models by score matching", JMLR, Theorem 1;
    Domingo-Enrich et al. (2022), the score-matching limit of the GDA with restarts at every step.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import sample_gibbs, score_matching_loss
    >>> x = sample_gibbs(teacher, 100, np.random.default_rng(0))
    >>> print(np.isfinite(score_matching_loss(teacher, x)))
    True
    """
    x = energy._points(data)
    grad = energy.grad_x(x)
    return float(np.mean(0.5 * np.einsum("ij,ij->i", grad, grad) + (energy.dim - 1) * energy.value(x)))


def score_matching_witness_gradient(energy: ReLUEnergy, data, step: float) -> np.ndarray:
    r"""Expected witness gradient of the GDA with restarts at every step (p_R = 1), in closed form.

    One Langevin step from x, linearized, is Gaussian: :math:`y \approx v + \sqrt{2h}\,(I - x x^\top)\xi` with
    :math:`v = (1 - (d-1)h)\, x - h \nabla_S E(x)` (the drift of Brownian motion on the sphere included). Then
    :math:`\langle y, z\rangle \sim \mathcal N(a, s^2)`, :math:`a = \langle v, z\rangle`,
    :math:`s^2 = 2h(\|z\|^2 - \langle x, z\rangle^2)`, and with :math:`t = a / s`

    .. math::

        D_i = \frac1N \sum_j \mathbb 1[u_{ji} > 0]\, x_j - \Phi(t_{ji})\, v_j
              - \frac{\varphi(t_{ji})}{s_{ji}}\, 2h\, (z_i - u_{ji} x_j), \qquad
        \langle D_i, z_i\rangle = \frac1N \sum_j (u_{ji})_+ - s_{ji}\,\Psi(t_{ji}),

    :math:`\Psi(t) = t\Phi(t) + \varphi(t)` (Φ, φ the standard normal cdf and pdf). As h → 0, away from the
    hinges, :math:`D_i / h \to \nabla_z \bigl[\mathrm{mean}_j \langle \nabla_S E, \nabla_S \phi_z\rangle -
    \Delta_S \phi_z\bigr]_{z = z_i}`, i.e. :math:`\nabla_{z_i} J = \frac{w_i c_i}{n} D_i / h` and
    :math:`\partial_{w_i} J = \frac{c_i}{n}\langle D_i, z_i\rangle / h` for :func:`score_matching_loss`; near a
    hinge the Gaussian smoothing keeps the singular part of the Laplacian (the one-step expectation of
    a ReLU, :math:`s\Psi(a/s)`, integrates :math:`\tfrac{s^2}{2}\delta(u)`).

    Parameters
    ----------
    energy : ReLUEnergy
    data : array_like of shape (N, d)
    step : float
        :math:`h = h_x > 0`.

    Returns
    -------
    ndarray of shape (n, d)

    References
    ----------
    Domingo-Enrich et al. (2022), "one Langevin step from the data is score matching": E_data[φ] − E[φ(y)]
    = h E_data[⟨∇φ, ∇E⟩ − Δφ] + o(h) (docs/gda.md §3; equation number unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import sample_gibbs, score_matching_witness_gradient
    >>> x = sample_gibbs(teacher, 100, np.random.default_rng(0))
    >>> score_matching_witness_gradient(teacher, x, 0.02).shape
    (2, 3)
    """
    x = energy._points(data)
    h = check_positive(step, "step")
    z = energy.directions
    v = (1 - (energy.dim - 1) * h) * x - h * energy.grad_x(x)
    u = x @ z.T
    # at x = ±z_i the displacement along z_i is degenerate (s = 0): the floor sends t to ±inf, φ(t)/s to 0
    s = np.sqrt(2 * h * np.maximum(1.0 - u * u, 0.0)) + np.finfo(x.dtype).tiny
    with np.errstate(over="ignore"):
        t = (v @ z.T) / s
        density_over_s = np.exp(-0.5 * t * t) * _INV_SQRT_2PI / s
    moved = (ndtr(t).T @ v + 2 * h * (density_over_s.sum(axis=0)[:, None] * z - (density_over_s * u).T @ x))
    return _moment(x, (u > 0).astype(x.dtype), None) - moved / x.shape[0]


def train_mle(data, student: ReLUEnergy, quadrature: SphereQuadrature, *, n_iter: int,
              config: GDAConfig = GDAConfig(), callback: Callback | None = None, callback_every: int = 1
              ) -> ReLUEnergy:
    r"""Exact MLE in d = 3: the GDA's neuron and mass steps with :func:`mle_witness_gradient`.

    The neuron dynamics of the GDA with the walkers replaced by the exact Gibbs measure on the grid
    (infinitely many walkers at equilibrium); steps from ``config`` (its restart settings set α).
    Returns the trained :class:`ReLUEnergy`.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", MLE baseline (docs/gda.md §4).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import ReLUEnergy, sample_gibbs, sphere_quadrature, train_mle
    >>> rng = np.random.default_rng(0)
    >>> x = sample_gibbs(teacher, 40, rng)
    >>> result = train_mle(x, ReLUEnergy.random(8, 3, rng), sphere_quadrature(20, 20), n_iter=5)
    >>> result.n_neurons
    8
    """
    x = student._points(data)
    _, step_z, step_w = config.steps(student.dim)
    return descend(student, lambda t, energy: mle_witness_gradient(energy, x, quadrature), n_iter=n_iter,
                   step_z=step_z, step_w=step_w, beta=config.beta, callback=callback,
                   callback_every=callback_every)


def train_score_matching(data, student: ReLUEnergy, *, n_iter: int, config: GDAConfig = GDAConfig(restart=1.0),
                         callback: Callback | None = None, callback_every: int = 1) -> ReLUEnergy:
    r"""Score matching with the analytic gradient: the GDA with p_R = 1, walkers replaced by their expectation.

    Each step uses :func:`score_matching_witness_gradient` at :math:`h = h_x` and the GDA's neuron and mass
    steps (defaults with α for p_R = 1 when ``config`` says ``restart=1``). Returns the trained
    :class:`ReLUEnergy`.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", score matching as the p_R = 1 limit
    (docs/gda.md §4).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import ReLUEnergy, sample_gibbs, train_score_matching
    >>> rng = np.random.default_rng(0)
    >>> x = sample_gibbs(teacher, 40, rng)
    >>> result = train_score_matching(x, ReLUEnergy.random(8, 3, rng), n_iter=5)
    >>> result.n_neurons
    8
    """
    x = student._points(data)
    step_x, step_z, step_w = config.steps(student.dim)
    return descend(student, lambda t, energy: score_matching_witness_gradient(energy, x, step_x), n_iter=n_iter,
                   step_z=step_z, step_w=step_w, beta=config.beta, callback=callback,
                   callback_every=callback_every)
