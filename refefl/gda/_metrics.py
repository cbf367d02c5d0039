"""Quadrature on S², KL and score-matching distances between Gibbs measures, and the duality gap of the MLE."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from refefl._validation import check_positive, check_positive_int
from refefl.gda._energy import ReLUEnergy, check_points

# directions per block when the witness is maximized over a grid: bounds the (block, grid) temporary to ~20 MB
_WITNESS_BLOCK = 256


@dataclass(frozen=True)
class SphereQuadrature:
    """A quadrature of the uniform probability measure τ on S²: ``points`` (q, 3) and ``weights`` (q,), Σ = 1.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import sphere_quadrature
    >>> q = sphere_quadrature(20, 20)
    >>> print(q.points.shape, np.round(q.weights.sum(), 4))
    (400, 3) 1.0
    """

    points: np.ndarray
    weights: np.ndarray


def sphere_quadrature(n_theta: int = 100, n_phi: int = 100) -> SphereQuadrature:
    r"""Midpoint rule in the polar angle θ and the azimuth φ, with weights :math:`\propto \sin\theta`.

    .. math::

        \int_{S^2} f\, d\tau \approx \sum_{a, b} \tau_{ab} f(x(\theta_a, \phi_b)), \quad
        \tau_{ab} = \frac{\sin\theta_a}{\sum_{a'} n_\phi \sin\theta_{a'}},

    :math:`\theta_a = (a + \tfrac12)\pi / n_\theta`, :math:`\phi_b = (b + \tfrac12) 2\pi / n_\phi`. The weights
    are normalized to sum to 1 (constants are integrated exactly, so a KL on the grid is a KL between two
    discrete measures and is ≥ 0). The paper's default is 100 × 100. Piecewise-linear ReLU energies
    limit the rule to second order; see the tests for the accuracy of KL values at this size.

    References
    ----------
    Domingo-Enrich et al. (2022), §5: "KL by quadrature on a 100 × 100 grid of S²" (docs/gda.md §4).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import sphere_quadrature
    >>> q = sphere_quadrature(20, 20)
    >>> print(np.round(q.weights @ q.points[:, 2] ** 2, 4))
    0.334
    """
    theta = (np.arange(check_positive_int(n_theta, "n_theta")) + 0.5) * np.pi / n_theta
    phi = (np.arange(check_positive_int(n_phi, "n_phi")) + 0.5) * 2 * np.pi / n_phi
    t, p = np.meshgrid(theta, phi, indexing="ij")
    points = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1).reshape(-1, 3)
    weights = np.repeat(np.sin(theta), n_phi)
    return SphereQuadrature(points, weights / weights.sum())


def log_partition(energy: ReLUEnergy, quadrature: SphereQuadrature) -> float:
    r""":math:`\log Z_E = \log \sum_k \tau_k e^{-E(x_k)}` (log-sum-exp: finite for any finite energy).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import log_partition, sphere_quadrature
    >>> print(round(log_partition(teacher, sphere_quadrature()), 3))
    3.396
    """
    return float(logsumexp(-energy.value(quadrature.points), b=quadrature.weights))


def gibbs_weights(energy: ReLUEnergy, quadrature: SphereQuadrature) -> np.ndarray:
    r"""The Gibbs measure on the grid, :math:`q_k = \tau_k e^{-E(x_k)} / Z_E`, ndarray of shape (q,).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import gibbs_weights, sphere_quadrature
    >>> print(np.round(gibbs_weights(teacher, sphere_quadrature()).sum(), 4))
    1.0
    """
    log_q = np.log(quadrature.weights) - energy.value(quadrature.points)
    return np.exp(log_q - logsumexp(log_q))


def kl_divergence(teacher: ReLUEnergy, student: ReLUEnergy, quadrature: SphereQuadrature) -> float:
    r"""KL(teacher‖student) by quadrature on S²:

    .. math::

        \mathrm{KL}(\nu_t \| \nu_s) = \int (E_s - E_t)\, d\nu_t + \log Z_s - \log Z_t ,

    the direction the paper reports (the data distribution first). ≥ 0 on the grid up to rounding.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", §5 (the KL curves of the experiments).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import kl_divergence, sphere_quadrature
    >>> print(round(kl_divergence(teacher, teacher, sphere_quadrature()), 6))
    0.0
    """
    q_t = gibbs_weights(teacher, quadrature)
    gap = student.value(quadrature.points) - teacher.value(quadrature.points)
    return float(q_t @ gap + log_partition(student, quadrature) - log_partition(teacher, quadrature))


def kl_divergence_mc(teacher: ReLUEnergy, student: ReLUEnergy, teacher_samples) -> float:
    r"""KL(teacher‖student) by Monte Carlo from samples of the teacher (any dimension).

    With :math:`\Delta = E_s - E_t` and :math:`Z_s / Z_t = \mathbb E_{\nu_t}[e^{-\Delta}]`,

    .. math::

        \mathrm{KL}(\nu_t\|\nu_s) = \mathbb E_{\nu_t}[\Delta] + \log \mathbb E_{\nu_t}[e^{-\Delta}]
        \approx \overline{\Delta} + \log \overline{e^{-\Delta}} ,

    estimated on the same samples: ≥ 0 by Jensen (up to rounding), no uniform samples or partition functions
    needed, and the error vanishes with the variance of Δ (small near convergence). Bias O(Var Δ / n_samples).

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", §5 (KL by Monte Carlo in d = 15; the
    estimator here is refefl's choice).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import kl_divergence_mc, sample_gibbs
    >>> x = sample_gibbs(teacher, 100, np.random.default_rng(0))
    >>> print(round(kl_divergence_mc(teacher, teacher, x), 6))
    0.0
    """
    x = teacher._points(teacher_samples)
    delta = student.value(x) - teacher.value(x)
    return float(np.mean(delta) + logsumexp(-delta) - np.log(delta.size))


def score_matching_distance(teacher: ReLUEnergy, student: ReLUEnergy, points, weights=None) -> float:
    r"""Score-matching (Fisher) distance with tangential gradients,
    :math:`\mathbb E_{\nu_t} \|\nabla_S E_t - \nabla_S E_s\|^2` (no factor ½).

    ``points`` are teacher samples (``weights`` None: plain mean) or quadrature points with ``weights`` the
    teacher's Gibbs weights (:func:`gibbs_weights`).

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", §5 (the SM curves; whether the paper
    includes a factor ½ is unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import score_matching_distance, uniform_sphere
    >>> x = uniform_sphere(np.random.default_rng(0), 50, 3)
    >>> print(round(score_matching_distance(teacher, teacher, x), 6))
    0.0
    """
    x = teacher._points(points)
    diff = teacher.grad_x(x) - student.grad_x(x)
    sq = np.einsum("ij,ij->i", diff, diff)
    return float(np.mean(sq) if weights is None else np.asarray(weights) @ sq)


def primal_objective(energy: ReLUEnergy, data, quadrature: SphereQuadrature) -> float:
    r"""The MLE objective :math:`P(E) = \frac1N\sum_j E(x_j) + \log \int e^{-E} d\tau` (quadrature).

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", the primal (maximum likelihood over the F1
    ball; equation number unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import primal_objective, sample_gibbs, sphere_quadrature
    >>> x = sample_gibbs(teacher, 100, np.random.default_rng(0))
    >>> print(np.isfinite(primal_objective(teacher, x, sphere_quadrature())))
    True
    """
    return float(np.mean(energy.value(data)) + log_partition(energy, quadrature))


def witness(data, density, quadrature: SphereQuadrature, directions) -> np.ndarray:
    r"""The witness :math:`G(z) = \frac1N \sum_j (\langle x_j, z\rangle)_+ - \sum_k \mu_k (\langle x_k,
    z\rangle)_+` of a grid density μ against the data, at each row of ``directions`` (shape (m, 3) → (m,)).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import gibbs_weights, sphere_quadrature, witness
    >>> q = sphere_quadrature()
    >>> w = witness(teacher.directions, gibbs_weights(teacher, q), q, teacher.directions)
    >>> w.shape
    (2,)
    """
    data = check_points(data, 3, "data")
    directions = check_points(directions, 3, "directions")
    out = np.empty(directions.shape[0])
    for start in range(0, directions.shape[0], _WITNESS_BLOCK):
        z = directions[start:start + _WITNESS_BLOCK].T
        out[start:start + _WITNESS_BLOCK] = (np.mean(np.maximum(data @ z, 0), axis=0)
                                            - density @ np.maximum(quadrature.points @ z, 0))
    return out


def dual_objective(density, data, quadrature: SphereQuadrature, beta: float, directions, signs=None) -> float:
    r"""The dual of the F1-ball MLE for a density μ on the grid:

    .. math::

        D(\mu) = -\mathrm{KL}(\mu \| \tau) - \beta \max\Bigl(0, \max_{(z, c) \in \mathcal Z} -c\, G(z)\Bigr),

    with :math:`\mathcal Z` the pairs (row of ``directions``, entry of ``signs``) the primal's neurons may take;
    ``signs`` None allows both signs, i.e. :math:`\max_z |G(z)|` (the sup over the sphere is taken on this finite
    set). Weak duality: :math:`P(E) \ge D(\mu)` for every μ and every energy with mean(w) ≤ β whose neurons lie
    in :math:`\mathcal Z` (Donsker-Varadhan, then Hölder on the neuron measure).

    References
    ----------
    Domingo-Enrich et al. (2022), the dual of maximum likelihood over the F1 ball (feature-learning regime) and
    its lazy version with the directions fixed (theorem numbers unconfirmed); docs/gda.md §4.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import dual_objective, gibbs_weights, sample_gibbs, sphere_quadrature
    >>> q = sphere_quadrature()
    >>> x = sample_gibbs(teacher, 100, np.random.default_rng(0))
    >>> print(np.isfinite(dual_objective(gibbs_weights(teacher, q), x, q, 10.0, teacher.directions)))
    True
    """
    mu = np.asarray(density, dtype=np.float64)
    if mu.shape != quadrature.weights.shape or np.any(mu < 0) or not np.isclose(mu.sum(), 1.0):
        raise ValueError(f"density must be a probability vector of shape {quadrature.weights.shape}")
    g = witness(data, mu, quadrature, directions)
    if signs is None:
        worst = np.max(np.abs(g))
    else:
        signs = np.asarray(signs, dtype=np.float64)
        if signs.shape != g.shape:
            raise ValueError(f"signs must have shape {g.shape}, got {signs.shape}")
        worst = max(0.0, float(np.max(-signs * g)))
    pos = mu > 0
    kl = float(mu[pos] @ np.log(mu[pos] / quadrature.weights[pos]))
    return -kl - check_positive(beta, "beta") * float(worst)


def duality_gap(energy: ReLUEnergy, data, beta: float, quadrature: SphereQuadrature, *, directions=None,
                lazy: bool = False) -> float:
    r"""Duality gap :math:`P(E) - D(\nu_E) \ge 0` on the grid, with the model's own Gibbs measure as dual point.

    Donsker-Varadhan makes :math:`\log Z_E = -\int E\, d\nu_E - \mathrm{KL}(\nu_E\|\tau)` an equality, so

    .. math::

        P(E) - D(\nu_E) = \sum_i \frac{w_i c_i}{n} G(z_i) + \beta \max\bigl(0, \max_{\mathcal Z} -c\,G(z)\bigr)
        \ \ge\ (\beta - \mathrm{mean}(w)) \max\bigl(0, \max_{\mathcal Z} -c\, G\bigr) \ \ge 0

    whenever mean(w) ≤ β and every neuron (z_i, c_i) belongs to :math:`\mathcal Z`. Feature-learning regime
    (default): :math:`\mathcal Z` = (``directions``, default the quadrature points, plus the neurons) × the signs
    the energy uses; the gap vanishes at the MLE over the F1 ball. Lazy regime (``lazy=True``):
    :math:`\mathcal Z` = the neurons' own (z_i, c_i); the gap vanishes at the MLE over the masses.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import duality_gap, sample_gibbs, sphere_quadrature
    >>> x = sample_gibbs(teacher, 100, np.random.default_rng(0))
    >>> print(duality_gap(teacher, x, 10.0, sphere_quadrature(), lazy=True) >= 0)
    True
    """
    mu = gibbs_weights(energy, quadrature)
    if lazy:
        candidates, signs = energy.directions, energy.signs
    else:
        grid = quadrature.points if directions is None else check_points(directions, 3, "directions")
        grid = np.concatenate([energy.directions, grid])
        used = np.unique(energy.signs)
        candidates, signs = np.concatenate([grid] * used.size), np.repeat(used, grid.shape[0])
    return primal_objective(energy, data, quadrature) - dual_objective(mu, data, quadrature, beta, candidates,
                                                                       signs)
